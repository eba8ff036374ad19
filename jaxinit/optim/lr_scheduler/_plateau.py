"""torch's ReduceLROnPlateau: lower the learning rate when a metric stops improving, stepped
functionally with the metric: ``opt_state = scheduler.step(opt_state, val_loss)``."""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal, SupportsFloat

from ..optimizer import Optimizer, OptimizerState
from ._base import (
    EPOCH_DEPRECATION_WARNING,
    LRScheduler,
    _check_optimizer,
    _construction_view,
    _Session,
)


class ReduceLROnPlateau(LRScheduler):
    """torch's ``ReduceLROnPlateau``: after more than ``patience`` epochs without an
    improvement of the metric (``mode`` 'min' or 'max', by ``threshold`` relative or
    absolute), ``lr = max(lr * factor, min_lr)`` (skipped when the change is under ``eps``),
    then ``cooldown`` epochs of rest. ``best``, the counters and ``last_epoch`` live in the
    optimizer state.

    Example::

        scheduler = ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=2)
        opt_state = optimizer.init(params)
        for epoch in range(epochs):
            params, opt_state = train_epoch(params, opt_state)
            opt_state = scheduler.step(opt_state, validate(params))
    """

    _state_ints = ("cooldown_counter", "num_bad_epochs")
    _state_floats = ("_last_lr", "best")

    def __init__(
        self,
        optimizer: Optimizer,
        mode: Literal["min", "max"] = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: Literal["rel", "abs"] = "rel",
        cooldown: int = 0,
        min_lr: list[float] | float = 0,
        eps: float = 1e-8,
    ) -> None:
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        self.factor = factor
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        n = len(optimizer._groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(f"expected {n} min_lrs, got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * n
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._param_groups = _construction_view(optimizer)
        self._last_lr = self._lrs()
        self._init_is_better(mode=mode, threshold=threshold, threshold_mode=threshold_mode)
        self._reset()
        self._register()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(  # type: ignore[override]
        self, opt_state: OptimizerState, metrics: SupportsFloat, epoch: int | None = None
    ) -> OptimizerState:
        """Record this epoch's metric and lower the learning rates if it has plateaued
        (torch's ``step(metrics)``; outside jit).

        Example::

            opt_state = scheduler.step(opt_state, val_loss)
        """
        with _Session(self, opt_state) as session:
            self._step_metrics(metrics, epoch)
        return session.result

    def _step_metrics(self, metrics: SupportsFloat, epoch: int | None) -> None:
        current = float(metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=3)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._lrs()

    def _reduce_lr(self) -> None:
        for i, group in enumerate(self._param_groups):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, self.min_lrs[i])
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    @property
    def in_cooldown(self) -> bool:
        """Whether the scheduler is resting after a reduction (as of the last step run)."""
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min" and self.threshold_mode == "abs":
            return a < best - self.threshold
        if self.mode == "max" and self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in {"min", "max"}:
            raise ValueError("mode " + mode + " is unknown!")
        if threshold_mode not in {"rel", "abs"}:
            raise ValueError("threshold mode " + threshold_mode + " is unknown!")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def _load_torch_state_dict(self, state_dict: dict[str, Any]) -> None:
        super()._load_torch_state_dict(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)
