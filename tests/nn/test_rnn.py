"""Recurrent layers without torch: scans (program size independent of sequence length),
packed sequences under jit with traced lengths, unbatched inputs, keyed dropout."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinit import nn
from jaxinit.nn.utils import rnn as U


def n_eqns(fn, *args):
    return len(jax.make_jaxpr(fn)(*args).jaxpr.eqns)


@pytest.mark.parametrize(
    "make", [lambda: nn.LSTM(3, 4, 2, bidirectional=True), lambda: nn.GRU(3, 4)]
)
def test_program_size_does_not_grow_with_sequence_length(make):
    m = make()
    v = m.init(jax.random.key(0))
    short, long = jnp.ones((4, 2, 3)), jnp.ones((64, 2, 3))
    assert n_eqns(lambda x: m(v, x), short) == n_eqns(lambda x: m(v, x), long)


def test_packed_sequence_with_traced_lengths():
    m = nn.LSTM(3, 4, batch_first=True, bidirectional=True)
    v = m.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (3, 5, 3))

    @jax.jit
    def run(x, lengths):
        out, (h, c) = m(v, U.pack_padded_sequence(x, lengths, True, enforce_sorted=False))
        y, lens = U.pad_packed_sequence(out, True)
        return y, h, lens

    y, h, lens = run(x, jnp.array([5, 2, 4]))
    assert y.shape == (3, 5, 8)  # traced lengths: the padded length is kept
    np.testing.assert_array_equal(np.asarray(y[1, 2:]), 0)  # zeros past each length
    # sequence 1 alone (length 2) gives the same outputs and final states
    y1, (h1, _) = m(v, x[1:2, :2])
    np.testing.assert_allclose(np.asarray(y[1, :2]), np.asarray(y1[0]), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(h[:, 1]), np.asarray(h1[:, 0]), rtol=1e-6, atol=1e-6)
    assert lens.tolist() == [5, 2, 4]


def test_packed_sequence_is_a_pytree():
    p = U.pack_sequence([jnp.ones((3, 2)), jnp.ones((2, 2))])
    leaves, tree = jax.tree.flatten(p)
    assert len(leaves) == 2
    back = jax.tree.unflatten(tree, leaves)
    assert back.batch_first is False and back.padded.shape == (3, 2, 2)
    with pytest.raises(RuntimeError, match="enforce_sorted"):
        U.pack_sequence([jnp.ones((2, 2)), jnp.ones((3, 2))])


def test_unbatched_input_equals_a_batch_of_one():
    m = nn.GRU(3, 4, num_layers=2)
    v = m.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (5, 3))
    h0 = jax.random.normal(jax.random.key(2), (2, 4))
    y, h = m(v, x, h0)
    yb, hb = m(v, x[:, None], h0[:, None])
    np.testing.assert_allclose(np.asarray(y), np.asarray(yb[:, 0]), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(h), np.asarray(hb[:, 0]), rtol=1e-6)


def test_dropout_between_layers_is_keyed():
    m = nn.RNN(3, 4, num_layers=2, dropout=0.5)
    v = m.init(jax.random.key(0))
    x = jnp.ones((5, 2, 3))
    (a, _), _ = m(v, x, train=True, rng=jax.random.key(1))
    (b, _), _ = m(v, x, train=True, rng=jax.random.key(2))
    assert not np.allclose(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="key"):
        m(v, x, train=True)
