"""torch's ``F.unfold`` (im2col) and ``F.fold`` (col2im) over 2-d spatial inputs, with torch's
block ordering and error messages."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

IntOrPair = int | Sequence[int]


def _pair_arg(value: Any, name: str) -> tuple[int, int]:
    """An int, or a sequence of two ints (torch's ``_pair`` then ``IntArrayRef[2]`` check)."""
    try:
        v = operator.index(value)
        return v, v
    except TypeError:
        pass
    try:
        out = tuple(operator.index(v) for v in value)
    except TypeError:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    if len(out) != 2:
        raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(out)}")
    return out


def _check_window(
    kernel: tuple[int, int],
    dilation: tuple[int, int],
    padding: tuple[int, int],
    stride: tuple[int, int],
) -> None:
    for values, what, label, ok in (
        (kernel, "kernel size should be greater than zero", "kernel", lambda v: v > 0),
        (stride, "stride should be greater than zero", "stride", lambda v: v > 0),
        (dilation, "dilation should be greater than zero", "dilation", lambda v: v > 0),
        (padding, "padding should be non-negative", "pad", lambda v: v >= 0),
    ):
        if not all(ok(v) for v in values):
            raise RuntimeError(
                f"{what}, but got {label}_height: {values[0]} {label}_width: {values[1]}"
            )


def _blocks(size: int, k: int, d: int, p: int, s: int) -> int:
    """The number of sliding blocks along one dim (C's truncating division, as torch)."""
    return int((size + 2 * p - (d * (k - 1) + 1)) / s) + 1


def _positions(i: int, d: int, count: int, s: int) -> slice:
    """The padded positions kernel offset ``i`` visits: ``i*d, i*d + s, ...`` (count of them)."""
    return slice(i * d, i * d + (count - 1) * s + 1, s)


def unfold(
    input: jax.Array,
    kernel_size: IntOrPair,
    dilation: IntOrPair = 1,
    padding: IntOrPair = 0,
    stride: IntOrPair = 1,
) -> jax.Array:
    """torch's ``F.unfold`` (im2col): the sliding ``kH x kW`` blocks of a zero-padded
    ``(N, C, H, W)`` (or ``(C, H, W)``) input as columns.

    ``out[n, c*kH*kW + i*kW + j, b_h*L_w + b_w] = x_pad[n, c, s_h b_h + d_h i, s_w b_w + d_w j]``,
    shape ``(N, C*kH*kW, L_h*L_w)`` with ``L_h = (H + 2p_h - d_h(kH-1) - 1) // s_h + 1``.

    Example::

        cols = F.unfold(jnp.ones((2, 3, 5, 5)), kernel_size=2)   # (2, 12, 16)
    """
    x = jnp.asarray(input)
    if x.ndim not in (3, 4) or 0 in x.shape[-3:]:
        raise RuntimeError(
            "Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero "
            f"dimensions for input, but got: {list(x.shape)}"
        )
    k = _pair_arg(kernel_size, "kernel_size")
    d = _pair_arg(dilation, "dilation")
    p = _pair_arg(padding, "padding")
    s = _pair_arg(stride, "stride")
    _check_window(k, d, p, s)
    batched = x.ndim == 4
    x = x if batched else x[None]
    n, c, h, w = x.shape
    blocks = tuple(_blocks(size, *a) for size, *a in zip((h, w), k, d, p, s))
    if any(b < 1 for b in blocks):
        raise RuntimeError(
            f"Given input with spatial size ({h}, {w}), kernel_size={k}, dilation={d}, "
            f"padding={p}, calculated shape of the array of sliding blocks as {blocks}, but its "
            "components must be at least one."
        )
    xp = jnp.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    cols = [
        xp[:, :, _positions(i, d[0], blocks[0], s[0]), _positions(j, d[1], blocks[1], s[1])]
        for i in range(k[0])
        for j in range(k[1])
    ]
    y = jnp.stack(cols, axis=2).reshape((n, c * k[0] * k[1], blocks[0] * blocks[1]))
    return y if batched else y[0]


def fold(
    input: jax.Array,
    output_size: IntOrPair,
    kernel_size: IntOrPair,
    dilation: IntOrPair = 1,
    padding: IntOrPair = 0,
    stride: IntOrPair = 1,
) -> jax.Array:
    """torch's ``F.fold`` (col2im), the adjoint of :func:`unfold`: sums the columns of an
    ``(N, C*kH*kW, L)`` (or ``(C*kH*kW, L)``) input back into ``(N, C, *output_size)``.

    ``out[n, c, s_h b_h + d_h i - p_h, s_w b_w + d_w j - p_w] += x[n, c*kH*kW + i*kW + j,
    b_h*L_w + b_w]``, where ``L`` must equal ``L_h * L_w`` for ``output_size`` (positions
    falling in the padding are dropped). ``fold(unfold(x))`` is ``x`` times the number of
    blocks covering each pixel.

    Example::

        x = F.fold(jnp.ones((2, 12, 16)), output_size=(5, 5), kernel_size=2)   # (2, 3, 5, 5)
    """
    x = jnp.asarray(input)
    if x.ndim not in (2, 3) or 0 in x.shape[-2:]:
        raise RuntimeError(
            "Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and "
            f"non-zero dimensions for input, but got: {list(x.shape)}"
        )
    o = _pair_arg(output_size, "output_size")
    k = _pair_arg(kernel_size, "kernel_size")
    d = _pair_arg(dilation, "dilation")
    p = _pair_arg(padding, "padding")
    s = _pair_arg(stride, "stride")
    _check_window(k, d, p, s)
    batched = x.ndim == 3
    x = x if batched else x[None]
    n, ckk, length = x.shape
    if ckk % (k[0] * k[1]) != 0:
        raise RuntimeError(
            "Expected size of input's dimension 1 to be divisible by the product of kernel_size, "
            f"but got input.size(1)={ckk} and kernel_size={k}."
        )
    blocks = tuple(_blocks(size, *a) for size, *a in zip(o, k, d, p, s))
    if blocks[0] * blocks[1] != length or min(blocks) < 1:
        raise RuntimeError(
            f"Given output_size={o}, kernel_size={k}, dilation={d}, padding={p}, stride={s}, "
            "expected size of input's dimension 2 to match the calculated number of sliding "
            f"blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, but got "
            f"input.size(2)={length}."
        )
    c = ckk // (k[0] * k[1])
    cols = x.reshape((n, c, k[0], k[1], blocks[0], blocks[1]))
    padded = (o[0] + 2 * p[0], o[1] + 2 * p[1])
    zero = jnp.zeros((), x.dtype)
    out = None
    for i in range(k[0]):
        for j in range(k[1]):
            # the adjoint of unfold's strided slice: an interior-padded copy (no scatter)
            config = [(0, 0, 0), (0, 0, 0)]
            for size, off, b, st in zip(padded, (i * d[0], j * d[1]), blocks, s):
                config.append((off, size - off - (b - 1) * st - 1, st - 1))
            term = lax.pad(cols[:, :, i, j], zero, config)
            out = term if out is None else out + term
    out = out[:, :, p[0] : p[0] + o[0], p[1] : p[1] + o[1]]
    return out if batched else out[0]
