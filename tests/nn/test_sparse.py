"""Embeddings and Bilinear without torch: max_norm renorms the result but not the stored
weight, EmbeddingBag's bag layouts, one_hot, and Bilinear's formula and init bounds."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinit import nn
from jaxinit.nn import functional as F

KEY = jax.random.key(0)


def test_embedding_max_norm_renorms_the_result_not_the_weight():
    emb = nn.Embedding(4, 2, max_norm=1.0)
    v = {"weight": jnp.array([[3.0, 4.0], [0.3, 0.4], [0.0, 2.0], [1.0, 0.0]])}
    y = emb(v, jnp.array([0, 1, 2]))
    np.testing.assert_allclose(jnp.linalg.norm(y, axis=-1), [1.0, 0.5, 1.0], rtol=1e-6)
    np.testing.assert_array_equal(v["weight"][0], [3.0, 4.0])  # stored weight unchanged
    # gradient as torch: the renorm factor is a no-grad constant
    g = jax.grad(lambda w: jnp.sum(F.embedding(jnp.array([0]), w, max_norm=1.0)))(v["weight"])
    np.testing.assert_array_equal(g[0], [1.0, 1.0])


def test_embedding_bag_layouts_agree():
    w = jax.random.normal(KEY, (10, 3))
    idx2d = jnp.array([[1, 2, 3], [4, 5, 6]])
    flat, offsets = idx2d.reshape(-1), jnp.array([0, 3])
    for mode in ("sum", "mean", "max"):
        a = F.embedding_bag(idx2d, w, mode=mode)
        b = F.embedding_bag(flat, w, offsets, mode=mode)
        c = F.embedding_bag(flat, w, jnp.array([0, 3, 6]), mode=mode, include_last_offset=True)
        np.testing.assert_allclose(a, b, rtol=1e-6)
        np.testing.assert_allclose(a, c, rtol=1e-6)
    np.testing.assert_allclose(
        F.embedding_bag(idx2d, w, mode="sum")[0], w[1] + w[2] + w[3], rtol=1e-6
    )
    # an empty bag is zeros; padding entries are left out of the mean
    out = F.embedding_bag(flat, w, jnp.array([0, 0, 3]), mode="mean", padding_idx=2)
    np.testing.assert_array_equal(out[0], jnp.zeros(3))
    np.testing.assert_allclose(out[1], (w[1] + w[3]) / 2, rtol=1e-6)


def test_one_hot_and_jit():
    np.testing.assert_array_equal(F.one_hot(jnp.array([0, 2])), [[1, 0, 0], [0, 0, 1]])
    y = jax.jit(lambda x: F.one_hot(x, 4))(jnp.array([[3, 1]]))
    assert y.shape == (1, 2, 4) and jnp.issubdtype(y.dtype, jnp.integer)


def test_bilinear_formula_and_init_bounds():
    bl = nn.Bilinear(3, 4, 5)
    v = bl.init(KEY)
    bound = 1 / math.sqrt(3)
    assert v["weight"].shape == (5, 3, 4) and float(jnp.abs(v["weight"]).max()) <= bound
    assert float(jnp.abs(v["bias"]).max()) <= bound
    x1, x2 = jax.random.normal(KEY, (2, 3)), jax.random.normal(jax.random.key(1), (2, 4))
    want = jnp.einsum("bi,oij,bj->bo", x1, v["weight"], x2) + v["bias"][None]
    np.testing.assert_allclose(bl(v, x1, x2), want, rtol=1e-5, atol=1e-6)


def test_index_checks_under_jit_with_closed_over_constant_indices():
    """A constant closed over by a jitted function is concrete, but jnp ops on it trace: the
    check reads its values in numpy (no TracerBoolConversionError), and still refuses a bad
    index at trace time."""
    emb = nn.Embedding(5, 3)
    v = emb.init(jax.random.key(0))
    idx, bad = jnp.array([1, 4]), jnp.array([1, 7])
    np.testing.assert_array_equal(jax.jit(lambda v: emb(v, idx))(v), v["weight"][idx])
    np.testing.assert_array_equal(
        jax.jit(lambda w: F.embedding(idx, w))(v["weight"]), v["weight"][idx]
    )
    np.testing.assert_array_equal(
        jax.jit(lambda: F.one_hot(idx))(), np.eye(5, dtype=np.int32)[[1, 4]]
    )
    assert jax.jit(lambda: F.one_hot(idx, 6))().shape == (2, 6)
    with pytest.raises(IndexError, match="got index 7"):
        jax.jit(lambda v: emb(v, bad))(v)
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        jax.jit(lambda: F.one_hot(bad, 5))()
    # traced indices: no check possible, out-of-range rows are NaN (unchanged)
    assert np.isnan(jax.jit(lambda v, i: emb(v, i))(v, bad)[1]).all()
