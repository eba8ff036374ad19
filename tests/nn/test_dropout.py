"""Dropout family without torch: rates and scales with fixed keys, channel-wise masks, alpha
dropout's mean/variance preservation, eval identity and the rng requirement.

Rate checks use 6 standard deviations of the binomial/normal sample statistic: a correct
implementation would fail with probability ~2e-9 per check; the keys are fixed, so each
outcome is deterministic (no flakiness) and the bounds are tight enough to catch a wrong rate
or scale (e.g. p vs 1 - p moves the rate by 0.4 >> 0.009)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinit import nn
from jaxinit.nn import functional as F

KEY = jax.random.key(0)


def test_dropout_rate_and_scale():
    n, p = 100_000, 0.3
    y = np.asarray(F.dropout(jnp.ones(n), p, rng=KEY))
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((y == 0).mean() - p) < 6 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize(
    "fn,shape,spatial",
    [
        (F.dropout1d, (40, 250, 3), (2,)),
        (F.dropout1d, (250, 3), (1,)),
        (F.dropout2d, (40, 250, 2, 2), (2, 3)),
        (F.dropout3d, (40, 250, 2, 1, 2), (2, 3, 4)),
        (F.dropout3d, (250, 2, 1, 2), (1, 2, 3)),
        (F.feature_alpha_dropout, (40, 250, 3), (2,)),
    ],
)
def test_channel_wise_masks(fn, shape, spatial):
    p = 0.4
    kwargs = dict(training=True) if fn is F.feature_alpha_dropout else {}
    y = np.asarray(fn(jnp.ones(shape), p, rng=KEY, **kwargs))
    lo, hi = y.min(axis=spatial), y.max(axis=spatial)
    np.testing.assert_array_equal(lo, hi)  # one draw per (sample, channel)
    dropped = lo == lo.min()
    channels = dropped.size
    assert abs(dropped.mean() - p) < 6 * math.sqrt(p * (1 - p) / channels)


@pytest.mark.parametrize("fn", [F.alpha_dropout, F.feature_alpha_dropout])
def test_alpha_dropout_keeps_zero_mean_and_unit_variance(fn):
    # x ~ N(0, 1), n = 2e5 values: the sample mean's sd is 1/sqrt(n) = 2.2e-3 (6 sd = 0.013);
    # the sample variance's sd is ~sqrt(2/n) = 3.2e-3 for the kept part (6 sd < 0.03). The
    # feature form has 2e4 independent channel draws, so its mask adds sd ~ 0.01: bounds 0.06.
    x = jax.random.normal(jax.random.key(1), (20_000, 10))
    x = x.reshape(200, 100, 10)
    y = np.asarray(fn(x, 0.2, training=True, rng=KEY), np.float64)
    tol = 0.03 if fn is F.alpha_dropout else 0.06
    assert abs(y.mean()) < tol / 2 and abs(y.var() - 1) < tol
    assert abs(np.asarray(x).var() - 1) < 0.03
    # zeros map to b (kept) or b - a * alpha' (dropped): torch's affine correction
    a = 1 / math.sqrt((1.7580993408473766**2 * 0.2 + 1) * 0.8)
    b = 1.7580993408473766 * a * 0.2
    z = np.unique(np.asarray(fn(jnp.zeros_like(x), 0.2, training=True, rng=KEY)))
    np.testing.assert_allclose(z, [b - a * 1.7580993408473766, b], rtol=1e-6)


def test_eval_p0_p1_and_rng_requirement():
    x = jnp.arange(6.0).reshape(1, 2, 3)
    for fn in (F.dropout, F.dropout1d, F.alpha_dropout, F.feature_alpha_dropout):
        np.testing.assert_array_equal(fn(x, 0.5, training=False), x)
        np.testing.assert_array_equal(fn(x, 0.0, training=True), x)
        np.testing.assert_array_equal(fn(x, 1.0, training=True), jnp.zeros_like(x))
        with pytest.raises(ValueError, match=r"rng=jax.random.key"):
            fn(x, 0.5, training=True)


def test_layers_use_next_key_and_are_identity_in_eval():
    x = jnp.ones((4, 16, 3))
    for cls in (nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout, nn.FeatureAlphaDropout):
        layer = cls(0.5)
        if cls is nn.Dropout2d:
            with pytest.warns(UserWarning, match="3D input to dropout2d"):
                a, _ = layer({}, x, train=True, rng=jax.random.key(1))
        else:
            a, _ = layer({}, x, train=True, rng=jax.random.key(1))
            b, _ = layer({}, x, train=True, rng=jax.random.key(2))
            assert not np.array_equal(a, b)
        np.testing.assert_array_equal(layer({}, x), x)
        with pytest.raises(ValueError, match="pass a PRNG key"):
            layer({}, x, train=True)
