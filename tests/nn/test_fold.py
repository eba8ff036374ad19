"""jaxinit/nn/functional/fold.py and nn.Fold/nn.Unfold in pure JAX: unfold against a direct
loop, fold as unfold's adjoint, shapes, unbatched inputs and errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinit import nn
from jaxinit.nn import functional as F


def randn(*shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def reference_unfold(x, k, d, p, s):
    """im2col by explicit loops over blocks (numpy)."""
    x = np.pad(np.asarray(x), ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    n, c, h, w = x.shape
    bh = (h - d[0] * (k[0] - 1) - 1) // s[0] + 1
    bw = (w - d[1] * (k[1] - 1) - 1) // s[1] + 1
    out = np.zeros((n, c * k[0] * k[1], bh * bw), x.dtype)
    for a in range(bh):
        for b in range(bw):
            patch = x[
                :,
                :,
                a * s[0] : a * s[0] + d[0] * (k[0] - 1) + 1 : d[0],
                b * s[1] : b * s[1] + d[1] * (k[1] - 1) + 1 : d[1],
            ]
            out[:, :, a * bw + b] = patch.reshape(n, -1)
    return out


CASES = [
    dict(kernel_size=2),
    dict(kernel_size=(3, 2), dilation=(2, 1), padding=(1, 2), stride=(2, 3)),
    dict(kernel_size=3, padding=1, stride=2),
]


def _pairs(kw):
    def pair(v):
        return (v, v) if isinstance(v, int) else tuple(v)

    return (
        pair(kw["kernel_size"]),
        pair(kw.get("dilation", 1)),
        pair(kw.get("padding", 0)),
        pair(kw.get("stride", 1)),
    )


@pytest.mark.parametrize("kwargs", CASES)
def test_unfold_equals_explicit_blocks_and_fold_is_its_adjoint(kwargs):
    x = randn(2, 3, 7, 6)
    cols = jax.jit(lambda x: F.unfold(x, **kwargs))(x)
    np.testing.assert_array_equal(np.asarray(cols), reference_unfold(x, *_pairs(kwargs)))
    c = randn(*cols.shape, seed=1)
    back = jax.jit(lambda c: F.fold(c, (7, 6), **kwargs))(c)
    assert back.shape == x.shape
    # <unfold(x), c> == <x, fold(c)>
    np.testing.assert_allclose(float(jnp.vdot(cols, c)), float(jnp.vdot(x, back)), rtol=1e-5)


def test_fold_of_unfold_counts_the_blocks_covering_each_pixel():
    ones = jnp.ones((1, 1, 4, 4))
    counts = jax.jit(lambda x: F.fold(F.unfold(x, 2), (4, 4), 2))(ones)
    expected = np.outer([1, 2, 2, 1], [1, 2, 2, 1])
    np.testing.assert_array_equal(np.asarray(counts)[0, 0], expected)


def test_layers_unbatched_jit_and_reprs():
    unfold, fold = nn.Unfold(kernel_size=(2, 3), padding=1), nn.Fold((5, 4), (2, 3), padding=1)
    x = randn(3, 5, 4)
    cols = jax.jit(unfold)(x)
    assert cols.shape == (18, 24)
    np.testing.assert_array_equal(cols, jax.jit(unfold)(x[None])[0])
    assert jax.eval_shape(fold, cols).shape == (3, 5, 4)
    assert repr(unfold) == "Unfold(kernel_size=(2, 3), dilation=1, padding=1, stride=1)"
    assert repr(fold) == (
        "Fold(output_size=(5, 4), kernel_size=(2, 3), dilation=1, padding=1, stride=1)"
    )


def test_errors():
    with pytest.raises(RuntimeError, match="calculated shape of the array of sliding blocks"):
        F.unfold(jnp.ones((1, 2, 3, 3)), 4)
    with pytest.raises(RuntimeError, match="matching|match the calculated number of sliding"):
        F.fold(jnp.ones((1, 8, 11)), (4, 5), 2)
    with pytest.raises(RuntimeError, match="It is expected kernel_size equals to 2"):
        F.unfold(jnp.ones((1, 2, 3, 3)), (1, 2, 3))
    with pytest.raises(TypeError, match="stride must be an int or a pair of ints"):
        F.fold(jnp.ones((1, 8, 12)), (4, 5), 2, stride="x")
