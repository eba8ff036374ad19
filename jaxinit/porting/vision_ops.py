"""torchvision's functions that ``torch.fx`` keeps whole (``torch.fx.wrap``), with torch's
semantics on ``jax.numpy``: the port of a torchvision model calls these where torchvision's
``forward`` calls its own (:mod:`jaxinit.porting.table` maps them). Nothing here imports torch.

Example::

    from jaxinit.porting import vision_ops
    vision_ops.patch_merging_pad(jnp.ones((1, 5, 5, 8))).shape     # (1, 3, 3, 32)
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxinit.nn import functional as F


def patch_merging_pad(x: jax.Array) -> jax.Array:
    """torchvision's ``_patch_merging_pad``: pad ``(..., H, W, C)`` to even ``H, W`` and
    stack the four 2x2 phases on the channel axis: ``(..., H/2, W/2, 4C)``."""
    h, w = x.shape[-3], x.shape[-2]
    pad = [(0, 0)] * (x.ndim - 3) + [(0, h % 2), (0, w % 2), (0, 0)]
    x = jnp.pad(x, pad)
    parts = [
        x[..., 0::2, 0::2, :],
        x[..., 1::2, 0::2, :],
        x[..., 0::2, 1::2, :],
        x[..., 1::2, 1::2, :],
    ]
    return jnp.concatenate(parts, axis=-1)


def get_relative_position_bias(
    table: jax.Array, index: jax.Array, window_size: list[int]
) -> jax.Array:
    """torchvision's ``_get_relative_position_bias``: ``table[index]`` as
    ``(1, heads, N, N)`` with ``N = window_size[0] * window_size[1]``."""
    n = window_size[0] * window_size[1]
    bias = jnp.reshape(table[index], (n, n, -1))
    return jnp.transpose(bias, (2, 0, 1))[None]


def _shift_mask(pad_h: int, pad_w: int, window: list[int], shift: list[int]) -> np.ndarray:
    mask = np.zeros((pad_h, pad_w), np.float32)
    hs = ((0, -window[0]), (-window[0], -shift[0]), (-shift[0], None))
    ws = ((0, -window[1]), (-window[1], -shift[1]), (-shift[1], None))
    count = 0
    for h in hs:
        for w in ws:
            mask[h[0] : h[1], w[0] : w[1]] = count
            count += 1
    mask = mask.reshape(pad_h // window[0], window[0], pad_w // window[1], window[1])
    mask = mask.transpose(0, 2, 1, 3).reshape(-1, window[0] * window[1])
    mask = mask[:, None, :] - mask[:, :, None]
    return np.where(mask != 0, np.float32(-100.0), np.float32(0.0))


def shifted_window_attention(
    input: jax.Array,
    qkv_weight: jax.Array,
    proj_weight: jax.Array,
    relative_position_bias: jax.Array,
    window_size: list[int],
    num_heads: int,
    shift_size: list[int],
    attention_dropout: float = 0.0,
    dropout: float = 0.0,
    qkv_bias: jax.Array | None = None,
    proj_bias: jax.Array | None = None,
    logit_scale: jax.Array | None = None,
    training: bool = True,
    *,
    rng: Any = None,
) -> jax.Array:
    """torchvision's ``shifted_window_attention`` (Swin's W-MSA / SW-MSA): windows of
    ``window_size`` over ``input (B, H, W, C)``, cyclically shifted by ``shift_size``, each
    attended with the relative position bias (and the shift mask), then put back.
    ``rng`` feeds the two dropouts in training."""
    b, h, w, c = input.shape
    pad_r = (window_size[1] - w % window_size[1]) % window_size[1]
    pad_b = (window_size[0] - h % window_size[0]) % window_size[0]
    x = jnp.pad(input, ((0, 0), (0, pad_b), (0, pad_r), (0, 0)))
    _, pad_h, pad_w, _ = x.shape
    shift = list(shift_size)
    if window_size[0] >= pad_h:
        shift[0] = 0
    if window_size[1] >= pad_w:
        shift[1] = 0
    if sum(shift) > 0:
        x = jnp.roll(x, (-shift[0], -shift[1]), axis=(1, 2))
    nh, nw = pad_h // window_size[0], pad_w // window_size[1]
    num_windows = nh * nw
    win = window_size[0] * window_size[1]
    x = x.reshape(b, nh, window_size[0], nw, window_size[1], c)
    x = x.transpose(0, 1, 3, 2, 4, 5).reshape(b * num_windows, win, c)
    if logit_scale is not None and qkv_bias is not None:
        length = qkv_bias.shape[0] // 3
        qkv_bias = qkv_bias.at[length : 2 * length].set(0)
    qkv = F.linear(x, qkv_weight, qkv_bias)
    qkv = qkv.reshape(x.shape[0], x.shape[1], 3, num_heads, c // num_heads)
    qkv = jnp.transpose(qkv, (2, 0, 3, 1, 4))
    q, k, v = qkv[0], qkv[1], qkv[2]
    if logit_scale is not None:
        attn = F.normalize(q, dim=-1) @ jnp.swapaxes(F.normalize(k, dim=-1), -2, -1)
        attn = attn * jnp.exp(jnp.minimum(logit_scale, np.log(100.0)))
    else:
        attn = (q * (c // num_heads) ** -0.5) @ jnp.swapaxes(k, -2, -1)
    attn = attn + relative_position_bias
    if sum(shift) > 0:
        mask = jnp.asarray(_shift_mask(pad_h, pad_w, window_size, shift), attn.dtype)
        attn = attn.reshape(x.shape[0] // num_windows, num_windows, num_heads, win, win)
        attn = (attn + mask[None, :, None]).reshape(-1, num_heads, win, win)
    attn = F.softmax(attn, dim=-1)
    keys = jax.random.split(rng) if training and rng is not None else (None, None)
    attn = F.dropout(attn, attention_dropout, training and attention_dropout > 0, rng=keys[0])
    x = jnp.swapaxes(attn @ v, 1, 2).reshape(x.shape[0], x.shape[1], c)
    x = F.linear(x, proj_weight, proj_bias)
    x = F.dropout(x, dropout, training and dropout > 0, rng=keys[1])
    x = x.reshape(b, nh, nw, window_size[0], window_size[1], c)
    x = x.transpose(0, 1, 3, 2, 4, 5).reshape(b, pad_h, pad_w, c)
    if sum(shift) > 0:
        x = jnp.roll(x, (shift[0], shift[1]), axis=(1, 2))
    return x[:, :h, :w, :]
