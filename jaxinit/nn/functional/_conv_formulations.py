"""The convolution formulations that :mod:`._conv_impl` chooses among on the CPU backend.

Every function here computes exactly ``lax.conv_general_dilated`` for a channels-first
convolution (input ``(N, C, *S)``, weight ``(O, C // G, *K)``, output ``(N, O, *S_out)``),
described by a :class:`ConvSpec`, and is linear in each operand, so its transpose (the input
or weight gradient) is derived by ``jax.linear_transpose`` of the same formulation:

* ``lax``: XLA's own convolution (Eigen's spatial convolution on CPU);
* ``im2col``: the input, moved to channels-last and padded (zeros inserted between elements
  for ``lhs_dilation``, as lax does), is cut into one strided slice per kernel offset; the
  slices are stacked into patches ``(M, prod(K) * C // G)`` (``M = N * prod(S_out)``) and
  multiplied by the weight matrix, ``patches @ W`` -> ``(M, O)``;
* ``im2col_t``: the same product transposed, ``W^T @ patches^T`` -> ``(O, M)``, which XLA's
  CPU dot runs faster when ``M`` is small and the contraction is long;
* ``slices``: no patch matrix; the sum over kernel offsets of ``slice_k @ W_k``;
* ``depthwise`` (one input channel per group only, :func:`is_depthwise`): no matmul; the
  channels-last input cut at every kernel offset, each slice times its tap of the weight,
  summed (XLA fuses the sum into one loop over the output, vectorised over channels);
* ``depthwise_cf``: the same sum on the channels-first input (no transposes; vectorised over
  the last spatial axis);
* ``toeplitz``: im2col over the channels and every spatial axis but the last; along the last
  axis the output is cut into tiles of ``B`` columns (:func:`tile_width`), and each tile is
  the product of its input window (``(B - 1) * stride + (K - 1) * dilation + 1`` columns) with
  a banded (Toeplitz) matrix built from the weight. This trades ``B``-fold fewer patch rows
  for a wider, denser matmul: for few channels (an RGB input layer with 6 output channels,
  ``patches @ W`` has 6 columns) it runs at matmul speed where the others do not. Non-finite
  inputs: the band's zeros meet every column of the window, so an ``inf``/``nan`` input can
  turn up to ``B - 1`` neighbouring outputs of its tile into ``nan`` where a direct
  convolution keeps them finite (finite inputs: the same sums as lax, within rounding).

Groups are a batch dimension of the ``dot_general``. Low-precision inputs (bf16, f16) are
multiplied with a float32 accumulator (``preferred_element_type``) and rounded once at the end.

Example::

    spec = ConvSpec.make(x.shape, w.shape, (1, 1), ((1, 1), (1, 1)), None, None, 1)
    y = FORMULATIONS["im2col"](x, w, spec)   # == lax.conv_general_dilated(x, w, ...)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


class ConvSpec(NamedTuple):
    """Static description of one channels-first convolution (hashable: a jit/custom_vjp key)."""

    strides: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    lhs_dilation: tuple[int, ...]
    rhs_dilation: tuple[int, ...]
    groups: int
    lhs_shape: tuple[int, ...]
    rhs_shape: tuple[int, ...]
    out_spatial: tuple[int, ...]

    @staticmethod
    def make(lhs_shape, rhs_shape, strides, padding, lhs_dilation, rhs_dilation, groups):
        n = len(lhs_shape) - 2
        lhs_dilation = tuple(lhs_dilation or (1,) * n)
        rhs_dilation = tuple(rhs_dilation or (1,) * n)
        padding = tuple((int(lo), int(hi)) for lo, hi in padding)
        out = []
        for size, k, s, (lo, hi), ld, rd in zip(
            lhs_shape[2:], rhs_shape[2:], strides, padding, lhs_dilation, rhs_dilation
        ):
            padded = (size - 1) * ld + 1 + lo + hi if size > 0 else lo + hi
            out.append((padded - ((k - 1) * rd + 1)) // s + 1)
        return ConvSpec(
            tuple(int(s) for s in strides),
            padding,
            lhs_dilation,
            rhs_dilation,
            int(groups),
            tuple(lhs_shape),
            tuple(rhs_shape),
            tuple(out),
        )

    def lax_kwargs(self) -> dict:
        n = len(self.strides)
        spatial = "DHW"[-n:] if n <= 3 else None
        return dict(
            window_strides=self.strides,
            padding=self.padding,
            lhs_dilation=self.lhs_dilation,
            rhs_dilation=self.rhs_dilation,
            dimension_numbers=("NC" + spatial, "OI" + spatial, "NC" + spatial),
            feature_group_count=self.groups,
        )


def _acc_type(dtype):
    return jnp.float32 if jnp.dtype(dtype).itemsize < 4 else None


def _finish(y, dtype):
    return y if y.dtype == dtype else y.astype(dtype)


def _pad(x: jax.Array, spec: ConvSpec, extra_last: int = 0) -> jax.Array:
    """The channels-first input padded (and dilated by ``lhs_dilation``) as lax does, with
    ``extra_last`` more zeros at the end of the last axis."""
    cfg = [(0, 0, 0), (0, 0, 0)]
    cfg += [(lo, hi, d - 1) for (lo, hi), d in zip(spec.padding, spec.lhs_dilation)]
    cfg[-1] = (cfg[-1][0], cfg[-1][1] + extra_last, cfg[-1][2])
    if all(c == (0, 0, 0) for c in cfg):
        return x
    return lax.pad(x, jnp.zeros((), x.dtype), cfg)


def _offset_slices(x: jax.Array, spec: ConvSpec) -> list[jax.Array]:
    """Channels-last padded input cut at every kernel offset: each ``(N, *S_out, C)``."""
    xl = jnp.moveaxis(_pad(x, spec), 1, -1)
    out = []
    for idx in itertools.product(*(range(k) for k in spec.rhs_shape[2:])):
        start = [0] + [i * d for i, d in zip(idx, spec.rhs_dilation)] + [0]
        limit = [xl.shape[0]]
        limit += [
            s0 + (o - 1) * s + 1 for s0, o, s in zip(start[1:], spec.out_spatial, spec.strides)
        ]
        limit += [xl.shape[-1]]
        out.append(lax.slice(xl, start, limit, (1, *spec.strides, 1)))
    return out


def _patches(x: jax.Array, spec: ConvSpec) -> jax.Array:
    """``(G, M, prod(K), C // G)``: the im2col matrix, one per group."""
    g = spec.groups
    cols = jnp.stack(_offset_slices(x, spec), axis=-2)  # (N, *S_out, Kk, C)
    m = math.prod(cols.shape[:-2])
    cols = cols.reshape(m, cols.shape[-2], g, cols.shape[-1] // g)
    return cols.transpose(2, 0, 1, 3)


def _weight_groups(w: jax.Array, spec: ConvSpec) -> jax.Array:
    """``(G, O // G, prod(K), C // G)`` from torch's ``(O, C // G, *K)``."""
    o, cg = w.shape[:2]
    g = spec.groups
    return w.reshape(g, o // g, cg, -1).transpose(0, 1, 3, 2)


def _to_nc(y: jax.Array, spec: ConvSpec) -> jax.Array:
    """``(G, M, O // G)`` -> ``(N, O, *S_out)``."""
    g, m, og = y.shape
    n = spec.lhs_shape[0]
    y = y.transpose(1, 0, 2).reshape(n, *spec.out_spatial, g * og)
    return jnp.moveaxis(y, -1, 1)


def conv_lax(x, w, spec: ConvSpec):
    return lax.conv_general_dilated(x, w, **spec.lax_kwargs())


def conv_im2col(x, w, spec: ConvSpec):
    p = _patches(x, spec)  # (G, M, Kk, Cg)
    wg = _weight_groups(w, spec)  # (G, Og, Kk, Cg)
    y = lax.dot_general(
        p, wg, (((2, 3), (2, 3)), ((0,), (0,))), preferred_element_type=_acc_type(x.dtype)
    )  # (G, M, Og)
    return _finish(_to_nc(y, spec), x.dtype)


def conv_im2col_t(x, w, spec: ConvSpec):
    # Patches ordered (channel, tap), as the weight is stored: the weight is then only
    # reshaped, never transposed (for a 512-channel 3x3 conv that copy is 9.4 MB per call).
    g = spec.groups
    cols = jnp.stack(_offset_slices(x, spec), axis=-1)  # (N, *S_out, C, Kk)
    m = math.prod(cols.shape[:-2])
    p = cols.reshape(m, g, cols.shape[-2] // g, cols.shape[-1]).transpose(1, 0, 2, 3)
    o, cg = w.shape[:2]
    wg = w.reshape(g, o // g, cg, -1)  # (G, Og, Cg, Kk)
    y = lax.dot_general(
        wg, p, (((2, 3), (2, 3)), ((0,), (0,))), preferred_element_type=_acc_type(x.dtype)
    )  # (G, Og, M)
    g, og, m = y.shape
    y = y.reshape(g * og, spec.lhs_shape[0], *spec.out_spatial)
    return _finish(jnp.moveaxis(y, 0, 1), x.dtype)


def conv_slices(x, w, spec: ConvSpec):
    g = spec.groups
    wg = _weight_groups(w, spec)  # (G, Og, Kk, Cg)
    acc = None
    for k, s in enumerate(_offset_slices(x, spec)):
        m = math.prod(s.shape[:-1])
        s = s.reshape(m, g, s.shape[-1] // g)
        t = lax.dot_general(
            s,
            wg[:, :, k, :],
            (((2,), (2,)), ((1,), (0,))),
            preferred_element_type=_acc_type(x.dtype),
        )  # (G, M, Og)
        acc = t if acc is None else acc + t
    return _finish(_to_nc(acc, spec), x.dtype)


def tile_width(spec: ConvSpec) -> int:
    """``B``, output columns per tile in :func:`conv_toeplitz`: enough that the banded matrix
    has about 24 columns (``O // G * B``), the width of a fast matmul panel, and no more than the
    output is wide."""
    og = spec.rhs_shape[0] // spec.groups
    return max(1, min(spec.out_spatial[-1], -(-24 // og)))


def conv_toeplitz(x, w, spec: ConvSpec):
    g, n = spec.groups, spec.lhs_shape[0]
    o, cg, *ko, kl = spec.rhs_shape
    s_l, r_l, wo = spec.strides[-1], spec.rhs_dilation[-1], spec.out_spatial[-1]
    b = tile_width(spec)
    tiles = -(-wo // b)
    window = (b - 1) * s_l + (kl - 1) * r_l + 1
    # Zeros past the end of the last axis, so that the last tile is whole.
    padded = (x.shape[-1] - 1) * spec.lhs_dilation[-1] + 1 + sum(spec.padding[-1])
    extra = max(0, (tiles - 1) * b * s_l + window - padded)
    x = jnp.moveaxis(_pad(x, spec, extra), 1, 0)  # the cuts stack into (C, cuts, N, ...)
    cuts = []
    for idx in itertools.product(*(range(k) for k in ko)):
        start = [0, 0] + [i * d for i, d in zip(idx, spec.rhs_dilation[:-1])]
        limit = [x.shape[0], n] + [
            s0 + (size - 1) * st + 1
            for s0, size, st in zip(start[2:], spec.out_spatial[:-1], spec.strides[:-1])
        ]
        for t in range(tiles):
            cuts.append(
                lax.slice(
                    x,
                    [*start, t * b * s_l],
                    [*limit, t * b * s_l + window],
                    (1, 1, *spec.strides[:-1], 1),
                )
            )
    so = spec.out_spatial[:-1]
    cols = jnp.stack(cuts, axis=1).reshape(g, cg, len(cuts) // tiles, tiles, n, *so, window)
    # The band: band[..., j, c] = w[..., k] where j == c * stride + k * dilation, else 0.
    j, c = np.arange(window)[:, None], np.arange(b)[None, :]
    k, rem = np.divmod(j - c * s_l, r_l)
    inside = (rem == 0) & (k >= 0) & (k < kl)
    band = jnp.where(inside, w[..., np.clip(k, 0, kl - 1)], jnp.zeros((), w.dtype))
    band = band.reshape(g, o // g, cg, -1, window, b)  # (G, Og, Cg, Kk, window, B)
    nd = len(so)
    y = lax.dot_general(
        cols,
        band,
        (((1, 2, 5 + nd), (2, 3, 4)), ((0,), (0,))),
        preferred_element_type=_acc_type(x.dtype),
    )  # (G, tiles, N, *So, Og, B)
    y = jnp.moveaxis(y, (2, 0, 3 + nd), (0, 1, 2))  # (N, G, Og, tiles, *So, B)
    y = jnp.moveaxis(y, 3, -2).reshape(n, o, *so, tiles * b)[..., :wo]
    return _finish(y, x.dtype)


def is_depthwise(spec: ConvSpec) -> bool:
    """One input channel per group (``groups == C``): each output channel reads one input
    channel, the domain of :func:`conv_depthwise` and :func:`conv_depthwise_cf`."""
    return spec.rhs_shape[1] == 1 and spec.groups == spec.lhs_shape[1]


def _depthwise_weight(w: jax.Array, spec: ConvSpec, dtype) -> jax.Array:
    """``(C, mult, prod(K))``: output channel ``c * mult + m`` reads input channel ``c``."""
    c = spec.lhs_shape[1]
    return w.reshape(c, spec.rhs_shape[0] // c, -1).astype(dtype)


def conv_depthwise(x, w, spec: ConvSpec):
    acc_t = _acc_type(x.dtype) or x.dtype
    n, c, o = spec.lhs_shape[0], spec.lhs_shape[1], spec.rhs_shape[0]
    wk = _depthwise_weight(w, spec, acc_t)
    lead = (1,) * len(spec.out_spatial)
    acc = None
    for k, s in enumerate(_offset_slices(x, spec)):  # each (N, *S_out, C), channels-last
        t = s.astype(acc_t)[..., None] * wk[:, :, k].reshape(1, *lead, c, -1)  # (N, *S, C, m)
        acc = t if acc is None else acc + t
    y = jnp.moveaxis(acc.reshape(n, *spec.out_spatial, o), -1, 1)
    return _finish(y, x.dtype)


def conv_depthwise_cf(x, w, spec: ConvSpec):
    acc_t = _acc_type(x.dtype) or x.dtype
    n, c, o = spec.lhs_shape[0], spec.lhs_shape[1], spec.rhs_shape[0]
    nd = len(spec.out_spatial)
    wk = _depthwise_weight(w, spec, acc_t).reshape(c, o // c, -1, *(1,) * nd)
    xp = _pad(x, spec)
    acc = None
    for k, idx in enumerate(itertools.product(*(range(kk) for kk in spec.rhs_shape[2:]))):
        start = [0, 0] + [i * d for i, d in zip(idx, spec.rhs_dilation)]
        limit = [n, c] + [
            s0 + (so - 1) * st + 1 for s0, so, st in zip(start[2:], spec.out_spatial, spec.strides)
        ]
        s = lax.slice(xp, start, limit, (1, 1, *spec.strides)).astype(acc_t)
        t = s[:, :, None] * wk[None, :, :, k]  # (N, C, mult, *S_out)
        acc = t if acc is None else acc + t
    return _finish(acc.reshape(n, o, *spec.out_spatial), x.dtype)


FORMULATIONS: dict[str, Callable] = {
    "lax": conv_lax,
    "im2col": conv_im2col,
    "im2col_t": conv_im2col_t,
    "slices": conv_slices,
    "toeplitz": conv_toeplitz,
    "depthwise": conv_depthwise,
    "depthwise_cf": conv_depthwise_cf,
}
