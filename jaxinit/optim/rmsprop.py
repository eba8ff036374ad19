"""``torch.optim.RMSprop``: RMSprop, centered or not, with optional momentum."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp

from ._checks import common, non_negative
from ._functional import direction, ema_square, l2_decay, lerp, scalar, step_counter
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """torch's RMSprop (``torch.optim.RMSprop``'s single-tensor rule; eps is added outside
    the square root, unlike optax.rmsprop's default)::

        g = -grad if maximize else grad;  g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        avg = sqrt(v - g_avg**2) + eps, g_avg = lerp(g_avg, g, 1 - alpha)   if centered
        avg = sqrt(v) + eps                                                 otherwise
        buf = momentum * buf + g / avg;  p = p - lr * buf                    if momentum > 0
        p = p - lr * g / avg                                                 otherwise

    Example::

        optimizer = jaxinit.optim.RMSprop(net.parameters(), lr=1e-2, momentum=0.9, centered=True)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            capturable=capturable,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _check(self, group: dict[str, Any]) -> None:
        common(group, "lr", "eps", "momentum", "weight_decay")
        non_negative(group, "alpha", "alpha value")

    def _init_param(self, param: jax.Array, group: dict[str, Any]) -> dict[str, jax.Array]:
        state = {"step": step_counter(), "square_avg": jnp.zeros_like(param)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = jnp.zeros_like(param)
        if group["centered"]:
            state["grad_avg"] = jnp.zeros_like(param)
        return state

    def _update_param(self, grad, param, state, group, count):
        alpha = group["alpha"]
        g = l2_decay(direction(grad, group["maximize"]), param, group["weight_decay"])
        new = dict(state, step=state["step"] + 1)
        new["square_avg"] = square_avg = ema_square(state["square_avg"], g, alpha)
        if "grad_avg" in state:
            new["grad_avg"] = grad_avg = lerp(state["grad_avg"], g, 1 - alpha)
            avg = jnp.sqrt(square_avg + scalar(-1.0, g) * (grad_avg * grad_avg))
        else:
            avg = jnp.sqrt(square_avg)
        avg = avg + scalar(group["eps"], g)
        lr = scalar(group["lr"], g)
        if "momentum_buffer" in state:
            buf = state["momentum_buffer"] * scalar(group["momentum"], g) + g / avg
            new["momentum_buffer"] = buf
            return param - lr * buf, new
        return param - lr * (g / avg), new
