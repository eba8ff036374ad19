"""``torch.optim.lr_scheduler.LRScheduler``, stepped functionally on a jaxinit optimizer state.

A scheduler is built as torch's is (``StepLR(optimizer, step_size=3)``) and its construction
step runs then, on the host, against the optimizer's param groups (Python floats): it sets
``initial_lr`` (visible in ``optimizer.param_groups``), the epoch-0 learning rate, and records
its own state. ``optimizer.init(params)`` copies both into the optimizer state. Each later
``opt_state = scheduler.step(opt_state)`` then runs torch's own step on the host:

1. the groups' hyper-parameters are read back from ``opt_state.param_groups`` (float32) as the
   float64 values torch would hold: the exact Python float the last scheduler step wrote (kept
   in every scheduler slot as ``_lr64``, bit for bit) when its float32 rounding is the value in
   the state, else the float32 value itself (someone changed it by hand);
2. torch's recursive ``get_lr`` (or closed form when ``epoch`` is given) runs in float64 on
   those values and on the scheduler's state, decoded from ``opt_state.schedulers[index]``;
3. the new values go back into the state as float32 scalars (same shapes, dtypes and
   placement as the values they replace: a jitted update step never recompiles), and the
   scheduler's state is encoded back (counters as int32, floats -- and ``last_epoch``, a
   float when torch's is -- as their float64 bits in two uint32 words, so they survive
   ``jax.jit`` exactly).

The Python attributes of a scheduler (``last_epoch``, ``_last_lr``, ...) are scratch space for
a step in progress; the truth is the optimizer state.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import jax
import numpy as np

from ..optimizer import Optimizer, OptimizerState, _is_numeric

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being "
    "deprecated where possible. Please use `scheduler.step()` to step the "
    "scheduler. During the deprecation, if epoch is different from None, the "
    "closed form is used instead of the new chainable form, where available. "
    "Please open an issue if you are unable to replicate your use case: "
    "https://github.com/pytorch/pytorch/issues/new/choose."
)

# Attributes of ours that are not torch's (never in a state_dict).
_INTERNAL = frozenset({"optimizer", "_param_groups", "_index", "_init_host", "_optimizer_stepped"})

STEP_ORDER_WARNING = (
    "Detected call of `lr_scheduler.step()` before `optimizer.step()`. In PyTorch 1.1.0 and "
    "later, you should call them in the opposite order: `optimizer.step()` before "
    "`lr_scheduler.step()`.  Failure to do this will result in PyTorch skipping the first "
    "value of the learning rate schedule. See more details at "
    "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate (here: the first "
    "scheduler.step(opt_state) came before any optimizer.update on that state)"
)


# -- float64 <-> uint32 words: exact through jax.jit without x64 ---------------------------
def _f32(value: Any) -> Any:
    """A hyper-parameter as the optimizer state holds it (float32; tuples elementwise), on
    the host: the caller moves a whole tree to the device in one ``jax.device_put``."""
    if isinstance(value, tuple):
        return tuple(np.asarray(v, np.float32) for v in value)
    return np.asarray(value, np.float32)


def _f64_bits(value: Any) -> np.ndarray:
    """A float (shape ``(2,)``) or a list of floats (shape ``(n, 2)``) as float64 bits."""
    arr = np.asarray(value, np.float64)
    words = np.ascontiguousarray(arr.reshape(-1)).view(np.uint32).reshape(arr.shape + (2,))
    return words


def _f64_value(bits: Any) -> float | list[float]:
    words = np.asarray(bits, np.uint32)
    arr = np.ascontiguousarray(words.reshape(-1)).view(np.float64).reshape(words.shape[:-1])
    return float(arr) if arr.ndim == 0 else [float(v) for v in arr]


def _check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{type(optimizer).__name__} is not an Optimizer (build schedulers on a "
            "jaxinit.optim optimizer, e.g. jaxinit.optim.SGD(net.parameters(), lr=0.1))"
        )


def _construction_view(optimizer: Optimizer) -> list[dict[str, Any]]:
    """The optimizer's groups as torch's schedulers see them while being built: numeric
    options as Python numbers. One list per optimizer, shared by its schedulers."""
    view = getattr(optimizer, "_lr_scheduler_groups", None)
    if view is None:
        view = [{k: v for k, v in g.items() if _is_numeric(v)} for g in optimizer._groups]
        optimizer._lr_scheduler_groups = view
    return view


def _format_param(name: str, n_groups: int, param: Any) -> list[Any]:
    """torch's ``_format_param``: one value per param group."""
    if isinstance(param, (list, tuple)):
        if len(param) != n_groups:
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups. "
                f"{name} has {len(param)} values, param_groups has {n_groups}."
            )
        return list(param)
    return [param] * n_groups


def _resolve(stored: Any, reference: Any) -> Any:
    """The float64 value torch would hold for a float32 ``stored`` value: ``reference`` when
    it rounds to ``stored``, else ``stored`` itself."""
    if isinstance(stored, tuple):
        refs = reference if isinstance(reference, tuple) else (None,) * len(stored)
        return tuple(_resolve(s, r) for s, r in zip(stored, refs))
    if reference is not None and np.float32(reference) == np.float32(stored):
        return reference
    return float(stored)


class LRScheduler:
    """Base class of the learning-rate schedulers (torch's ``LRScheduler``), stepped
    functionally: ``opt_state = scheduler.step(opt_state)``.

    Build every scheduler before ``opt_state = optimizer.init(params)``: construction applies
    torch's construction step (``initial_lr``, the epoch-0 lr), which ``init`` copies into the
    state. ``step`` runs outside jit, once per epoch (or per batch for CyclicLR/OneCycleLR),
    and computes torch's values in float64 on the host; the optimizer reads
    ``opt_state.param_groups[i]['lr']`` (float32) on each update.

    Example::

        optimizer = jaxinit.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        scheduler = jaxinit.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)
        opt_state = optimizer.init(params)
        for epoch in range(90):
            params, opt_state = train_epoch(params, opt_state)  # jitted steps
            opt_state = scheduler.step(opt_state)
        scheduler.get_last_lr(opt_state)  # [0.0001...]
    """

    # What lives in the optimizer state: int32 counters; float64 values (bits); and numbers
    # that are ints unless a fractional ``epoch`` was given (float64 bits, integral -> int).
    _state_ints: tuple[str, ...] = ("_step_count",)
    _state_floats: tuple[str, ...] = ("_last_lr",)
    _state_numbers: tuple[str, ...] = ("last_epoch",)
    _get_lr_called_within_step: bool = False
    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        self._param_groups = _construction_view(optimizer)
        if last_epoch == -1:
            for group in self._param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(self._param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when "
                        "resuming scheduler with last_epoch >= 0: give each param group an "
                        "'initial_lr' (or build the scheduler with last_epoch=-1 and load its "
                        "state_dict)"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in self._param_groups]
        self.last_epoch = last_epoch
        self._initial_step()
        self._register()

    # -- construction ---------------------------------------------------------------------
    def _register(self) -> None:
        """Register with the optimizer (its ``init`` calls ``_init``), record the state after
        construction, and show torch's construction-time group entries in
        ``optimizer.param_groups``."""
        self._index = self.optimizer._register_scheduler(self)
        self._snapshot()
        for group, view in zip(self.optimizer._groups, self._param_groups):
            group.update(view)

    def _members(self) -> list[LRScheduler]:
        """This scheduler and the ones it drives (SequentialLR, ChainedScheduler)."""
        out: list[LRScheduler] = [self]
        for sub in getattr(self, "_schedulers", ()):
            out.extend(m for m in sub._members() if all(m is not o for o in out))
        return out

    def _snapshot(self) -> None:
        for member in self._members():
            member._init_host = member._host_state()

    def _host_state(self) -> dict[str, Any]:
        keys = self._state_ints + self._state_floats + self._state_numbers
        return {k: copy.copy(getattr(self, k)) for k in keys}

    def _init(self, param_groups: tuple[dict[str, Any], ...]) -> tuple[tuple, dict[str, Any]]:
        """Called by ``optimizer.init``: torch's construction-time group values (float32) and
        this scheduler's state after construction."""
        view = _construction_view(self.optimizer)
        groups = tuple(
            {**g, **jax.device_put({k: _f32(v) for k, v in host.items()})}
            for g, host in zip(param_groups, view)
        )
        state = self._encode(self._init_host)
        state["_lr64"] = _f64_bits([g["lr"] for g in view])
        return groups, jax.device_put(state)

    def _initial_step(self) -> None:
        """torch's ``_initial_step``: the construction step, in initial mode."""
        self._step_count = 0
        self._is_initial = True
        try:
            self._step()
        finally:
            self._is_initial = False

    # -- state encoding -------------------------------------------------------------------
    def _encode(self, host: dict[str, Any]) -> dict[str, np.ndarray]:
        """The state as stored (on the host; put on the device by the caller)."""
        out = {k: np.asarray(host[k], np.int32) for k in self._state_ints}
        out.update({k: _f64_bits(host[k]) for k in self._state_floats + self._state_numbers})
        return out

    def _restore(self, host: dict[str, Any]) -> None:
        for k, v in host.items():
            setattr(self, k, copy.copy(v))

    def _load_host(self, slot: dict[str, Any]) -> None:
        for k in self._state_ints:
            setattr(self, k, int(slot[k]))
        for k in self._state_floats:
            setattr(self, k, _f64_value(slot[k]))
        for k in self._state_numbers:
            value = _f64_value(slot[k])
            setattr(self, k, int(value) if float(value).is_integer() else value)

    def _slot(self, opt_state: OptimizerState) -> dict[str, Any]:
        schedulers = opt_state.schedulers
        if len(schedulers) != len(self.optimizer._schedulers):
            raise ValueError(
                f"this optimizer state holds {len(schedulers)} scheduler states but "
                f"{len(self.optimizer._schedulers)} schedulers are built on the optimizer: "
                "build every scheduler first, then opt_state = optimizer.init(params)"
            )
        return schedulers[self._index]

    # -- the functional API ---------------------------------------------------------------
    def step(self, opt_state: OptimizerState, epoch: int | float | None = None) -> OptimizerState:
        """Advance the schedule one step and return the optimizer state with the new
        learning rates (torch's ``scheduler.step()``; call it outside jit, after the
        optimizer's update). ``epoch`` (deprecated in torch) sets ``last_epoch`` and uses the
        closed form where there is one.

        Example::

            opt_state = scheduler.step(opt_state)
        """
        with _Session(self, opt_state) as session:
            self._step(epoch)
        return session.result

    def get_last_lr(self, opt_state: OptimizerState) -> list[float]:
        """The learning rates this scheduler computed last, one Python float per param group
        (torch's ``get_last_lr()``; the optimizer uses their float32 rounding).

        Example::

            scheduler.get_last_lr(opt_state)  # [0.1, 0.01]
        """
        return _f64_value(jax.device_get(self._slot(opt_state)["_last_lr"]))

    def state_dict(self, opt_state: OptimizerState) -> dict[str, Any]:
        """torch's ``state_dict()`` layout (every attribute but the optimizer), read from
        ``opt_state``: a torch scheduler of the same kind loads it, and ``load_state_dict``
        loads a torch scheduler's.

        Example::

            torch_scheduler.load_state_dict(scheduler.state_dict(opt_state))
        """
        host = jax.device_get(opt_state.schedulers)
        self._slot(opt_state)
        for member in self._members():
            member._load_host(host[member._index])
        return self._torch_state_dict()

    def load_state_dict(
        self, opt_state: OptimizerState, state_dict: dict[str, Any]
    ) -> OptimizerState:
        """Load a ``state_dict`` (ours or a torch scheduler's) and return the optimizer state
        with this scheduler's state replaced (torch's ``load_state_dict``: settings in it,
        such as ``step_size``, are set on the scheduler as torch does; the learning rates in
        the optimizer state are left alone, load the optimizer's state for those).

        Example::

            opt_state = scheduler.load_state_dict(opt_state, torch_scheduler.state_dict())
        """
        self._slot(opt_state)
        self._load_torch_state_dict(dict(state_dict))
        slots = list(opt_state.schedulers)
        lr64 = _f64_bits(self._last_lr)
        for member in self._members():
            slots[member._index] = member._encode(member._host_state())
        for i, slot in enumerate(slots):
            slots[i] = {**slot, "_lr64": lr64}
        return opt_state._replace(schedulers=tuple(_to_device(slots, list(opt_state.schedulers))))

    # -- torch's host-side logic ----------------------------------------------------------
    def _torch_state_dict(self) -> dict[str, Any]:
        return {k: copy.copy(v) for k, v in self.__dict__.items() if k not in _INTERNAL}

    def _load_torch_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)

    def get_lr(self) -> list[float]:
        """torch's ``get_lr``: the next learning rates from the current ones (host side)."""
        raise NotImplementedError

    def _step(self, epoch: int | float | None = None) -> None:
        if self._step_count == 1 and not getattr(self, "_optimizer_stepped", True):
            warnings.warn(STEP_ORDER_WARNING, UserWarning, stacklevel=3)
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=3)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | float | None = None) -> None:
        self._get_lr_called_within_step = True
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed_form = getattr(self, "_get_closed_form_lr", None)
                values = closed_form() if closed_form is not None else self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        for group, lr in zip(self._param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self._param_groups]

    def _lrs(self) -> list[float]:
        return [group["lr"] for group in self._param_groups]


class _Session:
    """One host-side step: decode the groups and the schedulers' states from an optimizer
    state, let torch's logic run on them, encode the result (``.result``)."""

    def __init__(self, scheduler: LRScheduler, opt_state: OptimizerState) -> None:
        self.scheduler = scheduler
        self.opt_state = opt_state
        slot = scheduler._slot(opt_state)
        groups, slots, count = jax.device_get(
            (opt_state.param_groups, opt_state.schedulers, opt_state.count)
        )
        lr64 = _f64_value(slot["_lr64"])
        reference = _construction_view(scheduler.optimizer)
        self.before = []
        self.view = []
        for i, group in enumerate(groups):
            resolved = {}
            for key, stored in group.items():
                ref = lr64[i] if key == "lr" else reference[i].get(key)
                resolved[key] = _resolve(stored, ref)
            self.before.append(dict(resolved))
            self.view.append(resolved)
        self.members = scheduler._members()
        for member in self.members:
            member._load_host(slots[member._index])
            member._param_groups = self.view
            member._optimizer_stepped = int(count) > 0  # torch's optimizer._opt_called

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            return
        groups = []
        for old, new, group in zip(self.before, self.view, self.opt_state.param_groups):
            changed = {k: _f32(v) for k, v in new.items() if v != old[k]}
            groups.append({**group, **changed} if changed else group)
        slots = list(self.opt_state.schedulers)
        for member in self.members:
            slots[member._index] = member._encode(member._host_state())
        lr64 = _f64_bits([group["lr"] for group in self.view])
        slots = [{**slot, "_lr64": lr64} for slot in slots]
        new_groups, new_slots = _to_device(
            (tuple(groups), tuple(slots)),
            (self.opt_state.param_groups, self.opt_state.schedulers),
        )
        self.result = self.opt_state._replace(param_groups=new_groups, schedulers=new_slots)


def _to_device(new: Any, like: Any) -> Any:
    """``new`` with its host (numpy) leaves moved to the device as the leaves they replace in
    ``like`` (same tree structure) are placed: committed with the same sharding (a state
    replicated over a mesh stays so), or uncommitted on the default device. A jitted step
    keys its compilations on both, so it sees the same inputs and never compiles again."""
    leaves, treedef = jax.tree_util.tree_flatten(new)
    old = jax.tree_util.tree_leaves(like)
    if len(old) != len(leaves):
        old = [None] * len(leaves)
    host = [i for i, leaf in enumerate(leaves) if isinstance(leaf, np.ndarray)]
    placed = [i for i in host if isinstance(old[i], jax.Array) and old[i].committed]
    loose = [i for i in host if i not in set(placed)]
    moved = jax.device_put([leaves[i] for i in placed], [old[i].sharding for i in placed])
    moved += jax.device_put([leaves[i] for i in loose])
    for i, leaf in zip(placed + loose, moved):
        leaves[i] = leaf
    return treedef.unflatten(leaves)
