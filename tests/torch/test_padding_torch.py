"""F.pad and the padding layers against torch: every mode, 1-3 padded dims, batched and
unbatched, negative pads; values, input gradients, errors, attributes and reprs."""

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
    y, pullback = jax.vjp(jax_fn, jnp.asarray(x))
    assert tuple(y.shape) == tuple(yt.shape)
    np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(np.asarray(pullback(jnp.asarray(g))[0]), xt.grad.numpy(), **TOL)


def raises_like_torch(torch_fn, jax_fn):
    with pytest.raises(Exception) as t_err:
        torch_fn()
    with pytest.raises(Exception) as j_err:
        jax_fn()
    assert type(j_err.value) is type(t_err.value)
    assert str(j_err.value).startswith(str(t_err.value)), (str(t_err.value), str(j_err.value))


PADS = [(1, 2), (3, -1), (0, -1, 1, 2), (1, 2, 0, 1, 2, 1), (-1, 1, 2, -2, 1, 0)]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pads", PADS)
def test_pad_matches_torch(mode, pads):
    x = randn(2, 3, 4, 5, 6)
    ndim = len(pads) // 2 + 1 + len(pads) % 4 // 2  # batched or unbatched
    xx = x[(0,) * (5 - ndim)]
    check(lambda t: TF.pad(t, pads, mode=mode), lambda a: F.pad(a, pads, mode=mode), xx)


def test_constant_pad_value_and_any_rank():
    check(
        lambda t: TF.pad(t, (1, 2, -1, 1, 0, 0, 1, 1), value=2.5),
        lambda a: F.pad(a, (1, 2, -1, 1, 0, 0, 1, 1), value=2.5),
        randn(2, 3, 4, 5),
    )
    check(lambda t: TF.pad(t, (2, 1)), lambda a: F.pad(a, (2, 1)), randn(5))


LAYERS = [
    (f"{kind}Pad{n}d", n)
    for kind in ("Zero", "Reflection", "Replication", "Circular")
    for n in (1, 2, 3)
]


@pytest.mark.parametrize("name,n", LAYERS, ids=[c[0] for c in LAYERS])
def test_padding_layers_match_torch(name, n):
    x = randn(2, 3, 4, 5, 6)[(0,) * (3 - n)]
    for padding in (1, (1, 2, 0, 1, 2, 1)[: 2 * n]):
        t, j = getattr(torch.nn, name)(padding), getattr(nn, name)(padding)
        assert repr(j) == repr(t) and j.padding == t.padding
        check(t, j, x)
    t = getattr(torch.nn, f"ConstantPad{n}d")(2, -1.5)
    j = getattr(nn, f"ConstantPad{n}d")(2, -1.5)
    assert repr(j) == repr(t) and (j.padding, j.value) == (t.padding, t.value)
    check(t, j, x)


ERRORS = [
    ((1, 2, 3), {}, (1, 2, 3, 4)),
    ((1, 1), dict(mode="reflect"), (1, 2, 3, 4)),
    ((1, 1, 1, 1, 1, 1, 1, 1), dict(mode="replicate"), (1, 2, 3, 4)),
    ((1, 1, 1, 1), dict(mode="reflect"), (4,)),
    ((1, 1), dict(mode="foo"), (2, 3)),
    ((1, 1), dict(mode="reflect", value=2.0), (2, 3)),
    ((1,) * 10, {}, (1, 2, 3, 4)),
    ((-3, -2), {}, (2, 4)),
    ((4, 0), dict(mode="reflect"), (1, 4)),
    ((1, 5, 1, 1), dict(mode="reflect"), (2, 3, 4)),
    ((-2, -3), dict(mode="replicate"), (1, 4)),
    ((-5, 0, 0, -2), dict(mode="replicate"), (2, 3, 4)),
    ((5, 0), dict(mode="circular"), (1, 4)),
    ((-2, -3), dict(mode="circular"), (1, 4)),
    ((1, 1), dict(mode="reflect"), (2, 0, 4)),
    ([1.5, 1], {}, (2, 3)),
]


@pytest.mark.parametrize("pads,kwargs,shape", ERRORS)
def test_pad_errors_as_torch(pads, kwargs, shape):
    x = np.ones(shape, np.float32)
    raises_like_torch(
        lambda: TF.pad(torch.tensor(x), pads, **kwargs),
        lambda: F.pad(jnp.asarray(x), pads, **kwargs),
    )


def test_circular_pad_layer_rank_error_as_torch():
    x = np.ones((2, 3, 4, 5), np.float32)
    raises_like_torch(
        lambda: torch.nn.CircularPad1d(1)(torch.tensor(x)),
        lambda: nn.CircularPad1d(1)(jnp.asarray(x)),
    )
