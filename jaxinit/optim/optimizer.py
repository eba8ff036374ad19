"""``torch.optim.Optimizer`` as an optax ``GradientTransformation`` over a model's parameters.

A jaxinit optimizer is built as torch's is -- from ``net.parameters()``, ``net.named_parameters()``
or a list of param-group dicts -- and is then used as any optax transformation::

    optimizer = jaxinit.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    opt_state = optimizer.init(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)

Parameters are found by name: a declaration from ``net.parameters()`` is resolved to its
canonical name in the model it belongs to (the outermost model whose names cover every group),
so tied parameters count once and the optimizer works on the parameter tree that
``net.split(variables)`` returns. Leaves of that tree in no group (buffers, frozen parameters)
get zero updates, as torch leaves them alone.

The optimizer state holds, per group, every numeric hyper-parameter as a float32 scalar
(``lr``, ``momentum``, ``betas``, ...): a scheduler changes them in the state, so a jitted
update step never recompiles when the learning rate changes.

Subclasses (one per torch optimizer, in files named as torch.optim's) give torch's
``defaults``, validate them as torch does (``_check``), and define the per-parameter rule:
``_init_param(param, group) -> dict`` (torch's ``optimizer.state[p]``, filled eagerly from the
group's options as built; torch's lazily-created entries hold their pre-step values) and
``_update_param(grad, param, state, group, count) -> (new_param, state)``: torch's in-place
step, returning the parameter as torch leaves it (the optimizer returns ``new_param - param``
as the optax update, which ``optax.apply_updates`` adds back exactly whenever the step is
smaller than the parameter). ``group`` maps each option to its value (numeric ones as traced
scalars) and ``count`` is the number of updates done before this one.

``optimizer.state_dict(opt_state)`` and ``optimizer.load_state_dict(params, state_dict)``
convert the state to and from torch's layout (see :mod:`jaxinit.optim._state_dict`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from ..nn.parameter import Parameter


class OptimizerState(NamedTuple):
    """The state of a jaxinit optimizer (a pytree).

    ``param_groups``: per group, its numeric hyper-parameters as float32 scalars (tuples, such
    as ``betas``, as tuples of scalars). ``state``: per group, ``{parameter name: state dict}``
    (torch's ``optimizer.state``). ``count``: updates done so far (int32). ``schedulers``: one
    entry per learning-rate scheduler built on the optimizer, in construction order.
    """

    param_groups: tuple[dict[str, Any], ...]
    state: tuple[dict[str, dict[str, jax.Array]], ...]
    count: jax.Array
    schedulers: tuple[Any, ...] = ()


def _is_numeric(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, tuple):
        return bool(value) and all(_is_numeric(v) for v in value)
    return hasattr(value, "shape") and hasattr(value, "dtype")  # a tensor-valued lr


def _scalar_tree(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(jnp.asarray(v, jnp.float32) for v in value)
    return jnp.asarray(value, jnp.float32)


def _owner_names(decls: list[Parameter]) -> dict[int, str]:
    """Canonical names of ``decls`` in the outermost model (among those whose plans are built,
    i.e. every model whose parameters were listed) that holds them all."""
    from ..nn._plan import _cache, plan_of

    wanted = {id(d) for d in decls}
    best: dict[int, str] | None = None
    for module in list(_cache.keys()):
        plan = plan_of(module)
        names = {id(d): n for n, d in plan.entries.items() if isinstance(d, Parameter)}
        if wanted <= names.keys() and (best is None or len(names) > len(best)):
            best = names
    if best is None:
        raise ValueError(
            "cannot tell which model these parameters belong to; build the optimizer from "
            "net.parameters() or net.named_parameters() of the model you train (or list "
            "parameter names in each group's 'params')"
        )
    return best


def _normalize_groups(params: Any) -> list[dict[str, Any]]:
    """torch's ``params`` argument -> a list of group dicts of ``params`` as (name, decl)."""
    if isinstance(params, (Parameter, str, Mapping)) or hasattr(params, "shape"):
        raise TypeError(
            "params argument given to the optimizer should be an iterable of parameters "
            f"or of dicts, but got {type(params).__name__}"
        )
    groups = list(params)
    if not groups:
        raise ValueError("optimizer got an empty parameter list")
    if not isinstance(groups[0], Mapping):
        groups = [{"params": groups}]
    out = []
    pending: list[Parameter] = []
    for group in groups:
        if not isinstance(group, Mapping) or "params" not in group:
            raise TypeError("each param group must be a dict with a 'params' entry")
        g = dict(group)
        raw = g["params"]
        items = [raw] if isinstance(raw, (Parameter, str, tuple)) else list(raw)
        entries: list[tuple[str | None, Any]] = []
        for item in items:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                entries.append(item)
            elif isinstance(item, str):
                entries.append((item, None))
            elif isinstance(item, Parameter):
                entries.append((None, item))
                pending.append(item)
            else:
                raise TypeError(
                    "optimizer can only optimize Parameter declarations (net.parameters(), "
                    f"net.named_parameters()) or their names, but one of the params is "
                    f"{type(item).__name__}; arrays carry no name: pass declarations instead"
                )
        g["params"] = entries
        out.append(g)
    if pending:
        names = _owner_names(pending)
        for g in out:
            g["params"] = [(n if n is not None else names[id(d)], d) for n, d in g["params"]]
    return out


class Optimizer(optax.GradientTransformationExtraArgs):
    """Base class of :mod:`jaxinit.optim`'s optimizers (torch's ``torch.optim.Optimizer``).

    An optax ``GradientTransformation`` whose ``init(params)`` / ``update(grads, state,
    params)`` follow torch's update rules per param group. ``param_groups`` lists the groups
    as built: ``'params'`` (declarations or names), ``'param_names'`` and every option.

    Example::

        optimizer = jaxinit.optim.SGD(
            [{"params": net.features.parameters()},
             {"params": net.classifier.parameters(), "lr": 1e-3}],
            lr=1e-2, momentum=0.9)
    """

    defaults: dict[str, Any]
    # torch creates per-parameter state at the first step (all but Adagrad): a state_dict
    # saved before any update has none, and loading one without state starts from scratch.
    _lazy_state: bool = True

    def __new__(cls, *args: Any, **kwargs: Any) -> Optimizer:
        self = super().__new__(cls, None, None)  # init/update are the methods below
        return self

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self._schedulers: list[Any] = []
        self._groups: list[dict[str, Any]] = []
        seen: dict[str, int] = {}
        for index, group in enumerate(_normalize_groups(params)):
            for name, _ in group["params"]:
                if name in seen:
                    raise ValueError(
                        f"some parameters appear in more than one parameter group: {name!r} "
                        f"is in groups {seen[name]} and {index}"
                    )
                seen[name] = index
            for key, value in self.defaults.items():
                group.setdefault(key, value)
            for key, value in group.items():  # betas=[0.9, 0.95] is a tuple option too
                if key != "params" and isinstance(value, list) and _is_numeric(tuple(value)):
                    group[key] = tuple(value)
            self._check(group)
            self._groups.append(group)

    # -- the optax interface ------------------------------------------------------------
    @property
    def init(self) -> Callable[[Any], OptimizerState]:
        """optax's ``init``: ``opt_state = optimizer.init(params)``, the state for a parameter
        tree (``params, buffers = net.split(variables)``), each parameter's torch state
        filled and every scheduler's construction step applied. Jit-able."""
        return self._init

    @property
    def update(self) -> Callable[..., tuple[Any, OptimizerState]]:
        """optax's ``update``: ``updates, opt_state = optimizer.update(grads, opt_state,
        params)``; ``optax.apply_updates(params, updates)`` then holds torch's new parameters
        (``new - old`` added back). Leaves in no group get zero updates."""
        return self._update

    def __getitem__(self, index: int) -> Any:  # NamedTuple unpacking: init, update = opt
        return (self._init, self._update)[index]

    def __iter__(self):
        return iter((self._init, self._update))

    def __len__(self) -> int:
        return 2

    # An optimizer is an object with groups, not the (init, update) pair its optax base
    # tuple would compare: two optimizers are equal only when they are the same one.
    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in g if k not in ("params", "param_names")):
                lines.append(f"    {key}: {g[key]}")
        return "\n".join(lines) + "\n)"

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """torch's ``optimizer.param_groups``: each group's ``params``, ``param_names`` and
        options as built, with what schedulers set when they were built (``initial_lr``,
        OneCycleLR's ``max_lr``, the epoch-0 lr), as torch shows them. The values a
        scheduler changes while stepping live in the optimizer state
        (``scheduler.get_last_lr(opt_state)``, ``opt_state.param_groups``)."""
        return [
            {
                "params": [d if d is not None else n for n, d in g["params"]],
                "param_names": [n for n, _ in g["params"]],
                **{k: v for k, v in g.items() if k != "params"},
            }
            for g in self._groups
        ]

    def _register_scheduler(self, scheduler: Any) -> int:
        """Schedulers built on this optimizer register here; ``init`` applies each one's
        construction step (``scheduler._init(param_groups) -> (param_groups, state)``), in
        construction order, as torch does when the scheduler is built."""
        self._schedulers.append(scheduler)
        return len(self._schedulers) - 1

    def _init(self, params: Any) -> OptimizerState:
        flat = _flat(params)
        hyper, state = [], []
        for index, group in enumerate(self._groups):
            hyper.append({k: _scalar_tree(v) for k, v in group.items() if _is_numeric(v)})
            per_param = {}
            for name, _ in group["params"]:
                if name not in flat:
                    raise KeyError(
                        f"parameter {name!r} of param group {index} is not in the tree given "
                        "to init: pass the parameters of the model the optimizer was built for "
                        "(params, buffers = net.split(variables))"
                    )
                per_param[name] = self._init_param(flat[name], group)
            state.append(per_param)
        groups = tuple(hyper)
        sched_states = []
        for scheduler in self._schedulers:
            groups, s = scheduler._init(groups)
            sched_states.append(s)
        return OptimizerState(groups, tuple(state), jnp.zeros((), jnp.int32), tuple(sched_states))

    def _update(
        self, grads: Any, state: OptimizerState, params: Any = None, **extra_args: Any
    ) -> tuple[Any, OptimizerState]:
        del extra_args
        if params is None:
            raise ValueError(
                f"{type(self).__name__}.update needs the current parameters: "
                "optimizer.update(grads, opt_state, params)"
            )
        leaves, treedef = jax.tree_util.tree_flatten_with_path(grads)
        names = [_path_name(path) for path, _ in leaves]
        flat_params = _flat(params)
        updates = {name: jnp.zeros_like(g) for name, (_, g) in zip(names, leaves)}
        grad_of = {name: g for name, (_, g) in zip(names, leaves)}
        new_state = []
        for group, hyper, group_state in zip(self._groups, state.param_groups, state.state):
            options = self._static(group, hyper)
            new_group_state = {}
            for name, _ in group["params"]:
                param = flat_params[name]
                new_param, new_group_state[name] = self._update_param(
                    grad_of[name], param, group_state[name], options, state.count
                )
                updates[name] = (new_param - param).astype(grad_of[name].dtype)
            new_state.append(new_group_state)
        out = jax.tree_util.tree_unflatten(treedef, [updates[n] for n in names])
        return out, state._replace(state=tuple(new_state), count=state.count + 1)

    # -- torch's state_dict ---------------------------------------------------------------
    def state_dict(self, opt_state: OptimizerState, *, as_torch: bool = False) -> dict[str, Any]:
        """torch's ``optimizer.state_dict()`` of ``opt_state``: ``'state'`` keyed by parameter
        index in param-group order, ``'param_groups'`` with every option (current values from
        the state, ``'initial_lr'`` when a scheduler set it), ``'params'`` index lists and
        ``'param_names'``. Arrays are numpy arrays, or torch tensors with ``as_torch=True``
        (what ``torch_optimizer.load_state_dict`` needs; imports torch).

        Example::

            torch_opt.load_state_dict(optimizer.state_dict(opt_state, as_torch=True))
        """
        from ._state_dict import to_state_dict

        return to_state_dict(self, opt_state, as_torch=as_torch)

    def load_state_dict(self, params: Any, state_dict: dict[str, Any]) -> OptimizerState:
        """An optimizer state from torch's ``optimizer.state_dict()`` (tensors or numpy
        arrays): the saved options replace the groups' numeric ones (as torch's
        ``load_state_dict`` does), per-parameter state is matched by position in param-group
        order and checked against ``params`` (name and shape, reported with the group).

        Example::

            ckpt = torch.load("ckpt.pt")
            opt_state = optimizer.load_state_dict(params, ckpt["optimizer"])
        """
        from ._state_dict import from_state_dict

        return from_state_dict(self, params, state_dict)

    @staticmethod
    def _static(group: dict[str, Any], hyper: dict[str, Any]) -> dict[str, Any]:
        """A group's options: numeric ones from the state (traced), the rest as built."""
        return {**{k: v for k, v in group.items() if k != "params"}, **hyper}

    # -- per optimizer ------------------------------------------------------------------
    def _check(self, group: dict[str, Any]) -> None:
        """Validate a group's options with torch's messages (ValueError)."""

    def _init_param(self, param: jax.Array, group: dict[str, Any]) -> dict[str, jax.Array]:
        raise NotImplementedError

    def _update_param(
        self,
        grad: jax.Array,
        param: jax.Array,
        state: dict[str, jax.Array],
        group: dict[str, Any],
        count: jax.Array,
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """torch's single-tensor step: ``(parameter after the step, new state)``."""
        raise NotImplementedError


def _path_name(path: tuple[Any, ...]) -> str:
    parts = []
    for key in path:
        for attr in ("key", "name", "idx"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
    return ".".join(parts)


def _flat(tree: Any) -> dict[str, Any]:
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {_path_name(path): leaf for path, leaf in leaves}
