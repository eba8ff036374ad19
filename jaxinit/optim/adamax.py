"""``torch.optim.Adamax``: Adam with the infinity norm."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp

from ._checks import common
from ._functional import bias_correction, direction, l2_decay, lerp, scalar, step_counter
from .optimizer import Optimizer


class Adamax(Optimizer):
    """torch's Adamax (``torch.optim.Adamax``'s single-tensor rule; eps inside the max)::

        g = -grad if maximize else grad;  g = g + weight_decay * p
        m = lerp(m, g, 1 - beta1);  u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1**t) * m / u

    Example::

        optimizer = jaxinit.optim.Adamax(net.parameters(), lr=2e-3)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    def _check(self, group: dict[str, Any]) -> None:
        common(group, "lr", "eps", "betas", "weight_decay")

    def _init_param(self, param: jax.Array, group: dict[str, Any]) -> dict[str, jax.Array]:
        return {
            "step": step_counter(),
            "exp_avg": jnp.zeros_like(param),
            "exp_inf": jnp.zeros_like(param),
        }

    def _update_param(self, grad, param, state, group, count):
        beta1, beta2 = group["betas"]
        step = state["step"] + 1
        g = l2_decay(direction(grad, group["maximize"]), param, group["weight_decay"])
        exp_avg = lerp(state["exp_avg"], g, 1 - beta1)
        exp_inf = jnp.maximum(
            state["exp_inf"] * scalar(beta2, g), jnp.abs(g) + scalar(group["eps"], g)
        )
        clr = group["lr"] / bias_correction(beta1, step)
        new = {"step": step, "exp_avg": exp_avg, "exp_inf": exp_inf}
        return param - scalar(clr, param) * (exp_avg / exp_inf), new
