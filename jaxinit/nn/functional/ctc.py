"""Connectionist temporal classification loss (torch's ``F.ctc_loss``), as a ``lax.scan`` of
the forward (alpha) recursion in log space: compile time does not grow with the sequence
length, and gradients come from differentiating the scan."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from ._reduction import as_array, concrete, get_reduction

Array = jax.Array

_NEG_INF = float("-inf")


def _logsumexp3(a: Array, b: Array, c: Array) -> Array:
    """``log(e^a + e^b + e^c)`` that stays finite in value and gradient when all are -inf."""
    m = jnp.maximum(jnp.maximum(a, b), c)
    finite = jnp.isfinite(m)
    m_safe = lax.stop_gradient(jnp.where(finite, m, jnp.zeros((), m.dtype)))
    s = jnp.exp(a - m_safe) + jnp.exp(b - m_safe) + jnp.exp(c - m_safe)
    s_safe = jnp.where(finite, s, jnp.ones((), s.dtype))
    return jnp.where(finite, m_safe + jnp.log(s_safe), jnp.full((), _NEG_INF, s.dtype))


def _shift(alpha: Array, k: int) -> Array:
    """``alpha[:, s - k]`` with -inf shifted in."""
    pad = jnp.full((alpha.shape[0], k), _NEG_INF, alpha.dtype)
    return jnp.concatenate([pad, alpha[:, : alpha.shape[1] - k]], axis=1)


def _labels(targets: Array, target_lengths: Array, n: int) -> Array:
    """``(N, S)`` padded labels from torch's padded or concatenated target forms."""
    if targets.ndim == 2:
        return targets
    total = targets.shape[0]
    if total == 0:
        return jnp.zeros((n, 0), targets.dtype)
    offsets = jnp.cumsum(target_lengths) - target_lengths
    idx = offsets[:, None] + jnp.arange(total)[None, :]
    return targets[jnp.clip(idx, 0, total - 1)]


def ctc_loss(
    log_probs: Any,
    targets: Any,
    input_lengths: Any,
    target_lengths: Any,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Array:
    """CTC loss: ``-log sum_{alignments} prod_t p_t(a_t)`` over every alignment of the target
    with blanks, per sample at its own input and target length.

    ``log_probs`` ``(T, N, C)`` (or unbatched ``(T, C)``) log-probabilities;
    ``targets`` ``(N, S)`` padded or ``(sum(target_lengths),)`` concatenated class indices
    (never ``blank``); ``input_lengths`` and ``target_lengths`` ``(N,)`` (arrays or tuples).
    ``'mean'`` divides each loss by its target length (at least 1) and averages over the batch,
    as torch; ``zero_infinity`` zeroes infeasible samples' losses and gradients.

    Example::

        logp = jax.nn.log_softmax(logits, axis=2)             # (T, N, C)
        F.ctc_loss(logp, targets, jnp.full((N,), T), target_lengths)
    """
    reduction = get_reduction(reduction)
    lp = as_array(log_probs)
    tg = as_array(targets)
    il = jnp.asarray(input_lengths)
    tl = jnp.asarray(target_lengths)
    unbatched = lp.ndim == 2
    if unbatched:
        lp = lp[:, None]
        tg = tg[None] if tg.ndim == 1 else tg
        il, tl = il.reshape(1), tl.reshape(1)
    if lp.ndim != 3:
        raise RuntimeError(
            f"ctc_loss expects log_probs of shape (T, N, C) or (T, C), got {list(lp.shape)}"
        )
    t_max, n, c = lp.shape
    if not 0 <= blank < c:
        raise RuntimeError("blank must be in label range")
    if il.shape != (n,):
        raise RuntimeError(f"input_lengths must be of size batch_size, got {list(il.shape)}")
    if tl.shape != (n,):
        raise RuntimeError(f"target_lengths must be of size batch_size, got {list(tl.shape)}")
    if tg.ndim == 2 and tg.shape[0] != n:
        raise RuntimeError(f"targets must be of size batch_size, got {list(tg.shape)}")
    lengths = concrete(il)
    if lengths is not None and lengths.size and lengths.max() > t_max:
        raise RuntimeError(
            f"Expected input_lengths to have value at most {t_max}, but got value "
            f"{int(lengths.max())} (while checking arguments for ctc_loss_cpu)"
        )
    il, tl = il.astype(jnp.int32), tl.astype(jnp.int32)
    labels = _labels(tg, tl, n).astype(jnp.int32)
    s_max = labels.shape[1]
    ext = jnp.full((n, 2 * s_max + 1), blank, jnp.int32)
    ext = ext.at[:, 1::2].set(labels)
    lp_ext = jnp.take_along_axis(lp, jnp.broadcast_to(ext[None], (t_max, *ext.shape)), axis=2)
    skip = jnp.concatenate(
        [jnp.zeros((n, 2), bool), (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])], axis=1
    )
    neg_inf = jnp.full((), _NEG_INF, lp.dtype)
    states = jnp.arange(ext.shape[1])[None, :]
    alpha0 = jnp.where((states == 0) | ((states == 1) & (tl[:, None] > 0)), lp_ext[0], neg_inf)

    def step(alpha: Array, inputs: tuple[Array, Array]) -> tuple[Array, None]:
        t, lp_t = inputs
        two_back = jnp.where(skip, _shift(alpha, 2), neg_inf)
        new = _logsumexp3(alpha, _shift(alpha, 1), two_back) + lp_t
        return jnp.where((t < il)[:, None], new, alpha), None

    alpha, _ = lax.scan(step, alpha0, (jnp.arange(1, t_max), lp_ext[1:]))
    last = jnp.take_along_axis(alpha, (2 * tl)[:, None], axis=1)[:, 0]
    before = jnp.take_along_axis(alpha, jnp.maximum(2 * tl - 1, 0)[:, None], axis=1)[:, 0]
    before = jnp.where(tl > 0, before, neg_inf)
    loss = -_logsumexp3(last, before, jnp.full_like(last, _NEG_INF))
    loss = jnp.where(il > 0, loss, jnp.where(tl > 0, -neg_inf, jnp.zeros((), lp.dtype)))
    if zero_infinity:
        loss = jnp.where(jnp.isinf(loss), jnp.zeros((), loss.dtype), loss)
    if reduction == "mean":
        return jnp.mean(loss / jnp.maximum(tl, 1).astype(loss.dtype))
    if reduction == "sum":
        return jnp.sum(loss)
    return loss[0] if unbatched else loss


__all__ = ["ctc_loss"]
