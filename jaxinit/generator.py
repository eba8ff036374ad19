"""torch's CPU random number generator, reproduced bit for bit in numpy (no torch needed).

:class:`TorchGenerator` is a stateful twin of ``torch.Generator()`` on the CPU: the same
mt19937 stream, the same ``get_state()`` bytes, and the same values from ``uniform_``,
``normal_`` and ``randperm`` (torch 2.13, x86-64). It is what lets jaxinit initialise a model
exactly as torch does. The rules come from ATen (``MT19937RNGEngine.h``,
``CPUGeneratorImpl.cpp``, ``DistributionTemplates.h``, ``avx_mathfun.h``), checked against the
binary; in short:

* engine: MT19937 seeded with ``init_genrand(seed & 0xFFFFFFFF)``, twist on first use;
* ``uniform_`` float32: ``x = (random() & 0xFFFFFF) * 2**-24``, ``v = fma(x, to - from, from)``
  (one rounding on AVX2/AVX512 builds, two on the plain build), ``v == to`` becomes ``from``;
  float64 does the same with 53 bits from ``random64()``;
* ``normal_``: a 16-wide Box-Muller fill for contiguous tensors with at least 16 elements
  (float32: 8-lane Cephes ``log``/``sincos`` on AVX2/AVX512 builds, glibc ``logf``/``cosf``/
  ``sinf`` on the plain build; both end with ``fma(z, std, mean)``), and a scalar double
  Box-Muller, with one cached value, otherwise.

The engine is numpy's ``MT19937`` (the same generator), so raw draws run at C speed; the
floating-point kernels are vectorised numpy with exact emulation of fused multiply-adds
(on machines with 4+ cores, large fills also spread that work over a few threads).
Where torch calls glibc (``log``, ``sin``, ``cos``, ``log1p``; ``logf``, ``sinf``, ``cosf`` in the
plain build), this module calls the same glibc functions through :mod:`math` and :mod:`ctypes`,
one element at a time, because no vectorised function is bit-identical to them.
"""

from __future__ import annotations

import math
import operator
import os
import struct
from collections import deque
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["TorchGenerator", "DEFAULT_SEED", "STATE_SIZE"]

DEFAULT_SEED = 67280421310721
"""The seed of a fresh ``torch.Generator()``."""

STATE_SIZE = 5056
"""Bytes in ``torch.Generator.get_state()`` (``CPUGeneratorImplState``)."""

_N = 624  # mt19937 state words
_CAPABILITIES = ("avx2", "default")
_RANDPERM_MAX = 0xFFFFFFFF // 20  # torch switches to another algorithm from this n on
_TWO_PI = 2.0 * math.pi  # c10::pi<double> * 2, exact doubling
_TWO_PI_F32 = np.float32(_TWO_PI)
_CHUNK = 1 << 16  # draws per block of uniform_ work
_ROWS = 1 << 10  # rows of 16 per block of Box-Muller work: temporaries stay in cache

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


# --------------------------------------------------------------------------------------------
# mt19937 helpers
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# worker threads: numpy releases the GIL inside its loops, so blocks of work run in parallel
# --------------------------------------------------------------------------------------------

_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
# Worker threads besides the caller's: only with 4+ usable cores (on a busy 2-core machine a
# second thread measured slower, not faster), and at most 3.
_THREADS = min(3, _CORES - 1) if (_CORES or 1) >= 4 else 0
_PARALLEL_MIN = 1 << 18  # elements; below this, handing work to a thread costs more than it saves
_POOL: tuple[int, ThreadPoolExecutor] | None = None  # (owning pid, pool)


def _pool() -> ThreadPoolExecutor | None:
    """The shared worker threads, or None when there are none (fewer than 4 cores).

    A forked child gets a pool of its own: the parent's threads do not exist there.
    """
    global _POOL
    if _THREADS <= 0:
        return None
    if _POOL is None or _POOL[0] != os.getpid():
        from concurrent.futures import ThreadPoolExecutor

        _POOL = (os.getpid(), ThreadPoolExecutor(_THREADS, thread_name_prefix="jaxinit-rng"))
    return _POOL[1]


def _run_parallel(tasks: list[Callable[[], None]]) -> None:
    """Run independent tasks on the worker threads and on this one; return when all are done."""
    pool = _pool()
    if pool is None or len(tasks) < 2:
        for task in tasks:
            task()
        return
    todo = deque(tasks)

    def drain() -> None:
        while True:
            try:
                task = todo.popleft()
            except IndexError:
                return
            task()

    helpers = [pool.submit(drain) for _ in range(min(_THREADS, len(tasks) - 1))]
    drain()
    for helper in helpers:
        helper.result()


# --------------------------------------------------------------------------------------------
# exact floating-point helpers (error-free transformations)
# --------------------------------------------------------------------------------------------


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knuth's TwoSum: ``s = fl(a + b)`` and the exact error ``e``, ``a + b == s + e``."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Veltkamp split of a float64 into two 26-bit halves, ``a == hi + lo``."""
    c = 134217729.0 * a  # 2**27 + 1
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dekker's TwoProduct: ``p = fl(a * b)`` and the exact error, ``a * b == p + e``."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _fma64(a: np.ndarray, b: Any, c: Any) -> np.ndarray:
    """Correctly rounded float64 ``fma(a, b, c)`` (Boldo and Melquiond, rounding to odd).

    ``(uh, ul) = a*b`` exactly, ``(th, tl) = c + uh`` exactly, ``v = RO(tl + ul)``, result
    ``RN(th + v)``. Exact while the split of ``a`` and ``b`` cannot overflow and ``a*b`` is
    0 or above ``2**-969`` (so its error term is a float64); see :func:`_fma64_safe`.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.broadcast_to(np.asarray(b, dtype=np.float64), a.shape)
    c = np.broadcast_to(np.asarray(c, dtype=np.float64), a.shape)
    uh, ul = _two_prod(a, b)
    th, tl = _two_sum(c, uh)
    v, err = _two_sum(tl, ul)
    # round v to odd: an inexact sum with an even last bit moves one ulp towards the error
    fix = (err != 0) & ((v.view(np.int64) & 1) == 0)
    if fix.any():
        v[fix] = np.nextafter(v[fix], np.where(err[fix] > 0, np.inf, -np.inf))
    return th + v


def _fma64_safe(b: float) -> bool:
    """Whether ``_fma64(a, b, c)`` is exact for every ``|a|`` in ``[2**-100, 64]`` or 0.

    That covers the callers: uniform ``x >= 2**-53``; Box-Muller ``|r cos|, |r sin|`` lie
    above ``2**-80`` (``r >= 1e-8``, and no float64 angle is within ``1e-17`` of a zero of
    cos or sin) or are 0.
    """
    return b == 0.0 or (2.0**-800 < abs(b) < 2.0**800)


def _fma64_exact(a: np.ndarray, b: float, c: float) -> np.ndarray:
    """Correctly rounded float64 fma for any operands, one element at a time (rarely used)."""
    fb, fc = Fraction(b), Fraction(c)
    return np.array([float(Fraction(x) * fb + fc) for x in a.tolist()], dtype=np.float64)


_MID_MASK, _MID_BITS = np.uint64(0x1FFFFFFF), np.uint64(0x10000000)
_EXP_MASK, _TINY32 = np.uint64(0x7FF0000000000000), np.uint64((1023 - 126) << 52)


def _round_to_f32(p: np.ndarray, c: Any, *, tiny: bool = True) -> np.ndarray:
    """``p + c`` (float64) rounded ONCE to float32, i.e. ``float32(p + c)`` computed exactly.

    ``s = fl64(p + c)`` then a cast rounds twice; that differs from one rounding only when
    ``s`` lands exactly halfway between two float32 values while ``p + c`` is not there. In
    the float32 normal range such an ``s`` has the bit pattern ``1 << 28`` in its low 29
    mantissa bits; results below ``2**-126`` (only checked when ``tiny``) are candidates too.
    For the (rare) candidates the exact error of the addition decides the direction.
    """
    shape = p.shape
    p = p.reshape(-1)
    c = np.asarray(c, dtype=np.float64)
    c = c if c.ndim == 0 else np.broadcast_to(c, shape).reshape(-1)
    s = p + c
    out = s.astype(np.float32)
    bits = s.view(np.uint64)
    cand = (bits & _MID_MASK) == _MID_BITS
    if tiny:
        cand |= (bits & _EXP_MASK) < _TINY32
    if cand.any():
        idx = np.flatnonzero(cand)
        ss, o32 = s[idx], out[idx]
        nb32 = np.nextafter(o32, np.where(ss > o32, np.inf, -np.inf).astype(np.float32))
        mid = ss == (o32.astype(np.float64) + nb32.astype(np.float64)) * 0.5
        _, err = _two_sum(p[idx], c if c.ndim == 0 else c[idx])
        fix = mid & (err != 0)
        if fix.any():
            better = np.where(err > 0, np.maximum(o32, nb32), np.minimum(o32, nb32))
            out[idx[fix]] = better[fix]
    return out.reshape(shape)


def _fma32(a: np.ndarray, b: Any, c: Any, *, tiny: bool = False) -> np.ndarray:
    """Correctly rounded float32 ``fma(a, b, c)`` for float32 operands.

    The product is exact in float64 (24 x 24 bits), so only the addition needs care
    (:func:`_round_to_f32`). ``tiny=False`` skips the check for results below ``2**-126``,
    which the Cephes kernels never produce (their nonzero results stay above ``2**-100``).
    """
    if np.ndim(c) == 0 and c == 0:
        return _mul_add_zero(np.multiply(a, b, dtype=np.float32), a, b, c)
    return _round_to_f32(np.multiply(a, b, dtype=np.float64), c, tiny=tiny)


def _mul_add_zero(prod: np.ndarray, a: Any, b: Any, c: Any) -> np.ndarray:
    """``fma(a, b, c)`` for ``c == ±0`` given ``prod = RN(a * b)``.

    A nonzero exact product keeps its rounded value (even if that underflows to a signed
    zero); an exactly zero product is added to ``c`` (``-0 + +0 == +0``).
    """
    exact_zero = (np.asarray(a) == 0) | (np.asarray(b) == 0)
    if exact_zero.any():
        prod = np.array(prod, copy=True)
        prod[np.broadcast_to(exact_zero, prod.shape)] += c
    return prod


def _float32_sum_is_exact(r: float, f: float) -> bool:
    """Whether ``k * 2**-24 * r + f`` is exact in float64 for every integer ``0 <= k < 2**24``.

    Every such sum is a multiple of ``2**L`` (``L`` the lowest set bit of ``r * 2**-24`` and of
    ``f``) and smaller than ``|r| + |f|``; it is exact when that bound is at most ``2**53 * 2**L``.
    """
    terms = [Fraction(v) for v in (r * 2.0**-24, f) if v != 0.0]
    if len(terms) < 2:
        return True
    low = min(_lowest_bit(t) for t in terms)
    return (abs(Fraction(r)) + abs(Fraction(f))) / Fraction(2) ** low <= 2**53


def _lowest_bit(x: Fraction) -> int:
    """The exponent of the lowest set bit of a dyadic rational."""
    num, den = x.numerator, x.denominator
    low_num = (abs(num) & -abs(num)).bit_length() - 1
    return low_num - (den.bit_length() - 1)


def _uniform32_kernel(f: np.float32, t: np.float32, fused: bool) -> Callable[..., None]:
    """torch's float32 ``uniform_real(from=f, to=t)`` as ``kernel(k, out)``.

    ``k`` holds ``random() & 0xFFFFFF`` (uint32) and ``x = k * 2**-24``; ``out`` gets
    ``fma(x, r, f)`` (``fused``, AVX2/AVX512 builds) or ``fl(fl(x * r) + f)`` (plain build),
    with ``r = fl32(t - f)``. Fused: ``k * (r * 2**-24)`` is exact in float64, and so is the
    sum for all ordinary ranges (:func:`_float32_sum_is_exact`), so one cast rounds once;
    otherwise :func:`_round_to_f32` rounds the sum exactly.
    """
    r = np.float32(t - f)
    if not fused:

        def kernel(k: np.ndarray, out: np.ndarray) -> None:
            x = k.astype(np.float32)
            x *= _f(2.0**-24)  # exact
            x *= r
            np.add(x, f, out=out)

        return kernel
    r24 = float(r) * 2.0**-24
    if f == 0.0 and 2.0**-126 <= r24:  # fma(x, r, 0) == fl32(k * r24), one rounding

        def kernel(k: np.ndarray, out: np.ndarray) -> None:
            np.multiply(k, np.float32(r24), out=out, dtype=np.float32)

    elif f == -t and 2.0**-126 <= float(t) * 2.0**-24:
        # symmetric (the usual init bounds): r = 2t exactly and
        # fma(x, 2t, -t) = fl32(t * (2x - 1)) = fl32((2k - 2**24) * (t * 2**-24)), one rounding
        t24 = np.float32(float(t) * 2.0**-24)

        def kernel(k: np.ndarray, out: np.ndarray) -> None:
            v = k.view(np.int32) << 1
            v -= 1 << 24  # exact: even integers in [-2**24, 2**24)
            np.multiply(v, t24, out=out, dtype=np.float32)

    elif _float32_sum_is_exact(float(r), float(f)):

        def kernel(k: np.ndarray, out: np.ndarray) -> None:
            p = k.view(np.int32).astype(np.float64)  # k < 2**24: the int32 cast is faster
            p *= r24
            np.add(p, float(f), out=out, casting="same_kind")

    else:

        def kernel(k: np.ndarray, out: np.ndarray) -> None:
            out[...] = _round_to_f32(np.multiply(k, r24), float(f), tiny=True)

    return kernel


# --------------------------------------------------------------------------------------------
# glibc math, element by element (bit-identical to what libtorch calls)
# --------------------------------------------------------------------------------------------


def _map_math(fn: Any, x: np.ndarray) -> np.ndarray:
    """Apply a scalar C function to every element of a float array (keeps the dtype)."""
    flat = x.reshape(-1).tolist()
    return np.fromiter(map(fn, flat), dtype=x.dtype, count=len(flat)).reshape(x.shape)


_LIBM: dict[str, Any] = {}


def _libm_float(name: str) -> Any:
    """glibc's float function ``name`` (``logf``, ``cosf``, ``sinf``) through ctypes."""
    if name not in _LIBM:
        import ctypes
        import ctypes.util

        path = ctypes.util.find_library("m")
        if path is None:  # pragma: no cover - every glibc system has libm
            raise OSError(
                "capability='default' needs the C math library (libm) to reproduce torch's "
                "logf/cosf/sinf; none was found. Use capability='avx2' on x86-64."
            )
        fn = getattr(ctypes.CDLL(path), name)
        fn.restype = ctypes.c_float
        fn.argtypes = [ctypes.c_float]
        _LIBM[name] = fn
    return _LIBM[name]


# --------------------------------------------------------------------------------------------
# the AVX2 float32 Box-Muller kernel: avx_mathfun.h's log256_ps / sincos256_ps in numpy
# --------------------------------------------------------------------------------------------

_f = np.float32
_LOG_P = [_f(v) for v in (
    7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
    -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
)]  # fmt: skip
_LOG_Q1, _LOG_Q2 = _f(-2.12194440e-4), _f(0.693359375)
_SQRTHF = _f(0.707106781186547524)
_FOPI = _f(1.27323954473516)
_DP1, _DP2, _DP3 = _f(-0.78515625), _f(-2.4187564849853515625e-4), _f(-3.77489497744594108e-8)
_SIN_P = [_f(v) for v in (-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1)]
_COS_P = [_f(v) for v in (2.443315711809948e-005, -1.388731625493765e-003, 4.166664568298827e-002)]
_ONE, _HALF = _f(1.0), _f(0.5)


def _log256(x: np.ndarray) -> np.ndarray:
    """``log256_ps`` for float32 ``x`` in ``[2**-24, 1]``, with GCC's FMA contractions.

    Every Horner step of the polynomial is fused, and so is ``y*z + e*q1``; the other
    products (``z*0.5``, ``e*q2``) are exact, so fusing them would change nothing.

    The Horner sums are exact in float64, so a plain cast rounds them once: the reduced
    ``x`` lies in ``[-0.293, 0.415)`` and is a multiple of ``2**-24``, every partial ``y``
    stays in ``0.059 <= |y| < 0.43`` (interval bounds of the recurrence), so ``y*x`` is a
    multiple of ``2**-52`` and ``|y*x + p| < 0.5``: at most 52 significant bits.
    """
    bits = x.view(np.int32)  # x >= 2**-24: the cut-off of denormals (max with 2**-126) is moot
    e = ((bits >> 23) - 0x7F).astype(np.float32) + _ONE
    m = ((bits & ~0x7F800000) | 0x3F000000).view(np.float32)  # mantissa in [0.5, 1)
    small = m < _SQRTHF
    x = (m - _ONE) + np.where(small, m, _f(0.0))  # exact: x + x - 1 or x - 1
    e = e - np.where(small, _ONE, _f(0.0))
    z = x * x
    x64 = x.astype(np.float64)
    y = (x64 * float(_LOG_P[0]) + float(_LOG_P[1])).astype(np.float32)
    for p in _LOG_P[2:]:
        y = (y * x64 + float(p)).astype(np.float32)  # fma, exact sum (see above)
    y = _fma32(y * x, z, e * _LOG_Q1)
    y = y - z * _HALF
    return (x + y) + e * _LOG_Q2


def _sincos256(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sincos256_ps`` for float32 ``x >= 0``, with GCC's FMA contractions.

    Fused: the Cody-Waite reduction steps ``x + y*DP``, the Horner steps of both
    polynomials, the cos tail ``y*z - z/2`` and the sin tail ``y*x + x``. (Checked against
    torch over every reachable input, ``x = fl32(2pi * k * 2**-24)`` for all ``k < 2**24``.)
    """
    j = (x * _FOPI).astype(np.int32)  # truncation, like cvttps
    j = (j + 1) & ~1
    y = j.astype(np.float32)
    sin_sign = ((j & 4) << 29).view(np.uint32)
    cos_sign = ((~(j - 2) & 4) << 29).view(np.uint32)
    poly = (j & 2) == 0
    x = _fma32(y, _DP3, (x + y * _DP1) + y * _DP2)  # y*DP1, y*DP2 are exact; GCC fused all
    z = x * x
    yc = _fma32(_COS_P[0], z, _COS_P[1])
    yc = _fma32(yc, z, _COS_P[2])
    yc = _fma32(yc * z, z, -(z * _HALF)) + _ONE
    ys = _fma32(_SIN_P[0], z, _SIN_P[1])
    ys = _fma32(ys, z, _SIN_P[2])
    ys = _fma32(ys * z, x, x)
    # the and/andnot/add selection of the C code; no -0 can occur (yc >= 0.5, ys = +0 at 0)
    sin = np.where(poly, ys, yc)
    cos = np.where(poly, yc, ys)
    sin = (sin.view(np.uint32) ^ sin_sign).view(np.float32)
    cos = (cos.view(np.uint32) ^ cos_sign).view(np.float32)
    return sin, cos


def _box_muller16_f32(u: np.ndarray, mean: Any, std: Any, capability: str) -> None:
    """``NormalFill16<float>`` on rows of 16 float32 uniforms, in place."""
    u1 = _ONE - u[:, :8]
    u2 = u[:, 8:]
    if capability == "avx2":
        radius = np.sqrt(_f(-2.0) * _log256(u1))
        sin, cos = _sincos256(_TWO_PI_F32 * u2)
    else:  # plain C++: logf/cosf/sinf from glibc, theta computed in double then stored as float
        radius = np.sqrt(_f(-2.0) * _map_math(_libm_float("logf"), u1))
        theta = (_TWO_PI * u2.astype(np.float64)).astype(np.float32)
        cos = _map_math(_libm_float("cosf"), theta)
        sin = _map_math(_libm_float("sinf"), theta)
    u[:, :8] = _fma32(radius * cos, std, mean, tiny=True)
    u[:, 8:] = _fma32(radius * sin, std, mean, tiny=True)


def _box_muller16_f64(u: np.ndarray, mean: float, std: float) -> None:
    """``NormalFill16<double>`` on rows of 16 float64 uniforms, in place (glibc log/cos/sin)."""
    u1 = 1.0 - u[:, :8]
    theta = _TWO_PI * u[:, 8:]
    radius = np.sqrt(-2.0 * _map_math(math.log, u1))
    for half, trig in ((slice(0, 8), math.cos), (slice(8, 16), math.sin)):
        u[:, half] = _affine64(radius * _map_math(trig, theta), std, mean, fused=True)


def _affine64(z: np.ndarray, std: float, mean: float, *, fused: bool) -> np.ndarray:
    """``z * std + mean`` in float64: one rounding (fma) or two."""
    if not fused:
        return z * std + mean
    if mean == 0.0:
        return _mul_add_zero(z * std, z, std, mean)
    if _fma64_safe(std):
        return _fma64(z, std, mean)
    return _fma64_exact(z, std, mean)


# --------------------------------------------------------------------------------------------
# dtype and argument helpers
# --------------------------------------------------------------------------------------------


def _float_dtype(dtype: Any) -> np.dtype:
    """``dtype`` as a numpy floating dtype: float16, bfloat16, float32 or float64."""
    name = dtype if isinstance(dtype, str) else getattr(dtype, "__name__", "")
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"dtype {dtype!r} is not a dtype; pass e.g. np.float32") from err
    if dt.name not in ("float16", "bfloat16", "float32", "float64"):
        raise TypeError(
            f"dtype {dt.name} is not supported: torch's uniform_/normal_ fill float16, "
            "bfloat16, float32 or float64 tensors (integer tensors raise NotImplementedError "
            "in torch)"
        )
    return dt


def _dtype_limits(dt: np.dtype) -> float:
    if dt.name == "bfloat16":
        import ml_dtypes

        return float(ml_dtypes.finfo(dt).max)
    return float(np.finfo(dt).max)


def _shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    """A shape as a tuple of non-negative ints (an int means a 1-D shape)."""
    try:
        dims = (
            (operator.index(shape),)
            if not isinstance(shape, Sequence)
            else tuple(operator.index(d) for d in shape)
        )
    except TypeError as err:
        raise TypeError(f"shape must be an int or a sequence of ints, got {shape!r}") from err
    if any(d < 0 for d in dims):
        raise ValueError(f"shape {dims} has a negative dimension")
    return dims


# --------------------------------------------------------------------------------------------
# the generator
# --------------------------------------------------------------------------------------------


class TorchGenerator:
    """torch's CPU generator: ``TorchGenerator(s)`` == ``torch.Generator().manual_seed(s)``.

    Stateful, like ``torch.Generator``: every draw advances it, and two generators with the
    same seed (or the same :meth:`get_state` bytes) produce the same values as torch, bit for
    bit. Use :meth:`clone` for a functional style (draw from a copy, keep the original).
    Not thread-safe (torch locks its generator): give each thread its own.

    Args:
        seed: the seed (torch's rules: any int in ``[-2**63, 2**64)``; only the low 32 bits
            reach the engine). ``None`` gives a fresh ``torch.Generator()``'s seed,
            67280421310721 (it does *not* give torch's non-deterministic global generator).
        capability: which libtorch kernels to reproduce. ``"avx2"`` (default) matches x86-64
            CPUs with AVX2 or AVX512, i.e. what ``torch.backends.cpu.get_cpu_capability()``
            reports as ``AVX2``/``AVX512``: fused multiply-adds and the Cephes SIMD float32
            normal kernel. ``"default"`` matches the plain build (``ATEN_CPU_CAPABILITY=default``
            or an x86 CPU without AVX2): no FMA in ``uniform_``, glibc ``logf``/``cosf``/``sinf``
            in the float32 normal kernel (slow here: one ctypes call per value).

    Example:
        >>> g = TorchGenerator(0)
        >>> g.uniform_(3)                     # torch.manual_seed(0); torch.rand(3)
        array([0.4962566 , 0.7682218 , 0.08847743], dtype=float32)
        >>> g.normal_((2, 2)).shape           # scalar path (numel < 16), caches one value
        (2, 2)
    """

    def __init__(self, seed: int | None = None, *, capability: str = "avx2") -> None:
        if capability not in _CAPABILITIES:
            raise ValueError(
                f"capability must be one of {_CAPABILITIES}, got {capability!r}: 'avx2' for "
                "x86-64 torch builds reporting AVX2 or AVX512, 'default' for the plain build"
            )
        self._capability = capability
        self._bitgen = np.random.MT19937(0)
        self._rs = np.random.RandomState(self._bitgen)  # legacy, frozen-stream integer fills
        self.manual_seed(DEFAULT_SEED if seed is None else seed)

    # ---- seeding and state ----------------------------------------------------------------

    @property
    def capability(self) -> str:
        """The libtorch kernel set reproduced: ``"avx2"`` or ``"default"``."""
        return self._capability

    def manual_seed(self, seed: int) -> TorchGenerator:
        """Reseed like ``torch.Generator.manual_seed``; returns ``self``.

        A negative seed is stored as ``seed + 2**64``; the engine uses ``seed & 0xFFFFFFFF``
        (so 0 and ``2**32`` give the same stream); the cached normal values are cleared.

        Example:
            >>> TorchGenerator().manual_seed(-1).initial_seed()
            18446744073709551615
        """
        try:
            seed = operator.index(seed)
        except TypeError as err:
            raise TypeError(f"seed must be an int, got {type(seed).__name__}") from err
        if not -(2**63) <= seed < 2**64:
            raise ValueError(f"seed {seed} is out of range: torch accepts [-2**63, 2**64)")
        seed %= 2**64
        self._seed = seed
        self._set_engine(_init_genrand(seed & 0xFFFFFFFF), left=1, next_=0)
        self._normal_cache: float | None = None  # the cached double normal (scalar path)
        self._float_normal_cache: float | None = None  # kept for get_state/set_state only
        return self

    def initial_seed(self) -> int:
        """The seed last given to :meth:`manual_seed` (as torch stores it, in ``[0, 2**64)``)."""
        return self._seed

    def _set_engine(self, key: np.ndarray, left: int, next_: int) -> None:
        """Load torch's engine state (624 words, ``left``, ``next``) into numpy's MT19937.

        torch reads ``state[next]`` and counts ``left`` down, twisting when it reaches 0; numpy
        reads ``key[pos]`` and twists when ``pos == 624``. The usual torch states (``left == 1``
        just after seeding, or ``next + left == 625``) map onto ``pos`` directly; any other
        valid state is served by tempering the ``left - 1`` words torch still has to read.
        """
        if next_ + left == _N + 1:
            pos, prefix = next_, np.empty(0, np.uint32)
        else:
            end = next_ + left - 1
            if end > _N:
                raise ValueError(
                    f"invalid mt19937 state: next={next_} and left={left} would read past the "
                    f"{_N}-word state (torch leaves next + left - 1 <= {_N})"
                )
            pos, prefix = _N, _temper(key[next_:end])
        self._bitgen.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": pos}}
        self._prefix = prefix  # outputs due before numpy's stream
        self._next_at_twist = next_ + left - 1  # torch's `next` when the twist is pending

    def get_state(self) -> np.ndarray:
        """torch's state bytes: ``uint8[5056]``, identical to ``torch.Generator.get_state()``.

        Layout (``CPUGeneratorImplState``): u64 seed, i32 left, i32 seeded, u64 next,
        624 x u64 state words, f64 normal_x (0), f64 cached double normal, f64 normal_rho (0),
        i32 cache valid, 4 pad, f32 cached float normal, bool valid, 3 pad.

        Example:
            >>> g = TorchGenerator(0)
            >>> h = TorchGenerator(1); h.set_state(g.get_state())
            >>> bool((h.random(4) == g.random(4)).all())
            True
        """
        st = self._bitgen.state["state"]
        key, pos = st["key"], int(st["pos"])
        if self._prefix.size:
            left, next_ = self._prefix.size + 1, self._next_at_twist - self._prefix.size
        elif pos < _N:
            left, next_ = _N + 1 - pos, pos
        else:
            left, next_ = 1, self._next_at_twist
        out = bytearray(STATE_SIZE)
        _HEAD.pack_into(out, 0, self._seed, left, 1, next_)
        out[_STATE_OFFSET:_TAIL_OFFSET] = key.astype("<u8").tobytes()
        cached = self._normal_cache
        _TAIL.pack_into(
            out, _TAIL_OFFSET, 0.0, 0.0 if cached is None else cached, 0.0, cached is not None
        )
        fcached = self._float_normal_cache
        _FLOAT_TAIL.pack_into(
            out, _FLOAT_OFFSET, 0.0 if fcached is None else fcached, fcached is not None
        )
        return np.frombuffer(bytes(out), dtype=np.uint8).copy()

    def set_state(self, state: Any) -> None:
        """Load torch's state bytes (from ``torch.Generator.get_state()`` or :meth:`get_state`).

        Accepts a ``uint8`` numpy array, ``bytes``, or anything ``np.asarray`` turns into one
        (a CPU ``torch.ByteTensor`` works). The seed and the cached normals come with the
        state. Like torch 2.13, only the 5056-byte layout is accepted (the 5048-byte legacy
        layout of older releases is refused by torch too).
        """
        if isinstance(state, (bytes, bytearray, memoryview)):
            arr = np.frombuffer(bytes(state), dtype=np.uint8)
        else:
            arr = np.asarray(state)
            if arr.dtype != np.uint8 or arr.ndim != 1:
                raise TypeError(
                    f"state must be a 1-D uint8 array (torch's get_state() bytes), got dtype "
                    f"{arr.dtype} and shape {arr.shape}"
                )
        raw = arr.tobytes()
        if len(raw) != STATE_SIZE:
            raise ValueError(
                f"state has {len(raw)} bytes; torch's CPU generator state has {STATE_SIZE} "
                "(pass the bytes of torch.Generator.get_state() or TorchGenerator.get_state())"
            )
        seed, left, seeded, next_ = _HEAD.unpack_from(raw, 0)
        next_ &= 0xFFFFFFFF  # torch keeps the low 32 bits
        if not (seeded != 0 and 0 < left <= _N and next_ <= _N):
            raise ValueError(
                f"invalid mt19937 state (seeded={seeded}, left={left}, next={next_}): torch "
                f"requires seeded != 0, 0 < left <= {_N} and next <= {_N}"
            )
        words = np.frombuffer(raw, dtype="<u8", count=_N, offset=_STATE_OFFSET)
        key = (words & 0xFFFFFFFF).astype(np.uint32)  # torch copies u64 -> u32
        _, normal_y, _, valid = _TAIL.unpack_from(raw, _TAIL_OFFSET)
        fvalue, fvalid = _FLOAT_TAIL.unpack_from(raw, _FLOAT_OFFSET)
        self._set_engine(key, left=left, next_=next_)
        self._seed = seed
        self._normal_cache = normal_y if valid else None
        self._float_normal_cache = fvalue if fvalid else None

    def clone(self) -> TorchGenerator:
        """An independent copy in the same state (like ``torch.Generator.clone_state``).

        Example:
            >>> g = TorchGenerator(0); h = g.clone()
            >>> bool((g.uniform_(5) == h.uniform_(5)).all())
            True
        """
        other = TorchGenerator.__new__(TorchGenerator)
        other._capability = self._capability
        other._bitgen = np.random.MT19937(0)
        other._bitgen.state = self._bitgen.state
        other._rs = np.random.RandomState(other._bitgen)
        other._prefix = self._prefix.copy()
        other._next_at_twist = self._next_at_twist
        other._seed = self._seed
        other._normal_cache = self._normal_cache
        other._float_normal_cache = self._float_normal_cache
        return other

    def __getstate__(self) -> dict[str, Any]:
        return {"capability": self._capability, "state": self.get_state().tobytes()}

    def __setstate__(self, d: dict[str, Any]) -> None:
        self.__init__(0, capability=d["capability"])
        self.set_state(d["state"])

    def __repr__(self) -> str:
        return f"TorchGenerator(seed={self._seed}, capability={self._capability!r})"

    # ---- raw engine outputs -------------------------------------------------------------

    def random(self, n: int) -> np.ndarray:
        """``n`` raw 32-bit engine outputs (torch's ``random()``), as ``uint32[n]``.

        Example:
            >>> [hex(v) for v in TorchGenerator(0).random(2)]
            ['0x8c7f0aac', '0x97c4aa2f']
        """
        n = operator.index(n)
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        head, self._prefix = self._prefix[:n], self._prefix[n:]
        if head.size == n:
            return head.copy()
        self._next_at_twist = _N
        rest = self._rs.randint(0, 2**32, size=n - head.size, dtype=np.uint32)
        return np.concatenate([head, rest]) if head.size else rest

    def random64(self, n: int) -> np.ndarray:
        """``n`` outputs of torch's ``random64()`` (``first << 32 | second``), as ``uint64[n]``."""
        n = operator.index(n)
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        w = self.random(2 * n).astype(np.uint64).reshape(n, 2)
        return (w[:, 0] << np.uint64(32)) | w[:, 1]

    def _bits24(self, n: int) -> np.ndarray:
        """``random() & 0xFFFFFF`` for ``n`` draws, as uint32 (the hot path of ``uniform_``)."""
        if self._prefix.size or n == 0:
            return self.random(n) & np.uint32(0xFFFFFF)
        self._next_at_twist = _N
        # legacy masked fill: mask == range, so every draw is kept, one draw per value
        return self._rs.randint(0, 1 << 24, size=n, dtype=np.uint32)

    def _uniform53(self, n: int) -> np.ndarray:
        """``(random64() & (2**53 - 1)) * 2**-53`` for ``n`` values (two draws each), float64."""
        w = self.random(2 * n).reshape(n, 2)
        hi = (w[:, 0] & np.uint32(0x1FFFFF)).astype(np.float64) * 2.0**-21
        return hi + w[:, 1].astype(np.float64) * 2.0**-53  # exact: 21 + 32 bits

    # ---- uniform_ -------------------------------------------------------------------------

    def uniform_(
        self,
        shape: int | Sequence[int],
        low: float = 0.0,
        high: float = 1.0,
        dtype: Any = np.float32,
    ) -> np.ndarray:
        """``torch.empty(shape, dtype=dtype).uniform_(low, high, generator=g)``, as numpy.

        Values are U[low, high), in memory (C) order:

        * float32 (and float16/bfloat16, which are computed in float32 then rounded to
          nearest): ``x = (random() & 0xFFFFFF) * 2**-24``, ``v = fma(x, high - low, low)``
          with ``high - low`` rounded to float32;
        * float64: ``x = (random64() & (2**53 - 1)) * 2**-53`` (two draws per value);
        * a value equal to ``high`` (after the cast) becomes ``low``.

        With ``capability="default"`` the multiply and the add round separately, as in
        torch's plain build. Errors follow torch: non-finite or out-of-range bounds,
        ``low > high``, ``high - low`` overflowing the dtype. ``low == high`` still draws.

        Example:
            >>> TorchGenerator(0).uniform_(1000, -1, 1)[:2]    # torch.manual_seed(0)
            array([-0.00748682,  0.5364436 ], dtype=float32)
        """
        shape = _shape(shape)
        dt = _float_dtype(dtype)
        low, high = float(low), float(high)
        limit = _dtype_limits(dt)
        for name, v in (("low", low), ("high", high)):
            if not -limit <= v <= limit:
                raise ValueError(
                    f"uniform_: {name}={v} is out of bounds for {dt.name} (torch: '{name} is "
                    f"out of bounds'); use finite bounds within +-{limit:g}"
                )
        if low > high:
            raise ValueError(
                f"uniform_ expects to return a [low, high) range, but found low={low} > "
                f"high={high}; swap the bounds"
            )
        if high - low > limit:
            raise ValueError(
                f"uniform_ expects high - low <= the largest {dt.name} ({limit:g}), but "
                f"high={high} and low={low} give {high - low:g}; narrow the range"
            )
        n = math.prod(shape)
        if n == 0:
            return np.empty(shape, dtype=dt)
        if dt == np.float64:
            return self._uniform_f64(n, low, high).reshape(shape)
        f, t = np.float32(low), np.float32(high)
        out = self._uniform_f32(n, f, t).astype(dt, copy=False)
        # torch casts the float value to the dtype and compares it with `to` cast from double
        # (c10 goes double -> float -> half); only the largest draw can get there
        lo_s, hi_s = f.astype(dt), t.astype(dt)
        top = np.empty(1, np.float32)
        _uniform32_kernel(f, t, self._capability == "avx2")(np.array([0xFFFFFF], np.uint32), top)
        if top.astype(dt)[0] == hi_s:
            out[out == hi_s] = lo_s
        return out.reshape(shape)

    def _uniform_f32(self, n: int, f: np.float32, t: np.float32) -> np.ndarray:
        """float32 ``uniform_real(f, t)`` values (before the ``== to`` wrap) for ``n`` draws.

        Draws are made here, block by block; for large ``n`` the worker threads turn each
        block into floats while this thread draws the next one.
        """
        kernel = _uniform32_kernel(f, t, fused=self._capability == "avx2")
        out = np.empty(n, dtype=np.float32)
        pool = _pool() if n >= _PARALLEL_MIN else None
        pending = []
        for i in range(0, n, _CHUNK):
            k = self._bits24(min(_CHUNK, n - i))
            if pool is None:
                kernel(k, out[i : i + k.size])
            else:
                pending.append(pool.submit(kernel, k, out[i : i + k.size]))
        for job in pending:
            job.result()
        return out

    def _uniform_f64(self, n: int, low: float, high: float) -> np.ndarray:
        """float64 ``uniform_``: ``fma(x, high - low, low)`` with 53-bit ``x``, wrap included."""
        r = high - low
        out = np.empty(n, dtype=np.float64)
        for i in range(0, n, _CHUNK):
            x = self._uniform53(min(_CHUNK, n - i))
            if self._capability == "default":
                v = x * r + low
            elif low == 0.0:
                v = x * r + low  # fma(x, r, ±0) == RN(x * r) + ±0
            elif _fma64_safe(r):
                v = _fma64(x, r, low)
            else:
                v = _fma64_exact(x, r, low)
            out[i : i + x.size] = v
        out[out == high] = low
        return out

    # ---- normal_ --------------------------------------------------------------------------

    def normal_(
        self,
        shape: int | Sequence[int],
        mean: float = 0.0,
        std: float = 1.0,
        dtype: Any = np.float32,
        *,
        contiguous: bool = True,
    ) -> np.ndarray:
        """``torch.empty(shape, dtype=dtype).normal_(mean, std, generator=g)``, as numpy.

        torch has two samplers and so does this method:

        * **fill path** (contiguous and ``numel >= 16``): ``numel`` uniforms, then Box-Muller
          on each block of 16 (``u1 = 1 - u[j]``, ``u2 = u[j+8]``,
          ``z = sqrt(-2 ln u1) * (cos, sin)(2 pi u2)``, ``fma(z, std, mean)``); if
          ``numel % 16 != 0`` the last 16 values are redrawn from 16 fresh uniforms.
          float16/bfloat16 run the float32 kernel block by block and round the result.
        * **scalar path** (``numel < 16`` or ``contiguous=False``): double Box-Muller per pair
          (``u1``, ``u2`` from ``random64``; ``r = sqrt(-2 log1p(-u2))``, ``theta = 2 pi u1``),
          ``r cos theta`` is used and ``r sin theta`` cached in the generator for the next
          scalar-path value, in any later call and dtype.

        ``contiguous=False`` stands for a non-contiguous torch tensor: the values come in
        memory order, so ``w = torch.empty(5, 4); w.t().normal_()`` leaves ``w`` equal to
        ``normal_((5, 4), contiguous=False)``.

        Example:
            >>> TorchGenerator(0).normal_(5)      # torch.manual_seed(0); torch.empty(5).normal_()
            array([ 1.5409961 , -0.2934289 , -2.1787894 ,  0.56843126, -1.0845224 ],
                  dtype=float32)
        """
        shape = _shape(shape)
        dt = _float_dtype(dtype)
        mean, std = float(mean), float(std)
        if not std >= 0.0:
            raise ValueError(f"normal_ expects std >= 0.0, but found std={std}")
        n = math.prod(shape)
        if n == 0:
            return np.empty(shape, dtype=dt)
        if n < 16 or not contiguous:
            out = self._normal_scalar(n, mean, std)
            if dt != np.float64:
                out = out.astype(np.float32)  # c10 half types convert from float
        elif dt == np.float64:
            out = self._normal_fill_f64(n, mean, std)
        elif dt == np.float32:
            out = self._normal_fill_f32(n, mean, std)
        else:
            out = self._normal_fill_half(n, mean, std)
        return out.astype(dt, copy=False).reshape(shape)

    def _normal_scalar(self, n: int, mean: float, std: float) -> np.ndarray:
        """``n`` values of torch's scalar path (float64), using and refilling the cache."""
        z = np.empty(n, dtype=np.float64)
        start = 0
        if self._normal_cache is not None:
            z[0], start = self._normal_cache, 1
            self._normal_cache = None
        pairs = (n - start + 1) // 2
        if pairs:
            u = self._uniform53(2 * pairs).reshape(pairs, 2)
            radius = np.sqrt(-2.0 * _map_math(math.log1p, -u[:, 1]))
            theta = _TWO_PI * u[:, 0]
            zz = np.empty((pairs, 2), dtype=np.float64)
            zz[:, 0] = radius * _map_math(math.cos, theta)
            zz[:, 1] = radius * _map_math(math.sin, theta)
            zz = zz.reshape(-1)
            z[start:] = zz[: n - start]
            if zz.size > n - start:
                self._normal_cache = float(zz[-1])
        return _affine64(z, std, mean, fused=self._capability == "avx2")

    def _normal_fill_f32(self, n: int, mean: float, std: float) -> np.ndarray:
        """float32 fill: ``n`` uniforms, Box-Muller per block of 16, 16 fresh ones for a tail."""
        u = self._uniform_f32(n, _f(0.0), _ONE)  # x * 1 + 0: exact, never reaches 1
        self._box_muller_f32(u[: n - n % 16].reshape(-1, 16), mean, std)
        if n % 16:
            tail = self._uniform_f32(16, _f(0.0), _ONE).reshape(1, 16)
            self._box_muller_f32(tail, mean, std)
            u[n - 16 :] = tail[0]
        return u

    def _normal_fill_half(self, n: int, mean: float, std: float) -> np.ndarray:
        """bf16/f16 fill: each block draws its own 16 uniforms (no draws for the n % 16 rest)."""
        blocks = -(-n // 16)
        u = self._uniform_f32(16 * blocks, _f(0.0), _ONE).reshape(blocks, 16)
        self._box_muller_f32(u, mean, std)
        flat = u.reshape(-1)
        out = flat[:n].copy()
        if n % 16:
            out[n - 16 :] = flat[-16:]
        return out

    def _box_muller_f32(self, rows: np.ndarray, mean: float, std: float) -> None:
        """``NormalFill16<float>`` on every row of 16 uniforms, in place, block by block (on
        worker threads too for large fills of the numpy kernel)."""
        mean32, std32 = np.float32(mean), np.float32(std)
        tasks = [
            lambda b=b: _box_muller16_f32(rows[b : b + _ROWS], mean32, std32, self._capability)
            for b in range(0, rows.shape[0], _ROWS)
        ]
        if self._capability == "avx2" and rows.size >= _PARALLEL_MIN:
            _run_parallel(tasks)
        else:
            for task in tasks:
                task()

    def _normal_fill_f64(self, n: int, mean: float, std: float) -> np.ndarray:
        """float64 fill: like float32, with 53-bit uniforms and glibc log/cos/sin."""
        u = self._uniform53(n)
        blocks = n // 16
        if blocks:
            _box_muller16_f64(u[: 16 * blocks].reshape(blocks, 16), mean, std)
        if n % 16:
            tail = self._uniform53(16).reshape(1, 16)
            _box_muller16_f64(tail, mean, std)
            u[n - 16 :] = tail[0]
        return u

    # ---- randperm -------------------------------------------------------------------------

    def randperm(self, n: int) -> np.ndarray:
        """``torch.randperm(n, generator=g)``: a random permutation of ``0..n-1``, int64.

        torch's CPU algorithm for ``n < 2**32 / 20``: start from ``arange(n)``; for
        ``i = 0 .. n-2`` swap element ``i`` with element ``i + random() % (n - i)``
        (``n - 1`` draws). The swaps are sequential, so this runs a tight Python loop
        (about 0.03 s for ``n = 10**5``, under a second for ``10**6``).

        Example:
            >>> TorchGenerator(0).randperm(4).dtype
            dtype('int64')
        """
        n = operator.index(n)
        if n < 0:
            raise ValueError(f"randperm: n must be non-negative, got n={n}")
        if n >= _RANDPERM_MAX:
            raise NotImplementedError(
                f"randperm(n) for n >= {_RANDPERM_MAX} uses torch's inside-out shuffle with "
                "random64(), which is not reproduced (a Python loop over that many elements "
                "would take minutes anyway)"
            )
        if n <= 1:
            return np.arange(n, dtype=np.int64)
        z = (self.random(n - 1) % np.arange(n, 1, -1, dtype=np.uint32)).tolist()
        perm = list(range(n))
        for i, zi in enumerate(z):
            j = i + zi
            perm[i], perm[j] = perm[j], perm[i]
        return np.array(perm, dtype=np.int64)
