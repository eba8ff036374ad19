"""Margin and embedding losses of ``torch.nn.functional``: ranking, hinge, cosine, triplet
and multi-class margin losses, torch's formulas, arguments and errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from ._reduction import as_array, get_reduction, reduce_loss
from .distance import pairwise_distance

Array = jax.Array


def margin_ranking_loss(
    input1: Any,
    input2: Any,
    target: Any,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Array:
    """``max(0, -target * (input1 - input2) + margin)``, targets in {-1, 1}.

    Example::

        F.margin_ranking_loss(s1, s2, jnp.array([1.0, -1.0]), margin=0.5)
    """
    reduction = get_reduction(reduction, size_average, reduce)
    x1, x2, y = as_array(input1), as_array(input2), as_array(target)
    if not (x1.ndim == x2.ndim == y.ndim):
        raise RuntimeError(
            f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {tuple(x1.shape)}, input2: {tuple(x2.shape)}, target: {tuple(y.shape)} "
        )
    loss = jnp.maximum(-y.astype(x1.dtype) * (x1 - x2) + margin, 0)
    return reduce_loss(loss, reduction)


def hinge_embedding_loss(
    input: Any,
    target: Any,
    margin: float = 1.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Array:
    """``input`` where ``target == 1``, ``max(0, margin - input)`` where ``target == -1``
    (both terms added, as torch, for other target values).

    Example::

        F.hinge_embedding_loss(distances, jnp.array([1.0, -1.0]))
    """
    reduction = get_reduction(reduction, size_average, reduce)
    x, y = as_array(input), as_array(target)
    zero = jnp.zeros((), x.dtype)
    margin_part = jnp.where(y != 1, jnp.maximum(margin - x, 0), zero)
    self_part = jnp.where(y != -1, x, zero)
    return reduce_loss(margin_part + self_part, reduction)


_EPSILON = 1e-12  # torch's cosine_embedding_loss


def cosine_embedding_loss(
    input1: Any,
    input2: Any,
    target: Any,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Array:
    """``1 - cos(x1, x2)`` where ``target == 1``, ``max(0, cos(x1, x2) - margin)`` where
    ``target == -1``; ``cos = <x1, x2> / sqrt((|x1|^2 + 1e-12) (|x2|^2 + 1e-12))`` over the
    last dimension, as torch.

    Example::

        F.cosine_embedding_loss(a, b, jnp.array([1, -1]))
    """
    reduction = get_reduction(reduction, size_average, reduce)
    x1, x2, y = as_array(input1), as_array(input2), as_array(target)
    if x1.shape != x2.shape:
        raise RuntimeError(
            f"cosine_embedding_loss: Input1 and Input2 must have the same shape, got "
            f"{tuple(x1.shape)} and {tuple(x2.shape)}"
        )
    if x1.ndim not in (1, 2) or y.ndim != x1.ndim - 1:
        raise RuntimeError(
            f"{y.ndim}D target tensor expects {y.ndim + 1}D input tensors, but found inputs "
            f"with sizes {list(x1.shape)} and {list(x2.shape)}."
        )
    prod = jnp.sum(x1 * x2, axis=-1)
    mag1 = jnp.sum(x1 * x1, axis=-1) + _EPSILON
    mag2 = jnp.sum(x2 * x2, axis=-1) + _EPSILON
    cos = prod / jnp.sqrt(mag1 * mag2)
    zero = jnp.zeros((), cos.dtype)
    loss = jnp.where(y == 1, 1 - cos, zero) + jnp.where(y == -1, jnp.maximum(cos - margin, 0), zero)
    return reduce_loss(loss, reduction)


def _check_triplet_dims(anchor: Array, positive: Array, negative: Array) -> None:
    a, p, n = anchor.ndim, positive.ndim, negative.ndim
    if not (a == p == n):
        raise RuntimeError(
            f"The anchor, positive, and negative tensors are expected to have the same number "
            f"of dimensions, but got: anchor {a}D, positive {p}D, and negative {n}D inputs"
        )


def triplet_margin_loss(
    anchor: Any,
    positive: Any,
    negative: Any,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Array:
    """``max(d(a, p) - d(a, n) + margin, 0)`` with ``d = pairwise_distance(., ., p, eps)``;
    ``swap`` uses ``min(d(a, n), d(p, n))`` as the negative distance.

    Example::

        F.triplet_margin_loss(anchor, positive, negative, margin=1.0)
    """
    reduction = get_reduction(reduction, size_average, reduce)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a, pos, neg = as_array(anchor), as_array(positive), as_array(negative)
    _check_triplet_dims(a, pos, neg)
    d_pos = pairwise_distance(a, pos, p, eps)
    d_neg = pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = jnp.minimum(d_neg, pairwise_distance(pos, neg, p, eps))
    return reduce_loss(jnp.maximum(margin + d_pos - d_neg, 0), reduction)


def triplet_margin_with_distance_loss(
    anchor: Any,
    positive: Any,
    negative: Any,
    *,
    distance_function: Callable[[Array, Array], Array] | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> Array:
    """:func:`triplet_margin_loss` with any ``distance_function(x1, x2)`` (default
    :func:`pairwise_distance`).

    Example::

        F.triplet_margin_with_distance_loss(
            a, p, n, distance_function=lambda x, y: 1 - F.cosine_similarity(x, y))
    """
    reduction = get_reduction(reduction)
    if margin <= 0:
        raise ValueError(
            f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} "
            "instead"
        )
    a, pos, neg = as_array(anchor), as_array(positive), as_array(negative)
    _check_triplet_dims(a, pos, neg)
    dist = pairwise_distance if distance_function is None else distance_function
    d_pos = dist(a, pos)
    d_neg = dist(a, neg)
    if swap:
        d_neg = jnp.minimum(d_neg, dist(pos, neg))
    return reduce_loss(jnp.maximum(margin + d_pos - d_neg, 0), reduction)


def _margin_input(input: Array, target: Array, name: str) -> tuple[Array, Array, bool]:
    if input.ndim not in (1, 2):
        raise RuntimeError(
            f"{name}: Expected non-empty vector or matrix with optional 0-dim batch size, but "
            f"got: {list(input.shape)}"
        )
    if input.ndim == 1:
        return input[None], target.reshape(1, -1) if target.ndim else target.reshape(1), True
    return input, target, False


def multi_margin_loss(
    input: Any,
    target: Any,
    p: int = 1,
    margin: float = 1.0,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Array:
    """Multi-class hinge loss: ``sum_{j != y} w_y * max(0, margin - x_y + x_j)**p / C``.

    Example::

        F.multi_margin_loss(scores, labels, p=1, margin=1.0)
    """
    reduction = get_reduction(reduction, size_average, reduce)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    x, y = as_array(input), as_array(target)
    if weight is not None and as_array(weight).ndim != 1:
        raise ValueError("weight must be one-dimensional")
    x, y, squeeze = _margin_input(x, y, "multi_margin_loss")
    n, c = x.shape
    if y.shape != (n,):
        raise RuntimeError(f"inconsistent target size, expected {n} but got {list(y.shape)}")
    y = y.astype(jnp.int32)
    x_y = jnp.take_along_axis(x, y[:, None], axis=1)
    z = jnp.maximum(margin - x_y + x, 0)
    h = z if p == 1 else z * z
    if weight is not None:
        h = h * as_array(weight).astype(x.dtype)[y][:, None]
    h = jnp.where(jnp.arange(c)[None, :] == y[:, None], jnp.zeros((), h.dtype), h)
    loss = jnp.sum(h, axis=1) / c
    if reduction == "none":
        return loss[0] if squeeze else loss
    return reduce_loss(loss, reduction)


def multilabel_margin_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Array:
    """Multi-label hinge loss: ``sum_{j in targets} sum_{k not in targets}
    max(0, 1 - (x_j - x_k)) / C``; ``target`` holds class indices, ended by the first -1.

    Example::

        F.multilabel_margin_loss(scores, jnp.array([[3, 0, -1, 1]]))
    """
    reduction = get_reduction(reduction, size_average, reduce)
    x, y = as_array(input), as_array(target)
    x, y, squeeze = _margin_input(x, y, "multilabel_margin_loss")
    if y.shape != x.shape:
        raise RuntimeError(
            f"inconsistent target size: {list(y.shape)} for input of size: {list(x.shape)}"
        )
    n, c = x.shape
    y = y.astype(jnp.int32)
    valid = jnp.cumprod(y >= 0, axis=1).astype(bool)  # targets before the first -1
    safe = jnp.where(valid, y, 0)
    is_target = jnp.zeros((n, c), bool).at[jnp.arange(n)[:, None], safe].max(valid)
    x_t = jnp.take_along_axis(x, safe, axis=1)
    hinge = jnp.maximum(1 - x_t[:, :, None] + x[:, None, :], 0)
    mask = valid[:, :, None] & ~is_target[:, None, :]
    loss = jnp.sum(jnp.where(mask, hinge, jnp.zeros((), hinge.dtype)), axis=(1, 2)) / c
    if reduction == "none":
        return loss[0] if squeeze else loss
    return reduce_loss(loss, reduction)


__all__ = [
    "cosine_embedding_loss",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]
