"""The exact floating-point helpers behind TorchGenerator (jaxinit._exact_float): float32 and
float64 fused multiply-adds and single roundings to float32, against exact rationals."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from jaxinit import _exact_float
from tests._generator_helpers import _round_fraction_to_f32, bits


def _fma32_reference(a, b, c) -> list[int]:
    """Correctly rounded float32 fma via exact rationals and a float32 rounding of the
    rational (np.float32 of a Fraction is not exact, so round by hand)."""
    out = []
    for x, y, z in zip(a.tolist(), b.tolist(), c.tolist()):
        exact = Fraction(x) * Fraction(y) + Fraction(z)
        out.append(_round_fraction_to_f32(exact))
    return out


def test_fma32_random_operands():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(4000).astype(np.float32)
    b = (rng.standard_normal(4000) * 2.0 ** rng.integers(-30, 30, 4000)).astype(np.float32)
    c = (rng.standard_normal(4000) * 2.0 ** rng.integers(-60, 10, 4000)).astype(np.float32)
    assert bits(_exact_float._fma32(a, b, c, tiny=True)) == _fma32_reference(a, b, c)


def test_fma32_crafted_double_rounding_cases():
    """a*b = 2**-24 * (1 +- 2**-30) (13325 * 80581 = 2**30 + 1, 21483 * 49981 = 2**30 - 1)
    added to c = 1 + j * 2**-23: float64 rounds the sum exactly onto a float32 midpoint, so a
    plain ``float32(float64(a*b + c))`` rounds the wrong way in half of these cases."""
    a, b, c = [], [], []
    for x, y in ((13325, 80581), (21483, 49981)):
        for j in range(40):
            for sign in (1.0, -1.0):
                for scale in (2.0**-20, 1.0, 2.0**20):
                    a.append(sign * scale * x * 2.0**-27)
                    b.append(y * 2.0**-27)
                    c.append(sign * scale * (1 + j * 2.0**-23))
    a, b, c = (np.array(v, dtype=np.float32) for v in (a, b, c))
    assert np.array_equal(a.astype(np.float64), np.array(a, np.float64))
    ref = _fma32_reference(a, b, c)
    naive = bits((a.astype(np.float64) * b + c).astype(np.float32))
    assert np.mean(np.array(naive) != np.array(ref)) == 0.5  # the traps are real
    assert bits(_exact_float._fma32(a, b, c)) == ref
    assert bits(_exact_float._fma32(a, b, c, tiny=True)) == ref


def test_round_to_f32_subnormal_results():
    p = np.array([2.0**-149 * 1.5, -(2.0**-149) * 2.5, 2.0**-140 * (1 + 2**-30)])
    c = np.array([2.0**-200, 2.0**-200, 0.0])
    ref = [_round_fraction_to_f32(Fraction(x) + Fraction(y)) for x, y in zip(p, c)]
    assert bits(_exact_float._round_to_f32(p, c, tiny=True)) == ref


def test_fma64_random_and_crafted_operands():
    rng = np.random.default_rng(1)
    a = rng.random(3000)
    b = rng.standard_normal(3000) * 2.0 ** rng.integers(-40, 40, 3000)
    c = rng.standard_normal(3000) * 2.0 ** rng.integers(-80, 40, 3000)
    # crafted: a*b = 2**-53 * (1 +- 2**-60), a float64 midpoint above c = 1 + j * 2**-52,
    # where fl(fl(a*b) + c) rounds the wrong way half of the time
    crafted = []
    factors = (
        (17 * 241 * 61681, 4562284561),
        (3**2 * 5**2 * 7 * 11 * 13 * 31, 41 * 61 * 151 * 331 * 1321),
    )
    for x, y in factors:
        assert x * y in (2**60 + 1, 2**60 - 1)
        for j in range(8):
            for sign in (1.0, -1.0):
                crafted.append((sign * x * 2.0**-60, y * 2.0**-53, sign * (1 + j * 2.0**-52)))
    a2, b2, c2 = (np.array(v) for v in zip(*crafted))
    a, b, c = (np.concatenate(v) for v in ((a, a2), (b, b2), (c, c2)))
    ref = np.array([float(Fraction(x) * Fraction(y) + Fraction(z)) for x, y, z in zip(a, b, c)])
    assert np.mean(a2 * b2 + c2 != ref[3000:]) == 0.5  # the traps are real
    assert bits(_exact_float._fma64(a, b, c)) == bits(ref)


def test_mul_add_zero_sign_of_zero():
    """fma(a, b, +0) keeps the sign of a nonzero product that underflows, and gives +0
    for an exactly zero product."""
    a = np.array([-(2.0**-600), -0.0, 3.0])
    b = np.array([2.0**-600, 1.0, 0.0])
    out = _exact_float._mul_add_zero(a * b, a, b, 0.0)
    assert bits(out) == bits(np.array([-0.0, 0.0, 0.0]))


def test_float32_sum_exactness_rule():
    def f32(v: float) -> float:
        return float(np.float32(v))

    r = f32(np.float32(0.4) - np.float32(-0.3))
    assert _exact_float._float32_sum_is_exact(r, f32(-0.3))  # the usual ranges take the fast path
    assert _exact_float._float32_sum_is_exact(f32(2 * 0.0625), f32(-0.0625))
    assert _exact_float._float32_sum_is_exact(2.0, 0.0)
    assert _exact_float._float32_sum_is_exact(1.0, f32(100.0 + 2**-17))  # uniform_(100, 101)
    # a nonzero low bound far below the width needs the exact rounding path
    assert not _exact_float._float32_sum_is_exact(1.0, f32(1e-10))
    assert not _exact_float._float32_sum_is_exact(2.0**-30, 100.0)
