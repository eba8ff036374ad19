"""Activations without torch: the keyed RReLU, torch's in-place spellings, GELU's exact
default, and that every layer calls its functional form."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinit import nn
from jaxinit.nn import functional as F

KEY = jax.random.key(0)


def test_gelu_is_exact_by_default_unlike_jax_nn_gelu():
    x = jnp.linspace(-3, 3, 13)
    exact = x * 0.5 * (1 + jax.scipy.special.erf(x / jnp.sqrt(2.0)))
    np.testing.assert_allclose(F.gelu(x), exact, rtol=1e-6, atol=1e-7)
    assert float(jnp.max(jnp.abs(F.gelu(x) - jax.nn.gelu(x)))) > 1e-4  # jax's tanh default


def test_rrelu_training_draws_slopes_in_range_and_eval_uses_the_midpoint():
    x = -jnp.ones(20000)
    slopes = -F.rrelu(x, 0.1, 0.3, training=True, rng=KEY)
    assert 0.1 <= float(slopes.min()) and float(slopes.max()) <= 0.3
    # U(0.1, 0.3): mean 0.2, sd 0.0577; the sample mean's sd is 4.1e-4, so 6 sd = 2.5e-3
    # (false-failure rate 2e-9; the key is fixed, so the outcome is deterministic).
    assert abs(float(slopes.mean()) - 0.2) < 2.5e-3
    np.testing.assert_allclose(F.rrelu(x, 0.1, 0.3), -0.2 * jnp.ones(20000), rtol=1e-6)
    np.testing.assert_array_equal(F.rrelu(-x, training=True, rng=KEY), -x)  # x >= 0 kept
    with pytest.raises(ValueError, match=r"rng=jax.random.key"):
        F.rrelu(x, training=True)


def test_rrelu_layer_is_keyed_by_the_call():
    layer, x = nn.RReLU(), -jnp.ones(8)
    np.testing.assert_allclose(layer(x), -(1 / 8 + 1 / 3) / 2 * jnp.ones(8), rtol=1e-6)
    a, _ = layer({}, x, train=True, rng=jax.random.key(1))
    b, _ = layer({}, x, train=True, rng=jax.random.key(2))
    assert not np.array_equal(a, b)
    with pytest.raises(ValueError, match="pass a PRNG key"):
        layer({}, x, train=True)


def test_inplace_forms_return_the_result():
    x = jnp.array([-1.0, 2.0])
    for fn in (F.relu_, F.elu_, F.selu_, F.celu_, F.leaky_relu_, F.hardtanh_):
        np.testing.assert_array_equal(fn(x), getattr(F, fn.__name__)(x))
    np.testing.assert_array_equal(F.relu(x, inplace=True), jnp.array([0.0, 2.0]))
    np.testing.assert_array_equal(F.threshold_(x, 0.0, 5.0), jnp.array([5.0, 2.0]))


@pytest.mark.parametrize(
    "layer,fn",
    [
        (nn.ELU(0.3), lambda x: F.elu(x, 0.3)),
        (nn.Softplus(2.0, 3.0), lambda x: F.softplus(x, 2, 3)),
        (nn.Hardtanh(-0.5, 0.5), lambda x: F.hardtanh(x, -0.5, 0.5)),
        (nn.GLU(0), lambda x: F.glu(x, 0)),
        (nn.LogSoftmax(1), lambda x: F.log_softmax(x, 1)),
        (nn.Mish(), F.mish),
    ],
)
def test_layers_call_their_functional_form(layer, fn):
    x = jax.random.normal(KEY, (4, 3))
    np.testing.assert_array_equal(layer(x), fn(x))


def test_prelu_init_and_dtype():
    layer = nn.PReLU(3, init=0.1, dtype=jnp.bfloat16)
    v = layer.init(KEY)
    assert v["weight"].dtype == jnp.bfloat16 and layer.init_value == 0.1
    np.testing.assert_array_equal(v["weight"], jnp.full(3, 0.1, jnp.bfloat16))
