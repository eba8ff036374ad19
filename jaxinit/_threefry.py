"""Threefry-2x32 samplers written as plain ``jnp`` uint32 operations, bitwise equal to
``jax.random``.

Why: on CPU, jax lowers its ``threefry2x32`` primitive as a rolled ``fori_loop`` (an XLA
``while`` loop of 5 steps). Every step reads and writes two whole uint32 arrays, and
nothing fuses with the counters before or the float conversion after, so
``jax.random.uniform`` runs about 5x slower than the same 20 rounds written as
straight-line integer code, which XLA fuses into one loop over the output (registering
jax's own unrolled lowering for CPU gives the same speed-up; on GPU and TPU jax already
uses it, so expect parity there). The functions here are that straight-line code. They
reproduce ``jax.random.bits`` / ``uniform`` / ``normal`` of jax 0.10 bit for bit for the
same key, in both ``jax_threefry_partitionable`` modes: the same integer function, the
same float conversion ops, the same ``erf_inv`` (checked on CPU by tests/test_threefry.py).

The two counter layouts of ``jax.random`` (``jax/_src/random/threefry2x32.py``):

* ``jax_threefry_partitionable=True`` (the default): element ``k`` of the flattened output
  hashes the 64-bit counter ``(hi, lo) = (k >> 32, k & 0xFFFFFFFF)``; its 32 bits are
  ``y1 ^ y2``, its 64 bits ``y1 << 32 | y2``, its 8/16 bits the low bits of ``y1 ^ y2``.
* ``False`` (the original): ``m = ceil(bit_width * size / 32)`` 32-bit words are drawn;
  with ``h = ceil(m / 2)``, block ``i < h`` hashes ``(i, h + i)`` (``(i, 0)`` for the pad
  block when ``m`` is odd); word ``i`` is ``y1`` and word ``h + i`` is ``y2`` of block
  ``i``. 64-bit elements are ``word[k] << 32 | word[size + k]``; 8/16-bit elements are
  the words' little-endian sub-words.

In the original layout XLA fuses the concatenation of the two halves and hashes every
block twice (once per output word), so that mode is no faster than the partitionable one
here, though jax's own original mode is (it shares each block).

Where the exact reproduction is not written here, the functions call ``jax.random``
itself, so the values never change: keys of another PRNG implementation (``rbg``,
``philox``, ...), complex normals, and outputs needing ``2**32 - 1`` or more counter
words (16 GiB of float32: there jax's original layout switches to split keys, and the
counters no longer fit one uint32 word).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxinit._dtypes import canonical_dtype

__all__ = ["bits", "normal", "threefry2x32", "uniform"]

KeyLike = Any
DTypeLike = Any

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)
_UINT = {bits: np.dtype(f"uint{bits}") for bits in (8, 16, 32, 64)}
_MAX_WORDS = 2**32 - 1  # jax switches to split keys at this many words; we fall back before


# -- the hash ---------------------------------------------------------------------------------


def _rotl(x: jax.Array, d: int) -> jax.Array:
    return (x << np.uint32(d)) | (x >> np.uint32(32 - d))


def threefry2x32(
    k1: jax.Array, k2: jax.Array, x1: jax.Array, x2: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Threefry-2x32 with 20 rounds: hash the counter words ``(x1, x2)`` under key ``(k1, k2)``.

    Key schedule ``ks = (k1, k2, k1 ^ k2 ^ 0x1BD11BDA)``; five groups of four rounds
    ``x1 += x2; x2 = rotl(x2, r) ^ x1`` with rotations ``[13, 15, 26, 6]`` and
    ``[17, 29, 16, 24]`` alternating, each followed by a key injection
    ``x1 += ks[(g + 1) % 3]; x2 += ks[(g + 2) % 3] + g + 1``. All arithmetic wraps mod 2**32.
    The same function as ``jax.random``'s ``threefry2x32`` primitive, written unrolled so
    XLA fuses it with its inputs and outputs. All arguments are uint32 and broadcast.

    Example::

        >>> y1, y2 = threefry2x32(np.uint32(0), np.uint32(0), jnp.uint32(0), jnp.uint32(0))
        >>> hex(int(y1)), hex(int(y2))  # the Random123 known-answer test
        ('0x6b200159', '0x99ba4efe')
    """
    ks = (k1, k2, k1 ^ k2 ^ _PARITY)
    x1 = x1 + ks[0]
    x2 = x2 + ks[1]
    for g in range(5):
        for r in _ROTATIONS[g % 2]:
            x1 = x1 + x2
            x2 = _rotl(x2, r) ^ x1
        x1 = x1 + ks[(g + 1) % 3]
        x2 = x2 + ks[(g + 2) % 3] + np.uint32(g + 1)
    return x1, x2


# -- random bits in jax's two counter layouts -------------------------------------------------


def _join64(hi: jax.Array, lo: jax.Array) -> jax.Array:
    u64 = _UINT[64]
    return (lax.convert_element_type(hi, u64) << np.uint64(32)) | lax.convert_element_type(lo, u64)


def _bits_partitionable(k1, k2, bit_width: int, size: int) -> jax.Array:
    y1, y2 = threefry2x32(k1, k2, np.uint32(0), lax.iota(np.uint32, size))
    if bit_width == 64:
        return _join64(y1, y2)
    return lax.convert_element_type(y1 ^ y2, _UINT[bit_width])


def _bits_original(k1, k2, bit_width: int, size: int) -> jax.Array:
    if bit_width == 64:  # m = 2 * size words, h = size: no pad, element k is block k
        count = lax.iota(np.uint32, size)
        return _join64(*threefry2x32(k1, k2, count, count + np.uint32(size)))
    m = -(-bit_width * size // 32)
    h = -(-m // 2)
    i = lax.iota(np.uint32, h)
    x2 = i + np.uint32(h)
    if m % 2:  # the last block's second counter is the pad word 0
        x2 = jnp.where(i == np.uint32(h - 1), np.uint32(0), x2)
    y1, y2 = threefry2x32(k1, k2, i, x2)
    words = lax.concatenate([y1, y2], 0)[:m]
    if bit_width == 32:
        return words
    per_word = 32 // bit_width  # little-endian sub-words, as jax's bits.view(dtype)
    shifts = lax.iota(np.uint32, per_word) * np.uint32(bit_width)
    sub = (words[:, None] >> shifts[None, :]) & np.uint32(2**bit_width - 1)
    return lax.convert_element_type(sub.reshape(-1)[:size], _UINT[bit_width])


def _draw_bits(key_data, bit_width: int, shape: tuple[int, ...], partitionable: bool):
    """``jax.random``'s internal ``_random_bits(key, bit_width, shape)`` for a threefry key."""
    size = math.prod(shape)
    if size == 0:
        return jnp.zeros(shape, _UINT[bit_width])
    k1, k2 = key_data[0], key_data[1]
    draw = _bits_partitionable if partitionable else _bits_original
    return draw(k1, k2, bit_width, size).reshape(shape)


def _rng_bits(dtype: np.dtype) -> int:
    """How many random bits ``jax.random.uniform`` draws per value of float ``dtype``."""
    finfo = jnp.finfo(dtype)
    return 8 if finfo.nmant < 8 else finfo.bits


def uniform_from_bits(bits: jax.Array, minval, maxval, dtype: np.dtype) -> jax.Array:
    """``jax.random._uniform``'s float conversion, op for op: the top mantissa bits of
    ``bits`` (``_rng_bits(dtype)`` wide) as ``u`` in [0, 1), then
    ``max(minval, u * (maxval - minval) + minval)``. ``minval``/``maxval`` broadcast."""
    minval = lax.broadcast_to_rank(lax.convert_element_type(minval, dtype), bits.ndim)
    maxval = lax.broadcast_to_rank(lax.convert_element_type(maxval, dtype), bits.ndim)
    finfo = jnp.finfo(dtype)
    nbits, nmant, rng_bits = finfo.bits, finfo.nmant, _rng_bits(dtype)
    uint = _UINT[nbits]
    bits = lax.convert_element_type(bits, uint)
    float_bits = lax.shift_right_logical(bits, jnp.array(rng_bits - nmant, uint))
    float_bits = lax.bitwise_or(float_bits, jnp.asarray(np.array(1.0, dtype).view(uint), uint))
    floats = lax.bitcast_convert_type(float_bits, dtype) - jnp.array(1.0, dtype)
    return lax.max(minval, floats * (maxval - minval) + minval)


def normal_from_bits(bits: jax.Array, dtype: np.dtype) -> jax.Array:
    """``jax.random._normal_real``'s conversion, op for op: ``sqrt(2) * erf_inv(u)`` with
    ``u`` uniform on ``[nextafter(-1, 0), 1)`` from :func:`uniform_from_bits`."""
    lo = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype), dtype=dtype)
    u = uniform_from_bits(bits, lo, np.array(1.0, dtype), dtype)
    return lax.mul(np.array(np.sqrt(2), dtype), lax.erf_inv(u))


def _draw_uniform(key_data, minval, maxval, shape, dtype, partitionable) -> jax.Array:
    """``jax.random._uniform``, op for op, over :func:`_draw_bits`."""
    bits = _draw_bits(key_data, _rng_bits(dtype), shape, partitionable)
    return uniform_from_bits(bits, minval, maxval, dtype)


def _draw_normal(key_data, shape, dtype, partitionable) -> jax.Array:
    """``jax.random._normal_real``, op for op, over :func:`_draw_bits`."""
    return normal_from_bits(_draw_bits(key_data, _rng_bits(dtype), shape, partitionable), dtype)


_STATIC = ("shape", "dtype", "partitionable")
_bits_jit = jax.jit(_draw_bits, static_argnames=("bit_width", "shape", "partitionable"))
_uniform_jit = jax.jit(_draw_uniform, static_argnames=_STATIC)
_normal_jit = jax.jit(_draw_normal, static_argnames=_STATIC)


# -- keys and dispatch ------------------------------------------------------------------------


def _threefry_key_data(key: KeyLike) -> jax.Array | None:
    """The uint32[2] data of a threefry2x32 key, or None for a key of another PRNG impl."""
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(
                f"expected a single PRNG key, got a key array of shape {key.shape}; "
                "use jax.vmap to sample with many keys"
            )
        return jax.random.key_data(key) if jax.random.key_impl(key) == "threefry2x32" else None
    if jax.config.jax_default_prng_impl != "threefry2x32":
        return None  # a raw key of another impl: jax.random reads (and checks) it
    data = jnp.asarray(key)
    if data.shape != (2,) or data.dtype != np.uint32:
        raise TypeError(
            f"expected a PRNG key: jax.random.key(seed), or a raw jax.random.PRNGKey(seed) "
            f"of shape (2,) and dtype uint32; got shape {data.shape} and dtype {data.dtype}"
        )
    return data


def _plan(key: KeyLike, bit_width: int, shape: tuple[int, ...]):
    """``(key_data, partitionable)`` for the fused path, or None where jax.random must run."""
    data = _threefry_key_data(key)
    partitionable = bool(jax.config.jax_threefry_partitionable)
    size = math.prod(shape)
    words = size if partitionable else -(-bit_width * size // 32)
    if data is None or words >= _MAX_WORDS:
        return None
    return data, partitionable


def _shape(shape: Sequence[int] | int) -> tuple[int, ...]:
    dims = (int(shape),) if np.ndim(shape) == 0 else tuple(int(d) for d in shape)
    if any(d < 0 for d in dims):
        raise ValueError(f"shape {dims} has a negative dimension; sizes must be >= 0")
    return dims


def _float_dtype(dtype: DTypeLike, name: str) -> np.dtype:
    dt = canonical_dtype(dtype)
    if not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(f"{name} needs a real floating dtype such as jnp.float32, got {dt.name}")
    return dt


# -- samplers ---------------------------------------------------------------------------------


def bits(key: KeyLike, shape: Sequence[int] | int = (), dtype: DTypeLike = jnp.uint32) -> jax.Array:
    """Uniform random bits, bitwise equal to ``jax.random.bits(key, shape, dtype)``.

    ``dtype`` is an unsigned integer type (uint8, uint16, uint32, or uint64 with x64 on).
    Unlike ``jax.random.bits`` the default dtype is uint32 whatever the x64 mode.

    Example::

        >>> key = jax.random.key(0)
        >>> bool((bits(key, (3, 5)) == jax.random.bits(key, (3, 5), jnp.uint32)).all())
        True
    """
    dt, shape = canonical_dtype(dtype), _shape(shape)
    if dt.kind != "u":
        raise TypeError(f"bits needs an unsigned integer dtype such as jnp.uint32, got {dt.name}")
    plan = _plan(key, dt.itemsize * 8, shape)
    if plan is None:
        return jax.random.bits(key, shape, dt)
    data, partitionable = plan
    return _bits_jit(data, bit_width=dt.itemsize * 8, shape=shape, partitionable=partitionable)


def uniform(
    key: KeyLike,
    shape: Sequence[int] | int = (),
    dtype: DTypeLike = jnp.float32,
    minval: Any = 0.0,
    maxval: Any = 1.0,
) -> jax.Array:
    """Uniform floats in ``[minval, maxval)``, bitwise equal to
    ``jax.random.uniform(key, shape, dtype, minval, maxval)``.

    ``u = bitcast(bits >> (nbits - nmant) | bits(1.0)) - 1`` (the top mantissa bits of a
    draw, in ``[0, 1)``), then ``max(minval, u * (maxval - minval) + minval)``, computed in
    ``dtype``. ``minval`` / ``maxval`` broadcast against ``shape``. Unlike
    ``jax.random.uniform`` the default dtype is float32 whatever the x64 mode.

    Example::

        >>> key = jax.random.key(0)
        >>> w = uniform(key, (768, 3072), jnp.float32, -0.036, 0.036)
        >>> bool((w == jax.random.uniform(key, (768, 3072), jnp.float32, -0.036, 0.036)).all())
        True
    """
    dt, shape = _float_dtype(dtype, "uniform"), _shape(shape)
    plan = _plan(key, _rng_bits(dt), shape)
    if plan is None:
        return jax.random.uniform(key, shape, dt, minval, maxval)
    data, partitionable = plan
    return _uniform_jit(data, minval, maxval, shape=shape, dtype=dt, partitionable=partitionable)


def normal(
    key: KeyLike, shape: Sequence[int] | int = (), dtype: DTypeLike = jnp.float32
) -> jax.Array:
    """Standard normal floats, bitwise equal to ``jax.random.normal(key, shape, dtype)``.

    ``sqrt(2) * erf_inv(u)`` with ``u = uniform(key, shape, dtype, nextafter(-1, 0), 1)``,
    as ``jax.random.normal`` computes it (inverse CDF, one draw per value). A complex dtype
    is handed to ``jax.random.normal``. Unlike ``jax.random.normal`` the default dtype is
    float32 whatever the x64 mode.

    Example::

        >>> key = jax.random.fold_in(jax.random.key(0), 7)
        >>> bool((normal(key, (50, 3)) == jax.random.normal(key, (50, 3), jnp.float32)).all())
        True
    """
    if jnp.issubdtype(dtype, jnp.complexfloating):
        return jax.random.normal(key, shape, dtype)
    dt, shape = _float_dtype(dtype, "normal"), _shape(shape)
    plan = _plan(key, _rng_bits(dt), shape)
    if plan is None:
        return jax.random.normal(key, shape, dt)
    data, partitionable = plan
    return _normal_jit(data, shape=shape, dtype=dt, partitionable=partitionable)
