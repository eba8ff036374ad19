"""Activations (functional and layers) against torch: values, input (and PReLU weight)
gradients including torch's gradients at the kinks, errors, reprs and stored attributes."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
tnn, tF = torch.nn, torch.nn.functional

from _xla_speed import unoptimized_xla  # noqa: E402, F401 -- autouse: this module's compiles

from jaxinit import TorchGenerator, nn  # noqa: E402
from jaxinit.nn import functional as F  # noqa: E402

TOL = dict(rtol=1e-5, atol=1e-6)
# Random values plus every kink/threshold used below, so torch's boundary gradients are checked.
KINKS = [0.0, -3.0, 3.0, 6.0, -1.0, 1.0, 0.5, -0.5, 2.0, -2.0, 20.0, 10.0, 25.0, -25.0]


def sample(shape=(3, 4, 5), seed=0):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 3
    flat = x.reshape(-1)
    n = min(len(KINKS), flat.size)
    flat[:n] = KINKS[:n]
    return x


def vjp(fn, x, g):
    """Output and input gradient in one compilation (eager ops would compile one by one)."""

    @jax.jit
    def run(x, g):
        y, pull = jax.vjp(fn, x)
        return y, pull(g)[0]

    return run(x, g)


def check(t_fn, j_fn, x):
    xt = torch.tensor(x, requires_grad=True)
    yt = t_fn(xt)
    g = np.random.default_rng(1).standard_normal(tuple(yt.shape)).astype(np.float32)
    (yt * torch.tensor(g)).sum().backward()
    y, gx = vjp(j_fn, jnp.asarray(x), jnp.asarray(g))
    np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(np.asarray(gx), xt.grad.numpy(), **TOL)


FUNCTIONAL = [
    ("relu", {}),
    ("relu6", {}),
    ("leaky_relu", dict(negative_slope=0.2)),
    ("elu", dict(alpha=0.7)),
    ("selu", {}),
    ("celu", dict(alpha=2.0)),
    ("gelu", {}),
    ("gelu", dict(approximate="tanh")),
    ("silu", {}),
    ("mish", {}),
    ("hardswish", {}),
    ("hardsigmoid", {}),
    ("hardtanh", dict(min_val=-2.0, max_val=0.5)),
    ("softplus", {}),
    ("softplus", dict(beta=2.0, threshold=10.0)),
    ("softsign", {}),
    ("softshrink", dict(lambd=1.0)),
    ("hardshrink", {}),
    ("tanhshrink", {}),
    ("threshold", dict(threshold=1.0, value=-3.0)),
    ("glu", dict(dim=1)),
    ("glu", {}),
    ("logsigmoid", {}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("rrelu", dict(lower=0.1, upper=0.5)),
    ("softmax", dict(dim=1)),
    ("softmin", dict(dim=-1)),
    ("log_softmax", dict(dim=0)),
]


@pytest.mark.parametrize("name,kwargs", FUNCTIONAL, ids=lambda v: str(v))
def test_functional_values_and_gradients_match_torch(name, kwargs):
    x = sample((4, 6, 2) if name == "glu" else (3, 4, 5))
    check(lambda t: getattr(tF, name)(t, **kwargs), lambda a: getattr(F, name)(a, **kwargs), x)


@pytest.mark.parametrize("shape,weight", [((2, 3, 4), 3), ((2, 3), 1), ((5,), 1), ((4, 2), 2)])
def test_prelu_values_and_weight_gradients_match_torch(shape, weight):
    x = sample(shape)
    w = np.linspace(-0.5, 0.7, weight).astype(np.float32)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    yt = tF.prelu(xt, wt)
    yt.sum().backward()
    y, pull = jax.vjp(jax.jit(F.prelu), jnp.asarray(x), jnp.asarray(w))
    gx, gw = pull(jnp.ones(y.shape))
    np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(np.asarray(gx), xt.grad.numpy(), **TOL)
    np.testing.assert_allclose(np.asarray(gw), wt.grad.numpy(), **TOL)


def test_softmax_implicit_dim_and_dtype_as_torch():
    cases = [
        ((), "softmax"),
        ((4,), "softmin"),
        ((2, 3), "log_softmax"),
        ((2, 3, 4), "softmax"),
        ((2, 3, 4, 5), "softmin"),
    ]
    for shape, name in cases:
        x = sample(shape) if shape else np.float32(0.3)
        with pytest.warns(UserWarning, match=f"Implicit dimension choice for {name}"):
            y = getattr(F, name)(jnp.asarray(x))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yt = getattr(tF, name)(torch.tensor(x))
        np.testing.assert_allclose(np.asarray(y), yt.numpy(), **TOL)
    y = F.softmax(jnp.ones((2, 3), jnp.float32), dim=1, dtype=jnp.float16)
    yt = tF.softmax(torch.ones(2, 3), dim=1, dtype=torch.float16)
    assert y.dtype == jnp.float16 and str(yt.dtype) == "torch.float16"


def raises_like_torch(torch_fn, jax_fn):
    with pytest.raises(Exception) as t_err:
        torch_fn()
    with pytest.raises(Exception) as j_err:
        jax_fn()
    assert str(j_err.value) == str(t_err.value)
    return t_err.value, j_err.value


ERRORS = [
    ("gelu", (3,), dict(approximate="foo")),
    ("softshrink", (3,), dict(lambd=-1.0)),
    ("glu", (3, 5), dict(dim=1)),
    ("glu", (), {}),
    ("glu", (3,), dict(dim=2)),
    ("hardtanh", (3,), dict(min_val=2.0, max_val=1.0)),
    ("celu", (3,), dict(alpha=0.0)),
    ("softmax", (3,), dict(dim=3)),
    ("log_softmax", (2, 3), dict(dim=-3)),
]


@pytest.mark.parametrize("name,shape,kwargs", ERRORS, ids=lambda v: str(v))
def test_functional_errors_as_torch(name, shape, kwargs):
    x = np.ones(shape, np.float32)
    t_err, j_err = raises_like_torch(
        lambda: getattr(tF, name)(torch.tensor(x), **kwargs),
        lambda: getattr(F, name)(jnp.asarray(x), **kwargs),
    )
    if isinstance(t_err, (ValueError, IndexError)):
        assert type(j_err) is type(t_err)


@pytest.mark.parametrize(
    "xshape,wshape", [((2, 3), (2,)), ((), (2,)), ((2, 2), (2, 1)), ((4,), (4,))]
)
def test_prelu_errors_as_torch(xshape, wshape):
    x, w = np.ones(xshape, np.float32), np.ones(wshape, np.float32)
    raises_like_torch(
        lambda: tF.prelu(torch.tensor(x), torch.tensor(w)),
        lambda: F.prelu(jnp.asarray(x), jnp.asarray(w)),
    )


LAYERS = [
    ("ReLU", (), {}),
    ("ReLU", (), dict(inplace=True)),
    ("ReLU6", (), dict(inplace=True)),
    ("ReLU6", (), {}),
    ("LeakyReLU", (0.2,), {}),
    ("LeakyReLU", (), dict(inplace=True)),
    ("ELU", (0.5,), dict(inplace=True)),
    ("ELU", (), {}),
    ("SELU", (), dict(inplace=True)),
    ("CELU", (1.5,), {}),
    ("GELU", (), {}),
    ("GELU", ("tanh",), {}),
    ("SiLU", (), {}),
    ("SiLU", (True,), {}),
    ("Mish", (), {}),
    ("Hardswish", (True,), {}),
    ("Hardsigmoid", (), {}),
    ("Hardtanh", (-2.0, 3.0), {}),
    ("Hardtanh", (), dict(inplace=True)),
    ("Softplus", (2, 5), {}),
    ("Softsign", (), {}),
    ("Softshrink", (0.3,), {}),
    ("Hardshrink", (), {}),
    ("Tanhshrink", (), {}),
    ("Threshold", (0.1, 20), {}),
    ("Threshold", (0.1, 2.0, True), {}),
    ("GLU", (), {}),
    ("GLU", (1,), {}),
    ("LogSigmoid", (), {}),
    ("Sigmoid", (), {}),
    ("Tanh", (), {}),
    ("RReLU", (), {}),
    ("RReLU", (0.1, 0.3, True), {}),
    ("Softmax", (1,), {}),
    ("Softmin", (), dict(dim=-1)),
    ("LogSoftmax", (2,), {}),
    ("Softmax2d", (), {}),
    ("PReLU", (), {}),
    ("PReLU", (4, 0.1), {}),
]
FIELDS = (
    "inplace",
    "negative_slope",
    "alpha",
    "approximate",
    "min_val",
    "max_val",
    "beta",
    "threshold",
    "value",
    "lambd",
    "dim",
    "lower",
    "upper",
    "num_parameters",
)


@pytest.mark.parametrize("name,args,kwargs", LAYERS, ids=lambda v: str(v))
def test_layers_match_torch_repr_attributes_init_and_outputs(name, args, kwargs):
    torch.manual_seed(3)
    t = getattr(tnn, name)(*args, **kwargs)
    j = getattr(nn, name)(*args, **kwargs)
    assert repr(j) == repr(t)
    for f in FIELDS:
        assert getattr(j, f, None) == getattr(t, f, None), f
        assert type(getattr(j, f, None)) is type(getattr(t, f, None)), f
    t.eval()
    x = sample((2, 4, 3, 2))
    v = j.init(TorchGenerator(3))
    assert list(v) == list(t.state_dict())
    for k, val in t.state_dict().items():
        np.testing.assert_array_equal(np.asarray(v[k]), val.numpy())
    # outputs (the functional forms' gradients are checked above; one case per class here)
    yt = t(torch.tensor(x))
    np.testing.assert_allclose(np.asarray(j(v, jnp.asarray(x))), yt.detach().numpy(), **TOL)


def test_prelu_layer_gradient_and_unbatched_input_match_torch():
    t, j = tnn.PReLU(3, init=0.2), nn.PReLU(3, init=0.2)
    with torch.no_grad():
        t.weight.copy_(torch.tensor([0.1, -0.3, 0.6]))
    v = {"weight": jnp.asarray([0.1, -0.3, 0.6], jnp.float32)}
    for shape in [(2, 3, 5), (3, 4)]:  # batched (N, C, L); unbatched 2-d input (C at dim 1)
        x = sample(shape) if shape[0] == 2 else sample((4, 3))
        t.zero_grad()
        yt = t(torch.tensor(x))
        yt.sum().backward()
        y, pull = jax.vjp(jax.jit(lambda w, a: j(w, a)), v, jnp.asarray(x))
        gw, _ = pull(jnp.ones(y.shape))
        np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), **TOL)
        np.testing.assert_allclose(np.asarray(gw["weight"]), t.weight.grad.numpy(), **TOL)


@pytest.mark.parametrize(
    "make,shape",
    [
        (lambda m: m.Hardtanh(1.0, 1.0), None),
        (lambda m: m.Softmax2d(), (2, 3)),
        (lambda m: m.GLU(), (2, 3)),
    ],
)
def test_layer_errors_as_torch(make, shape):
    if shape is None:
        with pytest.raises(AssertionError) as t_err:
            make(tnn)
        with pytest.raises(ValueError) as j_err:
            make(nn)
        assert str(j_err.value) == str(t_err.value)
        return
    x = np.ones(shape, np.float32)
    raises_like_torch(lambda: make(tnn)(torch.tensor(x)), lambda: make(nn)(jnp.asarray(x)))
