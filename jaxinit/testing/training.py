"""``compare_training``: a jaxinit training loop against its torch original, step by step."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..optim._state_dict import KERNEL_FLAGS
from .training_report import StepRow, TrainingReport

# not compared: the parameter lists, and the options that pick torch's kernels, not the update
_KERNEL = {"params", "param_names"} | KERNEL_FLAGS


def _losses(loss: Any) -> tuple[Callable, Callable]:
    if isinstance(loss, str):
        import torch

        from ..nn import functional as F

        return getattr(torch.nn.functional, loss), getattr(F, loss)
    if isinstance(loss, tuple):
        return loss
    return loss, loss


def _py(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(float(v) for v in value)
    return float(value)


def _close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> tuple[bool, float]:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return False, float("inf")
    d = np.abs(a - b)
    return bool(np.all(d <= atol + rtol * np.abs(b))), float(d.max()) if d.size else 0.0


def _hparam_diffs(torch_groups: list[dict], groups: list[dict]) -> list[str]:
    out = []
    if len(torch_groups) != len(groups):
        return [f"{len(torch_groups)} param groups in torch, {len(groups)} in jaxinit"]
    for i, (tg, jg) in enumerate(zip(torch_groups, groups)):
        if len(tg["params"]) != len(jg["params"]):
            out.append(
                f"group {i}: {len(tg['params'])} parameters in torch, {len(jg['params'])} here"
            )
        for key in sorted(set(tg) | set(jg)):
            if key in _KERNEL:
                continue
            t, j = tg.get(key), jg.get(key)
            tv = tuple(float(v) for v in t) if isinstance(t, (tuple, list)) else t
            jv = tuple(float(v) for v in j) if isinstance(j, (tuple, list)) else j
            if (
                isinstance(tv, (int, float))
                and isinstance(jv, (int, float))
                and not (isinstance(tv, bool) or isinstance(jv, bool))
            ):
                same = np.float32(tv) == np.float32(jv)
            else:
                same = tv == jv
            if not same:
                out.append(f"group {i}: {key} torch {tv!r}, jaxinit {jv!r}")
    return out


def compare_training(
    torch_module: Any,
    torch_optimizer: Any,
    net: Any,
    optimizer: Any,
    batches: Iterable[tuple[Any, Any]],
    loss: str | Callable | tuple[Callable, Callable] = "mse_loss",
    variables: Any = None,
    *,
    opt_state: Any = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> TrainingReport:
    """Train ``torch_module`` with ``torch_optimizer`` and ``net`` with the jaxinit
    ``optimizer`` on the same ``batches`` (``(x, y)`` pairs of numpy arrays), one step per
    batch, and report per step the first parameter (torch's ``named_parameters`` order) whose
    value departs -- elementwise ``|a - b| <= atol + rtol * |b|`` fails -- with the reason
    where it can tell: an optimizer state entry that departs with it, a group's learning rate.
    A step whose parameters agree but whose optimizer state (momentum buffer, moments)
    already departs fails too, naming the entry (it moves the parameters a step later).
    Before training, each group's options are compared (keys torch has, kernel flags aside).

    ``loss``: a ``torch.nn.functional`` / ``jaxinit.nn.functional`` name (``'mse_loss'``,
    ``'cross_entropy'``), one callable that works on both sides, or a pair ``(torch_fn,
    jaxinit_fn)``; called as ``loss(output, target)``. ``variables``: the port's starting
    variables (default: ``torch_module``'s ``state_dict`` loaded into ``net.init``).
    ``opt_state``: the starting optimizer state (default: ``torch_optimizer``'s state, loaded
    with ``optimizer.load_state_dict``, or ``optimizer.init`` when torch has none). Both
    models train in torch_module's mode (``train=torch_module.training``). torch's side is
    modified in place.

    Example::

        report = compare_training(tm, torch.optim.AdamW(tm.parameters()), net,
                                  jaxinit.optim.AdamW(net.parameters()), batches,
                                  loss="cross_entropy")
        assert report.ok, report
    """
    import torch

    torch_loss, jax_loss = _losses(loss)
    if variables is None:
        variables, _ = net.load_state_dict(net.init(jax.random.key(0)), torch_module.state_dict())
    params, buffers = net.split(variables)
    if opt_state is None:
        opt_state = (
            optimizer.load_state_dict(params, torch_optimizer.state_dict())
            if torch_optimizer.state
            else optimizer.init(params)
        )
    # options as built, plus those only the state holds (a scheduler's 'initial_lr')
    groups = [
        {**{k: _py(v) for k, v in hyper.items()}, **built}
        for built, hyper in zip(optimizer.param_groups, opt_state.param_groups)
    ]
    hparams = _hparam_diffs(torch_optimizer.param_groups, groups)
    train = torch_module.training

    step = _jitted_step(net, optimizer, jax_loss, train)

    from ..optim.optimizer import _flat

    group_of = {n: i for i, g in enumerate(optimizer.param_groups) for n in g["param_names"]}
    named = list(torch_module.named_parameters())
    rows = []
    for index, (x, y) in enumerate(batches):
        torch_optimizer.zero_grad()
        t_value = torch_loss(torch_module(torch.as_tensor(x)), torch.as_tensor(y))
        t_value.backward()
        torch_optimizer.step()
        params, buffers, opt_state, j_value = step(
            params, buffers, opt_state, jnp.asarray(x), jnp.asarray(y)
        )
        flat = _flat(params)
        row = StepRow(index, t_value.item(), float(j_value))
        for name, p in named:
            if name not in flat:
                row = StepRow(
                    index,
                    row.torch_loss,
                    row.jaxinit_loss,
                    name,
                    float("inf"),
                    "no parameter of this name in the port",
                )
                break
            ok, max_abs = _close(np.asarray(flat[name]), p.detach().numpy(), rtol, atol)
            if not ok:
                reason = _reason(
                    torch_optimizer, p, opt_state, group_of.get(name), name, rtol, atol
                )
                row = StepRow(index, row.torch_loss, row.jaxinit_loss, name, max_abs, reason)
                break
        if row.ok:  # parameters agree: does the optimizer state already part ways?
            drift = _state_drift(torch_optimizer, named, opt_state, group_of, rtol, atol)
            if drift is not None:
                row = StepRow(index, row.torch_loss, row.jaxinit_loss, state=drift)
        rows.append(row)
    return TrainingReport(
        type(optimizer).__name__, hparams, rows, rtol, atol, net.merge(params, buffers), opt_state
    )


# the jitted steps of recent calls, so comparing a run in several pieces compiles once
_STEPS: dict[tuple[int, int, int, bool], tuple[tuple[Any, ...], Callable]] = {}
_MAX_STEPS = 8


def _jitted_step(net: Any, optimizer: Any, jax_loss: Callable, train: bool) -> Callable:
    import optax

    key = (id(net), id(optimizer), id(jax_loss), train)
    if key in _STEPS:
        return _STEPS[key][1]

    def loss_fn(params, buffers, x, y):
        if train:
            out, new = net(net.merge(params, buffers), x, train=True)
            return jax_loss(out, y), net.split(new)[1]
        return jax_loss(net(net.merge(params, buffers), x), y), buffers

    @jax.jit
    def step(params, buffers, opt_state, x, y):
        (value, buffers), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, buffers, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), buffers, opt_state, value

    if len(_STEPS) >= _MAX_STEPS:
        _STEPS.pop(next(iter(_STEPS)))
    _STEPS[key] = ((net, optimizer, jax_loss), step)  # the objects keep their ids unique
    return step


def _state_entries(torch_optimizer, p, opt_state, group, name, rtol, atol) -> list[str]:
    """The optimizer state entries of one parameter that depart (or exist on one side)."""
    out = []
    j_state = opt_state.state[group].get(name, {})
    for key, t in torch_optimizer.state.get(p, {}).items():
        if t is None or not hasattr(t, "detach"):
            continue
        if key not in j_state:
            out.append(f"state {key!r} exists only in torch")
            continue
        ok, max_abs = _close(np.asarray(j_state[key]), t.detach().numpy(), rtol, atol)
        if not ok:
            out.append(f"state {key!r} departs by {max_abs:.3g}")
    return out


def _state_drift(torch_optimizer, named, opt_state, group_of, rtol, atol) -> str | None:
    """The first parameter (torch's order) whose optimizer state departs, described."""
    for name, p in named:
        if group_of.get(name) is None:
            continue
        found = _state_entries(torch_optimizer, p, opt_state, group_of[name], name, rtol, atol)
        if found:
            return f"{name}: {found[0]}"
    return None


def _reason(torch_optimizer, p, opt_state, group, name, rtol, atol) -> str | None:
    """What departed with parameter ``name``: its group's lr, an optimizer state entry."""
    if group is None:
        return "the parameter is in no jaxinit param group"
    reasons = []
    t_group = next(
        (g for g in torch_optimizer.param_groups if any(q is p for q in g["params"])), None
    )
    hyper = opt_state.param_groups[group]
    if t_group is not None:
        for key in ("lr", "weight_decay"):
            if key in hyper and key in t_group:
                t, j = float(t_group[key]), float(hyper[key])
                if np.float32(t) != np.float32(j):
                    reasons.append(f"group {group} {key}: torch {t:g}, jaxinit {j:g}")
    reasons += _state_entries(torch_optimizer, p, opt_state, group, name, rtol, atol)
    return "; ".join(reasons) or None
