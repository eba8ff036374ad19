"""``torch.optim.Adam``: Adam and AMSGrad, with L2 or decoupled weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp

from ._checks import common
from ._functional import bias_correction, decay, direction, ema_square, lerp, scalar, step_counter
from .optimizer import Optimizer


class Adam(Optimizer):
    """torch's Adam, update for update (``torch.optim.Adam``'s single-tensor rule)::

        g = -grad if maximize else grad
        p = p * (1 - lr * weight_decay)   if decoupled_weight_decay
        g = g + weight_decay * p          otherwise (L2, torch's default -- not optax.adam's)
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v) if amsgrad
        p = p - lr / (1 - beta1**t) * m / (sqrt(v or v_max) / sqrt(1 - beta2**t) + eps)

    State per parameter (torch's names): ``step``, ``exp_avg``, ``exp_avg_sq`` and, with
    ``amsgrad``, ``max_exp_avg_sq``.

    Example::

        optimizer = jaxinit.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
        opt_state = optimizer.init(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _check(self, group: dict[str, Any]) -> None:
        common(group, "lr", "eps", "betas", "weight_decay")

    def _init_param(self, param: jax.Array, group: dict[str, Any]) -> dict[str, jax.Array]:
        state = {
            "step": step_counter(),
            "exp_avg": jnp.zeros_like(param),
            "exp_avg_sq": jnp.zeros_like(param),
        }
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = jnp.zeros_like(param)
        return state

    def _update_param(self, grad, param, state, group, count):
        beta1, beta2 = group["betas"]
        step = state["step"] + 1
        g = direction(grad, group["maximize"])
        g, param = decay(g, param, group, group["decoupled_weight_decay"])
        exp_avg = lerp(state["exp_avg"], g, 1 - beta1)
        exp_avg_sq = ema_square(state["exp_avg_sq"], g, beta2)
        new = {"step": step, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
        second = exp_avg_sq
        if "max_exp_avg_sq" in state:
            second = new["max_exp_avg_sq"] = jnp.maximum(state["max_exp_avg_sq"], exp_avg_sq)
        step_size = group["lr"] / bias_correction(beta1, step)
        bc2_sqrt = jnp.sqrt(bias_correction(beta2, step))
        denom = jnp.sqrt(second) / scalar(bc2_sqrt, param) + scalar(group["eps"], param)
        return param - scalar(step_size, param) * (exp_avg / denom), new
