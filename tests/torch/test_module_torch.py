"""Naming, ties, gradients and error messages of jaxinit.nn.Module against torch.nn.Module."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
tnn = torch.nn

from jaxinit import init, nn  # noqa: E402


def mixed(M):
    """torch-semantics.md section D's example, built with either library."""

    class Mixed(M.Module):
        def __init__(self):
            super().__init__()
            if M is tnn:
                self.register_buffer("zbuf", torch.zeros(2))
                self.w = tnn.Parameter(torch.ones(2))
                self.register_buffer("tmp", torch.ones(2), persistent=False)
                self.sub = tnn.BatchNorm1d(2)
                self.a = tnn.Parameter(torch.zeros(2))
            else:
                self.register_buffer("zbuf", jnp.zeros(2))
                self.w = nn.Parameter((2,), init.ones)
                self.register_buffer("tmp", jnp.ones(2), persistent=False)
                self.sub = nn.BatchNorm1d(2)
                self.a = nn.Parameter((2,), init.zeros)

    return Mixed()


def seed000_net1(M):
    shared = M.Linear(8, 8)
    return M.Sequential(
        M.Linear(4, 8), M.ReLU(), shared, M.ReLU(), shared, M.ReLU(), M.Linear(8, 1)
    )


def cross_tied(M):
    net = M.Sequential(M.Linear(3, 3), M.Linear(3, 3))
    net[1].weight = net[0].weight
    return net


@pytest.mark.parametrize("make", [mixed, seed000_net1, cross_tied])
def test_names_and_orders_match_torch(make):
    t, j = make(tnn), make(nn)
    v = j.init(jax.random.key(0))
    assert [n for n, _ in j.named_parameters(v)] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in j.named_parameters(v, remove_duplicate=False)] == [
        n for n, _ in t.named_parameters(remove_duplicate=False)
    ]
    assert [n for n, _ in j.named_buffers(v)] == [n for n, _ in t.named_buffers()]
    assert list(j.state_dict(v)) == list(t.state_dict())
    assert [n for n, _ in j.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in j.named_children()] == [n for n, _ in t.named_children()]
    assert len(list(j.parameters(v))) == len(list(t.parameters()))


@pytest.mark.parametrize("make", [seed000_net1, cross_tied])
def test_tied_gradients_and_outputs_match_torch(make):
    torch.manual_seed(0)
    t, j = make(tnn), make(nn)
    v, _ = j.load_state_dict(None, t.state_dict())
    x = np.random.default_rng(0).normal(size=(5, t[0].in_features)).astype(np.float32)
    tx = torch.from_numpy(x)
    t(tx).square().sum().backward()
    loss = lambda v: jnp.sum(jnp.square(j(v, jnp.asarray(x))))  # noqa: E731
    np.testing.assert_allclose(float(loss(v)), float(t(tx).detach().square().sum()), rtol=1e-5)
    grads = dict(j.named_parameters(jax.grad(loss)(v)))
    for name, p in t.named_parameters():  # tied: one leaf, torch's accumulated .grad
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_seed001_gradient_six():
    lin = tnn.Linear(1, 1, bias=False)
    t = tnn.Sequential(lin, lin)
    tnn.init.constant_(lin.weight, 3)
    t(torch.ones(1, 1)).sum().backward()
    lin_j = nn.Linear(1, 1, bias=False)
    j = nn.Sequential(lin_j, lin_j)
    v, _ = j.load_state_dict(None, t.state_dict())
    g = jax.grad(lambda v: j(v, jnp.ones((1, 1))).sum())(v)
    assert float(g["0"]["weight"][0, 0]) == float(lin.weight.grad[0, 0]) == 6.0


def _both_raise(fn_t, fn_j, exc):
    with pytest.raises(exc) as et:
        fn_t()
    with pytest.raises(exc) as ej:
        fn_j()
    return str(et.value), str(ej.value)


def test_registration_errors_match_torch():
    tm, jm = tnn.Module(), nn.Module()
    tm.x, jm.x = 1, 1
    for name in ("a.b", "", "x"):
        msg_t, msg_j = _both_raise(
            lambda name=name: tm.register_parameter(name, tnn.Parameter(torch.zeros(1))),
            lambda name=name: jm.register_parameter(name, nn.Parameter((1,), init.zeros)),
            KeyError,
        )
        assert msg_t == msg_j


def torch_shapes(message: str) -> str:
    """torch prints torch.Size([3]); jaxinit prints (3,)."""

    def fix(m):
        dims = [d.strip() for d in m.group(1).split(",") if d.strip()]
        return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"

    return re.sub(r"torch\.Size\(\[([^\]]*)\]\)", fix, message)


def test_load_state_dict_messages_match_torch():
    t, j = seed000_net1(tnn), seed000_net1(nn)
    v = j.init(jax.random.key(0))
    sd = {k: x.clone() for k, x in t.state_dict().items()}
    del sd["4.bias"]
    sd["extra.weight"] = torch.zeros(1)
    sd["6.bias"] = torch.zeros(7)
    msg_t, msg_j = _both_raise(
        lambda: t.load_state_dict(sd), lambda: j.load_state_dict(v, sd), RuntimeError
    )
    assert torch_shapes(msg_t) == msg_j
    del sd["6.bias"]
    rt = t.load_state_dict(sd, strict=False)
    _, rj = j.load_state_dict(v, sd, strict=False)
    assert (rj.missing_keys, rj.unexpected_keys) == (rt.missing_keys, rt.unexpected_keys)
    assert repr(j.load_state_dict(v, t.state_dict())[1]) == repr(t.load_state_dict(t.state_dict()))


def test_batchnorm_legacy_checkpoint_without_counter_loads_like_torch():
    t, j = tnn.BatchNorm2d(3), nn.BatchNorm2d(3)
    v = j.init(jax.random.key(0))
    plain = {k: x for k, x in t.state_dict().items() if k != "num_batches_tracked"}
    t.load_state_dict(plain)  # a plain dict has no version metadata: no missing key
    j.load_state_dict(v, plain)
    sd = t.state_dict()
    del sd["num_batches_tracked"]  # version-2 metadata: now it is missing
    msg_t, msg_j = _both_raise(
        lambda: t.load_state_dict(sd), lambda: j.load_state_dict(v, sd), RuntimeError
    )
    assert torch_shapes(msg_t) == msg_j
