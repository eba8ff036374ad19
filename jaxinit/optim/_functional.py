"""The pieces torch's optimizers share, written once with torch's operation order.

Every function takes and returns arrays of the parameter's dtype; scalar options (``lr``,
``weight_decay``, betas) are float32 scalars from the optimizer state and are cast to the
parameter's dtype first, as torch casts a Python scalar to the tensor's dtype.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def scalar(value: Any, like: jax.Array) -> jax.Array:
    """``value`` (a Python number or a float32 scalar) as a scalar of ``like``'s dtype.

    Example: ``scalar(0.9, jnp.ones(3, jnp.bfloat16)).dtype == jnp.bfloat16``.
    """
    return jnp.asarray(value).astype(like.dtype)


def direction(grad: jax.Array, maximize: bool) -> jax.Array:
    """torch's ``grad if not maximize else -grad``.

    Example: ``direction(jnp.ones(2), True)`` is ``[-1., -1.]``.
    """
    return -grad if maximize else grad


def l2_decay(grad: jax.Array, param: jax.Array, weight_decay: Any) -> jax.Array:
    """L2 regularisation folded into the gradient (torch's ``grad.add(param,
    alpha=weight_decay)``): ``grad + weight_decay * param``.

    Example: ``l2_decay(jnp.zeros(2), jnp.ones(2), 0.1)`` is ``[0.1, 0.1]``.
    """
    return grad + scalar(weight_decay, grad) * param


def decoupled_decay(param: jax.Array, lr: Any, weight_decay: Any) -> jax.Array:
    """Decoupled weight decay (AdamW, ``decoupled_weight_decay=True``), applied to the
    parameter before the step as torch's ``param.mul_(1 - lr * weight_decay)``.

    Example: ``decoupled_decay(jnp.ones(2), 0.1, 0.5)`` is ``[0.95, 0.95]``.
    """
    return param * scalar(1 - jnp.asarray(lr) * jnp.asarray(weight_decay), param)


def decay(
    grad: jax.Array, param: jax.Array, group: dict[str, Any], decoupled: bool
) -> tuple[jax.Array, jax.Array]:
    """A group's weight decay, L2 (into the gradient) or decoupled (onto the parameter):
    returns ``(grad, param)`` as torch's step sees them afterwards.

    Example: ``g, p = decay(g, p, {"lr": 0.1, "weight_decay": 0.01}, decoupled=True)``.
    """
    if decoupled:
        return grad, decoupled_decay(param, group["lr"], group["weight_decay"])
    return l2_decay(grad, param, group["weight_decay"]), param


def lerp(start: jax.Array, end: jax.Array, weight: Any) -> jax.Array:
    """torch's ``start.lerp_(end, weight)`` (ATen's two-sided formula, exact at both ends):
    ``start + weight * (end - start)`` for ``weight < 0.5``, else
    ``end - (end - start) * (1 - weight)`` (one select of the base, so a traced ``weight``
    costs no second branch).

    Example: ``exp_avg = lerp(exp_avg, grad, 1 - beta1)``.
    """
    w = jnp.asarray(weight)
    low = w < 0.5
    coef = scalar(jnp.where(low, w, -(1 - w)), start)
    return jnp.where(low, start, end) + coef * (end - start)


def ema_square(avg: jax.Array, grad: jax.Array, decay_rate: Any) -> jax.Array:
    """The second-moment running average, torch's ``avg.mul_(beta).addcmul_(grad, grad,
    value=1 - beta)``: ``avg * beta + (1 - beta) * grad * grad``.

    Example: ``exp_avg_sq = ema_square(exp_avg_sq, grad, beta2)``.
    """
    beta = jnp.asarray(decay_rate)
    return avg * scalar(beta, avg) + scalar(1 - beta, avg) * (grad * grad)


def bias_correction(beta: Any, step: jax.Array) -> jax.Array:
    """Adam's bias correction ``1 - beta ** step`` (float32 scalar; ``step`` counts the
    current update, starting at 1).

    Example: ``bias_correction(0.9, jnp.float32(1))`` is ``0.1``.
    """
    return 1 - jnp.asarray(beta, jnp.float32) ** step


def step_counter() -> jax.Array:
    """torch's per-parameter ``state['step']``: a float32 scalar, 0 before the first update.

    Example: ``{"step": step_counter(), "exp_avg": jnp.zeros_like(p)}``.
    """
    return jnp.zeros((), jnp.float32)
