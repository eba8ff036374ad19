"""TorchGenerator's uniform_ and normal_ without torch: the wrap of the largest draw, the
emulated fused multiply-adds against exact references, argument errors, shapes and dtypes, and
values independent of the worker threads. The cross-checks against torch itself are in
tests/torch/test_generator_torch.py."""

from __future__ import annotations

import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from jaxinit import _rng_threads
from jaxinit.generator import TorchGenerator
from tests._generator_helpers import _round_fraction_to_f32, bits, with_next_outputs

# ------------------------------------------------------------------------------------------
# uniform_ edge cases
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float16, ml_dtypes.bfloat16])
def test_uniform_wraps_max_draw_to_low_f32(dtype):
    g = with_next_outputs(TorchGenerator(0), [0x00FFFFFF, 0x00FFFFFF, 0xFF000000])
    assert g.random(1).tolist() == [0x00FFFFFF]
    g = with_next_outputs(TorchGenerator(0), [0x00FFFFFF, 0x00FFFFFF, 0xFF000000])
    out = g.uniform_(3, 1.0, 1.5, dtype)
    assert out.tolist() == [1.0, 1.0, 1.0]  # the last draw has x = 0
    g = with_next_outputs(TorchGenerator(0), [0xFFFFFFFF])
    assert g.uniform_(1, -2.0, -1.0, dtype).tolist() == [-2.0]


def test_uniform_wraps_max_draw_to_low_f64():
    g = with_next_outputs(TorchGenerator(0), [0x001FFFFF, 0xFFFFFFFF, 0xFFE00000, 0])
    assert g.uniform_(2, 1.0, 1.5, np.float64).tolist() == [1.0, 1.0]
    g = with_next_outputs(TorchGenerator(0), [0xFFFFFFFF, 0xFFFFFFFF])
    assert g.uniform_(1, -2.0, -1.0, np.float64).tolist() == [-2.0]


def test_uniform_just_below_max_draw_does_not_wrap():
    g = with_next_outputs(TorchGenerator(0), [0x00FFFFFE])
    v = g.uniform_(1, 0.0, 1.0)[0]
    assert v == np.float32(1 - 2**-23)


def _uniform_f32_reference(k: np.ndarray, low: float, high: float) -> np.ndarray:
    """torch's fused float32 uniform_real in exact rationals, rounded once (no wrap)."""
    f, t = np.float32(low), np.float32(high)
    r = Fraction(float(np.float32(t - f)))
    f = Fraction(float(f))
    out = [_round_fraction_to_f32(Fraction(ki, 2**24) * r + f) for ki in k.tolist()]
    return np.array(out, dtype=np.uint32).view(np.float32)


@pytest.mark.parametrize(
    "low, high",
    [(-0.3, 0.4), (100.0, 101.0), (1e-10, 1.0), (-1e-30, 3.0), (0.0, 1e-40), (2.5, 1e6),
     (-0.0173, 0.0173), (0.0, 0.37), (-3e-37, 3e-37)],
)  # fmt: skip
def test_uniform_f32_fma_emulation_is_exact(low, high):
    """Against exact rationals rounded once to float32: the fused path must equal fma,
    whichever internal branch (f == 0, symmetric, exact float64 sum, exact rounding) it takes."""
    n = 3000
    k = TorchGenerator(12).random(n) & 0xFFFFFF
    ours = TorchGenerator(12).uniform_(n, low, high)
    ref = _uniform_f32_reference(k, low, high)
    hi = np.float32(high)
    ref[ref == hi] = np.float32(low)
    assert bits(ours) == bits(ref)


def test_uniform_f32_default_capability_rounds_twice():
    n = 3000
    k = TorchGenerator(12).random(n) & 0xFFFFFF
    ours = TorchGenerator(12, capability="default").uniform_(n, -0.3, 0.4)
    x = k.astype(np.float32) * np.float32(2**-24)
    ref = x * np.float32(np.float32(0.4) - np.float32(-0.3)) + np.float32(-0.3)
    assert bits(ours) == bits(ref)
    fused = TorchGenerator(12).uniform_(n, -0.3, 0.4)
    # the spec measured about half the values differing (seed 5); 51 % with this seed
    assert np.mean(ours != fused) > 0.3


@pytest.mark.parametrize("low, high", [(-0.3, 0.4), (1.0, 3.7), (-1e-300, 1e-290)])
def test_uniform_f64_fma_emulation_is_exact(low, high):
    n = 1000
    g = TorchGenerator(13)
    x = g._uniform53(n)
    ours = TorchGenerator(13).uniform_(n, low, high, np.float64)
    r = Fraction(high - low)
    ref = np.array([float(Fraction(v) * r + Fraction(low)) for v in x.tolist()])
    ref[ref == high] = low
    assert bits(ours) == bits(ref)


def test_uniform_errors_and_empty():
    g = TorchGenerator(0)
    with pytest.raises(ValueError, match="low=1.0 > high=0.0"):
        g.uniform_(3, 1.0, 0.0)
    with pytest.raises(ValueError, match="out of bounds"):
        g.uniform_(3, -math.inf, 0.0)
    with pytest.raises(ValueError, match="out of bounds"):
        g.uniform_(3, 0.0, math.nan)
    with pytest.raises(ValueError, match="out of bounds for float16"):
        g.uniform_(3, 0.0, 1e5, np.float16)
    with pytest.raises(ValueError, match="high - low"):
        g.uniform_(3, -3.4e38, 3.4e38)
    with pytest.raises(TypeError, match="not supported"):
        g.uniform_(3, dtype=np.int64)
    with pytest.raises(ValueError, match="negative"):
        g.uniform_((2, -1))
    with pytest.raises(TypeError, match="shape"):
        g.uniform_(2.5)
    state = g.get_state()
    assert g.uniform_((0, 3)).shape == (0, 3)  # errors and empties consume nothing
    assert np.array_equal(g.get_state(), state)


def test_uniform_shapes_and_dtypes():
    g = TorchGenerator(0)
    assert g.uniform_((2, 3, 4)).shape == (2, 3, 4)
    assert g.uniform_((), dtype=np.float64).shape == ()
    assert g.uniform_(3, dtype="float16").dtype == np.float16
    assert g.uniform_(3, dtype="bfloat16").dtype == ml_dtypes.bfloat16
    flat = TorchGenerator(1).uniform_(24, -2, 3)
    assert bits(TorchGenerator(1).uniform_((2, 3, 4), -2, 3)) == bits(flat)


def test_uniform_half_is_float32_rounded():
    f32 = TorchGenerator(3).uniform_(5000, -0.3, 0.4)
    f16 = TorchGenerator(3).uniform_(5000, -0.3, 0.4, np.float16)
    expect = f32.astype(np.float16)
    expect[expect == np.float16(0.4)] = np.float16(-0.3)
    assert bits(f16) == bits(expect)


# ------------------------------------------------------------------------------------------
# normal_ arguments
# ------------------------------------------------------------------------------------------


def test_normal_errors():
    g = TorchGenerator(0)
    with pytest.raises(ValueError, match="std >= 0.0"):
        g.normal_(3, 0.0, -1.0)
    with pytest.raises(ValueError, match="std >= 0.0"):
        g.normal_(3, 0.0, math.nan)
    with pytest.raises(TypeError, match="not supported"):
        g.normal_(3, dtype=np.int32)


def test_normal_std_zero_fills_mean():
    g = TorchGenerator(0)
    assert g.normal_(20, 1.5, 0.0).tolist() == [1.5] * 20
    assert g.normal_(5, -2.0, 0.0, np.float64).tolist() == [-2.0] * 5


def test_normal_default_capability_runs():
    """The plain build's float32 kernel (glibc logf/cosf/sinf): close to the AVX2 kernel
    (spec: they differ in ~39 % of values by <= 1.3e-6); bitwise checks are in the torch tests."""
    a = TorchGenerator(1, capability="default").normal_(4000)
    b = TorchGenerator(1).normal_(4000)
    assert np.max(np.abs(a - b)) <= 2e-6
    assert 0.2 < np.mean(a != b) < 0.6


@pytest.mark.parametrize("threads", [0, 1, 3])
def test_worker_threads_do_not_change_values(monkeypatch, threads):
    """Large fills hand blocks to worker threads; the values must not depend on it."""
    n = _rng_threads._PARALLEL_MIN + 1003
    calls = (
        lambda g: g.uniform_(n, -0.3, 0.4),
        lambda g: g.normal_(n, 0.5, 2.0),
        lambda g: g.normal_(n, dtype=np.float16),
    )
    monkeypatch.setattr(_rng_threads, "_THREADS", 0)
    expected = [bits(call(TorchGenerator(3))) for call in calls]
    monkeypatch.setattr(_rng_threads, "_THREADS", threads)
    monkeypatch.setattr(_rng_threads, "_POOL", None)
    for call, want in zip(calls, expected, strict=True):
        assert bits(call(TorchGenerator(3))) == want
    assert (_rng_threads._POOL is None) == (threads == 0)
