"""``torch.optim.Adadelta``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp

from ._checks import common
from ._functional import direction, ema_square, l2_decay, scalar, step_counter
from .optimizer import Optimizer


class Adadelta(Optimizer):
    """torch's Adadelta (``torch.optim.Adadelta``'s single-tensor rule, with torch's ``lr``
    scaling the delta)::

        g = -grad if maximize else grad;  g = g + weight_decay * p
        v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta;  p = p - lr * delta

    Example::

        optimizer = jaxinit.optim.Adadelta(net.parameters(), lr=1.0, rho=0.9)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            rho=rho,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            capturable=capturable,
            foreach=foreach,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _check(self, group: dict[str, Any]) -> None:
        common(group, "lr")
        if not 0.0 <= float(group["rho"]) <= 1.0:
            raise ValueError(f"Invalid rho value: {group['rho']}")
        common(group, "eps", "weight_decay")

    def _init_param(self, param: jax.Array, group: dict[str, Any]) -> dict[str, jax.Array]:
        return {
            "step": step_counter(),
            "square_avg": jnp.zeros_like(param),
            "acc_delta": jnp.zeros_like(param),
        }

    def _update_param(self, grad, param, state, group, count):
        rho, eps = group["rho"], scalar(group["eps"], param)
        g = l2_decay(direction(grad, group["maximize"]), param, group["weight_decay"])
        square_avg = ema_square(state["square_avg"], g, rho)
        std = jnp.sqrt(square_avg + eps)
        delta = jnp.sqrt(state["acc_delta"] + eps) / std * g
        acc_delta = ema_square(state["acc_delta"], delta, rho)
        new = {"step": state["step"] + 1, "square_avg": square_avg, "acc_delta": acc_delta}
        return param - scalar(group["lr"], param) * delta, new
