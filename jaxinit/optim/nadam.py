"""``torch.optim.NAdam``: Adam with Nesterov momentum and momentum decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp

from ._checks import common, non_negative
from ._functional import bias_correction, decay, direction, ema_square, lerp, scalar, step_counter
from .optimizer import Optimizer


class NAdam(Optimizer):
    """torch's NAdam (``torch.optim.NAdam``'s single-tensor rule, Dozat's momentum schedule)::

        g = -grad if maximize else grad; weight decay as Adam (L2, or decoupled)
        mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay));  mu_prod = mu_prod * mu_t
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v / (1 - beta2**t)) + eps
        p = p - lr * (1 - mu_t) / (1 - mu_prod) * g / denom
              - lr * mu_{t+1} / (1 - mu_prod * mu_{t+1}) * m / denom

    State: ``step``, ``mu_product`` (float32 scalar, 1 at the start), ``exp_avg``,
    ``exp_avg_sq``.

    Example::

        optimizer = jaxinit.optim.NAdam(net.parameters(), lr=2e-3, momentum_decay=4e-3)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
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
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _check(self, group: dict[str, Any]) -> None:
        common(group, "lr", "eps", "betas", "weight_decay")
        non_negative(group, "momentum_decay", "momentum_decay value")

    def _init_param(self, param: jax.Array, group: dict[str, Any]) -> dict[str, jax.Array]:
        return {
            "step": step_counter(),
            "mu_product": jnp.ones((), jnp.float32),
            "exp_avg": jnp.zeros_like(param),
            "exp_avg_sq": jnp.zeros_like(param),
        }

    def _update_param(self, grad, param, state, group, count):
        beta1, beta2 = group["betas"]
        lr, momentum_decay = group["lr"], group["momentum_decay"]
        step = state["step"] + 1
        g = direction(grad, group["maximize"])
        g, param = decay(g, param, group, group["decoupled_weight_decay"])
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
        mu_product = state["mu_product"] * mu
        exp_avg = lerp(state["exp_avg"], g, 1 - beta1)
        exp_avg_sq = ema_square(state["exp_avg_sq"], g, beta2)
        denom = jnp.sqrt(exp_avg_sq / scalar(bias_correction(beta2, step), g))
        denom = denom + scalar(group["eps"], g)
        coef_grad = -lr * (1.0 - mu) / (1.0 - mu_product)
        coef_avg = -lr * mu_next / (1.0 - mu_product * mu_next)
        param = param + scalar(coef_grad, g) * (g / denom)
        param = param + scalar(coef_avg, g) * (exp_avg / denom)
        new = {"step": step, "mu_product": mu_product, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
        return param, new
