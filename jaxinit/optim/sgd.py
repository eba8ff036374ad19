"""``torch.optim.SGD``: stochastic gradient descent with momentum, dampening and Nesterov."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp

from .optimizer import Optimizer


class SGD(Optimizer):
    """torch's SGD, update for update (``torch.optim.SGD``'s single-tensor rule)::

        g = -grad if maximize else grad
        g = g + weight_decay * p                      # if weight_decay != 0
        buf = g  (first step)  |  momentum * buf + (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf   # if momentum != 0
        p = p - lr * g

    Example::

        optimizer = jaxinit.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True)
        opt_state = optimizer.init(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

    def _check(self, group: dict[str, Any]) -> None:
        if group["lr"] < 0.0:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if group["momentum"] < 0.0:
            raise ValueError(f"Invalid momentum value: {group['momentum']}")
        if group["weight_decay"] < 0.0:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _init_param(self, param: jax.Array, group: dict[str, Any]) -> dict[str, jax.Array]:
        # torch creates the buffer at the first step; it exists here from the start (zeros),
        # and the first step overwrites it with the gradient as torch's clone does.
        return {"momentum_buffer": jnp.zeros_like(param)} if float(group["momentum"]) else {}

    def _update_param(self, grad, param, state, group, count):
        g = -grad if group["maximize"] else grad
        g = g + group["weight_decay"].astype(g.dtype) * param
        if "momentum_buffer" in state:
            momentum = group["momentum"].astype(g.dtype)
            buf = jnp.where(
                count == 0,
                g,
                momentum * state["momentum_buffer"] + (1 - group["dampening"]).astype(g.dtype) * g,
            )
            state = {"momentum_buffer": buf}
            g = g + momentum * buf if group["nesterov"] else buf
        return -group["lr"].astype(g.dtype) * g, state
