"""jaxinit.optim.lr_scheduler against torch 2.13's: every scheduler's learning rates at every
step, for two param groups with different lrs, equal torch's exactly (the Python floats of
``get_last_lr`` bit for bit, the float32 values in the optimizer state as torch's rounded),
with the option combinations of torch's own tests; momentum/betas for the cyclic schedulers;
ReduceLROnPlateau's modes; the closed forms; torch's validation errors; state_dict layout
and round trips both ways, mid-schedule. No model: the optimizers hold two tiny tensors (a
training run with a scheduler: test_lr_scheduler_training_torch.py)."""

from __future__ import annotations

import warnings

import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch.optim import lr_scheduler as theirs  # noqa: E402

from jaxinit.optim import SGD, Optimizer  # noqa: E402
from jaxinit.optim import lr_scheduler as ours  # noqa: E402

# Sequences are compared without optimizer updates on our side: its "step() before
# optimizer.step()" warning is checked once, in test_step_before_update_warns_as_torch.
pytestmark = pytest.mark.filterwarnings("ignore:Detected call of")

LRS = (0.05, 0.01)
PARAMS = {"a": jnp.zeros(2, jnp.float32), "b": jnp.zeros(3, jnp.float32)}
CTOR_KEYS = ("initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum")


class BetaOptimizer(Optimizer):
    """A minimal optimizer with Adam's ``betas`` option (the cyclic schedulers' beta1 path)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999)):
        super().__init__(params, dict(lr=lr, betas=betas))

    def _init_param(self, param, group):
        return {}

    def _update_param(self, grad, param, state, group, count):
        return -group["lr"] * grad, state


def optimizers(kind: str = "sgd", momentum: float = 0.9):
    """(torch optimizer, jaxinit optimizer) over two groups with lrs ``LRS``."""
    tp = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
    tgroups = [{"params": [tp[0]]}, {"params": [tp[1]], "lr": LRS[1]}]
    jgroups = [{"params": ["a"]}, {"params": ["b"], "lr": LRS[1]}]
    if kind == "resume":  # groups that carry an 'initial_lr' (schedulers built with last_epoch)
        for groups in (tgroups, jgroups):
            groups[0]["initial_lr"], groups[1]["initial_lr"] = 0.08, 0.02
    if kind == "betas":
        return torch.optim.Adam(tgroups, lr=LRS[0]), BetaOptimizer(jgroups, lr=LRS[0])
    return (
        torch.optim.SGD(tgroups, lr=LRS[0], momentum=momentum),
        SGD(jgroups, lr=LRS[0], momentum=momentum),
    )


def assert_same_groups(topt, jopt, state, where):
    keys = ("lr", "momentum", "betas") + CTOR_KEYS
    for i, (tg, jg) in enumerate(zip(topt.param_groups, state.param_groups)):
        for key in keys:
            assert (key in tg) == (key in jg), (where, i, key)
            if key not in tg:
                continue
            ours_v = np.asarray(jg[key], np.float32)
            np.testing.assert_array_equal(ours_v, np.float32(tg[key]), err_msg=f"{where} {key}")


def run(make, steps, kind="sgd", epochs=None, stepper=None):
    """Build the schedulers with ``make(lib, optimizer)`` on both sides and step them
    ``steps`` times, comparing after construction and after every step."""
    topt, jopt = optimizers(kind)
    with warnings.catch_warnings():  # torch's "step() before optimizer.step()" while built
        warnings.simplefilter("ignore", UserWarning)
        tsched = make(theirs, topt)
    jsched = make(ours, jopt)
    for key in CTOR_KEYS:  # optimizer.param_groups shows torch's construction-time entries
        assert [g.get(key) for g in jopt.param_groups] == [g.get(key) for g in topt.param_groups]
    state = jopt.init(PARAMS)
    trace = []
    for k in range(steps + 1):
        assert jsched.get_last_lr(state) == tsched.get_last_lr(), k  # float64, bit for bit
        assert_same_groups(topt, jopt, state, k)
        trace.append(tsched.get_last_lr())
        if k == steps:
            break
        topt.step()
        if stepper is not None:
            state = stepper(tsched, jsched, state, k)
        elif epochs is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tsched.step(epochs[k])
            with pytest.warns(UserWarning, match="epoch parameter"):
                state = jsched.step(state, epochs[k])
        else:
            tsched.step()
            state = jsched.step(state)
    return tsched, jsched, state, np.array(trace)


def _lambdas(m, o):
    return m.LambdaLR(o, [lambda e: 0.9**e, lambda e: 1.0 / (e + 1)])


CASES = {
    "StepLR": (lambda m, o: m.StepLR(o, step_size=3, gamma=0.1), 30),
    "StepLR-gamma0.7": (lambda m, o: m.StepLR(o, step_size=1, gamma=0.7), 40),
    "MultiStepLR": (lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 9], gamma=0.1), 30),
    "MultiStepLR-repeated": (lambda m, o: m.MultiStepLR(o, [2, 5, 5, 9], gamma=0.3), 30),
    "ConstantLR": (lambda m, o: m.ConstantLR(o, factor=1.0 / 2, total_iters=4), 30),
    "ConstantLR-default": (lambda m, o: m.ConstantLR(o), 30),
    "LinearLR": (lambda m, o: m.LinearLR(o, start_factor=1.0 / 2, total_iters=4), 30),
    "LinearLR-decay": (lambda m, o: m.LinearLR(o, 1.0, 0.05, total_iters=17), 30),
    "LinearLR-default": (lambda m, o: m.LinearLR(o), 30),
    "ExponentialLR": (lambda m, o: m.ExponentialLR(o, gamma=0.9), 60),
    "PolynomialLR": (lambda m, o: m.PolynomialLR(o, total_iters=4, power=0.9), 30),
    "PolynomialLR-power2": (lambda m, o: m.PolynomialLR(o, total_iters=11, power=2.0), 30),
    "CosineAnnealingLR": (lambda m, o: m.CosineAnnealingLR(o, T_max=10, eta_min=1e-3), 60),
    "CosineAnnealingLR-eta0": (lambda m, o: m.CosineAnnealingLR(o, T_max=7), 45),
    "WarmRestarts": (lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=10, eta_min=1e-3), 60),
    "WarmRestarts-Tmult2": (lambda m, o: m.CosineAnnealingWarmRestarts(o, 3, T_mult=2), 60),
    "LambdaLR": (_lambdas, 30),
    "MultiplicativeLR": (lambda m, o: m.MultiplicativeLR(o, lambda e: 0.95), 40),
    "CyclicLR-triangular": (lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=4), 40),
    "CyclicLR-triangular2": (
        lambda m, o: m.CyclicLR(o, [0.01, 0.02], [0.1, 0.2], 4, 3, mode="triangular2"),
        40,
    ),
    "CyclicLR-exp_range": (
        lambda m, o: m.CyclicLR(o, 0.01, 0.1, 5, mode="exp_range", gamma=0.9),
        40,
    ),
    "CyclicLR-scale_fn": (
        lambda m, o: m.CyclicLR(
            o, 0.01, 0.1, 3, scale_fn=lambda x: 0.5**x, scale_mode="iterations"
        ),
        30,
    ),
    "CyclicLR-no-momentum": (
        lambda m, o: m.CyclicLR(o, 0.01, 0.1, 4, cycle_momentum=False),
        30,
    ),
    "OneCycleLR-cos": (lambda m, o: m.OneCycleLR(o, [0.1, 0.2], total_steps=30), 30),
    "OneCycleLR-linear-3phase": (
        lambda m, o: m.OneCycleLR(
            o, 0.1, epochs=5, steps_per_epoch=8, anneal_strategy="linear", three_phase=True
        ),
        40,
    ),
    "OneCycleLR-momentum-lists": (
        lambda m, o: m.OneCycleLR(
            o,
            0.1,
            total_steps=25,
            pct_start=0.4,
            base_momentum=[0.8, 0.7],
            max_momentum=[0.9, 0.95],
            div_factor=10.0,
            final_div_factor=100.0,
        ),
        25,
    ),  # fmt: skip
    "SequentialLR": (
        lambda m, o: m.SequentialLR(
            o, [m.ConstantLR(o, factor=0.1, total_iters=2), m.ExponentialLR(o, 0.9)], [2]
        ),
        30,
    ),
    "SequentialLR-warmup-cosine": (
        lambda m, o: m.SequentialLR(
            o, [m.LinearLR(o, 0.1, total_iters=5), m.CosineAnnealingLR(o, T_max=10)], [5]
        ),
        40,
    ),
    "SequentialLR-three": (
        lambda m, o: m.SequentialLR(
            o,
            [m.ConstantLR(o, 0.1, 2), m.ExponentialLR(o, 0.9), m.StepLR(o, 3, gamma=0.5)],
            milestones=[3, 8],
        ),
        30,
    ),
    "SequentialLR-nested-chained": (  # torch can only start with a ChainedScheduler
        lambda m, o: m.SequentialLR(
            o,
            [
                m.ChainedScheduler([m.ExponentialLR(o, 0.9), m.StepLR(o, 4, gamma=0.5)]),
                m.LinearLR(o, 0.2, total_iters=3),
            ],
            milestones=[5],
        ),
        30,
    ),
    "ChainedScheduler": (
        lambda m, o: m.ChainedScheduler(
            [m.ConstantLR(o, factor=0.1, total_iters=4), m.ExponentialLR(o, gamma=0.9)]
        ),
        30,
    ),
    "ChainedScheduler-three": (
        lambda m, o: m.ChainedScheduler(
            [m.StepLR(o, 3), m.LinearLR(o, 0.5, total_iters=4), m.MultiStepLR(o, [2, 7])],
            optimizer=o,
        ),
        30,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_lrs_match_torch_every_step(name):
    make, steps = CASES[name]
    run(make, steps)


@pytest.mark.parametrize(
    "name",
    ["CyclicLR-triangular2", "CyclicLR-exp_range", "OneCycleLR-cos", "OneCycleLR-momentum-lists"],
)
def test_cycle_momentum_betas_path(name):
    """With an optimizer that has ``betas`` (Adam in torch), beta1 is cycled, beta2 kept."""
    make, steps = CASES[name]
    run(make, steps, kind="betas")


COMPOUND = {  # torch's test_compound_* pairs: two schedulers stepped one after the other
    "StepLR+ExponentialLR": lambda m, o: (m.StepLR(o, 3), m.ExponentialLR(o, 0.9)),
    "ExponentialLR+MultiStepLR": lambda m, o: (
        m.ExponentialLR(o, 0.9),
        m.MultiStepLR(o, [3, 6, 9], gamma=0.5),
    ),
    "CosineAnnealingLR+ExponentialLR": lambda m, o: (
        m.CosineAnnealingLR(o, T_max=5, eta_min=1e-3),
        m.ExponentialLR(o, 0.9),
    ),
    "LinearLR+CosineAnnealingLR": lambda m, o: (
        m.LinearLR(o, 0.2, total_iters=4),
        m.CosineAnnealingLR(o, T_max=6),
    ),
    "PolynomialLR+ConstantLR": lambda m, o: (m.PolynomialLR(o, 6, 2.0), m.ConstantLR(o, 0.5, 3)),
}


@pytest.mark.parametrize("name", list(COMPOUND))
def test_compound_schedulers_chain_as_torch(name):
    topt, jopt = optimizers()
    tscheds, jscheds = COMPOUND[name](theirs, topt), COMPOUND[name](ours, jopt)
    state = jopt.init(PARAMS)
    for k in range(25):
        for t, j in zip(tscheds, jscheds):
            assert j.get_last_lr(state) == t.get_last_lr(), k
        assert_same_groups(topt, jopt, state, k)
        topt.step()
        for t, j in zip(tscheds, jscheds):
            t.step()
            state = j.step(state)


RESUMED = {
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=10, last_epoch=3),
    "StepLR": lambda m, o: m.StepLR(o, step_size=3, last_epoch=4),
    "LinearLR": lambda m, o: m.LinearLR(o, 0.5, total_iters=6, last_epoch=2),
    "WarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, 4, T_mult=2, last_epoch=5),
}


@pytest.mark.parametrize("name", list(RESUMED))
def test_built_with_last_epoch_matches_torch(name):
    """Built with ``last_epoch >= 0`` on groups that carry an ``initial_lr``."""
    run(RESUMED[name], 25, kind="resume")


CLOSED_FORM = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=3, gamma=0.1),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, [2, 5, 5, 9], gamma=0.1),
    "ConstantLR": lambda m, o: m.ConstantLR(o, 0.25, total_iters=4),
    "LinearLR": lambda m, o: m.LinearLR(o, 0.2, 0.9, total_iters=6),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, 0.9),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=7, power=1.5),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=10, eta_min=1e-3),
    "LambdaLR": _lambdas,  # no closed form: get_lr at the given epoch
}


@pytest.mark.parametrize("name", list(CLOSED_FORM))
def test_closed_form_with_epoch_matches_torch(name):
    epochs = [1, 2, 5, 4, 9, 3, 12, 20, 7, 0, 15]
    run(CLOSED_FORM[name], len(epochs), epochs=epochs)


def test_warm_restarts_fractional_epochs_match_torch():
    epochs = [0.5, 1.25, 2.0, 3.7, 9.99, 10.0, 14.2, 31.5, 70.0, 3.0]

    def stepper(tsched, jsched, state, k):
        if k % 3 == 2:  # interleave plain steps
            tsched.step()
            return jsched.step(state)
        epoch = epochs[k % len(epochs)]
        tsched.step(epoch)
        return jsched.step(state, epoch)

    for t_mult in (1, 2, 3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run(
                lambda m, o, t=t_mult: m.CosineAnnealingWarmRestarts(o, 4, T_mult=t, eta_min=1e-4),
                30,
                stepper=stepper,
            )


# -- ReduceLROnPlateau -------------------------------------------------------------------
PLATEAU = {
    "min-rel": dict(mode="min", factor=0.5, patience=2),
    "min-abs-cooldown": dict(mode="min", threshold=0.1, threshold_mode="abs", cooldown=2),
    "max-rel": dict(mode="max", factor=0.3, patience=1, threshold=0.05),
    "max-abs-min_lr": dict(
        mode="max", threshold_mode="abs", patience=0, cooldown=1, min_lr=[0.02, 0.001]
    ),
    "min-eps": dict(patience=1, factor=0.5, min_lr=0.004, eps=1e-3),
}


def _metrics(mode: str, n: int = 50) -> list[float]:
    """A noisy metric (seeded, float32 values) improving in bursts with long plateaus."""
    rng = np.random.default_rng(0)
    slope = np.concatenate([np.ones(6), np.zeros(16), np.ones(6), np.zeros(n - 28)])
    trend = np.cumsum(slope) * (-0.3 if mode == "min" else 0.3)
    return [float(np.float32(v)) for v in 5.0 + trend + rng.normal(0, 0.03, n)]


@pytest.mark.parametrize("name", list(PLATEAU))
def test_reduce_lr_on_plateau_matches_torch(name):
    kwargs = PLATEAU[name]
    metrics = _metrics(kwargs.get("mode", "min"))

    def stepper(tsched, jsched, state, k):
        tsched.step(metrics[k])
        state = jsched.step(state, jnp.float32(metrics[k]) if k % 2 else metrics[k])
        return state

    tsched, jsched, state, trace = run(
        lambda m, o: m.ReduceLROnPlateau(o, **kwargs), len(metrics), stepper=stepper
    )
    assert len(np.unique(trace[:, 0])) + len(np.unique(trace[:, 1])) >= 4  # >= 2 reductions
    assert jsched.state_dict(state) == tsched.state_dict()


# -- state_dict --------------------------------------------------------------------------
SD_CASES = [
    "StepLR",
    "MultiStepLR-repeated",
    "LinearLR",
    "CosineAnnealingLR",
    "WarmRestarts-Tmult2",
    "LambdaLR",
    "CyclicLR-triangular2",
    "OneCycleLR-linear-3phase",
    "SequentialLR-warmup-cosine",
    "SequentialLR-nested-chained",
    "ChainedScheduler",
]


def _equal_sd(a, b):
    assert set(a) == set(b), set(a) ^ set(b)
    for key in a:
        if key == "_schedulers":
            for x, y in zip(a[key], b[key], strict=True):
                _equal_sd(x, y)
        else:
            assert a[key] == b[key], key


@pytest.mark.parametrize("name", SD_CASES)
def test_state_dict_layout_and_round_trips(name):
    """After 7 steps our state_dict equals torch's; then each side's state_dict is loaded
    into a fresh scheduler of the other side (the optimizers' lrs restored as torch's
    optimizer.load_state_dict would) and both runs continue identically."""
    make, _ = CASES[name]
    steps, more = 7, 12
    tsched, jsched, state, _ = run(make, steps)
    _equal_sd(jsched.state_dict(state), tsched.state_dict())

    # torch -> ours: a fresh jaxinit optimizer and scheduler, resumed from torch's
    topt2, jopt2 = optimizers()
    tsched_ref = tsched
    jsched2 = make(ours, jopt2)
    state2 = jopt2.init(PARAMS)
    state2 = state2._replace(
        param_groups=tuple(
            {**g, **{k: jnp.asarray(tg[k], jnp.float32) for k in ("lr", "momentum")}}
            for g, tg in zip(state2.param_groups, tsched_ref.optimizer.param_groups)
        )
    )
    state2 = jsched2.load_state_dict(state2, tsched_ref.state_dict())
    # ours -> torch: a fresh torch optimizer and scheduler, resumed from ours
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tsched3 = make(theirs, topt2)
    for i, group in enumerate(topt2.param_groups):
        group["lr"] = jsched.get_last_lr(state)[i]
    tsched3.load_state_dict(jsched.state_dict(state))
    for _ in range(more):
        tsched_ref.optimizer.step()
        topt2.step()
        tsched_ref.step()
        tsched3.step()
        state2 = jsched2.step(state2)
        assert jsched2.get_last_lr(state2) == tsched_ref.get_last_lr()
        assert tsched3.get_last_lr() == tsched_ref.get_last_lr()
    _equal_sd(jsched2.state_dict(state2), tsched_ref.state_dict())


def test_reduce_lr_on_plateau_state_dict_round_trip():
    kwargs = PLATEAU["min-abs-cooldown"]
    metrics = _metrics("min")
    topt, jopt = optimizers()
    tsched, jsched = (
        theirs.ReduceLROnPlateau(topt, **kwargs),
        ours.ReduceLROnPlateau(jopt, **kwargs),
    )
    state = jopt.init(PARAMS)
    for k in range(20):
        tsched.step(metrics[k])
        state = jsched.step(state, metrics[k])
    _, jopt2 = optimizers()
    jsched2 = ours.ReduceLROnPlateau(jopt2, **kwargs)
    state2 = jopt2.init(PARAMS)
    state2 = state2._replace(
        param_groups=tuple(
            {**g, "lr": jnp.asarray(tg["lr"], jnp.float32)}
            for g, tg in zip(state2.param_groups, topt.param_groups)
        )
    )
    state2 = jsched2.load_state_dict(state2, tsched.state_dict())
    for k in range(20, 50):
        tsched.step(metrics[k])
        state2 = jsched2.step(state2, metrics[k])
        assert jsched2.get_last_lr(state2) == tsched.get_last_lr()
    _equal_sd(jsched2.state_dict(state2), tsched.state_dict())


# -- torch's validation errors -----------------------------------------------------------
ERRORS = {
    "ConstantLR-factor": lambda m, o: m.ConstantLR(o, factor=1.5),
    "LinearLR-start": lambda m, o: m.LinearLR(o, start_factor=0),
    "LinearLR-end": lambda m, o: m.LinearLR(o, end_factor=1.5),
    "LambdaLR-count": lambda m, o: m.LambdaLR(o, [lambda e: 1.0] * 3),
    "MultiplicativeLR-callable": lambda m, o: m.MultiplicativeLR(o, [0.9, 0.9]),
    "WarmRestarts-T_0": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=0),
    "WarmRestarts-T_mult": lambda m, o: m.CosineAnnealingWarmRestarts(o, 2, T_mult=0),
    "WarmRestarts-eta_min": lambda m, o: m.CosineAnnealingWarmRestarts(o, 2, eta_min="0"),
    "CyclicLR-mode": lambda m, o: m.CyclicLR(o, 0.01, 0.1, mode="square"),
    "CyclicLR-base_lr-count": lambda m, o: m.CyclicLR(o, [0.01] * 3, 0.1),
    "OneCycleLR-steps": lambda m, o: m.OneCycleLR(o, 0.1),
    "OneCycleLR-total": lambda m, o: m.OneCycleLR(o, 0.1, total_steps=0),
    "OneCycleLR-epochs": lambda m, o: m.OneCycleLR(o, 0.1, epochs=0, steps_per_epoch=3),
    "OneCycleLR-pct": lambda m, o: m.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.5),
    "OneCycleLR-anneal": lambda m, o: m.OneCycleLR(o, 0.1, 10, anneal_strategy="exp"),
    "Plateau-factor": lambda m, o: m.ReduceLROnPlateau(o, factor=1.0),
    "Plateau-mode": lambda m, o: m.ReduceLROnPlateau(o, mode="up"),
    "Plateau-threshold_mode": lambda m, o: m.ReduceLROnPlateau(o, threshold_mode="pct"),
    "Plateau-min_lr": lambda m, o: m.ReduceLROnPlateau(o, min_lr=[0.1, 0.1, 0.1]),
    "SequentialLR-milestones": lambda m, o: m.SequentialLR(o, [m.StepLR(o, 2)], [3]),
    "SequentialLR-empty": lambda m, o: m.SequentialLR(o, [], []),
    "SequentialLR-plateau": lambda m, o: m.SequentialLR(
        o, [m.StepLR(o, 2), m.ReduceLROnPlateau(o)], [3]
    ),
    "ChainedScheduler-empty": lambda m, o: m.ChainedScheduler([]),
    "ChainedScheduler-plateau": lambda m, o: m.ChainedScheduler([m.ReduceLROnPlateau(o)]),
    "resume-without-initial_lr": lambda m, o: m.StepLR(o, 3, last_epoch=4),
}
SAME_MESSAGE_EXCEPT = {"resume-without-initial_lr"}  # ours says how to fix it


@pytest.mark.parametrize("name", list(ERRORS))
def test_validation_errors_match_torch(name):
    topt, jopt = optimizers()
    with pytest.raises(Exception) as expected:
        ERRORS[name](theirs, topt)
    with pytest.raises(type(expected.value)) as got:
        ERRORS[name](ours, jopt)
    if name not in SAME_MESSAGE_EXCEPT:
        assert str(got.value) == str(expected.value)


def test_one_cycle_past_total_steps_raises_as_torch():
    topt, jopt = optimizers()
    tsched, jsched = theirs.OneCycleLR(topt, 0.1, total_steps=3), ours.OneCycleLR(jopt, 0.1, 3)
    state = jopt.init(PARAMS)
    for _ in range(3):
        topt.step()
        tsched.step()
        state = jsched.step(state)
    with pytest.raises(ValueError) as expected:
        tsched.step()
    with pytest.raises(ValueError) as got:
        jsched.step(state)
    assert str(got.value) == str(expected.value)


class PlainOptimizer(Optimizer):
    """An optimizer with neither ``momentum`` nor ``betas`` (torch's Adagrad has neither)."""

    def __init__(self, params, lr=1e-2):
        super().__init__(params, dict(lr=lr))

    def _init_param(self, param, group):
        return {}

    def _update_param(self, grad, param, state, group, count):
        return -group["lr"] * grad, state


@pytest.mark.parametrize("cls", ["CyclicLR", "OneCycleLR"])
def test_cycle_momentum_needs_momentum_or_betas_as_torch(cls):
    topt = torch.optim.Adagrad([torch.zeros(2, requires_grad=True)], lr=0.1)
    jopt = PlainOptimizer([{"params": ["a"]}], lr=0.1)
    args = (0.01, 0.1) if cls == "CyclicLR" else (0.1, 10)
    with pytest.raises(ValueError) as expected:
        getattr(theirs, cls)(topt, *args)
    with pytest.raises(ValueError) as got:
        getattr(ours, cls)(jopt, *args)
    assert str(got.value) == str(expected.value)
    ours_sched = getattr(ours, cls)(jopt, *args, cycle_momentum=False)  # fine without
    state = jopt.init({"a": jnp.zeros(2, jnp.float32)})
    tsched = getattr(theirs, cls)(topt, *args, cycle_momentum=False)
    for _ in range(5):
        topt.step()
        tsched.step()
        state = ours_sched.step(state)
        assert ours_sched.get_last_lr(state) == tsched.get_last_lr()


def test_schedulers_of_another_optimizer_are_refused():
    _, jopt = optimizers()
    _, other = optimizers()
    with pytest.raises(ValueError, match="same optimizer"):
        ours.SequentialLR(jopt, [ours.StepLR(jopt, 2), ours.StepLR(other, 2)], [3])
    with pytest.raises(ValueError, match="same optimizer"):
        ours.ChainedScheduler([ours.StepLR(jopt, 2), ours.StepLR(other, 2)])


class Decay:
    """A callable object as lr_lambda: torch saves its ``__dict__`` in the state_dict."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, epoch):
        return self.rate**epoch


def test_lambda_objects_state_dict_as_torch():
    topt, jopt = optimizers()
    tsched = theirs.LambdaLR(topt, [Decay(0.9), Decay(0.7)])
    jsched = ours.LambdaLR(jopt, [Decay(0.9), Decay(0.7)])
    state = jopt.init(PARAMS)
    for _ in range(4):
        topt.step()
        tsched.step()
        state = jsched.step(state)
    assert jsched.state_dict(state)["lr_lambdas"] == [{"rate": 0.9}, {"rate": 0.7}]
    _equal_sd(jsched.state_dict(state), tsched.state_dict())
    sd = tsched.state_dict()
    sd["lr_lambdas"] = [{"rate": 0.5}, {"rate": 0.8}]
    tsched.load_state_dict(sd)
    state = jsched.load_state_dict(state, sd)
    assert [fn.rate for fn in jsched.lr_lambdas] == [0.5, 0.8]
    for _ in range(4):
        topt.step()
        tsched.step()
        state = jsched.step(state)
        assert jsched.get_last_lr(state) == tsched.get_last_lr()


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "ExponentialLR", "LinearLR"])
def test_fractional_epoch_then_plain_steps_match_torch(name):
    """A fractional ``epoch`` is kept as torch keeps it (``last_epoch`` a float), and the
    plain steps after it continue from there."""
    fractions = {0: 0.5, 3: 2.5, 6: 7.25}

    def stepper(tsched, jsched, state, k):
        if k in fractions:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tsched.step(fractions[k])
                return jsched.step(state, fractions[k])
        tsched.step()
        return jsched.step(state)

    tsched, jsched, state, _ = run(CLOSED_FORM[name], 12, stepper=stepper)
    _equal_sd(jsched.state_dict(state), tsched.state_dict())


def test_step_before_update_warns_as_torch():
    topt, jopt = optimizers()
    tsched, jsched = theirs.StepLR(topt, 2), ours.StepLR(jopt, 2)
    state = jopt.init(PARAMS)
    with pytest.warns(UserWarning) as expected:
        tsched.step()
    with pytest.warns(UserWarning) as got:
        jsched.step(state)
    assert str(got[0].message).startswith(str(expected[0].message))
    assert got[0].filename == __file__  # points at the caller

    _, jopt = optimizers()
    jsched = ours.StepLR(jopt, 2)
    state = jopt.init(PARAMS)
    grads = {k: jnp.ones_like(v) for k, v in PARAMS.items()}
    _, state = jopt.update(grads, state, PARAMS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        state = jsched.step(jsched.step(state))  # after an update: no warning
