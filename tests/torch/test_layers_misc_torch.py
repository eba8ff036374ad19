"""LayerNorm, Embedding, Dropout and 2-d pooling layers against torch."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _layers_helpers import (
    JAX,
    TOL,
    check_same,
    load,
    pair,
    raises_like_torch,
    randn,
    randomize,
    tnn,
    torch,
)
from _xla_speed import unoptimized_xla  # noqa: E402, F401 -- autouse: this module's compiles

from jaxinit import TorchGenerator, nn  # noqa: E402
from jaxinit.nn.dropout import Dropout  # noqa: E402
from jaxinit.nn.sparse import Embedding  # noqa: E402

# ------------------------------------------------------------------------------------------
# LayerNorm, Embedding, Dropout


@pytest.mark.parametrize(
    "args,kwargs,shape",
    [
        ((6,), {}, (2, 3, 6)),
        (((3, 4),), dict(eps=1e-3), (2, 3, 4)),
        ((5,), dict(elementwise_affine=False), (4, 5)),
        ((5,), dict(bias=False), (5,)),
    ],
)
def test_layernorm_matches_torch(args, kwargs, shape):
    t, j = pair("LayerNorm", *args, **kwargs)
    assert repr(j) == repr(t)
    v0 = j.init(jax.random.key(0))
    for name, value in t.state_dict().items():  # ones / zeros
        np.testing.assert_array_equal(np.asarray(v0[name]), value.numpy())
    randomize(t)
    assert list(j.state_dict(load(j, t))) == list(t.state_dict())
    check_same(t, j, randn(*shape) * 3 + 1)


def test_layernorm_shape_error_as_torch():
    t, j = pair("LayerNorm", (2, 3))
    v = load(j, t)
    for shape in [(3,), (2, 4)]:
        x = np.ones(shape, np.float32)
        raises_like_torch(lambda x=x: t(torch.tensor(x)), lambda x=x: j(v, jnp.asarray(x)))


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_matches_torch(padding_idx):
    t, j = pair("Embedding", 7, 5, padding_idx=padding_idx)
    assert repr(j) == repr(t)
    v = load(j, t)
    idx = np.array([[0, 2, 6], [2, 2, 1]])
    t.eval()
    yt = t(torch.tensor(idx))
    np.testing.assert_array_equal(np.asarray(j(v, jnp.asarray(idx))), yt.detach().numpy())
    # gradient: summed over repeats, and none into the padding row
    g = randn(2, 3, 5, seed=2)
    (yt * torch.tensor(g)).sum().backward()
    gw = jax.grad(lambda v: jnp.sum(j(v, jnp.asarray(idx)) * g))(v)["weight"]
    np.testing.assert_allclose(np.asarray(gw), t.weight.grad.numpy(), **TOL)


def test_embedding_init_is_torch_exact_both_normal_paths():
    # 3 x 4 = 12 values: torch's scalar normal path; 5 x 4 = 20: the 16-wide fill path
    torch.manual_seed(11)
    small, big = tnn.Embedding(3, 4, padding_idx=1), tnn.Embedding(5, 4, padding_idx=-2)
    net = nn.ModuleList([Embedding(3, 4, padding_idx=1), Embedding(5, 4, padding_idx=-2)])
    v = net.init(TorchGenerator(11))
    np.testing.assert_array_equal(np.asarray(v["0"]["weight"]), small.weight.detach().numpy())
    np.testing.assert_array_equal(np.asarray(v["1"]["weight"]), big.weight.detach().numpy())


def test_embedding_errors_as_torch():
    for padding_idx in (10, -11):
        with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
            tnn.Embedding(10, 3, padding_idx=padding_idx)
        with pytest.raises(ValueError, match="Padding_idx must be within num_embeddings"):
            Embedding(10, 3, padding_idx=padding_idx)
    t, j = pair("Embedding", 10, 3)
    v = load(j, t)
    for bad in ([10], [-1]):
        t_err, j_err = raises_like_torch(
            lambda bad=bad: t(torch.tensor(bad)), lambda bad=bad: j(v, jnp.asarray(bad))
        )
        assert type(t_err) is type(j_err) is IndexError


def test_dropout_matches_torch_statistically():
    p, n = 0.3, 200_000
    x = np.ones(n, np.float32)
    t, j = pair("Dropout", p)
    assert repr(j) == repr(t)
    torch.manual_seed(0)
    yt = t.train()(torch.tensor(x)).numpy()
    y, _ = j({}, jnp.asarray(x), train=True, rng=jax.random.key(0))
    y = np.asarray(y)
    # Each zero fraction ~ Binomial(n, p) / n, sd = sqrt(p (1 - p) / n) = 0.00102; 6 sd
    # (0.0061) bounds it with false-failure rate 2e-9.
    sd = math.sqrt(p * (1 - p) / n)
    for out in (y, yt):
        assert abs(np.mean(out == 0) - p) < 6 * sd
    # survivors are scaled by 1 / (1 - p), to the same float32 as torch
    np.testing.assert_array_equal(np.unique(y[y != 0]), np.unique(yt[yt != 0]))
    # eval: the identity, in both
    xs = jnp.asarray(randn(4, 5))
    assert j({}, xs) is xs
    np.testing.assert_array_equal(t.eval()(torch.tensor(np.asarray(xs))).numpy(), xs)
    for bad in (1.5, -0.1):
        raises_like_torch(lambda bad=bad: tnn.Dropout(bad), lambda bad=bad: Dropout(bad))


# ------------------------------------------------------------------------------------------
# Pooling


@pytest.mark.parametrize(
    "args,kwargs,shape",
    [
        ((2, 2), {}, (2, 3, 8, 8)),
        ((3, 2, 1), {}, (1, 2, 7, 7)),
        ((3, 2, 1), dict(ceil_mode=True), (1, 2, 6, 6)),
        ((2, 2), dict(ceil_mode=True), (1, 2, 5, 7)),
        ((3,), dict(stride=2, padding=1, dilation=2), (1, 2, 9, 8)),
        (((3, 2),), dict(stride=(2, 1), padding=(1, 0), ceil_mode=True), (2, 2, 8, 5)),
        ((2,), {}, (3, 6, 6)),  # unbatched
    ],
)
def test_maxpool2d_matches_torch(args, kwargs, shape):
    t, j = pair("MaxPool2d", *args, **kwargs)
    assert repr(j) == repr(t)
    check_same(t, j, randn(*shape))


@pytest.mark.parametrize(
    "args,kwargs,shape",
    [
        ((2,), {}, (2, 3, 8, 8)),
        ((3, 2, 1), {}, (1, 2, 7, 7)),
        ((3, 2, 1), dict(ceil_mode=True), (1, 2, 6, 6)),
        ((3, 2, 1), dict(ceil_mode=True, count_include_pad=False), (1, 2, 6, 8)),
        (((3, 2), (2, 1), (1, 1)), dict(count_include_pad=False), (2, 2, 7, 5)),
        ((2, 2), dict(ceil_mode=True), (1, 2, 5, 7)),
        ((3, 2, 1), dict(divisor_override=5), (1, 2, 6, 6)),
        ((2,), {}, (3, 6, 6)),  # unbatched
    ],
)
def test_avgpool2d_matches_torch(args, kwargs, shape):
    t, j = pair("AvgPool2d", *args, **kwargs)
    assert repr(j) == repr(t)
    check_same(t, j, randn(*shape))


@pytest.mark.parametrize(
    "output_size,shape",
    [
        (1, (2, 3, 7, 7)),
        ((2, 2), (2, 3, 8, 6)),
        ((3, None), (1, 2, 7, 5)),
        ((5, 3), (1, 2, 7, 10)),
        (10, (1, 2, 7, 4)),
        ((3, 4), (2, 7, 9)),
    ],
)
def test_adaptive_avgpool2d_matches_torch(output_size, shape):
    t, j = pair("AdaptiveAvgPool2d", output_size)
    assert repr(j) == repr(t)
    check_same(t, j, randn(*shape))


@pytest.mark.parametrize(
    "cls,args,kwargs,shape",
    [
        ("MaxPool2d", (2,), dict(padding=2), (1, 1, 5, 5)),
        ("MaxPool2d", (2,), {}, (1, 1, 1, 1)),
        ("MaxPool2d", (2,), {}, (5, 5)),
        ("AvgPool2d", (2,), dict(padding=2), (1, 1, 5, 5)),
        ("AvgPool2d", (2,), {}, (1, 1, 1, 1)),
        ("AdaptiveAvgPool2d", (2,), {}, (5, 5)),
        ("AdaptiveAvgPool2d", (2,), {}, (1, 1, 0, 5)),
    ],
)
def test_pooling_errors_as_torch(cls, args, kwargs, shape):
    x = np.ones(shape, np.float32)

    def run_torch():
        return getattr(tnn, cls)(*args, **kwargs)(torch.tensor(x))

    def run_jax():
        return JAX[cls](*args, **kwargs)(jnp.asarray(x))

    raises_like_torch(run_torch, run_jax)
