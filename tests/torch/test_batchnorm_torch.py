"""BatchNorm1d/2d and conv-bn fusion against torch: training and eval steps, gradients, the
spec's worked example, errors, legacy checkpoints, seed 000's blocks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _layers_helpers import (
    TOL,
    load,
    pair,
    raises_like_torch,
    randn,
    randomize,
    tnn,
    torch,
)

from jaxinit import nn  # noqa: E402
from jaxinit.nn.batchnorm import BatchNorm2d  # noqa: E402
from jaxinit.nn.conv import Conv2d  # noqa: E402
from jaxinit.nn.utils import fuse_conv_bn_eval  # noqa: E402

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
    np.testing.assert_allclose(np.asarray(j(v, jnp.asarray(x))), t(torch.tensor(x)).detach(), **TOL)


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
    np.testing.assert_allclose(
        np.asarray(fused_j(fv, jnp.asarray(x))), fused_t(torch.tensor(x)).detach().numpy(), **TOL
    )
