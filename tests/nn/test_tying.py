"""jaxinit/nn/tying.py: ties are stored once, gradients sum, they hold through training."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxinit import init, nn

KEY = jax.random.key(0)


def seed000_net():
    shared = nn.Linear(8, 8)
    net = nn.Sequential(
        nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(), nn.Linear(8, 1)
    )
    return net


def seed001_net():
    linear = nn.Linear(1, 1, bias=False)
    return nn.Sequential(linear, linear)


class TiedLM(nn.Module):
    """An embedding whose matrix is reused, transposed, as the output projection."""

    def __init__(self, vocab=11, dim=4):
        super().__init__()
        self.embed = nn.Linear(vocab, dim, bias=False)  # weight (dim, vocab)
        self.hidden = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, vocab, bias=False)  # weight (vocab, dim): transposed use

    def forward(self, onehot):
        h = jax.nn.relu(self.hidden(self.embed(onehot)))
        return h @ self.embed.weight  # the embedding, used transposed, as output projection


def test_reused_module_is_stored_once_and_named_like_torch():
    net = seed000_net()
    v = net.init(KEY)
    assert list(v) == ["0", "2", "6"]
    assert [n for n, _ in net.named_parameters(v)] == [
        "0.weight",
        "0.bias",
        "2.weight",
        "2.bias",
        "6.weight",
        "6.bias",
    ]
    names = [n for n, _ in net.named_parameters(v, remove_duplicate=False)]
    assert "4.weight" in names and len(names) == 8
    sd = net.state_dict(v)
    assert list(sd)[4:6] == ["4.weight", "4.bias"]
    assert sd["4.weight"] is sd["2.weight"]
    assert [n for n, _ in net.named_modules()] == ["", "0", "1", "2", "3", "5", "6"]
    assert len(list(net.children())) == 6
    assert nn.tied_names(net) == {"4.weight": "2.weight", "4.bias": "2.bias"}


def test_setting_through_either_name_changes_both_uses():
    """seed 000: net1[2].weight.data[0, 0] = 100 shows in net1[4].weight."""
    net = seed000_net()
    v = net.init(KEY)
    w = net.get(v, "2.weight")
    v = net.set(v, "4.weight", w.at[0, 0].set(100.0))
    assert float(net.get(v, "2.weight")[0, 0]) == 100.0
    assert net.get(v, "2.weight") is net.get(v, "4.weight")
    assert net.get(v, "4") is net.get(v, "2")


def test_gradient_of_a_shared_layer_is_the_sum_of_its_uses():
    """seed 001: weight 3, x = 1, y = w * (w * x) = 9, dy/dw = 6."""
    net = seed001_net()
    v = net.map_parameters(net.init(KEY), lambda n, p, k: jnp.full_like(p, 3.0))
    x = jnp.ones((1, 1))
    assert float(net(v, x).sum()) == 9.0
    grad = jax.grad(lambda v: net(v, x).sum())(v)
    assert [(n, float(g[0, 0])) for n, g in net.named_parameters(grad)] == [("0.weight", 6.0)]
    grad_jit = jax.jit(jax.grad(lambda v: net(v, x).sum()))(v)
    assert float(grad_jit["0"]["weight"][0, 0]) == 6.0


def test_tie_survives_many_adam_steps():
    net = seed000_net()
    params = net.init(KEY)
    opt = optax.adam(1e-2)
    state = opt.init(params)
    x = jax.random.normal(jax.random.key(1), (16, 4))
    y = jnp.sum(x, axis=1, keepdims=True)

    @jax.jit
    def step(params, state):
        loss, g = jax.value_and_grad(lambda p: jnp.mean((net(p, x) - y) ** 2))(params)
        updates, state = opt.update(g, state, params)
        return optax.apply_updates(params, updates), state, loss

    first = None
    with jax.numpy_dtype_promotion("standard"):  # optax mixes python floats and int32 counts
        for _ in range(50):
            params, state, loss = step(params, state)
            first = loss if first is None else first
    assert float(loss) < float(first)
    sd = net.state_dict(params)
    assert sd["2.weight"] is sd["4.weight"]
    assert list(params) == ["0", "2", "6"]  # still stored once


def test_parameter_tie_across_modules_like_torch():
    """b.weight = a.weight: named_parameters ['0.weight', '0.bias', '1.bias'], state_dict 4 keys."""
    net = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    net[1].weight = net[0].weight
    v = net.init(KEY)
    assert [n for n, _ in net.named_parameters(v)] == ["0.weight", "0.bias", "1.bias"]
    assert list(net.state_dict(v)) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert "weight" not in v["1"]
    x = jnp.ones((1, 3))
    grad = jax.grad(lambda v: net(v, x).sum())(v)
    w = v["0"]["weight"]
    # d/dW of sum(W (W x + b0) + b1): both uses contribute to the one leaf
    expected = jax.grad(lambda w: jnp.sum(w @ (w @ x[0] + v["0"]["bias"]) + v["1"]["bias"]))(w)
    np.testing.assert_allclose(grad["0"]["weight"], expected, rtol=1e-6)


def test_load_state_dict_reads_every_alias_last_wins_and_reports_missing_alias():
    net = seed001_net()
    v = net.init(KEY)
    sd = {"0.weight": np.array([[5.0]]), "1.weight": np.array([[7.0]])}
    v2, result = net.load_state_dict(v, sd)
    assert float(v2["0"]["weight"][0, 0]) == 7.0 and not result.missing_keys
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "1.weight"'):
        net.load_state_dict(v, {"0.weight": np.array([[5.0]])})


def test_tied_transposed_use():
    net = TiedLM()
    v = net.init(KEY)
    assert "head" in v  # declared but unused: still a parameter, as in torch
    x = jax.nn.one_hot(jnp.array([1, 2]), 11)
    grad = jax.grad(lambda v: net(v, x).sum())(v)
    assert grad["embed"]["weight"].shape == (4, 11)
    assert float(jnp.abs(grad["embed"]["weight"]).sum()) > 0


def test_tie_takes_the_tied_parameter_and_a_fresh_parameter_replaces_any_shape():
    # torch: `b.weight = a.weight` re-registers b's slot with a's Parameter (any shape);
    # a fresh Parameter over an existing one is a replacement, not a tie.
    a, b = nn.Linear(3, 4), nn.Linear(4, 3)
    b.weight = a.weight
    net = nn.Sequential(a, b)
    assert nn.tied_names(net) == {"1.weight": "0.weight"}
    b.weight = nn.Parameter(jnp.zeros((2, 5)))
    assert nn.tied_names(net) == {}
    assert net.init(KEY)["1"]["weight"].shape == (2, 5)


def test_alias_present_in_variables_is_explained():
    net = seed000_net()
    v = net.init(KEY)
    v = {**v, "4": v["2"]}
    with pytest.raises(ValueError, match="4.weight is a tied alias of 2.weight"):
        net(v, jnp.ones((1, 4)))


def test_same_array_at_two_names_without_a_tie_is_rejected():
    net = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    v = net.init(KEY)
    v = net.set(v, "1.weight", v["0"]["weight"], cast=False)
    assert v["1"]["weight"] is v["0"]["weight"]
    with pytest.raises(nn.UndeclaredTieError, match="net.b.weight = net.a.weight"):
        net(v, jnp.ones((1, 3)))


def test_tie_declared_before_init_ties_torch_style_parameter_assignment():
    emb = nn.Parameter((5, 2), init.normal)
    a, b = nn.Module(), nn.Module()
    a.w, b.w = emb, emb
    root = nn.ModuleDict({"a": a, "b": b})
    v = root.init(KEY)
    assert list(v) == ["a"]
    assert list(root.state_dict(v)) == ["a.w", "b.w"]
