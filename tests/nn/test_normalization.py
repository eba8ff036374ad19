"""Normalization without torch: the formulas on small inputs, running statistics, jit,
half precision, unbatched inputs and the layers calling their functional forms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinit import nn
from jaxinit.nn import functional as F

KEY = jax.random.key(0)


def test_group_norm_is_layer_norm_per_group():
    x = jax.random.normal(KEY, (2, 6, 5))
    y = F.group_norm(x, 3)
    per_group = F.layer_norm(x.reshape(2, 3, 10), (10,)).reshape(2, 6, 5)
    np.testing.assert_allclose(y, per_group, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(F.group_norm(x, 6), F.instance_norm(x), rtol=1e-5, atol=1e-6)


def test_rms_norm_and_normalize_formulas():
    x = jnp.array([[3.0, 4.0]])
    np.testing.assert_allclose(F.normalize(x), [[0.6, 0.8]], rtol=1e-6)
    np.testing.assert_allclose(F.normalize(x, p=1.0), [[3 / 7, 4 / 7]], rtol=1e-6)
    ms = (9 + 16) / 2
    np.testing.assert_allclose(F.rms_norm(x, 2, eps=0.0), x / np.sqrt(ms), rtol=1e-6)


def test_local_response_norm_formula():
    x = jnp.arange(1.0, 5.0).reshape(1, 4, 1)
    y = F.local_response_norm(x, size=3, alpha=3.0, beta=1.0, k=1.0)
    window = np.array([0 + 1 + 4, 1 + 4 + 9, 4 + 9 + 16, 9 + 16 + 0])  # size//2 before
    np.testing.assert_allclose(np.asarray(y).ravel(), np.arange(1, 5) / (1 + window), rtol=1e-6)


def test_instance_norm_running_stats_under_jit():
    norm = nn.InstanceNorm1d(2, track_running_stats=True, momentum=0.5)
    v = norm.init(KEY)
    x = jnp.stack([jnp.arange(4.0), 2 * jnp.arange(4.0)])[None]  # (1, 2, 4)
    step = jax.jit(lambda v, x: norm(v, x, train=True))
    _, v = step(v, x)
    np.testing.assert_allclose(v["running_mean"], [0.75, 1.5], rtol=1e-6)
    # unbiased variances 5/3 and 20/3, halfway from 1
    np.testing.assert_allclose(v["running_var"], [(1 + 5 / 3) / 2, (1 + 20 / 3) / 2], rtol=1e-6)
    assert int(v["num_batches_tracked"]) == 0  # torch's InstanceNorm never counts
    y = norm(v, x[0])  # unbatched eval with the running statistics
    np.testing.assert_allclose(
        y[0], (x[0, 0] - 0.75) / np.sqrt(v["running_var"][0] + 1e-5), rtol=1e-5
    )


def test_batch_norm_3d_momentum_none_is_the_cumulative_average():
    bn = nn.BatchNorm3d(1, momentum=None, affine=False)
    v = bn.init(KEY)
    a = jax.random.normal(KEY, (2, 1, 2, 2, 2))
    _, v = bn(v, a, train=True)
    _, v = bn(v, 2 * a + 1, train=True)
    np.testing.assert_allclose(v["running_mean"], [(a.mean() + 2 * a.mean() + 1) / 2], rtol=1e-5)
    assert int(v["num_batches_tracked"]) == 2


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_half_precision_inputs_keep_their_dtype(dtype):
    x = jax.random.normal(KEY, (2, 4, 3)).astype(dtype)
    for y in (
        F.group_norm(x, 2),
        F.layer_norm(x, (3,)),
        F.rms_norm(x, (3,)),
        F.instance_norm(x),
        F.batch_norm(x, None, None, training=True),
    ):
        assert y.dtype == dtype and bool(jnp.isfinite(y.astype(jnp.float32)).all())


def test_layers_call_their_functional_form():
    x = jax.random.normal(KEY, (2, 4, 3))
    gn = nn.GroupNorm(2, 4)
    np.testing.assert_array_equal(
        gn(gn.init(KEY), x), F.group_norm(x, 2, jnp.ones(4), jnp.zeros(4))
    )
    np.testing.assert_array_equal(nn.LocalResponseNorm(2)(x), F.local_response_norm(x, 2))
    rms = nn.RMSNorm(3, elementwise_affine=False)
    assert rms.init(KEY) == {} and rms.eps is None
    np.testing.assert_array_equal(rms({}, x), F.rms_norm(x, (3,)))
