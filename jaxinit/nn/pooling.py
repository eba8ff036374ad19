"""2-d pooling as torch's ``MaxPool2d``, ``AvgPool2d`` and ``AdaptiveAvgPool2d``: same output
sizes (``ceil_mode`` included), same divisors, same errors and reprs.

Inputs are ``(N, C, H, W)`` or unbatched ``(C, H, W)``. The output size along a dim of size
``L`` is torch's::

    out = floor((L + 2*padding - dilation*(kernel - 1) - 1 + (stride - 1 if ceil_mode else 0))
                / stride) + 1
    if ceil_mode and (out - 1) * stride >= L + padding: out -= 1   # no window starts in padding
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .functional._utils import _ntuple
from .module import Module

_IntOrPair = int | Sequence[int]


def _check_input(x: jax.Array) -> None:
    if x.ndim not in (3, 4) or 0 in x.shape[1:]:
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")


def _output_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


class _Pool2d(Module):
    """Shared argument handling and windowing of :class:`MaxPool2d` and :class:`AvgPool2d`."""

    def _setup(
        self,
        kernel_size: _IntOrPair,
        stride: _IntOrPair | None,
        padding: _IntOrPair,
        dilation: _IntOrPair,
        ceil_mode: bool,
    ) -> None:
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self._k = _ntuple(kernel_size, 2, "kernel_size")
        self._s = _ntuple(self.stride, 2, "stride")
        self._p = _ntuple(padding, 2, "padding")
        self._d = _ntuple(dilation, 2, "dilation")
        if any(k <= 0 for k in self._k):
            raise ValueError(
                f"kernel size should be greater than zero, but got kH: {self._k[0]} "
                f"kW: {self._k[1]}"
            )
        if any(s <= 0 for s in self._s):
            raise ValueError("stride should not be zero")
        if any(d <= 0 for d in self._d):
            raise ValueError(
                f"dilation should be greater than zero, but got dilationH: {self._d[0]} "
                f"dilationW: {self._d[1]}"
            )
        for k, p, d in zip(self._k, self._p, self._d):
            if p < 0 or p > (d * (k - 1) + 1) // 2:
                raise ValueError(
                    "pad should be at most half of effective kernel size, but got "
                    f"pad={p}, kernel_size={k} and dilation={d}"
                )

    def _windows(self, x: jax.Array) -> tuple[tuple[int, int], tuple]:
        """Output (H, W) and lax padding for a 4-d input: ``padding`` on the low side, on the
        high side whatever makes ``reduce_window`` produce torch's (ceil_mode) size."""
        outs, pads = [], []
        for size, k, s, p, d in zip(x.shape[2:], self._k, self._s, self._p, self._d):
            out = _output_size(size, k, s, p, d, self.ceil_mode)
            outs.append(out)
            pads.append((p, max(p, (out - 1) * s + d * (k - 1) + 1 - size - p)))
        if min(outs) < 1:
            c, h, w = x.shape[1:]
            raise RuntimeError(
                f"Given input size: ({c}x{h}x{w}). Calculated output size: "
                f"({c}x{outs[0]}x{outs[1]}). Output size is too small"
            )
        return (outs[0], outs[1]), ((0, 0), (0, 0), *pads)


class MaxPool2d(_Pool2d):
    """Maximum over each ``kernel_size`` window (``stride`` defaults to ``kernel_size``),
    implicit ``-inf`` padding, optional dilation; ``ceil_mode`` as torch (a last partial window
    is kept unless it would start in the padding).

    Example::

        pool = nn.MaxPool2d(2, 2)
        y = pool(jnp.ones((1, 3, 32, 32)))  # (1, 3, 16, 16)
        pool    # MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    """

    def __init__(
        self,
        kernel_size: _IntOrPair,
        stride: _IntOrPair | None = None,
        padding: _IntOrPair = 0,
        dilation: _IntOrPair = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        if return_indices:
            raise NotImplementedError("MaxPool2d(return_indices=True) is not supported by jaxinit")
        self._setup(kernel_size, stride, padding, dilation, ceil_mode)
        self.dilation = dilation
        self.return_indices = return_indices

    def forward(self, x: jax.Array) -> jax.Array:
        _check_input(x)
        unbatched = x.ndim == 3
        if unbatched:
            x = x[None]
        out_size, pads = self._windows(x)
        # A concrete numpy init value lets lax recognise the max monoid (and differentiate it).
        if jnp.issubdtype(x.dtype, jnp.floating):
            lowest = np.array(-np.inf, x.dtype)
        else:
            lowest = np.array(jnp.iinfo(x.dtype).min, x.dtype)
        if any(d != 1 for d in self._d):
            # JAX cannot differentiate a dilated reduce_window max: take the max of the
            # kernel's k_h * k_w strided views of the padded input instead.
            x = jnp.pad(x, pads, constant_values=lowest)
            (kh, kw), (dh, dw), (sh, sw), (oh, ow) = self._k, self._d, self._s, out_size
            rows = [slice(i * dh, i * dh + (oh - 1) * sh + 1, sh) for i in range(kh)]
            cols = [slice(j * dw, j * dw + (ow - 1) * sw + 1, sw) for j in range(kw)]
            views = [x[:, :, r, c] for r in rows for c in cols]
            y = functools.reduce(jnp.maximum, views)
        else:
            y = lax.reduce_window(
                x,
                lowest,
                lax.max,
                window_dimensions=(1, 1, *self._k),
                window_strides=(1, 1, *self._s),
                padding=pads,
            )
        return y[0] if unbatched else y

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(_Pool2d):
    """Mean over each ``kernel_size`` window (``stride`` defaults to ``kernel_size``) with
    implicit zero padding, as torch's ``nn.AvgPool2d``.

    Divisor, for a window ``[start, start + k)`` with ``start = i*stride - padding``: with
    ``count_include_pad`` the window clipped to the padded input ``[-padding, L + padding)``
    (so a ``ceil_mode`` window hanging past the padding counts less); without it, the window
    clipped to the input ``[0, L)``; ``divisor_override`` replaces both.

    Example::

        pool = nn.AvgPool2d(3, stride=2, padding=1)
        y = pool(jnp.ones((1, 3, 32, 32)))  # (1, 3, 16, 16)
    """

    def __init__(
        self,
        kernel_size: _IntOrPair,
        stride: _IntOrPair | None = None,
        padding: _IntOrPair = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        if divisor_override is not None and divisor_override <= 0:
            raise ValueError(f"divisor must be not zero, got divisor_override={divisor_override}")
        self._setup(kernel_size, stride, padding, 1, ceil_mode)
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def _divisor(self, in_size: tuple[int, int], out_size: tuple[int, int]) -> np.ndarray:
        """The (out_H, out_W) divisors, computed from static shapes (torch's avg_pool2d)."""
        counts = []
        for size, out, k, s, p in zip(in_size, out_size, self._k, self._s, self._p):
            start = np.arange(out) * s - p
            end = np.minimum(start + k, size + p)
            if not self.count_include_pad:
                start, end = np.maximum(start, 0), np.minimum(end, size)
            counts.append(end - start)
        return np.outer(counts[0], counts[1])

    def forward(self, x: jax.Array) -> jax.Array:
        _check_input(x)
        unbatched = x.ndim == 3
        if unbatched:
            x = x[None]
        out_size, pads = self._windows(x)
        total = lax.reduce_window(
            x,
            np.array(0, x.dtype),
            lax.add,
            window_dimensions=(1, 1, *self._k),
            window_strides=(1, 1, *self._s),
            padding=pads,
        )
        if self.divisor_override is not None:
            divisor = np.full(out_size, self.divisor_override)
        else:
            divisor = self._divisor(x.shape[2:], out_size)
        y = total / jnp.asarray(divisor, x.dtype)[None, None]
        return y[0] if unbatched else y

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed ``output_size`` (an int, or a pair whose ``None`` entries
    keep the input size), for any input size, as torch's ``nn.AdaptiveAvgPool2d``.

    Output cell ``i`` of a dim of size ``L`` averages input ``[floor(i*L/out),
    ceil((i+1)*L/out))``: windows of unequal size (and overlapping) when ``out`` does not
    divide ``L``.

    Example::

        pool = nn.AdaptiveAvgPool2d((1, 1))
        y = pool(jnp.ones((2, 512, 7, 7)))  # (2, 512, 1, 1)
    """

    def __init__(self, output_size: int | None | Sequence[int | None]) -> None:
        super().__init__()
        if output_size is None or isinstance(output_size, int):
            sizes = (output_size, output_size)
        else:
            sizes = tuple(output_size)
        if len(sizes) != 2:
            raise ValueError(
                f"adaptive_avg_pool2d: output_size must be 2, got output_size={output_size!r}"
            )
        if any(s is not None and s < 0 for s in sizes):
            raise ValueError(f"output_size must be non-negative, got {output_size!r}")
        self.output_size = output_size
        self._sizes = sizes

    def forward(self, x: jax.Array) -> jax.Array:
        if x.ndim not in (3, 4):
            raise RuntimeError(
                f"adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got {list(x.shape)}"
            )
        for dim in range(1, x.ndim):
            if x.shape[dim] == 0:
                raise RuntimeError(
                    "adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch "
                    f"dimensions, but input has sizes {list(x.shape)} with dimension {dim} "
                    "being empty"
                )
        h, w = x.shape[-2:]
        oh, ow = (s if s is not None else size for s, size in zip(self._sizes, (h, w)))
        if oh and ow and h % oh == 0 and w % ow == 0:  # equal windows: reshape and mean
            y = x.reshape(*x.shape[:-2], oh, h // oh, ow, w // ow)
            return jnp.mean(y, axis=(-3, -1))
        compute = jnp.float32 if jnp.dtype(x.dtype).itemsize < 4 else x.dtype
        rows = jnp.asarray(_averaging_matrix(h, oh), compute)
        cols = jnp.asarray(_averaging_matrix(w, ow), compute)
        y = jnp.einsum(
            "...hw,oh,pw->...op", x.astype(compute), rows, cols, precision=lax.Precision.HIGHEST
        )
        return y.astype(x.dtype)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


def _averaging_matrix(size: int, out: int) -> np.ndarray:
    """``(out, size)``: row ``i`` averages ``[floor(i*size/out), ceil((i+1)*size/out))``."""
    m = np.zeros((out, size))
    for i in range(out):
        start = (i * size) // out
        end = -((-(i + 1) * size) // out)
        m[i, start:end] = 1.0 / (end - start)
    return m
