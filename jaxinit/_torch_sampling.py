"""torch's CPU sampling kernels in numpy, bit for bit: the float32 ``uniform_`` kernel, glibc
math element by element, the AVX2 float32 Box-Muller (``avx_mathfun.h``) and the float64 one,
and the dtype/shape argument helpers of :class:`jaxinit.generator.TorchGenerator`.

Private to :mod:`jaxinit.generator`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jaxinit._exact_float import (
    _float32_sum_is_exact,
    _fma32,
    _fma64,
    _fma64_exact,
    _fma64_safe,
    _mul_add_zero,
    _round_to_f32,
)

_TWO_PI = 2.0 * math.pi  # c10::pi<double> * 2, exact doubling
_TWO_PI_F32 = np.float32(_TWO_PI)


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
