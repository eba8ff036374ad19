"""``torch.optim.Adagrad``: Adagrad with learning-rate decay and an initial accumulator."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp

from ._checks import common, non_negative
from ._functional import direction, l2_decay, scalar, step_counter
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """torch's Adagrad (``torch.optim.Adagrad``'s single-tensor rule; eps outside the square
    root, and the ``sum`` state created with the optimizer, filled with
    ``initial_accumulator_value``)::

        g = -grad if maximize else grad;  g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        sum = sum + g * g;  p = p - clr * g / (sqrt(sum) + eps)

    Example::

        optimizer = jaxinit.optim.Adagrad(net.parameters(), lr=1e-2, lr_decay=1e-3)
    """

    _lazy_state = False  # torch fills the state in the constructor

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

    def _check(self, group: dict[str, Any]) -> None:
        non_negative(group, "lr", "learning rate")
        non_negative(group, "lr_decay", "lr_decay value")
        non_negative(group, "weight_decay", "weight_decay value")
        non_negative(group, "initial_accumulator_value", "initial_accumulator_value value")
        common(group, "eps")

    def _init_param(self, param: jax.Array, group: dict[str, Any]) -> dict[str, jax.Array]:
        init = group["initial_accumulator_value"]
        return {"step": step_counter(), "sum": jnp.full_like(param, init)}

    def _update_param(self, grad, param, state, group, count):
        step = state["step"] + 1
        g = l2_decay(direction(grad, group["maximize"]), param, group["weight_decay"])
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        total = state["sum"] + g * g
        std = jnp.sqrt(total) + scalar(group["eps"], g)
        return param - scalar(clr, g) * (g / std), {"step": step, "sum": total}
