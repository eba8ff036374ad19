"""``Conv1d`` and ``Conv2d``, with torch's layout, padding rules, default init, errors and reprs.

Weights are torch's ``(out_channels, in_channels // groups, *kernel_size)`` and inputs are
channels-first (``NCL`` / ``NCHW``, or unbatched ``CL`` / ``CHW``), so a torch ``state_dict``
loads without any transposition.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from .functional._conv_impl import conv_general_dilated
from .functional._utils import _ntuple
from .linear import default_bias_init, default_weight_init
from .module import Module
from .parameter import Parameter

_PADDING_MODES = {"zeros", "reflect", "replicate", "circular"}
# torch's F.pad modes -> jnp.pad modes (used for every padding_mode but 'zeros').
_JNP_PAD_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


class _ConvNd(Module):
    """Shared by :class:`Conv1d` and :class:`Conv2d`; ``_n`` is the number of spatial dims."""

    _n: int
    _specs: tuple[str, str, str]  # lax dimension numbers: input, kernel, output

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: str | int | Sequence[int] = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        super().__init__()
        n = self._n
        kernel_size = _ntuple(kernel_size, n, "kernel_size")
        stride = _ntuple(stride, n, "stride")
        dilation = _ntuple(dilation, n, "dilation")
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"Invalid padding string {padding!r}, should be one of {{'same', 'valid'}}"
                )
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        else:
            padding = _ntuple(padding, n, "padding")
            if any(p < 0 for p in padding):
                raise ValueError("negative padding is not supported")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"padding_mode must be one of {_PADDING_MODES}, but got "
                f"padding_mode='{padding_mode}'"
            )
        if any(s <= 0 for s in stride):
            raise ValueError("non-positive stride is not supported")
        if any(d <= 0 for d in dilation):
            raise ValueError("dilation should be greater than zero")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.padding_mode = padding_mode
        # (low, high) padding per spatial dim. 'same' pads d*(k-1) in total, the odd one on the
        # high side (torch's asymmetric rule for even kernels).
        if padding == "same":
            totals = [d * (k - 1) for d, k in zip(dilation, kernel_size)]
            self._pads = tuple((t // 2, t - t // 2) for t in totals)
        elif padding == "valid":
            self._pads = ((0, 0),) * n
        else:
            self._pads = tuple((p, p) for p in padding)

        weight_shape = (out_channels, in_channels // groups, *kernel_size)
        self.weight = Parameter(weight_shape, default_weight_init, dtype)
        if bias:
            fan_in = (in_channels // groups) * math.prod(kernel_size)
            self.bias = Parameter((out_channels,), default_bias_init(fan_in), dtype)
        else:
            self.register_parameter("bias", None)

    def forward(self, x: jax.Array) -> jax.Array:
        n = self._n
        name = type(self).__name__.lower()
        if x.ndim not in (n + 1, n + 2):
            raise RuntimeError(
                f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {name}, but got "
                f"input of size: {list(x.shape)}"
            )
        unbatched = x.ndim == n + 1
        if unbatched:
            x = x[None]
        weight = self.weight
        if x.shape[1] != self.in_channels:
            raise RuntimeError(
                f"Given groups={self.groups}, weight of size {list(weight.shape)}, expected "
                f"input{list(x.shape)} to have {self.in_channels} channels, but got "
                f"{x.shape[1]} channels instead"
            )
        if x.dtype != weight.dtype:
            raise TypeError(
                f"Input type ({x.dtype}) and weight type ({weight.dtype}) should be the same: "
                f"cast the input, e.g. x.astype({weight.dtype.name!r})"
            )
        padded = [s + lo + hi for s, (lo, hi) in zip(x.shape[2:], self._pads)]
        effective = [d * (k - 1) + 1 for d, k in zip(self.dilation, self.kernel_size)]
        if any(p < e for p, e in zip(padded, effective)):
            raise RuntimeError(
                f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
                f"Kernel size: ({' x '.join(map(str, effective))}). Kernel size can't be "
                "greater than actual input size"
            )
        pads = self._pads
        if self.padding_mode != "zeros":
            x = jnp.pad(x, ((0, 0), (0, 0), *pads), mode=_JNP_PAD_MODE[self.padding_mode])
            pads = ((0, 0),) * n
        y = conv_general_dilated(
            x,
            weight,
            window_strides=self.stride,
            padding=pads,
            rhs_dilation=self.dilation,
            dimension_numbers=self._specs,
            feature_group_count=self.groups,
        )
        if self.bias is not None:
            y = y + self.bias.reshape((1, -1) + (1,) * n)
        return y[0] if unbatched else y

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if isinstance(self.padding, str) or any(self.padding):
            s += f", padding={self.padding}"
        if any(d != 1 for d in self.dilation):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-d convolution over ``(N, C_in, L)`` (or unbatched ``(C_in, L)``) inputs, as torch's
    ``nn.Conv1d``.

    ``out[n, o] = bias[o] + sum_{i in group(o)} sum_k weight[o, i, k] * x_pad[n, i, s*l + d*k]``
    with ``weight (out_channels, in_channels // groups, k)``. ``padding``: int, 1-tuple,
    ``'valid'`` (none) or ``'same'`` (output length = input length; stride 1 only; for even
    effective kernels the extra element goes on the right, as torch). ``padding_mode``:
    ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.

    Default init as torch: weight ``kaiming_uniform(a=sqrt(5))`` = U(+-1/sqrt(fan_in)), bias
    U(+-1/sqrt(fan_in)), ``fan_in = (in_channels // groups) * k``.

    Example::

        conv = nn.Conv1d(4, 8, 3, padding=1)
        v = conv.init(jax.random.key(0))    # weight (8, 4, 3), bias (8,)
        y = conv(v, jnp.ones((2, 4, 10)))   # (2, 8, 10)
    """

    _n = 1
    _specs = ("NCH", "OIH", "NCH")


class Conv2d(_ConvNd):
    """2-d convolution over ``(N, C_in, H, W)`` (or unbatched ``(C_in, H, W)``) inputs, as
    torch's ``nn.Conv2d``.

    ``out[n, o, h, w] = bias[o] + sum_{i, kh, kw} weight[o, i, kh, kw] *
    x_pad[n, g(o)*C_in/groups + i, s_h*h + d_h*kh, s_w*w + d_w*kw]`` with
    ``weight (out_channels, in_channels // groups, kH, kW)``. ``kernel_size``, ``stride``,
    ``padding`` and ``dilation`` are ints or pairs; ``padding`` may also be ``'valid'`` or
    ``'same'`` (stride 1 only; asymmetric for even effective kernels, the extra row/column at
    the bottom/right, as torch). ``padding_mode``: ``'zeros'``, ``'reflect'``, ``'replicate'``
    or ``'circular'``.

    Default init as torch: weight ``kaiming_uniform(a=sqrt(5))`` = U(+-1/sqrt(fan_in)), bias
    U(+-1/sqrt(fan_in)), ``fan_in = (in_channels // groups) * kH * kW``.

    Example::

        conv = nn.Conv2d(3, 6, 5)           # Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1))
        v = conv.init(jax.random.key(0))    # weight (6, 3, 5, 5), bias (6,)
        y = conv(v, jnp.ones((1, 3, 32, 32)))   # (1, 6, 28, 28)
    """

    _n = 2
    _specs = ("NCHW", "OIHW", "NCHW")
