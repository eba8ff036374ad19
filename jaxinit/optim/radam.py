"""``torch.optim.RAdam``: rectified Adam."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp

from ._checks import common
from ._functional import bias_correction, decay, direction, ema_square, lerp, scalar, step_counter
from .optimizer import Optimizer


class RAdam(Optimizer):
    """torch's RAdam (``torch.optim.RAdam``'s single-tensor rule)::

        g = -grad if maximize else grad; weight decay as Adam (L2, or decoupled)
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
        m_hat = m / (1 - beta1**t)
        p = p - m_hat * lr * sqrt(1 - beta2**t) / (sqrt(v) + eps) * r_t   if rho_t > 5
        p = p - m_hat * lr                                                otherwise
        r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))

    Example::

        optimizer = jaxinit.optim.RAdam(net.parameters(), lr=1e-3, decoupled_weight_decay=True)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            decoupled_weight_decay=decoupled_weight_decay,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _check(self, group: dict[str, Any]) -> None:
        common(group, "lr", "eps", "betas", "weight_decay")

    def _init_param(self, param: jax.Array, group: dict[str, Any]) -> dict[str, jax.Array]:
        return {
            "step": step_counter(),
            "exp_avg": jnp.zeros_like(param),
            "exp_avg_sq": jnp.zeros_like(param),
        }

    def _update_param(self, grad, param, state, group, count):
        beta1, beta2 = group["betas"]
        lr = group["lr"]
        step = state["step"] + 1
        g = direction(grad, group["maximize"])
        g, param = decay(g, param, group, group["decoupled_weight_decay"])
        exp_avg = lerp(state["exp_avg"], g, 1 - beta1)
        exp_avg_sq = ema_square(state["exp_avg_sq"], g, beta2)
        bc2 = bias_correction(beta2, step)
        corrected = exp_avg / scalar(bias_correction(beta1, step), g)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bc2
        # both branches computed with safe operands; the select keeps torch's choice
        safe_rho = jnp.where(rho_t > 5.0, rho_t, 6.0)
        rect = jnp.sqrt(
            (safe_rho - 4) * (safe_rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * safe_rho)
        )
        adaptive = scalar(jnp.sqrt(bc2), g) / (jnp.sqrt(exp_avg_sq) + scalar(group["eps"], g))
        rectified = corrected * scalar(lr, g) * adaptive * scalar(rect, g)
        plain = corrected * scalar(lr, g)
        new = {"step": step, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
        return param - jnp.where(rho_t > 5.0, rectified, plain), new
