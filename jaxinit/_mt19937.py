"""torch's mt19937 engine state: seeding (``init_genrand``), output tempering, and the byte
layout of ``torch.Generator.get_state()`` (``CPUGeneratorImplState``, x86-64).

Private to :mod:`jaxinit.generator`; the draws themselves come from numpy's ``MT19937`` (the same
generator), see :class:`jaxinit.generator.TorchGenerator`.
"""

from __future__ import annotations

import struct

import numpy as np

DEFAULT_SEED = 67280421310721
"""The seed of a fresh ``torch.Generator()``."""

STATE_SIZE = 5056
"""Bytes in ``torch.Generator.get_state()`` (``CPUGeneratorImplState``)."""

_N = 624  # mt19937 state words

# Layout of CPUGeneratorImplState (x86-64): the legacy pod (5048 bytes), then the float cache.
#   u64 seed, i32 left, i32 seeded, u64 next, u64 state[624],
#   f64 normal_x, f64 normal_y, f64 normal_rho, i32 normal_is_valid, (4 pad),
#   f32 next_float_normal_sample, bool valid, (3 pad)
_HEAD = struct.Struct("<QiiQ")
_TAIL = struct.Struct("<dddi4x")
_FLOAT_TAIL = struct.Struct("<f?3x")
_STATE_OFFSET = _HEAD.size
_TAIL_OFFSET = _STATE_OFFSET + 8 * _N
_FLOAT_OFFSET = _TAIL_OFFSET + _TAIL.size
assert _FLOAT_OFFSET + _FLOAT_TAIL.size == STATE_SIZE


def _init_genrand(seed32: int) -> np.ndarray:
    """The 624-word state of ``init_genrand(seed32)`` (torch's ``mt19937(seed)``)."""
    key = [0] * _N
    x = key[0] = seed32
    for j in range(1, _N):
        x = key[j] = (1812433253 * (x ^ (x >> 30)) + j) & 0xFFFFFFFF
    return np.array(key, dtype=np.uint32)


def _temper(y: np.ndarray) -> np.ndarray:
    """mt19937's output tempering, vectorised over uint32 words."""
    y = y ^ (y >> np.uint32(11))
    y = y ^ ((y << np.uint32(7)) & np.uint32(0x9D2C5680))
    y = y ^ ((y << np.uint32(15)) & np.uint32(0xEFC60000))
    return y ^ (y >> np.uint32(18))
