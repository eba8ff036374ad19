"""jaxinit.optim.lr_scheduler without torch: the learning rate lives in the optimizer state
(one jitted update step serves every lr, and uses it), the scheduler state survives jit
exactly, construction-time entries show in ``optimizer.param_groups``, and misuse fails with
messages that say how to fix it. (Values against torch: tests/torch/test_lr_scheduler_torch.py.)"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxinit
from jaxinit.optim import SGD
from jaxinit.optim import lr_scheduler as sched
from jaxinit.optim.lr_scheduler._base import _f64_bits, _f64_value

# Most tests step schedules without optimizer updates (torch's order warning is expected).
pytestmark = pytest.mark.filterwarnings("ignore:Detected call of")

PARAMS = {"a": jnp.ones(3, jnp.float32), "b": jnp.ones(2, jnp.float32)}
GRADS = {"a": jnp.full(3, 0.5, jnp.float32), "b": jnp.full(2, 2.0, jnp.float32)}


def sgd(**kwargs):
    return SGD([{"params": ["a"]}, {"params": ["b"], "lr": 0.01}], lr=0.1, **kwargs)


def test_one_compiled_step_serves_every_learning_rate():
    """The jitted update compiles once while StepLR and a momentum-cycling OneCycleLR change
    lr and momentum every step, and each update uses the lr the scheduler set. (Traces are
    counted in the function; compilations by the jitted function's cache, which also keys on
    the inputs' placement: new values must be placed as the ones they replace.)"""
    optimizer = sgd(momentum=0.9)
    chained = sched.ChainedScheduler(
        [sched.StepLR(optimizer, step_size=2, gamma=0.5), sched.ExponentialLR(optimizer, 0.9)]
    )
    traces = []

    @jax.jit
    def update(params, opt_state):
        traces.append(None)  # runs once per compilation
        updates, opt_state = optimizer.update(GRADS, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, updates

    params, opt_state = PARAMS, optimizer.init(PARAMS)
    seen = set()
    for _ in range(8):
        lrs = [float(g["lr"]) for g in opt_state.param_groups]
        seen.add(tuple(lrs))
        before = params
        params, opt_state, updates = update(params, opt_state)
        if int(opt_state.count) == 1:  # first step: buf = grad, so p <- p - lr * grad
            for name, lr in zip("ab", lrs):
                expected = before[name] - np.float32(lr) * GRADS[name]
                np.testing.assert_array_equal(params[name], expected)
        opt_state = chained.step(opt_state)
    assert len(traces) == 1 and update._cache_size() == 1  # traced once, compiled once
    assert len(seen) == 8  # a new lr every step

    one_cycle_opt = sgd(momentum=0.9)
    one_cycle = sched.OneCycleLR(one_cycle_opt, max_lr=0.5, total_steps=10)
    traces.clear()

    @jax.jit
    def update2(params, opt_state):
        traces.append(None)
        updates, opt_state = one_cycle_opt.update(GRADS, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    params, opt_state = PARAMS, one_cycle_opt.init(PARAMS)
    momenta = set()
    for _ in range(9):
        momenta.add(float(opt_state.param_groups[0]["momentum"]))
        params, opt_state = update2(params, opt_state)
        opt_state = one_cycle.step(opt_state)
    assert len(traces) == 1 and update2._cache_size() == 1 and len(momenta) >= 8


def test_scheduler_state_survives_jit_exactly():
    """A schedule whose optimizer state goes through jax.jit every step gives the same
    float64 learning rates, bit for bit, as one that never leaves the host."""

    def schedule(through_jit):
        optimizer = sgd()
        warmup = sched.LinearLR(optimizer, start_factor=0.1, total_iters=4)
        cosine = sched.CosineAnnealingLR(optimizer, T_max=9, eta_min=1e-4)
        scheduler = sched.SequentialLR(optimizer, [warmup, cosine], milestones=[4])
        opt_state = optimizer.init(PARAMS)
        out = []
        for _ in range(20):
            if through_jit:
                opt_state = jax.jit(lambda s: s)(opt_state)
            opt_state = scheduler.step(opt_state)
            out.append(scheduler.get_last_lr(opt_state))
        return out

    assert schedule(True) == schedule(False)


@pytest.mark.parametrize("value", [0.1, 1.0 / 3, -1.0, 7.0, float("inf"), -float("inf")])
def test_float64_bits_round_trip(value):
    bits = _f64_bits(value)
    assert bits.dtype == np.uint32 and bits.shape == (2,)
    assert _f64_value(jax.jit(lambda b: b)(jnp.asarray(bits))) == value
    assert _f64_value(_f64_bits([value, 0.5])) == [value, 0.5]


def test_construction_entries_show_in_param_groups():
    optimizer = sgd(momentum=0.9)
    assert "initial_lr" not in optimizer.param_groups[0]
    sched.StepLR(optimizer, step_size=3)
    assert [g["initial_lr"] for g in optimizer.param_groups] == [0.1, 0.01]
    one = sgd(momentum=0.9)
    sched.OneCycleLR(one, max_lr=[1.0, 0.5], total_steps=10)
    groups = one.param_groups
    assert [g["max_lr"] for g in groups] == [1.0, 0.5]
    assert [g["initial_lr"] for g in groups] == [1.0 / 25, 0.5 / 25]
    assert [g["momentum"] for g in groups] == [0.95, 0.95]
    opt_state = one.init(PARAMS)
    assert float(opt_state.param_groups[0]["max_lr"]) == 1.0


def test_hand_set_learning_rate_is_respected():
    """An lr changed in the state by hand is what the next step scales (as torch's would)."""
    optimizer = sgd()
    scheduler = sched.ExponentialLR(optimizer, gamma=0.5)
    opt_state = optimizer.init(PARAMS)
    groups = list(opt_state.param_groups)
    groups[0] = {**groups[0], "lr": jnp.asarray(0.2, jnp.float32)}
    opt_state = scheduler.step(opt_state._replace(param_groups=tuple(groups)))
    assert scheduler.get_last_lr(opt_state) == [float(np.float32(0.2)) * 0.5, 0.01 * 0.5]


def test_state_made_before_the_scheduler_is_refused():
    optimizer = sgd()
    opt_state = optimizer.init(PARAMS)
    scheduler = sched.StepLR(optimizer, step_size=2)
    with pytest.raises(ValueError, match="build every scheduler first"):
        scheduler.step(opt_state)


def test_not_an_optimizer_is_refused():
    with pytest.raises(TypeError, match="is not an Optimizer"):
        sched.StepLR(optax.sgd(0.1), step_size=2)


def test_failed_construction_registers_nothing():
    optimizer = sgd()
    with pytest.raises(ValueError):
        sched.ConstantLR(optimizer, factor=2.0)
    assert optimizer.init(PARAMS).schedulers == ()


def test_replicated_state_stays_replicated():
    """New values take the sharding of the values they replace (a state replicated over a
    mesh stays replicated, so a jitted step sees the same input shardings)."""
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("d",))
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    optimizer = sgd(momentum=0.9)
    scheduler = sched.OneCycleLR(optimizer, max_lr=0.5, total_steps=10)
    opt_state = jax.device_put(optimizer.init(PARAMS), replicated)
    before = scheduler.get_last_lr(opt_state)
    opt_state = scheduler.step(opt_state)
    assert scheduler.get_last_lr(opt_state) != before
    assert len(jax.devices()) > 1
    for leaf in jax.tree_util.tree_leaves((opt_state.param_groups, opt_state.schedulers)):
        assert leaf.sharding == replicated


def test_checkpoint_round_trip_resumes_exactly(path):
    """An optimizer state saved with jaxinit.save mid-schedule resumes bit for bit."""
    optimizer = sgd(momentum=0.9)
    scheduler = sched.CosineAnnealingWarmRestarts(optimizer, T_0=3, T_mult=2, eta_min=1e-4)
    opt_state = optimizer.init(PARAMS)
    for _ in range(4):
        opt_state = scheduler.step(opt_state)
    jaxinit.save(opt_state, path)
    restored = jaxinit.load(path, like=opt_state)
    for _ in range(6):
        opt_state, restored = scheduler.step(opt_state), scheduler.step(restored)
        assert scheduler.get_last_lr(restored) == scheduler.get_last_lr(opt_state)
    assert scheduler.state_dict(restored) == scheduler.state_dict(opt_state)
