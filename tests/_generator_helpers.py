"""Shared helpers of the TorchGenerator tests: bit patterns, printed decimals, an inverse of
mt19937's tempering and a literal transcription of torch's engine."""

from __future__ import annotations

import struct
from fractions import Fraction

import numpy as np

from jaxinit.generator import TorchGenerator


def bits(a) -> list[int]:
    a = np.asarray(a)
    return a.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize]).ravel().tolist()


def assert_printed(values, printed: str) -> None:
    """``values`` agree with the spec's printed decimals to the last printed digit."""
    for v, text in zip(np.asarray(values).tolist(), printed.split(), strict=True):
        decimals = len(text.split(".")[1])
        assert abs(Fraction(v) - Fraction(text)) <= Fraction(1, 2 * 10**decimals), (v, text)


def untemper(y: int) -> int:
    """Inverse of mt19937's tempering: the state word whose output is ``y``."""
    y ^= y >> 18
    y ^= (y << 15) & 0xEFC60000
    x = y
    for _ in range(5):
        x = y ^ ((x << 7) & 0x9D2C5680)
    y = x
    x = y
    for _ in range(3):
        x = y ^ (x >> 11)
    return x & 0xFFFFFFFF


def with_next_outputs(g: TorchGenerator, outputs: list[int]) -> TorchGenerator:
    """A copy of ``g`` (in a standard state) whose next raw outputs are ``outputs``."""
    g = g.clone()
    g.random(1)  # past the pending twist: state words now hold the next outputs
    state = bytearray(g.get_state().tobytes())
    _, left, _, nxt = struct.unpack_from("<QiiQ", state, 0)
    assert left + nxt == 625 and nxt + len(outputs) <= 624
    for i, y in enumerate(outputs):
        struct.pack_into("<Q", state, 24 + 8 * (nxt + i), untemper(y))
    h = TorchGenerator()
    h.set_state(bytes(state))
    return h


class RefEngine:
    """torch's at::mt19937 transcribed literally (left/next counters, lazy twist), in Python."""

    def __init__(self, key: list[int], left: int, nxt: int):
        self.s, self.left, self.next = list(key), left, nxt

    def __call__(self) -> int:
        self.left -= 1
        if self.left == 0:
            self._twist()
        y = self.s[self.next]
        self.next += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        return (y ^ (y >> 18)) & 0xFFFFFFFF

    def _twist(self) -> None:
        s = self.s
        for i in range(624):
            y = (s[i] & 0x80000000) | (s[(i + 1) % 624] & 0x7FFFFFFF)
            s[i] = s[(i + 397) % 624] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
        self.left, self.next = 624, 0


def _round_fraction_to_f32(q: Fraction) -> int:
    """Bits of the float32 nearest to q (ties to even), no double rounding."""
    lo = np.float32(float(q))  # within one float32 ulp of the answer
    cands = {lo, np.nextafter(lo, np.float32(np.inf)), np.nextafter(lo, np.float32(-np.inf))}
    best = min(cands, key=lambda v: (abs(Fraction(float(v)) - q), int(v.view(np.uint32)) & 1))
    return int(np.float32(best).view(np.uint32))
