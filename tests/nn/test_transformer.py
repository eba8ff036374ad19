"""Attention and transformer layers without torch: jit, masks, stacks of independent copies,
keyed dropout."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinit import nn
from jaxinit.nn import functional as F


def test_square_subsequent_mask():
    m = np.asarray(nn.Transformer.generate_square_subsequent_mask(3))
    assert m.dtype == np.float32
    np.testing.assert_array_equal(m, [[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]])


def test_causal_attention_ignores_the_future():
    q = jax.random.normal(jax.random.key(0), (1, 2, 5, 4))
    a = F.scaled_dot_product_attention(q, q, q, is_causal=True)
    b = F.scaled_dot_product_attention(q[:, :, :3], q[:, :, :3], q[:, :, :3], is_causal=True)
    np.testing.assert_allclose(np.asarray(a[:, :, :3]), np.asarray(b), rtol=1e-6, atol=1e-6)


def test_encoder_stack_copies_are_independent_and_jit():
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=True)
    v = enc.init(jax.random.key(0))
    assert set(v["layers"]) == {"0", "1"}
    w0, w1 = v["layers"]["0"]["linear1"]["weight"], v["layers"]["1"]["linear1"]["weight"]
    assert not np.array_equal(np.asarray(w0), np.asarray(w1))  # a JAX key draws each by name
    x = jnp.ones((2, 5, 8))
    y = jax.jit(enc)(v, x)
    np.testing.assert_allclose(np.asarray(y), np.asarray(enc(v, x)), rtol=1e-5, atol=1e-5)


def test_multihead_attention_dropout_is_keyed():
    mha = nn.MultiheadAttention(8, 2, dropout=0.5)
    v = mha.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (4, 2, 8))
    eval_out, w = mha(v, x, x, x)
    assert w.shape == (2, 4, 4)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5)
    lv = layer.init(jax.random.key(0))
    a, _ = layer(lv, x, train=True, rng=jax.random.key(1))
    b, _ = layer(lv, x, train=True, rng=jax.random.key(1))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(a), np.asarray(layer(lv, x)))
    with pytest.raises(ValueError):
        layer(lv, x, train=True)
