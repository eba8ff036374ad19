"""``F.pad`` as torch's: the pad tuple lists the *last* dim first (``(left, right, top,
bottom, front, back)``), negative entries crop, and the modes are ``constant``, ``reflect``,
``replicate`` and ``circular``.

For ``reflect``/``replicate`` output position ``i`` reads input ``f(i - left)`` (reflection
about the edges without repeating them, or clamping), which is torch's result for negative
pads too; ``circular`` crops first, then wraps the cropped input, as torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["pad"]

_NON_CONSTANT = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _unsupported(n_pad: int, ndim: int) -> NotImplementedError:
    return NotImplementedError(
        f"Padding size {n_pad} is not supported for {ndim}D input tensor.\n"
        "Supported combinations for non-constant padding:\n"
        "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
        "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
        "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"
    )


def pad(
    input: jax.Array, pad: Sequence[int], mode: str = "constant", value: float | None = None
) -> jax.Array:
    """Pads (or, for negative entries, crops) the last ``len(pad) // 2`` dims.

    Example::

        F.pad(x, (1, 1, 2, 0))                 # W by 1 both sides, H by 2 on top, zeros
        F.pad(x, (2, 2), mode="reflect")       # [2 1 | 0 1 2 3 | 2 1]
        F.pad(x, (-1, 0), value=0.0)           # crop one column
    """
    for i, v in enumerate(pad):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise TypeError(
                "pad(): argument 'pad' (position 2) must be tuple of ints, but found element "
                f"of type {type(v).__name__} at pos {i}"
            )
    pads = [int(v) for v in pad]
    if len(pads) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pads) // 2 > input.ndim:
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension but "
            f"got padding length {len(pads)} and input of dimension {input.ndim}"
        )
    k = len(pads) // 2
    # (low, high) per padded dim, in dim order
    pairs = [(pads[2 * i], pads[2 * i + 1]) for i in range(k)][::-1]
    if mode == "constant":
        for dim, (lo, hi) in zip(range(input.ndim - k, input.ndim), pairs):
            if input.shape[dim] + lo + hi < 0:
                raise RuntimeError("narrow(): length must be non-negative.")
        fill = np.array(0 if value is None else value).astype(input.dtype)
        config = [(0, 0, 0)] * (input.ndim - k) + [(lo, hi, 0) for lo, hi in pairs]
        return lax.pad(input, fill, config)
    if mode not in _NON_CONSTANT:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if k not in (1, 2, 3) or input.ndim not in (k + 1, k + 2):
        raise _unsupported(len(pads), input.ndim)
    first = input.ndim - k
    if mode == "circular":
        return _circular(input, pairs, first)
    if 0 in input.shape[1:] or (input.ndim == k + 1 and 0 in input.shape):
        raise RuntimeError(
            f"Expected {k + 1}D or {k + 2}D (batch mode) tensor with possibly 0 batch size and "
            f"other non-zero dimensions for input, but got: {list(input.shape)}"
        )
    dims = list(zip(range(first, input.ndim), pairs))
    if mode == "reflect":
        for dim, (lo, hi) in dims[::-1]:  # torch checks the last dim first
            if lo >= input.shape[dim] or hi >= input.shape[dim]:
                raise RuntimeError(
                    "Argument #4: Padding size should be less than the corresponding input "
                    f"dimension, but got: padding ({lo}, {hi}) at dimension {dim} of input "
                    f"{list(input.shape)}"
                )
    else:
        sizes = [input.shape[dim] for dim, _ in dims]
        outs = [size + lo + hi for size, (_, (lo, hi)) in zip(sizes, dims)]
        if k > 1 and min(outs) < 0:  # torch's 2-d/3-d kernels allow empty outputs
            shape = [*input.shape[:first], *outs]
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {min(outs)}: {shape}"
            )
        if k == 1 and outs[0] < 1:
            form = {
                1: ("input (W: {}) is too small.", " Calculated output W: {}"),
                2: ("input (H: {}, W: {} ) is too small.", " Calculated output H: {} W: {}"),
                3: (
                    "input (D: {} H: {}, W: {}) is too small.",
                    " Calculated output D: {} H: {} W: {}",
                ),
            }[k]
            raise RuntimeError(form[0].format(*sizes) + form[1].format(*outs))
    y = input
    for dim, (lo, hi) in dims:
        widths = [(0, 0)] * y.ndim
        widths[dim] = (max(lo, 0), max(hi, 0))
        y = jnp.pad(y, widths, mode=_NON_CONSTANT[mode])
        y = lax.slice_in_dim(y, max(-lo, 0), y.shape[dim] - max(-hi, 0), axis=dim)
    return y


def _circular(x: jax.Array, pairs, first: int) -> jax.Array:
    for dim, (lo, hi) in zip(range(first, x.ndim), pairs):
        size = x.shape[dim]
        if lo > size or hi > size:
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if size + lo + hi <= 0:
            raise RuntimeError("Negative padding value is resulting in an empty dimension")
    for dim, (lo, hi) in zip(range(first, x.ndim), pairs):
        x = lax.slice_in_dim(x, max(-lo, 0), x.shape[dim] - max(-hi, 0), axis=dim)
        widths = [(0, 0)] * x.ndim
        widths[dim] = (max(lo, 0), max(hi, 0))
        x = jnp.pad(x, widths, mode="wrap")
    return x
