"""Normalization layers and functions against torch: outputs and input/parameter gradients,
running statistics over a few train steps then eval, errors, warnings, reprs, attributes and
default init (TorchGenerator bitwise)."""

from __future__ import annotations

import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _xla_speed import CHECK_COMPILE

torch = pytest.importorskip("torch")
tnn, tF = torch.nn, torch.nn.functional

from jaxinit import TorchGenerator, nn  # noqa: E402
from jaxinit.nn import functional as F  # noqa: E402

TOL = dict(rtol=1e-5, atol=2e-5)
FIELDS = (
    "num_features",
    "num_groups",
    "num_channels",
    "eps",
    "momentum",
    "affine",
    "track_running_stats",
    "normalized_shape",
    "elementwise_affine",
    "size",
    "alpha",
    "beta",
    "k",
)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 2 + 0.5


def randomize(tmod):
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in tmod.parameters():
            p.uniform_(-1.5, 1.5, generator=g)


def load(net, tmod):
    v, result = net.load_state_dict(None, dict(tmod.state_dict()))
    assert not result.missing_keys and not result.unexpected_keys
    return v


def run_both(tmod, net, v, x, train, compiled=None):
    """One call in torch and in jaxinit: outputs and input/parameter gradients agree; returns
    jaxinit's variables after the call (running statistics updated when training).
    ``compiled``: a dict the caller keeps for one net, so that calls with the same ``train``
    reuse one jitted program."""
    tmod.train(train)
    xt = torch.tensor(x, requires_grad=True)
    yt = tmod(xt)
    g = randn(*yt.shape, seed=2)
    (yt * torch.tensor(g)).sum().backward()
    names = [n for n, _ in tmod.named_parameters()]

    def go(v, x, g):
        def f(params, xx):
            out = net(v | params, xx, train=train)
            return out if train else (out, v)

        y, pull, new_v = jax.vjp(f, {k: v[k] for k in names}, x, has_aux=True)
        return y, new_v, *pull(g)

    # one compilation per configuration instead of one per eager op
    compiled = {} if compiled is None else compiled
    if train not in compiled:
        compiled[train] = jax.jit(go, compiler_options=CHECK_COMPILE)
    go = compiled[train]
    y, new_v, gp, gx = go(v, jnp.asarray(x), jnp.asarray(g))
    np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(np.asarray(gx), xt.grad.numpy(), **TOL)
    for name, p in tmod.named_parameters():
        np.testing.assert_allclose(np.asarray(gp[name]), p.grad.numpy(), **TOL)
        p.grad = None
    return new_v


def check_state(tmod, v):
    for k, val in tmod.state_dict().items():
        np.testing.assert_allclose(np.asarray(v[k]), val.numpy(), rtol=1e-5, atol=1e-6)


CASES = [
    ("BatchNorm3d", (3,), {}, (2, 3, 3, 4, 2)),
    ("BatchNorm3d", (3,), dict(momentum=None, affine=False), (2, 3, 2, 2, 3)),
    ("BatchNorm1d", (4,), dict(bias=False), (6, 4)),
    ("InstanceNorm1d", (3,), {}, (2, 3, 7)),
    ("InstanceNorm1d", (3,), dict(affine=True, track_running_stats=True), (3, 7)),
    (
        "InstanceNorm2d",
        (4,),
        dict(affine=True, momentum=None, track_running_stats=True),
        (2, 4, 3, 5),
    ),
    ("InstanceNorm2d", (4,), dict(affine=True, bias=False, eps=1e-3), (4, 3, 5)),
    ("InstanceNorm3d", (2,), dict(track_running_stats=True, momentum=0.3), (2, 2, 3, 2, 4)),
    ("GroupNorm", (2, 6), {}, (3, 6, 5)),
    ("GroupNorm", (3, 6), dict(affine=False, eps=1e-3), (2, 6, 2, 3)),
    ("GroupNorm", (1, 4), dict(bias=False), (2, 4)),
    ("GroupNorm", (4, 4), {}, (2, 4, 3, 2, 2)),
    ("LayerNorm", ((3, 4),), dict(bias=False), (2, 5, 3, 4)),
    ("LayerNorm", (4,), {}, (4,)),
    ("RMSNorm", (5,), {}, (3, 5)),
    ("RMSNorm", ((2, 5),), dict(eps=1e-3), (3, 2, 5)),
    ("RMSNorm", (5,), dict(elementwise_affine=False), (2, 5)),
    ("LocalResponseNorm", (3,), {}, (2, 5, 4)),
    ("LocalResponseNorm", (4,), dict(alpha=0.1, beta=0.5, k=2.0), (2, 6, 3, 3)),
    ("LocalResponseNorm", (2,), dict(alpha=0.5), (1, 3, 2, 2, 2)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", CASES, ids=lambda v: str(v))
def test_layers_match_torch_over_train_steps_then_eval(name, args, kwargs, shape):
    torch.manual_seed(5)
    t = getattr(tnn, name)(*args, **kwargs)
    j = getattr(nn, name)(*args, **kwargs)
    assert repr(j) == repr(t)
    for f in FIELDS:
        assert getattr(j, f, None) == getattr(t, f, None), f
    v = j.init(TorchGenerator(5))
    assert list(v) == list(t.state_dict())
    check_state(t, v)  # default init: ones/zeros, counters 0
    randomize(t)
    v = load(j, t)
    compiled = {}  # the two training steps share one program
    for step in range(2):  # two training steps: running statistics and counters
        v = run_both(t, j, v, randn(*shape, seed=10 + step), train=True, compiled=compiled)
        check_state(t, v)
    run_both(t, j, v, randn(*shape, seed=20), train=False, compiled=compiled)


FUNCTIONAL = [
    ("normalize", (3, 4), {}),
    ("normalize", (3, 4), dict(p=1.0, dim=0)),
    ("normalize", (2, 3, 4), dict(p=3.0, dim=-1)),
    ("normalize", (2, 5), dict(p=float("inf"))),
    ("layer_norm", (2, 3, 4), dict(normalized_shape=(3, 4))),
    ("group_norm", (2, 4, 3), dict(num_groups=2)),
    ("instance_norm", (2, 3, 4), {}),
    ("batch_norm", (4, 3, 2), dict(running_mean=None, running_var=None, training=True)),
    ("rms_norm", (2, 3), dict(normalized_shape=[3])),
    ("local_response_norm", (2, 4, 3), dict(size=3)),
]


@pytest.mark.parametrize("name,shape,kwargs", FUNCTIONAL, ids=lambda v: str(v))
def test_functional_values_and_gradients_match_torch(name, shape, kwargs):
    x = randn(*shape)
    x.flat[0] = 0.0
    xt = torch.tensor(x, requires_grad=True)
    yt = getattr(tF, name)(xt, **kwargs)
    g = randn(*yt.shape, seed=3)
    (yt * torch.tensor(g)).sum().backward()

    @partial(jax.jit, compiler_options=CHECK_COMPILE)
    def go(x, g):
        y, pull = jax.vjp(lambda a: getattr(F, name)(a, **kwargs), x)
        return y, pull(g)[0]

    y, gx = go(jnp.asarray(x), jnp.asarray(g))
    np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(np.asarray(gx), xt.grad.numpy(), **TOL)


def test_batch_norm_eval_with_running_stats_and_affine_matches_torch():
    x, rm, rv = randn(3, 4, 2), randn(4, seed=1), np.abs(randn(4, seed=2)) + 0.1
    w, b = randn(4, seed=3), randn(4, seed=4)
    t = tF.batch_norm(
        torch.tensor(x),
        torch.tensor(rm),
        torch.tensor(rv),
        torch.tensor(w),
        torch.tensor(b),
        eps=1e-3,
    )
    j = F.batch_norm(
        jnp.asarray(x), jnp.asarray(rm), jnp.asarray(rv), jnp.asarray(w), jnp.asarray(b), eps=1e-3
    )
    np.testing.assert_allclose(np.asarray(j), t.numpy(), **TOL)


def test_rms_norm_eps_none_is_the_dtype_epsilon():
    x = np.full((2, 4), 1e-4, np.float32)  # mean(x^2) = 1e-8, comparable to finfo.eps 1.2e-7
    t = tnn.RMSNorm(4)(torch.tensor(x)).detach().numpy()
    j = nn.RMSNorm(4)(nn.RMSNorm(4).init(jax.random.key(0)), jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(j), t, rtol=1e-5)
    bf = F.rms_norm(jnp.asarray(x, jnp.bfloat16), (4,))
    tb = tF.rms_norm(torch.tensor(x, dtype=torch.bfloat16), (4,))
    np.testing.assert_allclose(np.asarray(bf, np.float32), tb.float().numpy(), rtol=1e-2)


def raises_like_torch(torch_fn, jax_fn):
    with pytest.raises(Exception) as t_err:
        torch_fn()
    with pytest.raises(Exception) as j_err:
        jax_fn()
    assert str(j_err.value) == str(t_err.value)
    assert type(j_err.value) is type(t_err.value)


ERRORS = [
    ("GroupNorm", (2, 4), {}, (2, 3, 4), False),
    ("InstanceNorm1d", (3,), {}, (4,), False),
    ("InstanceNorm2d", (3,), dict(affine=True), (2, 4, 5, 5), False),
    ("InstanceNorm1d", (3,), {}, (2, 3, 1), False),
    ("InstanceNorm1d", (3,), dict(track_running_stats=True), (2, 3, 1), True),
    ("BatchNorm3d", (3,), {}, (2, 3, 4, 4), False),
    ("BatchNorm3d", (3,), {}, (1, 3, 1, 1, 1), True),
    ("RMSNorm", ((2, 4),), {}, (2, 3), False),
    ("LayerNorm", (4,), {}, (2, 3), False),
    ("LocalResponseNorm", (2,), {}, (2, 3), False),
]


@pytest.mark.parametrize("name,args,kwargs,shape,train", ERRORS, ids=lambda v: str(v))
def test_errors_as_torch(name, args, kwargs, shape, train):
    t = getattr(tnn, name)(*args, **kwargs).train(train)
    j = getattr(nn, name)(*args, **kwargs)
    v = j.init(jax.random.key(0))
    x = np.ones(shape, np.float32)
    raises_like_torch(lambda: t(torch.tensor(x)), lambda: j(v, jnp.asarray(x), train=train))


def test_constructor_errors_and_instance_norm_warning_as_torch():
    raises_like_torch(lambda: tnn.GroupNorm(3, 4), lambda: nn.GroupNorm(3, 4))
    x = randn(2, 4, 5)
    with warnings.catch_warnings(record=True) as tw:
        warnings.simplefilter("always")
        yt = tnn.InstanceNorm1d(3)(torch.tensor(x))
    with pytest.warns(UserWarning) as jw:
        y = nn.InstanceNorm1d(3)(jnp.asarray(x))
    assert str(jw[0].message) == str(tw[0].message)
    np.testing.assert_allclose(np.asarray(y), yt.numpy(), **TOL)
