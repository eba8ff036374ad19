"""jaxinit.optim without torch: param groups, torch's constructor errors, optax interplay
(chaining, jit with hyper-parameters in the state), the state_dict layout and its errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxinit.optim as jo
from jaxinit import nn


@pytest.fixture(scope="module")
def model():
    net = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    params, _ = net.split(net.init(jax.random.key(0)))
    return net, params


def _grads(params, scale=1.0):
    return jax.tree.map(lambda p: jnp.full_like(p, scale), params)


def test_groups_from_named_parameters_and_dicts(model):
    net, _ = model
    decay = [p for _, p in net.named_parameters() if p.dim() >= 2]
    no_decay = [p for _, p in net.named_parameters() if p.dim() < 2]
    opt = jo.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=6e-4,
        betas=(0.9, 0.95),
        fused=True,
    )
    groups = opt.param_groups
    assert groups[0]["param_names"] == ["0.weight", "2.weight"]
    assert groups[1]["param_names"] == ["0.bias", "1.weight", "1.bias", "2.bias"]
    assert groups[0]["weight_decay"] == 0.1 and groups[1]["weight_decay"] == 0.0
    assert groups[1]["betas"] == (0.9, 0.95) and groups[1]["decoupled_weight_decay"] is True
    named = jo.SGD(net.named_parameters(), lr=0.1)
    assert named.param_groups[0]["param_names"] == [n for n, _ in net.named_parameters()]


def test_parameter_in_two_groups_is_an_error(model):
    net, _ = model
    ps = list(net.parameters())
    with pytest.raises(ValueError, match="more than one parameter group: '0.weight'"):
        jo.SGD([{"params": ps}, {"params": ps[:1]}], lr=0.1)


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (jo.SGD, {"lr": -1.0}, "Invalid learning rate: -1.0"),
        (jo.SGD, {"momentum": -0.5}, "Invalid momentum value: -0.5"),
        (jo.SGD, {"nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
        (jo.SGD, {"momentum": 0.9, "dampening": 0.1, "nesterov": True}, "Nesterov momentum"),
        (jo.Adam, {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0: 1.0"),
        (jo.AdamW, {"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1: -0.1"),
        (jo.Adam, {"eps": -1e-8}, "Invalid epsilon value: -1e-08"),
        (jo.AdamW, {"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
        (jo.RMSprop, {"alpha": -0.1}, "Invalid alpha value: -0.1"),
        (jo.Adagrad, {"lr_decay": -1.0}, "Invalid lr_decay value: -1.0"),
        (
            jo.Adagrad,
            {"initial_accumulator_value": -1.0},
            "Invalid initial_accumulator_value value: -1.0",
        ),
        (jo.Adadelta, {"rho": 1.5}, "Invalid rho value: 1.5"),
        (jo.NAdam, {"momentum_decay": -1.0}, "Invalid momentum_decay value: -1.0"),
        (jo.RAdam, {"betas": (0.9, 1.0)}, "Invalid beta parameter at index 1: 1.0"),
        (jo.Adamax, {"eps": -1.0}, "Invalid epsilon value: -1.0"),
    ],
)
def test_torch_constructor_errors(model, cls, kwargs, message):
    net, _ = model
    kwargs = {"lr": 0.1, **kwargs} if cls is jo.SGD else kwargs
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cls(net.parameters(), **kwargs)


def test_group_option_is_checked_too(model):
    net, _ = model
    with pytest.raises(ValueError, match="Invalid learning rate: -0.5"):
        jo.Adam([{"params": net.parameters(), "lr": -0.5}])


def test_chains_with_optax_transforms(model):
    """optax.chain(clip, optimizer) clips first, then steps: the same as stepping on the
    clipped gradients."""
    net, params = model
    opt = jo.Adam(net.parameters(), lr=0.1)
    chained = optax.chain(optax.clip_by_global_norm(1.0), opt)
    grads = _grads(params, 3.0)
    updates, _ = jax.jit(chained.update)(grads, chained.init(params), params)
    clipped, _ = jax.jit(optax.clip_by_global_norm(1.0).update)(grads, optax.EmptyState())
    expected, _ = jax.jit(opt.update)(clipped, opt.init(params), params)
    for a, b in zip(jax.tree.leaves(updates), jax.tree.leaves(expected), strict=True):
        np.testing.assert_array_equal(a, b)


def test_lr_in_the_state_changes_the_step_without_recompiling(model):
    net, params = model
    opt = jo.SGD(net.parameters(), lr=0.1, momentum=0.9)
    traces = []

    @jax.jit
    def step(params, state):
        traces.append(1)
        updates, state = opt.update(_grads(params), state, params)
        return optax.apply_updates(params, updates), state

    state = opt.init(params)
    p1, _ = step(params, state)
    groups = tuple({**g, "lr": jnp.float32(0.2)} for g in state.param_groups)
    p2, _ = step(params, state._replace(param_groups=groups))
    assert len(traces) == 1
    d1 = params["0"]["weight"] - p1["0"]["weight"]
    d2 = params["0"]["weight"] - p2["0"]["weight"]
    np.testing.assert_allclose(d2, 2 * d1, rtol=1e-6)


def test_parameters_outside_the_groups_stay_put(model):
    net, params = model
    opt = jo.SGD([p for n, p in net.named_parameters() if n.startswith("2.")], lr=0.1)
    updates, _ = opt.update(_grads(params), opt.init(params), params)
    assert not np.any(updates["0"]["weight"]) and not np.any(updates["1"]["bias"])
    stepped = optax.apply_updates(params, updates)  # lands on torch's p - lr * g exactly
    np.testing.assert_array_equal(stepped["2"]["weight"], params["2"]["weight"] - 0.1)


def test_update_needs_params(model):
    net, params = model
    opt = jo.Adam(net.parameters())
    with pytest.raises(ValueError, match=r"optimizer.update\(grads, opt_state, params\)"):
        opt.update(_grads(params), opt.init(params))


def _stepped(opt, params, steps=2):
    state = opt.init(params)
    for _ in range(steps):
        updates, state = opt.update(_grads(params, 0.5), state, params)
        params = optax.apply_updates(params, updates)
    return params, state


def test_state_dict_layout(model):
    net, params = model
    opt = jo.AdamW(
        [{"params": list(net.parameters())[:2]}, {"params": list(net.parameters())[2:]}],
        lr=1e-3,
    )
    fresh = opt.state_dict(opt.init(params))
    assert fresh["state"] == {}  # torch creates Adam's state at the first step
    assert [g["params"] for g in fresh["param_groups"]] == [[0, 1], [2, 3, 4, 5]]
    params, state = _stepped(opt, params)
    sd = opt.state_dict(state)
    assert sorted(sd["state"]) == list(range(6))
    assert sorted(sd["state"][2]) == ["exp_avg", "exp_avg_sq", "step"]
    assert float(sd["state"][2]["step"]) == 2.0
    assert sd["param_groups"][1]["param_names"] == ["1.weight", "1.bias", "2.weight", "2.bias"]
    for key in ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach"):
        assert key in sd["param_groups"][0]
    assert isinstance(sd["param_groups"][0]["lr"], float)
    back = opt.load_state_dict(params, sd)
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(back), strict=True):
        np.testing.assert_array_equal(a, b)


def test_adagrad_state_exists_before_the_first_step(model):
    net, params = model
    opt = jo.Adagrad(net.parameters(), initial_accumulator_value=0.5)
    sd = opt.state_dict(opt.init(params))
    assert np.all(sd["state"][0]["sum"] == 0.5) and float(sd["state"][0]["step"]) == 0.0


def test_sgd_fresh_state_loads_as_a_fresh_start(model):
    net, params = model
    opt = jo.SGD(net.parameters(), lr=0.1, momentum=0.9)
    assert int(opt.load_state_dict(params, opt.state_dict(opt.init(params))).count) == 0
    _, state = _stepped(opt, params)
    assert int(opt.load_state_dict(params, opt.state_dict(state)).count) == 1


def test_load_state_dict_errors(model):
    net, params = model
    opt = jo.Adam(net.parameters())
    _, state = _stepped(opt, params)
    sd = opt.state_dict(state)
    two = jo.Adam([{"params": list(net.parameters())[:2]}, {"params": list(net.parameters())[2:]}])
    with pytest.raises(ValueError, match="different number of parameter groups"):
        two.load_state_dict(params, sd)
    short = {"state": {}, "param_groups": [{**sd["param_groups"][0], "params": [0, 1]}]}
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        opt.load_state_dict(params, short)
    renamed = {**sd, "param_groups": [{**sd["param_groups"][0]}]}
    renamed["param_groups"][0]["param_names"] = ["a"] + sd["param_groups"][0]["param_names"][1:]
    with pytest.raises(ValueError, match="parameter 0 of param group 0 is 'a' there"):
        opt.load_state_dict(params, renamed)
    bad_shape = {**sd, "state": {**sd["state"], 0: {**sd["state"][0], "exp_avg": np.zeros(3)}}}
    del bad_shape["param_groups"][0]["param_names"]
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter '0.weight' \(param group 0\)"):
        opt.load_state_dict(params, bad_shape)
    with pytest.raises(ValueError, match=r"amsgrad=True"):
        amsgrad = {**sd, "param_groups": [{**sd["param_groups"][0], "amsgrad": True}]}
        opt.load_state_dict(params, amsgrad)
    with pytest.raises(ValueError, match="checkpoint\\['optimizer'\\]"):
        opt.load_state_dict(params, {"model": {}, "optimizer": sd})


def test_loaded_options_replace_the_built_ones(model):
    """As torch's load_state_dict: the saved lr is the one that steps."""
    net, params = model
    opt = jo.SGD(net.parameters(), lr=0.1)
    sd = opt.state_dict(opt.init(params))
    sd["param_groups"][0]["lr"] = 0.5
    state = opt.load_state_dict(params, sd)
    assert float(state.param_groups[0]["lr"]) == 0.5


def test_betas_given_as_a_list_live_in_the_state(model):
    net, params = model
    opt = jo.Adam([{"params": net.parameters(), "betas": [0.8, 0.9]}])
    beta1, beta2 = opt.init(params).param_groups[0]["betas"]
    assert float(beta1) == np.float32(0.8) and float(beta2) == np.float32(0.9)


def test_state_dict_gives_the_options_as_built(model):
    """0.001 comes back as 0.001 (torch's value), not as its float32 rounding; a value the
    state changed comes back as the state holds it."""
    net, params = model
    opt = jo.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.95))
    state = opt.init(params)
    group = opt.state_dict(state)["param_groups"][0]
    assert group["lr"] == 1e-3 and group["betas"] == (0.9, 0.95)
    changed = state._replace(param_groups=({**state.param_groups[0], "lr": jnp.float32(0.5)},))
    assert opt.state_dict(changed)["param_groups"][0]["lr"] == 0.5


def test_bfloat16_parameters_keep_their_dtype(model):
    """Every optimizer steps bfloat16 parameters under strict dtype promotion: options are
    cast to the parameter's dtype as torch casts Python scalars; state keeps the dtype too."""
    net, params = model
    params = jax.tree.map(lambda p: p.astype(jnp.bfloat16), params)
    opts = [
        jo.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
        jo.Adam(net.parameters(), amsgrad=True, weight_decay=0.1),
        jo.AdamW(net.parameters()),
        jo.RMSprop(net.parameters(), centered=True, momentum=0.1),
        jo.Adagrad(net.parameters(), lr_decay=0.1),
        jo.Adadelta(net.parameters()),
        jo.Adamax(net.parameters()),
        jo.NAdam(net.parameters(), decoupled_weight_decay=True, weight_decay=0.1),
        jo.RAdam(net.parameters()),
    ]

    @jax.jit
    def step(params, states):
        grads = _grads(params, 0.5)
        return [opt.update(grads, s, params) for opt, s in zip(opts, states, strict=True)]

    for updates, state in step(params, [opt.init(params) for opt in opts]):
        assert {leaf.dtype for leaf in jax.tree.leaves(updates)} == {jnp.dtype(jnp.bfloat16)}
        # per-element state in the parameter's dtype; scalars (step, mu_product) float32
        for v in (v for d in state.state for e in d.values() for v in e.values()):
            assert v.dtype == (jnp.float32 if v.ndim == 0 else jnp.bfloat16)


def test_optimizers_compare_by_identity():
    """Two optimizers with equal options are still two optimizers (schedulers, dict keys)."""
    a = jo.SGD([{"params": ["a"]}], lr=0.1)
    b = jo.SGD([{"params": ["a"]}], lr=0.1)
    assert a == a and a != b and len({a, b}) == 2
