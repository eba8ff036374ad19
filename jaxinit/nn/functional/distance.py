"""Distances with torch's names, signatures and defaults: ``cosine_similarity``,
``pairwise_distance`` and ``cdist`` (``torch.cdist``, offered here too)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._utils import _wrap_dim

__all__ = ["cdist", "cosine_similarity", "pairwise_distance", "pdist"]


def _broadcast(x1: jax.Array, x2: jax.Array) -> tuple[jax.Array, jax.Array]:
    """torch's broadcasting of the two operands (ranks aligned explicitly)."""
    x1, x2 = jnp.asarray(x1), jnp.asarray(x2)
    ndim = max(x1.ndim, x2.ndim)
    x1 = x1.reshape((1,) * (ndim - x1.ndim) + x1.shape)
    x2 = x2.reshape((1,) * (ndim - x2.ndim) + x2.shape)
    shape = jnp.broadcast_shapes(x1.shape, x2.shape)
    return jnp.broadcast_to(x1, shape), jnp.broadcast_to(x2, shape)


def _pnorm(d: jax.Array, p: float, axis: int, keepdims: bool = False) -> jax.Array:
    a = d * jax.lax.stop_gradient(jnp.sign(d))  # |d| with gradient sign(0) = 0, as torch
    if p == float("inf"):
        return jnp.max(a, axis=axis, keepdims=keepdims)
    if p == 0:
        return jnp.sum((a != 0).astype(d.dtype), axis=axis, keepdims=keepdims)
    if p == 1:
        return jnp.sum(a, axis=axis, keepdims=keepdims)
    if p == 2:
        return jnp.sqrt(jnp.sum(jnp.square(d), axis=axis, keepdims=keepdims))
    return jnp.sum(a**p, axis=axis, keepdims=keepdims) ** (1.0 / p)


def cosine_similarity(x1: jax.Array, x2: jax.Array, dim: int = 1, eps: float = 1e-8) -> jax.Array:
    """``sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps))`` along ``dim`` (the operands
    broadcast), as torch.

    Example::

        F.cosine_similarity(jnp.array([[1.0, 0.0]]), jnp.array([[1.0, 1.0]]))   # [0.7071]
    """
    a, b = _broadcast(x1, x2)
    d = _wrap_dim(dim, a.ndim)
    na = jnp.maximum(_pnorm(a, 2, d, True), jnp.asarray(eps, a.dtype))
    nb = jnp.maximum(_pnorm(b, 2, d, True), jnp.asarray(eps, b.dtype))
    return jnp.sum((a / na) * (b / nb), axis=d)


def pairwise_distance(
    x1: jax.Array, x2: jax.Array, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> jax.Array:
    """``||x1 - x2 + eps||_p`` along the last dim (the operands broadcast), as torch.

    Example::

        F.pairwise_distance(jnp.zeros((2, 3)), jnp.ones((2, 3)))   # [1.7320, 1.7320]
    """
    a, b = _broadcast(x1, x2)
    return _pnorm(a - b + eps, p, a.ndim - 1 if a.ndim else 0, keepdim)


def cdist(
    x1: jax.Array, x2: jax.Array, p: float = 2.0, compute_mode: str | None = None
) -> jax.Array:
    """``out[..., i, j] = ||x1[..., i, :] - x2[..., j, :]||_p`` for ``x1 (..., P, M)`` and
    ``x2 (..., R, M)`` (torch.cdist; computed from the differences, so ``compute_mode`` has
    no effect).

    Example::

        F.cdist(jnp.zeros((2, 3)), jnp.ones((4, 3)))   # (2, 4), all sqrt(3)
    """
    a, b = jnp.asarray(x1), jnp.asarray(x2)
    if a.ndim < 2 or b.ndim < 2:
        raise RuntimeError(
            f"cdist only supports at least 2D tensors, X1 got: {a.ndim}D"
            if a.ndim < 2
            else f"cdist only supports at least 2D tensors, X2 got: {b.ndim}D"
        )
    if a.shape[-1] != b.shape[-1]:
        raise RuntimeError(
            f"X1 and X2 must have the same number of columns. X1: {a.shape[-1]} X2: {b.shape[-1]}"
        )
    diff = a[..., :, None, :] - b[..., None, :, :]
    return _pnorm(diff, p, diff.ndim - 1)


def pdist(input: jax.Array, p: float = 2.0) -> jax.Array:
    """The ``p``-norm distance between every pair of rows of ``input (N, M)``: the upper
    triangle of ``cdist(input, input)``, row by row (``i < j``), length ``N (N - 1) / 2``, as
    torch's.

    Example: ``F.pdist(jnp.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]]))`` is ``[5., 1., 4.24]``.
    """
    input = jnp.asarray(input)
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    i, j = np.triu_indices(input.shape[0], k=1)
    return cdist(input[i][:, None], input[j][:, None], p)[:, 0, 0]
