"""F's pools and the pooling layers against torch: values, flat indices, input gradients
(including ties, routed to the first maximum as torch), errors, attributes and reprs."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _xla_speed import CHECK_COMPILE

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from jaxinit import nn  # noqa: E402
from jaxinit.nn import functional as F  # noqa: E402

TOL = dict(rtol=1e-5, atol=1e-5)
# check_all's programs (pooling, indices and a vjp) dominate the module's time: compiled with
# CHECK_COMPILE (tests/_xla_speed.py)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def check(torch_fn, jax_fn, x, indices=False):
    """Outputs (and indices) and the input gradient of a random projection agree."""
    check_all([(torch_fn, jax_fn, x, indices)])


def check_all(cases):
    """``check`` for several ``(torch_fn, jax_fn, x, indices)`` cases, ours compiled as ONE
    program (cases on the same input array share one argument, so XLA can share their
    pooling); each case asserted on its own, its failure message naming it by position."""
    torch_side, projections = [], []
    for torch_fn, _, x, indices in cases:
        xt = torch.tensor(x, requires_grad=True)
        yt = torch_fn(xt)
        it = None
        if indices:
            yt, it = yt
        g = randn(*yt.shape, seed=1)
        (yt * torch.tensor(g)).sum().backward()
        torch_side.append((xt, yt, it))
        projections.append(jnp.asarray(g))

    def one(jax_fn, indices, xx, g):
        def split(a):
            out = jax_fn(a)
            return out if indices else (out, None)

        y, pullback, idx = jax.vjp(split, xx, has_aux=True)
        return y, idx, pullback(g)[0]

    inputs = {id(c[2]): c[2] for c in cases}  # one argument per distinct input array
    slot = [list(inputs).index(id(c[2])) for c in cases]

    @partial(jax.jit, compiler_options=CHECK_COMPILE)  # one compilation for all the cases
    def run(xs, gs):
        return [one(c[1], c[3], xs[i], g) for c, i, g in zip(cases, slot, gs)]

    got = run([jnp.asarray(x) for x in inputs.values()], projections)
    for k, ((y, idx, gx), (xt, yt, it), case) in enumerate(zip(got, torch_side, cases)):
        what = f"case {k} (indices={case[3]})"
        assert tuple(y.shape) == tuple(yt.shape), what
        np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), **TOL, err_msg=what)
        np.testing.assert_allclose(np.asarray(gx), xt.grad.numpy(), **TOL, err_msg=what)
        if case[3]:
            np.testing.assert_array_equal(np.asarray(idx), it.numpy(), err_msg=what)


def raises_like_torch(torch_fn, jax_fn):
    with pytest.raises(Exception) as t_err:
        torch_fn()
    with pytest.raises(Exception) as j_err:
        jax_fn()
    assert str(j_err.value).startswith(str(t_err.value)), (str(t_err.value), str(j_err.value))


SPATIAL = {1: (9,), 2: (7, 6), 3: (4, 5, 3)}
MAX_CASES = [
    (1, dict(kernel_size=3, stride=2, padding=1)),
    (1, dict(kernel_size=2, dilation=3, ceil_mode=True)),
    (2, dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    (2, dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0), dilation=(2, 1))),
    (3, dict(kernel_size=3, stride=2, dilation=(1, 2, 1), ceil_mode=True)),
]


@pytest.mark.parametrize("n,kwargs", MAX_CASES)
def test_max_pool_matches_torch(n, kwargs):
    # many tied values: torch routes the gradient to the first maximum of a window
    x = np.round(randn(2, 3, *SPATIAL[n]))
    tf, jf = getattr(TF, f"max_pool{n}d"), getattr(F, f"max_pool{n}d")
    check_all(
        [
            (lambda t: tf(t, **kwargs), lambda a: jf(a, **kwargs), x, False),
            (
                lambda t: tf(t, return_indices=True, **kwargs),
                lambda a: jf(a, return_indices=True, **kwargs),
                x,
                True,
            ),
        ]
    )


def test_max_pool_nan_and_unbatched_as_torch():
    x = randn(2, 8)
    x[0, [2, 5]] = np.nan
    y, i = jax.jit(lambda a: F.max_pool1d(a, 8, return_indices=True))(jnp.asarray(x))
    yt, it = TF.max_pool1d(torch.tensor(x), 8, return_indices=True)
    np.testing.assert_array_equal(np.asarray(i), it.numpy())  # the last NaN, as torch
    np.testing.assert_array_equal(np.asarray(y), yt.numpy())
    check(
        lambda t: TF.max_pool2d(t, 2, return_indices=True),
        lambda a: F.max_pool2d(a, 2, return_indices=True),
        randn(3, 4, 5),
        indices=True,
    )


@pytest.mark.parametrize(
    "n,kwargs",
    [
        (1, dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
        (1, dict(kernel_size=2, ceil_mode=True)),
        (2, dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
        (2, dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
        (2, dict(kernel_size=(3, 2), padding=(1, 1), divisor_override=5)),
        (3, dict(kernel_size=2, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ],
)
def test_avg_pool_matches_torch(n, kwargs):
    tf, jf = getattr(TF, f"avg_pool{n}d"), getattr(F, f"avg_pool{n}d")
    check(lambda t: tf(t, **kwargs), lambda a: jf(a, **kwargs), randn(2, 3, *SPATIAL[n]))


@pytest.mark.parametrize("n,out", [(1, 4), (2, (3, None)), (3, (2, 4, 3))])
def test_adaptive_pools_match_torch(n, out):
    x = np.round(randn(2, 3, *SPATIAL[n]))  # ties
    ta, ja = getattr(TF, f"adaptive_avg_pool{n}d"), getattr(F, f"adaptive_avg_pool{n}d")
    tm, jm = getattr(TF, f"adaptive_max_pool{n}d"), getattr(F, f"adaptive_max_pool{n}d")
    check_all(
        [
            (lambda t: ta(t, out), lambda a: ja(a, out), x, False),
            (lambda t: tm(t, out, True), lambda a: jm(a, out, True), x, True),
            (lambda t: tm(t, out), lambda a: jm(a, out), x[0], False),  # unbatched
        ]
    )


@pytest.mark.parametrize(
    "n,norm,kwargs",
    [
        (1, 2.0, dict(kernel_size=3, stride=2)),
        (2, 3.0, dict(kernel_size=2, ceil_mode=True)),
        (3, 1.5, dict(kernel_size=2)),
    ],
)
def test_lp_pool_matches_torch(n, norm, kwargs):
    x = np.abs(randn(2, 3, *SPATIAL[n])) + 0.1
    tf, jf = getattr(TF, f"lp_pool{n}d"), getattr(F, f"lp_pool{n}d")
    layer = getattr(nn, f"LPPool{n}d")(norm, **kwargs)
    check_all(
        [
            (lambda t: tf(t, norm, **kwargs), lambda a: jf(a, norm, **kwargs), x, False),
            (getattr(torch.nn, f"LPPool{n}d")(norm, **kwargs), layer, x, False),
        ]
    )


@pytest.mark.parametrize("n,k,s", [(1, 3, 2), (2, 3, 1), (3, 2, 2)])
def test_max_unpool_matches_torch(n, k, s):
    x = np.round(randn(2, 3, *SPATIAL[n]))
    yt, it = getattr(TF, f"max_pool{n}d")(torch.tensor(x), k, s, return_indices=True)
    pool = getattr(F, f"max_pool{n}d")
    _, ij = jax.jit(lambda a: pool(a, k, s, return_indices=True))(jnp.asarray(x))
    np.testing.assert_array_equal(np.asarray(ij), it.numpy())
    size = x.shape[2:]
    check(
        lambda t: getattr(TF, f"max_unpool{n}d")(t, it, k, s, output_size=size),
        lambda a: getattr(nn, f"MaxUnpool{n}d")(k, s)(a, ij, output_size=size),
        yt.numpy(),
    )


LAYERS = [
    ("MaxPool1d", (3,), dict(stride=2, padding=1, return_indices=True)),
    ("MaxPool2d", ((3, 2),), dict(dilation=2, ceil_mode=True)),
    ("MaxPool3d", (2,), {}),
    ("MaxUnpool1d", (2,), {}),
    ("MaxUnpool2d", (3, 2, 1), {}),
    ("MaxUnpool3d", ((1, 2, 2),), {}),
    ("AvgPool1d", (3,), dict(stride=2, count_include_pad=False)),
    ("AvgPool2d", (3,), dict(divisor_override=2)),
    ("AvgPool3d", ((1, 2, 2), 1, 0, True), {}),
    ("LPPool1d", (2, 3), {}),
    ("LPPool2d", (1.5, 2), dict(stride=1, ceil_mode=True)),
    ("LPPool3d", (2, 2), {}),
    ("AdaptiveAvgPool1d", (3,), {}),
    ("AdaptiveAvgPool2d", ((None, 3),), {}),
    ("AdaptiveAvgPool3d", (1,), {}),
    ("AdaptiveMaxPool1d", (3, True), {}),
    ("AdaptiveMaxPool2d", ((2, None),), {}),
    ("AdaptiveMaxPool3d", (2,), {}),
]
FIELDS = (
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "return_indices",
    "ceil_mode",
    "count_include_pad",
    "divisor_override",
    "norm_type",
    "output_size",
)


@pytest.mark.parametrize("name,args,kwargs", LAYERS, ids=[c[0] for c in LAYERS])
def test_pooling_layers_attributes_and_reprs_as_torch(name, args, kwargs):
    t = getattr(torch.nn, name)(*args, **kwargs)
    j = getattr(nn, name)(*args, **kwargs)
    assert repr(j) == repr(t)
    for field in FIELDS:
        if hasattr(t, field):
            assert getattr(j, field) == getattr(t, field), field
            assert type(getattr(j, field)) is type(getattr(t, field)), field


def test_pooling_layers_forward_as_torch():
    x = randn(2, 3, 7, 6)
    check_all(
        [
            (
                torch.nn.MaxPool2d(3, 2, 1, return_indices=True),
                nn.MaxPool2d(3, 2, 1, return_indices=True),
                x,
                True,
            ),
            (torch.nn.AvgPool3d(2, ceil_mode=True), nn.AvgPool3d(2, ceil_mode=True), x, False),
        ]
    )


ERRORS = [
    ("max_pool1d", (np.ones((2, 2, 2, 2)), 2), {}),
    ("max_pool1d", (np.ones((1, 4)), 2), dict(padding=2)),
    ("max_pool1d", (np.ones((1, 4)), 0), {}),
    ("max_pool1d", (np.ones((1, 1)), 2), {}),
    ("max_pool2d", (np.ones((1, 4, 4)), 2), dict(dilation=0)),
    ("max_pool2d", (np.ones((1, 4, 4)), 2), dict(padding=-1)),
    ("max_pool2d", (np.ones((1, 4, 4)), (2, 2, 2)), {}),
    ("max_pool3d", (np.ones((2, 2)), 2), {}),
    ("max_pool3d", (np.ones((1, 1, 1, 1)), 2), {}),
    ("avg_pool1d", (np.ones((2, 2, 2, 2)), 2), {}),
    ("avg_pool2d", (np.ones((1, 4, 4)), 2), dict(divisor_override=0)),
    ("avg_pool2d", (np.ones((1, 4, 4)), 2), dict(padding=2)),
    ("adaptive_avg_pool1d", (np.ones((1, 4)), (2, 2)), {}),
    ("adaptive_avg_pool2d", (np.ones((1, 4, 4)), -1), {}),
    ("adaptive_avg_pool3d", (np.ones((1, 0, 4, 4, 4)), 2), {}),
    ("adaptive_max_pool2d", (np.ones((2, 2, 2, 2, 2)), 2), {}),
    ("adaptive_max_pool1d", (np.ones((1, 0, 4)), 2), {}),
    ("adaptive_max_pool3d", (np.ones((1, 4, 4, 4)), (1, 2)), {}),
]


@pytest.mark.parametrize("fname,args,kwargs", ERRORS, ids=[e[0] for e in ERRORS])
def test_pooling_errors_as_torch(fname, args, kwargs):
    x, *rest = args
    raises_like_torch(
        lambda: getattr(TF, fname)(torch.tensor(x, dtype=torch.float32), *rest, **kwargs),
        lambda: getattr(F, fname)(jnp.asarray(x, jnp.float32), *rest, **kwargs),
    )


def test_max_unpool_errors_as_torch():
    x = np.ones((1, 1, 4, 4), np.float32)
    yt, it = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    yj, ij = jax.jit(lambda a: F.max_pool2d(a, 2, return_indices=True))(jnp.asarray(x))
    for kwargs in (dict(output_size=(9, 9)), dict(output_size=(4, 4, 4))):
        raises_like_torch(
            lambda kwargs=kwargs: TF.max_unpool2d(yt, it, 2, **kwargs),
            lambda kwargs=kwargs: F.max_unpool2d(yj, ij, 2, **kwargs),
        )
    bad_t, bad_j = it.clone(), ij.at[0, 0, 0, 1].set(99)  # one bad index (torch's scan
    bad_t[0, 0, 0, 1] = 99  # order is not fixed)
    raises_like_torch(lambda: TF.max_unpool2d(yt, bad_t, 2), lambda: F.max_unpool2d(yj, bad_j, 2))
    raises_like_torch(
        lambda: TF.max_unpool2d(yt[0, 0], it[0, 0], 2),
        lambda: F.max_unpool2d(yj[0, 0], ij[0, 0], 2),
    )
