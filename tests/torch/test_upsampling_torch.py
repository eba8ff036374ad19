"""F.interpolate, the Upsample layers, pixel/channel shuffles and Unflatten against torch:
values and input gradients for every mode, align_corners, size/scale_factor,
recompute_scale_factor and antialias; errors, attributes and reprs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from _xla_speed import unoptimized_xla  # noqa: E402, F401 -- autouse: this module's compiles

from jaxinit import nn  # noqa: E402
from jaxinit.nn import functional as F  # noqa: E402

TOL = dict(rtol=1e-5, atol=1e-5)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def check(torch_fn, jax_fn, x):
    xt = torch.tensor(x, requires_grad=True)
    yt = torch_fn(xt)
    g = randn(*yt.shape, seed=1)
    (yt * torch.tensor(g)).sum().backward()
    y, gx = jax.jit(lambda a: (lambda y, f: (y, f(jnp.asarray(g))[0]))(*jax.vjp(jax_fn, a)))(
        jnp.asarray(x)
    )
    assert tuple(y.shape) == tuple(yt.shape)
    np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(np.asarray(gx), xt.grad.numpy(), **TOL)


def raises_like_torch(torch_fn, jax_fn):
    with pytest.raises(Exception) as t_err:
        torch_fn()
    with pytest.raises(Exception) as j_err:
        jax_fn()
    assert type(j_err.value) is type(t_err.value)
    assert str(j_err.value).startswith(str(t_err.value)), (str(t_err.value), str(j_err.value))


SPATIAL = {3: (7,), 4: (7, 6), 5: (4, 5, 3)}
CASES = [  # (mode, ndim, kwargs): each mode with align_corners both ways, sizes up and down
    ("nearest", 3, dict(scale_factor=1.7)),
    ("nearest", 4, dict(size=(13, 4))),
    ("nearest", 5, dict(scale_factor=2)),
    ("nearest-exact", 4, dict(scale_factor=0.6)),
    ("nearest-exact", 3, dict(size=11)),
    ("area", 4, dict(scale_factor=0.45)),
    ("area", 5, dict(size=(2, 3, 2))),
    ("linear", 3, dict(scale_factor=1.7, align_corners=False)),
    ("linear", 3, dict(size=4, align_corners=True)),
    ("bilinear", 4, dict(scale_factor=2, align_corners=False)),
    ("bilinear", 4, dict(size=(5, 11), align_corners=True)),
    ("bilinear", 4, dict(scale_factor=1.7, recompute_scale_factor=True)),
    ("bilinear", 4, dict(scale_factor=0.45, antialias=True)),
    ("bilinear", 4, dict(size=(12, 3), antialias=True, align_corners=True)),
    ("bicubic", 4, dict(scale_factor=1.7, align_corners=False)),
    ("bicubic", 4, dict(size=(4, 9), align_corners=True)),
    ("bicubic", 4, dict(scale_factor=0.6, antialias=True)),
    ("trilinear", 5, dict(scale_factor=(1.5, 0.7, 2), align_corners=False)),
    ("trilinear", 5, dict(size=(6, 3, 5), align_corners=True)),
]


@pytest.mark.parametrize("mode,ndim,kwargs", CASES)
def test_interpolate_matches_torch(mode, ndim, kwargs):
    x = randn(2, 3, *SPATIAL[ndim])
    check(
        lambda t: TF.interpolate(t, mode=mode, **kwargs),
        lambda a: F.interpolate(a, mode=mode, **kwargs),
        x,
    )


@pytest.mark.parametrize(
    "args,kwargs",
    [
        ((), dict(scale_factor=2)),
        ((), dict(size=(5, 9), mode="bicubic", align_corners=True)),
        ((), dict(scale_factor=(0.5, 1.5), mode="bilinear")),
        ((), dict(size=4, mode="area")),
    ],
)
def test_upsample_layers_match_torch(args, kwargs):
    t, j = torch.nn.Upsample(*args, **kwargs), nn.Upsample(*args, **kwargs)
    assert repr(j) == repr(t)
    for field in (
        "name",
        "size",
        "scale_factor",
        "mode",
        "align_corners",
        "recompute_scale_factor",
    ):
        assert getattr(j, field) == getattr(t, field)
        assert type(getattr(j, field)) is type(getattr(t, field))
    check(t, j, randn(2, 3, 7, 6))
    for cls in ("UpsamplingNearest2d", "UpsamplingBilinear2d"):
        t, j = getattr(torch.nn, cls)(scale_factor=2), getattr(nn, cls)(scale_factor=2)
        assert repr(j) == repr(t) and j.align_corners == t.align_corners
    check(t, j, randn(1, 2, 4, 5))


@pytest.mark.parametrize(
    "ndim,kwargs",
    [
        (4, dict(size=3, scale_factor=2)),
        (4, dict()),
        (4, dict(size=(3, 3, 3))),
        (4, dict(scale_factor=(2,))),
        (4, dict(size=3, mode="nearest", align_corners=True)),
        (4, dict(size=3, recompute_scale_factor=True)),
        (4, dict(size=3, mode="linear")),
        (3, dict(size=3, mode="bilinear")),
        (5, dict(size=3, mode="bicubic")),
        (3, dict(size=3, mode="bilinear", antialias=True)),
        (4, dict(size=3, mode="cubic")),
        (4, dict(size=(3, 2.0))),
    ],
)
def test_interpolate_errors_as_torch(ndim, kwargs):
    x = np.ones((1, 2, 4, 4, 4)[:ndim], np.float32)
    raises_like_torch(
        lambda: TF.interpolate(torch.tensor(x), **kwargs),
        lambda: F.interpolate(jnp.asarray(x), **kwargs),
    )


def test_shuffles_match_torch():
    check(lambda t: TF.pixel_shuffle(t, 2), nn.PixelShuffle(2), randn(2, 8, 3, 4))
    check(lambda t: TF.pixel_shuffle(t, 3), lambda a: F.pixel_shuffle(a, 3), randn(9, 2, 3))
    check(lambda t: TF.pixel_unshuffle(t, 3), nn.PixelUnshuffle(3), randn(2, 2, 6, 9))
    check(lambda t: TF.channel_shuffle(t, 3), nn.ChannelShuffle(3), randn(2, 6, 3, 4))
    check(lambda t: TF.channel_shuffle(t, 2), lambda a: F.channel_shuffle(a, 2), randn(2, 4, 5))
    for name, arg in (("PixelShuffle", 2), ("PixelUnshuffle", 3), ("ChannelShuffle", 4)):
        assert repr(getattr(nn, name)(arg)) == repr(getattr(torch.nn, name)(arg))
    for fn, shape, arg in [
        ("pixel_shuffle", (2, 3), 2),
        ("pixel_shuffle", (5, 3, 3), 2),
        ("pixel_shuffle", (4, 3, 3), 0),
        ("pixel_unshuffle", (5, 3, 4), 2),
        ("pixel_unshuffle", (5, 4, 3), 2),
        ("channel_shuffle", (4, 4), 2),
        ("channel_shuffle", (2, 3, 4), 2),
        ("channel_shuffle", (2, 4, 4), 0),
    ]:
        x = np.ones(shape, np.float32)
        raises_like_torch(
            lambda fn=fn, x=x, arg=arg: getattr(TF, fn)(torch.tensor(x), arg),
            lambda fn=fn, x=x, arg=arg: getattr(F, fn)(jnp.asarray(x), arg),
        )


def test_unflatten_matches_torch():
    for dim, sizes, shape in [(1, (2, 5), (3, 10)), (-1, [2, -1], (3, 4, 6)), (0, (1, 3), (3,))]:
        t, j = torch.nn.Unflatten(dim, sizes), nn.Unflatten(dim, sizes)
        assert repr(j) == repr(t) and j.unflattened_size == t.unflattened_size
        check(t, j, randn(*shape))
    raises_like_torch(lambda: torch.nn.Unflatten(1, 4), lambda: nn.Unflatten(1, 4))
    raises_like_torch(lambda: torch.nn.Unflatten(1, (2, 2.0)), lambda: nn.Unflatten(1, (2, 2.0)))
    x = np.ones((3, 10), np.float32)
    raises_like_torch(
        lambda: torch.nn.Unflatten(1, (3, 3))(torch.tensor(x)),
        lambda: nn.Unflatten(1, (3, 3))(jnp.asarray(x)),
    )
