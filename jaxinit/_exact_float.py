"""Exact floating-point helpers (error-free transformations) in numpy: correctly rounded
float64 and float32 fused multiply-adds, and single roundings of float64 sums to float32.

Private to :mod:`jaxinit.generator`, whose kernels reproduce libtorch's FMA instructions.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np


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
