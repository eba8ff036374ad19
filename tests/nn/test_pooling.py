"""Pure-JAX properties of the pooling, resampling, padding and shuffle functions and layers:
jit with static shapes, definitions on tiny inputs, inverses."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxinit import nn
from jaxinit.nn import functional as F


def test_max_pool_indices_and_unpool_round_trip():
    x = jnp.asarray(np.random.default_rng(0).permutation(24).reshape(1, 2, 3, 4), jnp.float32)
    y, i = jax.jit(lambda a: F.max_pool2d(a, 2, ceil_mode=True, return_indices=True))(x)
    assert y.shape == i.shape == (1, 2, 2, 2)
    np.testing.assert_array_equal(
        jnp.take_along_axis(x.reshape(1, 2, -1), i.reshape(1, 2, -1), axis=2).reshape(y.shape), y
    )
    back = nn.MaxUnpool2d(2)(y, i, output_size=(3, 4))
    assert back.shape == x.shape
    assert float(back.sum()) == float(y.sum())  # maxima written back, zeros elsewhere


def test_max_pool_gradient_goes_to_the_first_maximum():
    g = jax.grad(lambda a: F.max_pool1d(a, 3, dilation=2).sum())(jnp.ones((1, 5)))
    np.testing.assert_array_equal(g, [[1, 0, 0, 0, 0]])
    g = jax.grad(lambda a: F.max_pool1d(a, 2, stride=1).sum())(jnp.ones((1, 4)))
    np.testing.assert_array_equal(g, [[1, 1, 1, 0]])


def test_adaptive_pools_definition():
    x = jnp.arange(7.0).reshape(1, 7)
    # windows [0,3) [2,5) [4,7) for 7 -> 3
    np.testing.assert_allclose(F.adaptive_avg_pool1d(x, 3), [[1.0, 3.0, 5.0]])
    y, i = F.adaptive_max_pool1d(x, 3, return_indices=True)
    np.testing.assert_array_equal(y, [[2.0, 4.0, 6.0]])
    np.testing.assert_array_equal(i, [[2, 4, 6]])


def test_interpolate_identities_and_definition():
    x = jnp.asarray(np.random.default_rng(1).standard_normal((1, 2, 5, 4)), jnp.float32)
    for mode in ("nearest", "bilinear", "bicubic", "area", "nearest-exact"):
        np.testing.assert_allclose(F.interpolate(x, size=(5, 4), mode=mode), x, atol=1e-6)
    row = jnp.asarray([[[0.0, 1.0, 2.0]]])
    np.testing.assert_allclose(  # corners aligned: exact midpoints
        F.interpolate(row, size=5, mode="linear", align_corners=True), [[[0, 0.5, 1, 1.5, 2]]]
    )
    np.testing.assert_array_equal(F.interpolate(row, scale_factor=2), [[[0, 0, 1, 1, 2, 2]]])
    assert jax.jit(nn.Upsample(scale_factor=2, mode="bilinear"))(x).shape == (1, 2, 10, 8)


def test_pad_modes_and_crop():
    x = jnp.arange(4.0).reshape(1, 4)
    np.testing.assert_array_equal(F.pad(x, (2, 2), mode="reflect"), [[2, 1, 0, 1, 2, 3, 2, 1]])
    np.testing.assert_array_equal(F.pad(x, (2, 2), mode="replicate"), [[0, 0, 0, 1, 2, 3, 3, 3]])
    np.testing.assert_array_equal(F.pad(x, (2, 2), mode="circular"), [[2, 3, 0, 1, 2, 3, 0, 1]])
    np.testing.assert_array_equal(F.pad(x, (-1, 1), value=9.0), [[1, 2, 3, 9]])
    assert nn.ZeroPad2d((1, 0, 2, 3))(jnp.ones((3, 4, 4))).shape == (3, 9, 5)


def test_shuffles_invert_and_unflatten():
    x = jnp.arange(2 * 8 * 3 * 2.0).reshape(2, 8, 3, 2)
    np.testing.assert_array_equal(F.pixel_unshuffle(F.pixel_shuffle(x, 2), 2), x)
    np.testing.assert_array_equal(
        F.channel_shuffle(jnp.arange(6.0).reshape(1, 6, 1), 2)[0, :, 0], [0, 3, 1, 4, 2, 5]
    )
    assert nn.Unflatten(1, (2, -1))(x).shape == (2, 2, 4, 3, 2)


def test_grid_sample_identity():
    x = jnp.asarray(np.random.default_rng(2).standard_normal((2, 3, 4, 5)), jnp.float32)
    theta = jnp.broadcast_to(jnp.eye(2, 3), (2, 2, 3))
    for ac, mode in ((False, "bilinear"), (True, "nearest"), (True, "bicubic")):
        grid = F.affine_grid(theta, x.shape, align_corners=ac)
        y = jax.jit(lambda a, g, mode=mode, ac=ac: F.grid_sample(a, g, mode, align_corners=ac))(
            x, grid
        )
        np.testing.assert_allclose(y, x, atol=1e-5)
