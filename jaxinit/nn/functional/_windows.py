"""Window maxima by static gathers, shared by max pooling (dilated, or with indices) and
adaptive max pooling.

A window is a product of per-dim index ranges, so its maximum is separable: reduce the last
spatial dim first, then the one before, and so on. Taking the first maximum at each step
yields the first maximum of the window in row-major order (and, for NaNs, the last NaN),
which is torch's choice (`val > maxval || isnan(val)` over a row-major scan). Values are
picked with ``take_along_axis``, so the gradient flows to exactly that element.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def lowest_value(dtype) -> np.ndarray:
    """``-inf`` (or the integer minimum) as a concrete numpy scalar of ``dtype``, so lax
    recognises the max monoid (and can differentiate it)."""
    if jnp.issubdtype(dtype, jnp.floating):
        return np.array(-np.inf, dtype)
    if dtype == jnp.bool_:
        return np.array(False)
    return np.array(jnp.iinfo(dtype).min, dtype)


def _pick(x, axis, pos, valid):
    """Gather windows ``pos (out, K)`` along ``axis``; return the picked values and the
    chosen window slot ``(..., out, ...)``."""
    out, k = pos.shape
    g = jnp.take(x, np.clip(pos, 0, x.shape[axis] - 1).ravel(), axis=axis)
    g = g.reshape(*x.shape[:axis], out, k, *x.shape[axis + 1 :])
    shape = [1] * g.ndim
    shape[axis], shape[axis + 1] = out, k
    mask = jnp.asarray(valid.reshape(shape))
    v = jnp.where(mask, g, lowest_value(g.dtype))
    top = jnp.max(v, axis=axis + 1, keepdims=True)
    choice = jnp.argmax((v == top) & mask, axis=axis + 1)
    if jnp.issubdtype(g.dtype, jnp.floating):
        nan = jnp.isnan(g) & mask
        last_nan = k - 1 - jnp.argmax(jnp.flip(nan, axis=axis + 1), axis=axis + 1)
        choice = jnp.where(jnp.any(nan, axis=axis + 1), last_nan, choice)
    return g, choice


def _take_slot(g, choice, axis):
    return jnp.squeeze(
        jnp.take_along_axis(g, jnp.expand_dims(choice, axis + 1), axis=axis + 1), axis + 1
    )


def window_max(
    x: jax.Array, windows: list[tuple[np.ndarray, np.ndarray]], return_indices: bool
) -> tuple[jax.Array, jax.Array | None]:
    """Max of ``x (N, C, *spatial)`` over windows given per spatial dim as ``(pos, valid)``
    arrays of shape ``(out, K)`` (input positions, and which are inside the input). Returns the
    maxima ``(N, C, *out)`` and, if asked, torch's flat indices into each plane."""
    n = len(windows)
    spatial = x.shape[2:]
    positions: list[jax.Array] = []  # chosen positions of the dims already reduced
    for j in range(n - 1, -1, -1):
        axis = 2 + j
        pos, valid = windows[j]
        g, choice = _pick(x, axis, pos, valid)
        x = _take_slot(g, choice, axis)
        if return_indices:
            out = pos.shape[0]
            moved = []
            for q in positions:  # carry inner positions through this dim's choice
                gq = jnp.take(q, np.clip(pos, 0, q.shape[axis] - 1).ravel(), axis=axis)
                gq = gq.reshape(*q.shape[:axis], out, pos.shape[1], *q.shape[axis + 1 :])
                moved.append(_take_slot(gq, choice, axis))
            table = jnp.asarray(pos.astype(np.int32))
            here = _take_slot(
                jnp.broadcast_to(
                    table.reshape((1,) * axis + pos.shape + (1,) * (x.ndim - axis - 1)),
                    (*choice.shape[:axis], *pos.shape, *choice.shape[axis + 1 :]),
                ),
                choice,
                axis,
            )
            positions = [here, *moved]
    if not return_indices:
        return x, None
    flat = positions[0]
    for j in range(1, n):
        flat = flat * spatial[j] + positions[j]
    return x, flat
