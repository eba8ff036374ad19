"""torch's SequentialLR and ChainedScheduler: schedulers built on one optimizer, run one after
another (at milestones) or all at every step. Their sub-schedulers keep their own slots in the
optimizer state; the composite's slot holds its ``last_epoch`` and ``_last_lr``."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from ..optimizer import Optimizer, OptimizerState
from ._base import _INTERNAL, LRScheduler, _check_optimizer, _construction_view, _Session
from ._plateau import ReduceLROnPlateau


def _check_schedulers(owner: str, optimizer: Any, schedulers: Sequence[Any]) -> None:
    for idx, scheduler in enumerate(schedulers):
        if not hasattr(scheduler, "optimizer"):
            raise TypeError(f"{owner} at index {idx} should have `optimizer` as its attribute.")
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(
                f"{owner} does not support `ReduceLROnPlateau` scheduler as it requires "
                "additional kwargs to be specified when calling `step`, but got one at index "
                f"{idx} in the given schedulers sequence."
            )
        if scheduler.optimizer is not optimizer:
            raise ValueError(
                f"{owner} expects all schedulers to belong to the same optimizer, but got "
                f"scheduler {type(scheduler).__name__} at index {idx} built on another "
                f"{type(scheduler.optimizer).__name__} than the given "
                f"{type(optimizer).__name__}."
            )


class _Composite(LRScheduler):
    _schedulers: list[LRScheduler]

    def step(self, opt_state: OptimizerState) -> OptimizerState:  # type: ignore[override]
        """Step the composite schedule once (torch's ``step()``; no ``epoch`` argument).

        Example::

            opt_state = scheduler.step(opt_state)
        """
        with _Session(self, opt_state) as session:
            self._step()
        return session.result

    def _torch_state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in _INTERNAL | {"_schedulers"}}
        state["_schedulers"] = [s._torch_state_dict() for s in self._schedulers]
        return state

    def _load_torch_state_dict(self, state_dict: dict[str, Any]) -> None:
        subs = state_dict.pop("_schedulers")
        self.__dict__.update(state_dict)
        for scheduler, sub in zip(self._schedulers, subs):
            scheduler._load_torch_state_dict(dict(sub))


class SequentialLR(_Composite):
    """torch's ``SequentialLR``: ``schedulers[i]`` drives the lr from ``milestones[i-1]`` on
    (restarted there through its closed form at epoch 0). Build the sub-schedulers on the
    same optimizer first; their construction steps are undone and redone as torch's.

    Example::

        warmup = LinearLR(optimizer, start_factor=0.1, total_iters=5)
        decay = CosineAnnealingLR(optimizer, T_max=95)
        scheduler = SequentialLR(optimizer, [warmup, decay], milestones=[5])
    """

    _state_ints = ()
    _state_floats = ("_last_lr",)

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: list[LRScheduler],
        milestones: list[int],
        last_epoch: int = -1,
    ) -> None:
        name = type(self).__name__
        if len(schedulers) < 1:
            raise ValueError(f"{name} expects at least one scheduler, but got no scheduler.")
        _check_optimizer(optimizer)
        _check_schedulers(name, optimizer, schedulers)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                "Sequential Schedulers expects number of schedulers provided to be one more "
                f"than the number of milestone points, but got number of schedulers "
                f"{len(schedulers)} and the number of milestones to be equal to "
                f"{len(milestones)}"
            )
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        self._param_groups = _construction_view(optimizer)
        for member in self._members()[1:]:
            member._restore(member._init_host)
            member._param_groups = self._param_groups
        for group in self._param_groups:
            group["lr"] = group["initial_lr"]
        self.recursive_undo()
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx]._last_lr
        self._register()

    def recursive_undo(self, sched: Any = None) -> None:
        """torch's ``recursive_undo``: step every (nested) sub-scheduler's ``last_epoch``
        back by one, undoing its construction step."""
        scheds = self if sched is None else sched
        if hasattr(scheds, "_schedulers"):
            for s in scheds._schedulers:
                self.recursive_undo(s)
        elif hasattr(scheds, "last_epoch"):
            scheds.last_epoch -= 1

    def _step(self, epoch: Any = None) -> None:
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler._step()
        self._last_lr = scheduler._last_lr


class ChainedScheduler(_Composite):
    """torch's ``ChainedScheduler``: every step steps each scheduler in turn, so their
    (chainable) factors multiply.

    Example::

        scheduler = ChainedScheduler([ConstantLR(optimizer, factor=0.1, total_iters=2),
                                      ExponentialLR(optimizer, gamma=0.9)])
    """

    _state_ints = ()
    _state_floats = ("_last_lr",)
    _state_numbers = ()

    def __init__(
        self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None
    ) -> None:
        name = type(self).__name__
        if len(schedulers) < 1:
            raise ValueError(
                f"{name} expects at least one scheduler to be chained, but got no scheduler."
            )
        optimizer = optimizer if optimizer is not None else schedulers[0].optimizer
        _check_optimizer(optimizer)
        _check_schedulers(name, optimizer, schedulers)
        self._schedulers = schedulers  # type: ignore[assignment]
        self.optimizer = optimizer
        self._param_groups = _construction_view(optimizer)
        self._last_lr = self._lrs()
        self._register()

    def _step(self, epoch: Any = None) -> None:
        for scheduler in self._schedulers:
            scheduler._step()
        self._last_lr = self._lrs()
