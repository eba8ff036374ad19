"""An optimizer state to and from torch's ``optimizer.state_dict()`` layout.

torch keys per-parameter state by the parameter's position in param-group order (``0 ..
n - 1`` across the groups) and stores each group's options beside its ``'params'`` index list.
jaxinit keys the same state by parameter name; the two are matched by position, and checked by
name (when the saved groups carry ``'param_names'``) and by shape.

torch creates most optimizers' state at the first step: a state_dict saved before any step
has no entry for a parameter, which maps to (and from) an update ``count`` of 0 and the
optimizer's initial state. SGD keeps no step counter: its momentum buffer's presence tells a
started run from a fresh one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax.numpy as jnp
import numpy as np

from .._host import device_arrays

if TYPE_CHECKING:
    from .optimizer import Optimizer, OptimizerState

# options that pick torch's kernels, not the math: never compared on load
KERNEL_FLAGS = frozenset({"foreach", "fused", "capturable", "differentiable"})


def _python(value: Any, built: Any = None) -> Any:
    """A state scalar as a Python float: the option as built (torch's exact value, e.g.
    0.001) while the float32 state still holds it, else the float32 value."""
    if isinstance(value, tuple):
        built = built if isinstance(built, tuple) else (None,) * len(value)
        return tuple(_python(v, b) for v, b in zip(value, built))
    if isinstance(built, (int, float)) and not isinstance(built, bool):
        if np.float32(built) == np.asarray(value):
            return built
    return float(np.asarray(value))


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        from ..interop.torch import tensor_to_numpy

        return tensor_to_numpy(value.detach().cpu())
    return np.asarray(value)


def to_state_dict(opt: Optimizer, opt_state: OptimizerState, *, as_torch: bool) -> dict[str, Any]:
    """See :meth:`Optimizer.state_dict`."""
    convert = _torch_converter() if as_torch else (lambda a: np.array(a))
    started = int(opt_state.count) > 0
    state: dict[int, dict[str, Any]] = {}
    groups = []
    index = 0
    for group, hyper, group_state in zip(opt._groups, opt_state.param_groups, opt_state.state):
        packed = {k: v for k, v in group.items() if k != "params"}
        # a scheduler's 'initial_lr' is the lr as built, in torch
        built = {**group, "initial_lr": group.get("lr")}
        packed.update({k: _python(v, built.get(k)) for k, v in hyper.items()})
        names = [n for n, _ in group["params"]]
        packed["params"] = list(range(index, index + len(names)))
        packed["param_names"] = names
        for offset, name in enumerate(names):
            entry = group_state[name]
            if (opt._lazy_state and not started) or not entry:
                continue
            state[index + offset] = {k: convert(v) for k, v in entry.items()}
        index += len(names)
        groups.append(packed)
    return {"state": state, "param_groups": groups}


def _torch_converter():
    from ..interop.torch import _torch

    torch = _torch()

    def convert(value: Any) -> Any:
        return torch.from_numpy(np.array(value))

    return convert


def from_state_dict(opt: Optimizer, params: Any, state_dict: dict[str, Any]) -> OptimizerState:
    """See :meth:`Optimizer.load_state_dict`."""
    from .optimizer import _flat

    if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
        raise ValueError(
            "expected torch's optimizer.state_dict(): a dict with 'state' and 'param_groups' "
            f"(got {type(state_dict).__name__}); for a training checkpoint pass "
            "checkpoint['optimizer']"
        )
    saved_groups = state_dict["param_groups"]
    if len(saved_groups) != len(opt._groups):
        raise ValueError("loaded state dict has a different number of parameter groups")
    if any(len(s["params"]) != len(g["params"]) for s, g in zip(saved_groups, opt._groups)):
        raise ValueError(
            "loaded state dict contains a parameter group that doesn't match the size of "
            "optimizer's group"
        )
    fresh = opt.init(params)
    flat = _flat(params)
    saved_state = state_dict["state"]
    hypers, states, steps, started = [], [], [], False
    for gi, (saved, group, hyper, group_state) in enumerate(
        zip(saved_groups, opt._groups, fresh.param_groups, fresh.state)
    ):
        _check_options(opt, gi, saved, group)
        new_hyper = dict(hyper)
        for key, value in saved.items():
            if key in ("params", "param_names") or key in KERNEL_FLAGS:
                continue
            if key in hyper or (key not in group and _numeric(value)):
                new_hyper[key] = _as_scalars(value)
        hypers.append(new_hyper)
        saved_names = saved.get("param_names")
        new_group_state = {}
        for pos, ((name, _), pid) in enumerate(zip(group["params"], saved["params"])):
            if saved_names is not None and saved_names[pos] != name:
                raise ValueError(
                    f"loaded state dict is for another model: parameter {pos} of param group "
                    f"{gi} is {saved_names[pos]!r} there but {name!r} here"
                )
            entry = saved_state.get(pid, saved_state.get(str(pid)))
            initial = group_state[name]
            if not entry or all(v is None for v in entry.values()):
                new_group_state[name] = initial
                continue
            started = True
            loaded = {}
            for key, init_value in initial.items():
                if entry.get(key) is None:
                    raise ValueError(
                        f"loaded state dict has no {key!r} for parameter {name!r} (param group "
                        f"{gi}); it holds {sorted(entry)}: was it saved by another optimizer "
                        f"or with other options than {type(opt).__name__}'s?"
                    )
                value = _to_numpy(entry[key])
                if value.shape != init_value.shape:
                    raise ValueError(
                        f"loaded state dict is for another model: {key!r} of parameter "
                        f"{name!r} (param group {gi}) has shape {tuple(value.shape)}, but the "
                        f"parameter has shape {tuple(np.shape(flat[name]))}"
                    )
                loaded[key] = device_arrays([np.asarray(value, init_value.dtype)])[0]
                if key == "step":
                    steps.append(int(value))
            new_group_state[name] = loaded
        states.append(new_group_state)
    count = max(steps) if steps else int(started)
    return fresh._replace(
        param_groups=tuple(hypers),
        state=tuple(states),
        count=jnp.asarray(count, jnp.int32),
    )


def _numeric(value: Any) -> bool:
    from .optimizer import _is_numeric

    return _is_numeric(value)


def _as_scalars(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return tuple(jnp.asarray(_to_numpy(v), jnp.float32) for v in value)
    return jnp.asarray(_to_numpy(value), jnp.float32)


def _check_options(opt: Optimizer, index: int, saved: dict[str, Any], group: dict[str, Any]):
    """Options that fix the update's form (amsgrad, nesterov, maximize, ...) are part of the
    compiled step here: a checkpoint that sets them otherwise needs an optimizer built so."""
    for key, value in group.items():
        if key in ("params",) or key in KERNEL_FLAGS or key not in saved:
            continue
        if isinstance(value, bool) and bool(saved[key]) != value:
            raise ValueError(
                f"loaded state dict has {key}={saved[key]!r} in param group {index}, but the "
                f"optimizer was built with {key}={value!r}: build "
                f"{type(opt).__name__}(..., {key}={saved[key]!r}) to resume it"
            )


__all__ = ["from_state_dict", "to_state_dict"]
