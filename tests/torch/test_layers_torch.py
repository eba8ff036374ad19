"""Cross-checks of jaxinit's layers against torch itself: outputs (eval and train), gradients,
BatchNorm running statistics, state_dict keys and order, errors, reprs and default init."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
tnn = torch.nn

from jaxinit import TorchGenerator, nn  # noqa: E402
from jaxinit.nn.batchnorm import BatchNorm1d, BatchNorm2d  # noqa: E402
from jaxinit.nn.conv import Conv1d, Conv2d  # noqa: E402
from jaxinit.nn.dropout import Dropout  # noqa: E402
from jaxinit.nn.normalization import LayerNorm  # noqa: E402
from jaxinit.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d  # noqa: E402
from jaxinit.nn.sparse import Embedding  # noqa: E402
from jaxinit.nn.utils import fuse_conv_bn_eval  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:Using padding='same' with even kernel lengths:UserWarning"  # torch's, harmless
)
TOL = dict(rtol=1e-5, atol=1e-5)  # float32, sums of at most a few hundred O(1) products
JAX = {
    "Conv1d": Conv1d,
    "Conv2d": Conv2d,
    "BatchNorm1d": BatchNorm1d,
    "BatchNorm2d": BatchNorm2d,
    "LayerNorm": LayerNorm,
    "Embedding": Embedding,
    "Dropout": Dropout,
    "MaxPool2d": MaxPool2d,
    "AvgPool2d": AvgPool2d,
    "AdaptiveAvgPool2d": AdaptiveAvgPool2d,
}


def pair(name, *args, **kwargs):
    """The same layer built in torch and in jaxinit."""
    return getattr(tnn, name)(*args, **kwargs), JAX[name](*args, **kwargs)


def load(net, tmod):
    """jaxinit variables holding exactly torch's current values."""
    variables, result = net.load_state_dict(None, {k: v for k, v in tmod.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys
    return variables


def randomize(tmod, seed=0):
    """Give every float parameter of a torch module non-trivial values (BN/LN are 1s/0s)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in tmod.parameters():
            p.uniform_(-1.5, 1.5, generator=g)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def check_same(tmod, net, x):
    """Eval outputs, and the input and parameter gradients of a random projection, agree."""
    tmod.eval()
    variables = load(net, tmod)
    assert list(net.state_dict(variables)) == list(tmod.state_dict())
    xt = torch.tensor(x, requires_grad=True)
    yt = tmod(xt)
    g = randn(*yt.shape, seed=1)
    (yt * torch.tensor(g)).sum().backward()

    @jax.jit  # one compilation per layer instead of one per eager op: keeps the file fast
    def run(v, xx):
        y, pullback = jax.vjp(net, v, xx)
        return y, *pullback(jnp.asarray(g))

    y, gv, gx = run(variables, jnp.asarray(x))
    assert tuple(y.shape) == tuple(yt.shape)
    np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(np.asarray(gx), xt.grad.numpy(), **TOL)
    for name, p in tmod.named_parameters():
        np.testing.assert_allclose(np.asarray(net.get(gv, name)), p.grad.numpy(), **TOL)


def raises_like_torch(torch_fn, jax_fn):
    """Both raise; jaxinit's message starts with torch's."""
    with pytest.raises(Exception) as t_err:
        torch_fn()
    with pytest.raises(Exception) as j_err:
        jax_fn()
    assert str(j_err.value).startswith(str(t_err.value)), (str(t_err.value), str(j_err.value))
    return t_err.value, j_err.value


# ------------------------------------------------------------------------------------------
# Convolutions

CONV2D = [
    ((3, 6, 5), {}, (2, 3, 9, 9)),
    ((4, 6, 3), dict(stride=2, padding=1), (2, 4, 8, 7)),
    ((4, 8, (3, 5)), dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2, bias=False),
     (2, 4, 9, 8)),
    ((4, 4, 4), dict(padding="same", dilation=2), (1, 4, 9, 8)),  # asymmetric 'same'
    ((4, 4, (2, 3)), dict(padding="same"), (2, 4, 6, 5)),
    ((3, 6, 3), dict(padding="valid"), (2, 3, 6, 6)),
    ((6, 6, 3), dict(groups=6, padding=1), (2, 6, 5, 5)),  # depthwise
    ((4, 4, 3), dict(padding=2, padding_mode="reflect"), (2, 4, 6, 6)),
    ((4, 4, 3), dict(padding=(1, 2), padding_mode="replicate"), (2, 4, 6, 6)),
    ((4, 4, 4), dict(padding="same", padding_mode="circular"), (2, 4, 6, 6)),
    ((3, 5, 3), dict(padding=1), (3, 7, 6)),  # unbatched CHW
]
CONV1D = [
    ((4, 8, 3), {}, (2, 4, 10)),
    ((4, 8, 4), dict(padding="same", dilation=3), (2, 4, 13)),
    ((4, 6, 5), dict(stride=3, padding=2, groups=2, bias=False), (3, 4, 17)),
    ((4, 4, 3), dict(padding=1, padding_mode="circular"), (2, 4, 7)),
    ((4, 4, 3), {}, (4, 7)),  # unbatched CL
]


@pytest.mark.parametrize("args,kwargs,shape", CONV2D)
def test_conv2d_matches_torch(args, kwargs, shape):
    t, j = pair("Conv2d", *args, **kwargs)
    assert repr(j) == repr(t)
    check_same(t, j, randn(*shape))


@pytest.mark.parametrize("args,kwargs,shape", CONV1D)
def test_conv1d_matches_torch(args, kwargs, shape):
    t, j = pair("Conv1d", *args, **kwargs)
    assert repr(j) == repr(t)
    check_same(t, j, randn(*shape))


@pytest.mark.parametrize(
    "args,kwargs",
    [
        ((3, 6, 3), dict(groups=2)),
        ((4, 6, 3), dict(groups=4)),
        ((4, 8, 3), dict(groups=0)),
        ((4, 8, 3), dict(padding="same", stride=2)),
    ],
)
def test_conv_constructor_errors_as_torch(args, kwargs):
    t_err, j_err = raises_like_torch(lambda: tnn.Conv2d(*args, **kwargs),
                                     lambda: Conv2d(*args, **kwargs))
    assert type(j_err) is type(t_err)


@pytest.mark.parametrize(
    "kwargs,prefix",
    [(dict(padding="foo"), "Invalid padding string 'foo', should be one of {"),
     (dict(padding_mode="bar"), "padding_mode must be one of {")],
)
def test_conv_string_argument_errors_as_torch(kwargs, prefix):
    # torch prints a set, whose order varies between runs: compare around it
    with pytest.raises(ValueError) as t_err:
        tnn.Conv2d(4, 8, 3, **kwargs)
    with pytest.raises(ValueError) as j_err:
        Conv2d(4, 8, 3, **kwargs)
    for err in (t_err, j_err):
        assert str(err.value).startswith(prefix)
    assert str(j_err.value).split("}")[1] == str(t_err.value).split("}")[1]


@pytest.mark.parametrize(
    "cls,shape",
    [("Conv2d", (4, 5)), ("Conv2d", (1, 3, 5, 5)), ("Conv2d", (1, 4, 2, 5)),
     ("Conv1d", (1, 4, 5, 5))],
)
def test_conv_input_errors_as_torch(cls, shape):
    t, j = pair(cls, 4, 8, 3)
    v = load(j, t)
    x = np.ones(shape, np.float32)
    t_err, j_err = raises_like_torch(lambda: t(torch.tensor(x)), lambda: j(v, jnp.asarray(x)))
    assert type(j_err) is type(t_err)


@pytest.mark.parametrize(
    "cls,args,kwargs",
    [("Conv2d", (3, 6, 3), {}), ("Conv2d", (4, 8, (3, 2)), dict(groups=2)),
     ("Conv2d", (2, 5, 1), {}), ("Conv1d", (6, 9, 5), dict(groups=3, bias=False))],
)
def test_conv_default_init_is_torch_exact_with_torch_generator(cls, args, kwargs):
    torch.manual_seed(7)
    t = getattr(tnn, cls)(*args, **kwargs)
    v = JAX[cls](*args, **kwargs).init(TorchGenerator(7))
    assert list(v) == list(t.state_dict())
    for k, x in t.state_dict().items():
        np.testing.assert_array_equal(np.asarray(v[k]), x.numpy())


# ------------------------------------------------------------------------------------------
# Default init distributions: KS two-sample tests against torch's own draws
#
# Two-sample KS at significance alpha rejects when D > c(alpha) * sqrt((n + m) / (n m)) with
# c(alpha) = sqrt(-ln(alpha / 2) / 2). alpha = 1e-6 (c = 2.693): a correct implementation
# fails with probability 1e-6 per comparison (asymptotic; n, m >= 4000). Keys/seeds are fixed,
# so the outcome is deterministic; the power checks below show each test can fail.

KS_C = math.sqrt(-math.log(1e-6 / 2) / 2)


def ks_statistic(a, b):
    a, b = np.sort(np.ravel(a)), np.sort(np.ravel(b))
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return np.max(np.abs(fa - fb))


def ks_threshold(n, m):
    return KS_C * math.sqrt((n + m) / (n * m))


def pooled(make_torch, make_jax, name, layers):
    torch.manual_seed(0)
    t = np.concatenate([make_torch().state_dict()[name].numpy().ravel() for _ in range(layers)])
    # What net.init(key) draws for `name`, for `layers` keys at once (one compilation)
    decl = dict(make_jax().named_parameters())[name]
    keys = jax.random.split(jax.random.key(0), layers)
    j = jax.jit(jax.vmap(lambda k: decl.init(k, decl.shape, decl.dtype)))(keys)
    return t, np.asarray(j).ravel()


@pytest.mark.parametrize(
    "cls,args,kwargs,name,layers",
    [
        ("Conv2d", (16, 32, 3), {}, "weight", 4),  # 18432 values
        ("Conv2d", (8, 512, 3), dict(groups=2), "bias", 8),  # 4096 values, fan_in 36
    ],
)
def test_conv_default_init_distribution_matches_torch(cls, args, kwargs, name, layers):
    t, j = pooled(lambda: getattr(tnn, cls)(*args, **kwargs),
                  lambda: JAX[cls](*args, **kwargs), name, layers)
    groups = kwargs.get("groups", 1)
    fan_in = args[0] // groups * args[2] ** 2  # Conv2d, square kernels
    bound = np.float32(1 / math.sqrt(fan_in))
    assert np.abs(j).max() <= bound and np.abs(t).max() <= bound
    crit = ks_threshold(t.size, j.size)
    assert ks_statistic(t, j) < crit
    # power: a bound 10% too wide is rejected (D ~ 0.045; crit 0.028 at n = 18432, 0.060 at
    # n = 4096, where 1.25x (D ~ 0.1) is rejected)
    assert ks_statistic(t, (1.1 if t.size > 15000 else 1.25) * j) > crit


def test_embedding_default_init_distribution_matches_torch():
    t, j = pooled(lambda: tnn.Embedding(500, 8, padding_idx=3),
                  lambda: Embedding(500, 8, padding_idx=3), "weight", 4)
    t, j = t.reshape(-1, 8), j.reshape(-1, 8)
    pad_rows = np.arange(t.shape[0]) % 500 == 3
    assert not t[pad_rows].any() and not j[pad_rows].any()
    t, j = t[~pad_rows], j[~pad_rows]  # 15968 N(0, 1) values each
    crit = ks_threshold(t.size, j.size)
    assert ks_statistic(t, j) < crit
    assert ks_statistic(t, 1.25 * j) > crit  # power: std 25% too large is rejected (D ~ 0.05)


# ------------------------------------------------------------------------------------------
# BatchNorm

BN = [
    ("BatchNorm2d", {}, (4, 3, 5, 5)),
    ("BatchNorm2d", dict(momentum=None), (4, 3, 2, 3)),
    ("BatchNorm2d", dict(affine=False, momentum=0.3), (2, 3, 4, 4)),
    ("BatchNorm2d", dict(track_running_stats=False), (4, 3, 3, 3)),
    ("BatchNorm2d", dict(bias=False, eps=1e-3), (3, 3, 2, 2)),
    ("BatchNorm1d", {}, (8, 3)),
    ("BatchNorm1d", dict(momentum=None), (4, 3, 6)),
    ("BatchNorm1d", dict(affine=False, track_running_stats=False), (5, 3, 2)),
]


@pytest.mark.parametrize("cls,kwargs,shape", BN)
def test_batchnorm_training_and_eval_match_torch(cls, kwargs, shape):
    t, j = pair(cls, 3, **kwargs)
    assert repr(j) == repr(t)
    randomize(t)
    v = load(j, t)
    assert list(j.state_dict(v)) == list(t.state_dict())
    step = jax.jit(lambda v, x: j(v, x, train=True))
    for i in range(4):  # a different batch each step, shifted and scaled
        x = randn(*shape, seed=10 + i) * (1 + i) + i
        t.train()
        yt = t(torch.tensor(x))
        y, v = step(v, jnp.asarray(x))
        np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), **TOL)
    for name, value in t.state_dict().items():
        got = np.asarray(j.state_dict(v)[name])
        if name == "num_batches_tracked":
            assert got == value.item() == 4
        else:
            np.testing.assert_allclose(got, value.numpy(), **TOL)
    t.eval()
    x = randn(*shape, seed=99)
    np.testing.assert_allclose(np.asarray(j(v, jnp.asarray(x))), t(torch.tensor(x)).detach(),
                               **TOL)


@pytest.mark.parametrize("cls,kwargs,shape", [BN[0], BN[3], BN[6]])
def test_batchnorm_gradients_match_torch(cls, kwargs, shape):
    t, j = pair(cls, 3, **kwargs)
    randomize(t)
    v = load(j, t)
    x = randn(*shape, seed=3)
    xt = torch.tensor(x, requires_grad=True)
    g = randn(*shape, seed=4)
    t.train()
    (t(xt) * torch.tensor(g)).sum().backward()

    def loss(params, xx):
        y, _ = j(j.merge(params, buffers), xx, train=True)
        return jnp.sum(y * g)

    params, buffers = j.split(v)
    gp, gx = jax.jit(jax.grad(loss, argnums=(0, 1)))(params, jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(gx), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    for name, p in t.named_parameters():
        np.testing.assert_allclose(np.asarray(gp[name]), p.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_batchnorm_worked_example_of_the_spec():
    ch0 = np.arange(1, 9, dtype=np.float32).reshape(2, 2, 2)
    ch1 = np.array([0, 0, 0, 8, 2, 2, 2, 2], np.float32).reshape(2, 2, 2)
    x = np.stack([ch0, ch1], axis=1)  # (2, 2, 2, 2)
    t, j = pair("BatchNorm2d", 2)
    with torch.no_grad():
        t.weight.copy_(torch.tensor([2.0, 0.5]))
        t.bias.copy_(torch.tensor([1.0, -1.0]))
    v = load(j, t)
    t.train()
    y1t = t(torch.tensor(x))
    y1, v = j(v, jnp.asarray(x), train=True)
    np.testing.assert_allclose(np.asarray(v["running_mean"]), [0.45, 0.2], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(v["running_var"]), [1.5, 0.9 + 0.6857142857], rtol=1e-6)
    t(torch.tensor(x))
    _, v = j(v, jnp.asarray(x), train=True)
    np.testing.assert_allclose(np.asarray(v["running_mean"]), [0.855, 0.38], rtol=1e-6)
    assert int(v["num_batches_tracked"]) == 2
    # biased variance normalises: y = (x - 4.5) / sqrt(5.25 + eps) * 2 + 1 on channel 0
    expected0 = (ch0 - 4.5) / np.sqrt(5.25 + 1e-5) * 2 + 1
    np.testing.assert_allclose(np.asarray(y1)[:, 0], expected0, atol=2e-6)
    np.testing.assert_allclose(np.asarray(y1), y1t.detach().numpy(), **TOL)
    for name, value in t.state_dict().items():
        np.testing.assert_allclose(np.asarray(v[name]), value.numpy(), **TOL)

    # momentum=None: the running stats are the plain average over the batches x and 2x + 1
    t, j = pair("BatchNorm2d", 2, momentum=None)
    v = j.init(jax.random.key(0))
    for xb in (x, 2 * x + 1):
        t.train()(torch.tensor(xb))
        _, v = j(v, jnp.asarray(xb), train=True)
    np.testing.assert_allclose(np.asarray(v["running_mean"]), [7.25, 3.5], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(v["running_var"]), [15.0, 17.142857], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(v["running_var"]), t.running_var.numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "cls,kwargs,shape,train",
    [
        ("BatchNorm2d", {}, (2, 2, 2), True),
        ("BatchNorm1d", {}, (2, 2, 2, 2), False),
        ("BatchNorm2d", {}, (1, 2, 1, 1), True),
        ("BatchNorm1d", {}, (1, 2), True),
        ("BatchNorm2d", dict(track_running_stats=False), (1, 2, 1, 1), False),
        ("BatchNorm2d", dict(eps=0), (2, 2, 1, 1), True),
        ("BatchNorm2d", dict(eps=-1), (2, 2, 1, 1), False),
    ],
)
def test_batchnorm_errors_as_torch(cls, kwargs, shape, train):
    t, j = pair(cls, 2, **kwargs)
    v = load(j, t)
    x = np.ones(shape, np.float32)
    t.train(train)
    t_err, j_err = raises_like_torch(
        lambda: t(torch.tensor(x)), lambda: j(v, jnp.asarray(x), train=train)
    )
    assert type(j_err) is type(t_err) is ValueError


def test_batchnorm_legacy_checkpoint_without_num_batches_tracked():
    t, j = pair("BatchNorm2d", 3)
    sd = t.state_dict()
    del sd["num_batches_tracked"]
    sd._metadata[""]["version"] = 1
    t.load_state_dict(sd)  # torch accepts it
    v, result = j.load_state_dict(j.init(jax.random.key(0)), sd)
    assert not result.missing_keys and int(v["num_batches_tracked"]) == 0


# ------------------------------------------------------------------------------------------
# Seed 000: Conv + BN + SiLU blocks in a Sequential; naming, training and fusion


class TorchConv(tnn.Module):
    def __init__(self, c1, c2, k=1):
        super().__init__()
        self.conv = tnn.Conv2d(c1, c2, k, 1, k // 2, bias=False)
        self.bn = tnn.BatchNorm2d(c2)
        self.act = tnn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class JaxConv(nn.Module):
    def __init__(self, c1, c2, k=1):
        super().__init__()
        self.conv = Conv2d(c1, c2, k, 1, k // 2, bias=False)
        self.bn = BatchNorm2d(c2)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


def test_seed000_blocks_names_training_and_fusion():
    t = tnn.Sequential(TorchConv(1, 2, 3), TorchConv(2, 4, 1))
    j = nn.Sequential(JaxConv(1, 2, 3), JaxConv(2, 4, 1))
    assert repr(j).replace("JaxConv", "TorchConv") == repr(t)
    v = load(j, t)
    assert list(j.state_dict(v)) == list(t.state_dict())
    t.train()
    step = jax.jit(lambda v, x: j(v, x, train=True))
    for i in range(3):
        x = randn(2, 1, 5, 5, seed=i)
        yt = t(torch.tensor(x))
        y, v = step(v, jnp.asarray(x))
        np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), **TOL)
    for name, value in t.state_dict().items():
        np.testing.assert_allclose(np.asarray(j.state_dict(v)[name]), value.numpy(), **TOL)
    t.eval()
    x = randn(2, 1, 5, 5, seed=9)
    expected = t(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(np.asarray(j(v, jnp.asarray(x))), expected, **TOL)

    # forward_fuse: conv with bn folded in, then the activation
    h = jnp.asarray(x)
    for i, (tb, jb) in enumerate(zip(t, j)):
        fused_t = torch.nn.utils.fusion.fuse_conv_bn_eval(tb.conv, tb.bn)
        fused_j, fv = fuse_conv_bn_eval(jb.conv, jb.bn, v[str(i)]["conv"], v[str(i)]["bn"])
        assert repr(fused_j) == repr(fused_t)
        for name, value in fused_t.state_dict().items():
            np.testing.assert_allclose(np.asarray(fv[name]), value.numpy(), rtol=1e-6, atol=1e-7)
        h = jax.nn.silu(fused_j(fv, h))
    np.testing.assert_allclose(np.asarray(h), expected, **TOL)


def test_fuse_conv_with_bias_and_affine_free_bn_matches_torch():
    tc, jc = pair("Conv1d", 3, 4, 3, padding=1)
    tb, jb = pair("BatchNorm1d", 4, affine=False)
    with torch.no_grad():
        tb.running_mean.uniform_(-1, 1)
        tb.running_var.uniform_(0.5, 2)
    tc.eval(), tb.eval()
    fused_t = torch.nn.utils.fusion.fuse_conv_bn_eval(tc, tb)
    fused_j, fv = fuse_conv_bn_eval(jc, jb, load(jc, tc), load(jb, tb))
    x = randn(2, 3, 7)
    np.testing.assert_allclose(np.asarray(fused_j(fv, jnp.asarray(x))),
                               fused_t(torch.tensor(x)).detach().numpy(), **TOL)


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
        t_err, j_err = raises_like_torch(lambda bad=bad: t(torch.tensor(bad)),
                                         lambda bad=bad: j(v, jnp.asarray(bad)))
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
    [(1, (2, 3, 7, 7)), ((2, 2), (2, 3, 8, 6)), ((3, None), (1, 2, 7, 5)),
     ((5, 3), (1, 2, 7, 10)), (10, (1, 2, 7, 4)), ((3, 4), (2, 7, 9))],
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
