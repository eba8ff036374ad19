"""Regression and classification losses of ``torch.nn.functional``, torch's formulas,
arguments, defaults and errors.

Every loss takes ``reduction`` (``'mean'`` default, ``'sum'``, ``'none'``) and, where torch
still does, the deprecated ``size_average``/``reduce`` flags (with torch's warning). Value
checks torch makes on the data (a class index out of range, probabilities outside [0, 1], a
negative variance) run when the values are concrete, i.e. outside ``jit``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import jax
import jax.numpy as jnp

from ._reduction import as_array, concrete, get_reduction, reduce_loss, size_warning

Array = jax.Array


def _pointwise(input: Any, target: Any) -> tuple[Array, Array]:
    input, target = as_array(input), as_array(target)
    size_warning(input, target)
    return tuple(jnp.broadcast_arrays(input, target))  # type: ignore[return-value]


def _weighted(loss: Array, weight: Any, input: Array, reduction: str, mean_by_weight: bool):
    """torch 2.13's optional elementwise ``weight`` of mse/l1/huber."""
    if weight is None:
        return reduce_loss(loss, reduction)
    weight = as_array(weight)
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight.astype(loss.dtype)
    if reduction == "mean" and mean_by_weight:
        return jnp.sum(loss) / jnp.sum(weight).astype(loss.dtype)
    return reduce_loss(loss, reduction)


def l1_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Any = None,
) -> Array:
    """Mean absolute error ``|input - target|``; with ``weight`` (input's shape) the mean is
    ``sum(w * |d|) / sum(w)``.

    Example::

        F.l1_loss(jnp.array([1.0, 2.0]), jnp.array([0.0, 0.0]))   # 1.5
    """
    reduction = get_reduction(reduction, size_average, reduce)
    input_b, target_b = _pointwise(input, target)
    return _weighted(jnp.abs(input_b - target_b), weight, input_b, reduction, True)


def mse_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Any = None,
) -> Array:
    """Mean squared error ``(input - target)**2``; with ``weight`` (input's shape) the mean is
    ``sum(w * d**2) / sum(w)``.

    Example::

        F.mse_loss(jnp.array([1.0, 2.0]), jnp.array([0.0, 0.0]))   # 2.5
    """
    reduction = get_reduction(reduction, size_average, reduce)
    input_b, target_b = _pointwise(input, target)
    return _weighted(jnp.square(input_b - target_b), weight, input_b, reduction, True)


def smooth_l1_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Array:
    """``0.5 * d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 * beta`` (``beta=0``: L1).

    Example::

        F.smooth_l1_loss(jnp.array([0.5, 3.0]), jnp.zeros(2))   # (0.125 + 2.5) / 2
    """
    reduction = get_reduction(reduction, size_average, reduce)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    input_b, target_b = _pointwise(input, target)
    d = jnp.abs(input_b - target_b)
    if beta == 0:
        return reduce_loss(d, reduction)
    loss = jnp.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)
    return reduce_loss(loss, reduction)


def huber_loss(
    input: Any,
    target: Any,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Any = None,
) -> Array:
    """``0.5 * d**2`` where ``|d| < delta``, else ``delta * (|d| - 0.5 * delta)``; with
    ``weight`` the mean is ``mean(w * loss)`` (torch's rule, unlike mse/l1).

    Example::

        F.huber_loss(jnp.array([0.5, 3.0]), jnp.zeros(2), delta=1.0)   # (0.125 + 2.5) / 2
    """
    reduction = get_reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    input_b, target_b = _pointwise(input, target)
    d = jnp.abs(input_b - target_b)
    loss = jnp.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta))
    return _weighted(loss, weight, input_b, reduction, False)


def _class_weight(weight: Any, n_classes: int, dtype: Any) -> Array:
    if weight is None:
        return jnp.ones((n_classes,), dtype)
    weight = as_array(weight)
    if weight.ndim != 1 or weight.shape[0] != n_classes:
        raise RuntimeError(
            f"weight tensor should be defined either for all {n_classes} classes or no classes "
            f"but got weight tensor of shape: {list(weight.shape)}"
        )
    return weight.astype(dtype)


def _check_class_target(input: Array, target: Array) -> None:
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if input.ndim == 1:
        if target.ndim != 0:
            raise RuntimeError(
                "0D or 1D target tensor expected, multi-target not supported"
                if target.ndim > 1
                else f"Expected input batch_size (1) to match target batch_size "
                f"({target.shape[0]})."
            )
        return
    if target.ndim == 0 or input.shape[0] != target.shape[0]:
        got = 1 if target.ndim == 0 else target.shape[0]
        raise ValueError(
            f"Expected input batch_size ({input.shape[0]}) to match target batch_size ({got})."
        )
    expected = (input.shape[0], *input.shape[2:])
    if tuple(target.shape) != expected:
        raise RuntimeError(f"Expected target size {list(expected)}, got {list(target.shape)}")
    if not jnp.issubdtype(target.dtype, jnp.integer):
        raise RuntimeError(
            f"expected an integer class-index target, got {target.dtype}: pass class indices "
            "as an int array (or probabilities of the input's shape to cross_entropy)"
        )


def _check_class_range(target: Array, n_classes: int, ignore_index: int) -> None:
    values = concrete(target)
    if values is None:
        return
    bad = values[(values != ignore_index) & ((values < 0) | (values >= n_classes))]
    if bad.size:
        raise IndexError(f"Target {int(bad.flat[0])} is out of bounds.")


def nll_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Array:
    """Negative log-likelihood of class indices: ``loss_i = -weight[y_i] * input[i, y_i]``,
    0 where ``y_i == ignore_index``; ``'mean'`` divides by the sum of the weights of the
    targets that count (NaN if none does, as torch).

    ``input`` is ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)`` log-probabilities; ``target`` is
    ``()``, ``(N,)`` or ``(N, d1, ...)`` class indices.

    Example::

        logp = jax.nn.log_softmax(logits, axis=1)
        F.nll_loss(logp, jnp.array([0, 2]), ignore_index=-100)
    """
    reduction = get_reduction(reduction, size_average, reduce)
    input, target = as_array(input), as_array(target)
    _check_class_target(input, target)
    if input.ndim == 1:
        input, target = input[None], target[None]
        squeeze = True
    else:
        squeeze = False
    n_classes = input.shape[1]
    _check_class_range(target, n_classes, ignore_index)
    w = _class_weight(weight, n_classes, input.dtype)
    valid = target != ignore_index
    safe = jnp.where(valid, target, 0).astype(jnp.int32)
    picked = jnp.take_along_axis(input, safe[:, None], axis=1)[:, 0]
    wt = jnp.where(valid, w[safe], jnp.zeros((), input.dtype))
    loss = -picked * wt
    if reduction == "none":
        return loss[0] if squeeze else loss
    if reduction == "sum":
        return jnp.sum(loss)
    return jnp.sum(loss) / jnp.sum(wt)


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Array:
    """``nll_loss(log_softmax(input, class_dim), target)`` for class indices, or
    ``-sum_c weight_c * target_c * log_softmax(input)_c`` for class probabilities (a float
    ``target`` of the input's shape; ``'mean'`` then divides by the number of samples).

    ``label_smoothing=eps`` mixes in the uniform distribution as torch does:
    ``(1 - eps) * nll + eps / C * smooth`` with ``smooth_i = -sum_c weight_c * logp_ic``,
    ignored rows dropped and the mean normalised by the same weight sum as ``nll_loss``.

    Example::

        F.cross_entropy(logits, labels, ignore_index=0, label_smoothing=0.1)
    """
    reduction = get_reduction(reduction, size_average, reduce)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    input, target = as_array(input), as_array(target)
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    class_dim = 0 if input.ndim == 1 else 1
    n_classes = input.shape[class_dim]
    logp = jax.nn.log_softmax(input, axis=class_dim)
    wshape = [1] * input.ndim
    wshape[class_dim] = n_classes
    if jnp.issubdtype(target.dtype, jnp.floating):
        if target.shape != input.shape:
            raise RuntimeError(
                f"Expected floating point target to have the input's shape "
                f"{list(input.shape)}, got {list(target.shape)}"
            )
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        target = target.astype(input.dtype)
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / n_classes
        prod = logp * target
        if weight is not None:
            prod = prod * _class_weight(weight, n_classes, input.dtype).reshape(wshape)
        loss = -jnp.sum(prod, axis=class_dim)
        if reduction == "mean":
            return jnp.sum(loss) / (input.size // n_classes)
        return reduce_loss(loss, reduction)
    nll = nll_loss(logp, target, weight, None, ignore_index, None, reduction)
    if label_smoothing == 0:
        return nll
    w = _class_weight(weight, n_classes, input.dtype)
    smooth = -jnp.sum(logp * w.reshape(wshape), axis=class_dim)
    valid = target != ignore_index
    smooth = jnp.where(valid, smooth, jnp.zeros((), smooth.dtype))
    if reduction == "mean":
        safe = jnp.where(valid, target, 0).astype(jnp.int32)
        denom = jnp.sum(jnp.where(valid, w[safe], jnp.zeros((), w.dtype)))
        smooth = jnp.sum(smooth) / denom
    else:
        smooth = reduce_loss(smooth, reduction)
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / n_classes)


def _check_same_size(input: Array, target: Array) -> None:
    if input.shape != target.shape:
        raise ValueError(
            f"Using a target size ({tuple(target.shape)}) that is different to the input size "
            f"({tuple(input.shape)}) is deprecated. Please ensure they have the same size."
        )


def binary_cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Array:
    """``-weight * (t * log(x) + (1 - t) * log(1 - x))`` with each log clamped at -100, as
    torch; ``input`` holds probabilities in [0, 1] (checked when concrete).

    Example::

        F.binary_cross_entropy(jax.nn.sigmoid(logits), targets)
    """
    reduction = get_reduction(reduction, size_average, reduce)
    input, target = as_array(input), as_array(target)
    _check_same_size(input, target)
    values = concrete(input)
    if values is not None and values.size and not ((values >= 0) & (values <= 1)).all():
        raise RuntimeError("all elements of input should be between 0 and 1")
    target = target.astype(input.dtype)
    log_x = jnp.maximum(jnp.log(input), -100.0)
    log_1mx = jnp.maximum(jnp.log1p(-input), -100.0)
    loss = (target - 1) * log_1mx - target * log_x
    if weight is not None:
        loss = loss * jnp.broadcast_to(as_array(weight).astype(loss.dtype), loss.shape)
    return reduce_loss(loss, reduction)


def binary_cross_entropy_with_logits(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Array:
    """``weight * ((1 - t) * x - (1 + (pos_weight - 1) * t) * log_sigmoid(x))``: sigmoid and
    binary cross-entropy in one numerically stable step; ``pos_weight`` broadcasts against the
    last (class) dimension.

    Example::

        F.binary_cross_entropy_with_logits(logits, targets, pos_weight=jnp.full((C,), 3.0))
    """
    reduction = get_reduction(reduction, size_average, reduce)
    input, target = as_array(input), as_array(target)
    if target.shape != input.shape:
        raise ValueError(
            f"Target size ({tuple(target.shape)}) must be the same as input size "
            f"({tuple(input.shape)})"
        )
    target = target.astype(input.dtype)
    log_sig = jax.nn.log_sigmoid(input)
    if pos_weight is not None:
        pw = jnp.broadcast_to(as_array(pos_weight).astype(input.dtype), input.shape)
        loss = (1 - target) * input - (1 + (pw - 1) * target) * log_sig
    else:
        loss = (1 - target) * input - log_sig
    if weight is not None:
        loss = loss * jnp.broadcast_to(as_array(weight).astype(loss.dtype), loss.shape)
    return reduce_loss(loss, reduction)


def kl_div(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Array:
    """Kullback-Leibler divergence with ``input`` in log space: ``t * (log t - input)``
    (``exp(t) * (t - input)`` if ``log_target``). ``'batchmean'`` divides the sum by the batch
    size (the mathematical KL); ``'mean'`` divides by every element, with torch's warning.

    Example::

        F.kl_div(jax.nn.log_softmax(logits, axis=1), probs, reduction="batchmean")
    """
    input, target = as_array(input), as_array(target)
    if size_average is not None or reduce is not None:
        reduction = get_reduction(reduction, size_average, reduce)
    elif reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.",
            stacklevel=2,
        )
    elif reduction != "batchmean":
        reduction = get_reduction(reduction)
    target = target.astype(input.dtype)
    if log_target:
        loss = jnp.exp(target) * (target - input)
    else:
        loss = jax.scipy.special.xlogy(target, target) - target * input
    if reduction == "batchmean":
        total = jnp.sum(loss)
        return total / input.shape[0] if input.ndim else total
    return reduce_loss(loss, reduction)


def poisson_nll_loss(
    input: Any,
    target: Any,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Array:
    """Poisson negative log-likelihood: ``exp(input) - target * input`` (``log_input``) or
    ``input - target * log(input + eps)``; ``full`` adds Stirling's term
    ``t log t - t + 0.5 log(2 pi t)`` where ``t > 1``.

    Example::

        F.poisson_nll_loss(log_rate, counts)
    """
    reduction = get_reduction(reduction, size_average, reduce)
    input, target = as_array(input), as_array(target)
    target = target.astype(input.dtype)
    if log_input:
        loss = jnp.exp(input) - target * input
    else:
        loss = input - target * jnp.log(input + eps)
    if full:
        big = target > 1
        t = jnp.where(big, target, jnp.full((), 2, target.dtype))
        stirling = t * jnp.log(t) - t + 0.5 * jnp.log(2 * math.pi * t)
        loss = loss + jnp.where(big, stirling, jnp.zeros((), stirling.dtype))
    return reduce_loss(loss, reduction)


def gaussian_nll_loss(
    input: Any,
    target: Any,
    var: Any,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Array:
    """Gaussian negative log-likelihood ``0.5 * (log(var) + (input - target)**2 / var)``
    (+ ``0.5 log(2 pi)`` if ``full``). ``var`` is input's shape, one dimension short of it, or
    broadcastable in one dimension (torch's homoscedastic cases); it is clamped to ``eps`` for
    the value only, the gradient passing through unchanged, as torch's in-place clamp.

    Example::

        F.gaussian_nll_loss(mean, target, variance)
    """
    input, target = as_array(input), as_array(target)
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = jnp.full(input.shape, var, input.dtype)
    else:
        var = as_array(var)
        values = concrete(var)
        if values is not None and (values < 0).any():
            raise ValueError("var has negative entry/entries")
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:
            var = var[..., None]
        elif not (
            input.ndim == var.ndim and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1
        ):
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    var = var.astype(input.dtype)
    var = var + jax.lax.stop_gradient(jnp.maximum(var, eps) - var)
    diff = input - target.astype(input.dtype)
    loss = 0.5 * (jnp.log(var) + jnp.square(diff) / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduce_loss(loss, reduction)


def soft_margin_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Array:
    """Two-class logistic loss ``log(1 + exp(-target * input))``, targets in {-1, 1}.

    Example::

        F.soft_margin_loss(scores, jnp.array([1.0, -1.0]))
    """
    reduction = get_reduction(reduction, size_average, reduce)
    input, target = as_array(input), as_array(target)
    return reduce_loss(jax.nn.softplus(-target.astype(input.dtype) * input), reduction)


def multilabel_soft_margin_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Array:
    """One-vs-all logistic loss averaged over the C classes of the last dimension:
    ``-mean_c w_c (t_c log_sigmoid(x_c) + (1 - t_c) log_sigmoid(-x_c))``.

    Example::

        F.multilabel_soft_margin_loss(logits, multi_hot)
    """
    reduction = get_reduction(reduction, size_average, reduce)
    input, target = as_array(input), as_array(target)
    target = target.astype(input.dtype)
    loss = -(target * jax.nn.log_sigmoid(input) + (1 - target) * jax.nn.log_sigmoid(-input))
    if weight is not None:
        loss = loss * jnp.broadcast_to(as_array(weight).astype(loss.dtype), loss.shape)
    loss = jnp.sum(loss, axis=-1) / input.shape[-1]
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    return reduce_loss(loss, reduction)


__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "gaussian_nll_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "mse_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "poisson_nll_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
]
