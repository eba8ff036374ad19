"""Each jaxinit.optim optimizer against torch.optim's for 50 steps on one small model
(Linear(5, 4) - Tanh - Linear(4, 3), MSE loss, fixed batches), with the option combinations of
torch's own optimizer tests (torch.testing._internal.common_optimizers' optim_inputs_func_*,
less the capturable / tensor-lr kernel variants whose math is the same).

Tolerance: both sides step in float32, and torch computes the scalar coefficients (bias
corrections, step sizes) in float64 where jaxinit uses float32, so each step may differ by a
few ulp of the parameter. Measured over all cases below: at most 1.5e-6 absolute (RMSprop
with maximize, parameters grown to ~2.5), 3e-7 elsewhere. The bound, ``|a - b| <= 2e-6 +
1e-5 |b|``, is a few times that; a semantic slip (L2 instead of decoupled decay, eps inside the
square root, no bias correction, dampening ignored) moves parameters by 1e-4 or more.

One jitted step per (optimizer, options that change the update's form): cases that differ
only in numeric options (lr, weight_decay, momentum, ...) reuse it, since those live in the
optimizer state -- the no-recompilation property the schedulers rely on.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from _optim_helpers import (  # noqa: E402
    batches,
    jax_model,
    jax_steps,
    make_step,
    max_excess,
    torch_model,
    torch_steps,
)

import jaxinit.optim as jo  # noqa: E402

STEPS, RTOL, ATOL = 50, 1e-5, 2e-6

CASES = {
    "SGD": [
        {},
        {"lr": 1e-2},
        {"weight_decay": 0.5},
        {"momentum": 0.9},
        {"weight_decay": 0.1, "maximize": True},
        {"momentum": 0.9, "dampening": 0.5},
        {"momentum": 0.9, "weight_decay": 0.1},
        {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1},
    ],
    "Adam": [
        {},
        {"lr": 0.01},
        {"weight_decay": 0.1},
        {"weight_decay": 0.1, "maximize": True},
        {"weight_decay": 0.1, "amsgrad": True},
        {"weight_decay": 0.1, "decoupled_weight_decay": True},
    ],
    "AdamW": [
        {},
        {"lr": 0.01, "weight_decay": 0.1},
        {"weight_decay": 0.1, "amsgrad": True},
        {"weight_decay": 0.1, "maximize": True},
    ],
    "RMSprop": [
        {},
        {"lr": 1e-3, "weight_decay": 0.1},
        {"maximize": True},
        {"weight_decay": 0.1, "centered": True},
        {"weight_decay": 0.1, "centered": True, "momentum": 0.1},
        {"weight_decay": 0.1, "centered": True, "momentum": 0.1, "maximize": True},
    ],
    "Adagrad": [
        {},
        {"weight_decay": 0.1},
        {"weight_decay": 0.1, "maximize": True},
        {"initial_accumulator_value": 0.1, "weight_decay": 0.1},
        {"lr": 0.1, "lr_decay": 0.5, "weight_decay": 0.1},
    ],
    "Adadelta": [
        {},
        {"lr": 0.01, "weight_decay": 0.1},
        {"weight_decay": 0.1, "maximize": True},
        {"rho": 0.95, "weight_decay": 0.9},
    ],
    "Adamax": [
        {},
        {"lr": 0.1, "weight_decay": 0.1},
        {"weight_decay": 0.1, "maximize": True},
    ],
    "NAdam": [
        {},
        {"weight_decay": 0.1, "momentum_decay": 6e-3},
        {"weight_decay": 0.1, "momentum_decay": 6e-3, "decoupled_weight_decay": True},
        {"weight_decay": 0.1, "maximize": True},
    ],
    "RAdam": [
        {},
        {"lr": 2e-3, "eps": 1e-6, "weight_decay": 0.1},
        {"weight_decay": 0.1, "decoupled_weight_decay": True},
        {"weight_decay": 0.1, "maximize": True},
    ],
}
PARAMS = [(name, kw) for name, kws in CASES.items() for kw in kws]

_steps: dict[tuple, object] = {}


def _step_for(name, kwargs, net, optimizer):
    """The jitted step shared by cases whose boolean options agree."""
    key = (name, tuple(sorted((k, v) for k, v in kwargs.items() if isinstance(v, bool))))
    if key not in _steps:
        _steps[key] = make_step(net, optimizer)
    return _steps[key]


@pytest.fixture(scope="module")
def data():
    return batches(STEPS)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    PARAMS,
    ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw in PARAMS],
)
def test_optimizer_matches_torch(name, kwargs, data):
    torch_net = torch_model()
    net, params = jax_model(torch_net)
    torch_opt = getattr(torch.optim, name)(torch_net.parameters(), **kwargs)
    optimizer = getattr(jo, name)(net.parameters(), **kwargs)
    torch_steps(torch_net, torch_opt, data)
    step = _step_for(name, kwargs, net, optimizer)
    params, _ = jax_steps(step, params, optimizer.init(params), data)
    excess, where = max_excess(torch_net, params, RTOL, ATOL)
    assert excess <= 0, f"{where} departs from torch by {excess:.3g} beyond the tolerance"


ERRORS = [
    ("SGD", {"lr": -1.0}),
    ("SGD", {"lr": 0.1, "momentum": -1.0}),
    ("SGD", {"lr": 0.1, "weight_decay": -1.0}),
    ("SGD", {"lr": 0.1, "nesterov": True}),
    ("Adam", {"betas": (1.0, 0.9)}),
    ("AdamW", {"betas": (0.9, 1.0)}),
    ("Adam", {"eps": -1.0}),
    ("RMSprop", {"alpha": -1.0}),
    ("RMSprop", {"momentum": -1.0}),
    ("Adagrad", {"lr_decay": -1.0}),
    ("Adagrad", {"initial_accumulator_value": -1.0}),
    ("Adadelta", {"rho": 1.5}),
    ("Adamax", {"weight_decay": -1.0}),
    ("NAdam", {"momentum_decay": -1.0}),
    ("RAdam", {"eps": -1.0}),
]


@pytest.mark.parametrize(("name", "kwargs"), ERRORS)
def test_constructor_errors_are_torchs(name, kwargs):
    torch_net = torch_model()
    net, _ = jax_model(torch_net)
    with pytest.raises(ValueError) as want:
        getattr(torch.optim, name)(torch_net.parameters(), **kwargs)
    with pytest.raises(ValueError) as got:
        getattr(jo, name)(net.parameters(), **kwargs)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("name", list(CASES))
def test_param_groups_have_torchs_keys_and_defaults(name):
    torch_net = torch_model()
    net, _ = jax_model(torch_net)
    kwargs = {"lr": 0.1} if name == "SGD" else {}
    (want,) = getattr(torch.optim, name)(torch_net.named_parameters(), **kwargs).param_groups
    (got,) = getattr(jo, name)(net.named_parameters(), **kwargs).param_groups
    assert set(got) == set(want)
    for key in set(want) - {"params"}:
        assert got[key] == want[key], key


def test_compare_training_names_the_departure_and_why(data):
    """torch's SGD without dampening against a port built with dampening 0.5: the options
    differ, the first step agrees (the buffer starts as the gradient), the second departs in
    the momentum buffer."""
    torch_net = torch_model()
    net, params = jax_model(torch_net)
    from jaxinit.testing import compare_training

    report = compare_training(
        torch_net,
        torch.optim.SGD(torch_net.parameters(), lr=0.1, momentum=0.9),
        net,
        jo.SGD(net.parameters(), lr=0.1, momentum=0.9, dampening=0.5),
        data[:3],
        loss="mse_loss",
    )
    assert not report.ok
    assert report.hparams == ["group 0: dampening torch 0, jaxinit 0.5"]
    assert report.steps[0].ok and not report.steps[1].ok
    assert report.first_departure.param == "0.weight"
    assert "state 'momentum_buffer' departs" in report.first_departure.reason
    assert "first departure: step 1" in str(report)


def test_compare_training_sees_the_state_part_before_the_parameters(data):
    """Adam with beta2 0.99 instead of 0.999: the first step moves every parameter by
    lr * sign(g) on both sides (bias correction cancels beta2), but the second moment already
    differs -- reported at step 0, before the parameters part at step 1."""
    torch_net = torch_model()
    net, _ = jax_model(torch_net)
    from jaxinit.testing import compare_training

    report = compare_training(
        torch_net,
        torch.optim.Adam(torch_net.parameters(), lr=0.01),
        net,
        jo.Adam(net.parameters(), lr=0.01, betas=(0.9, 0.99)),
        data[:2],
    )
    first, second = report.steps
    assert first.param is None and first.state.startswith("0.weight: state 'exp_avg_sq'")
    assert second.param == "0.weight"
    assert "optimizer state departs" in str(report)
