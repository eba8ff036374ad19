"""``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d``, with torch's layouts, padding rules,
default init, errors and reprs, computed by :mod:`jaxinit.nn.functional.conv`.

Weights are torch's: ``(out_channels, in_channels // groups, *kernel_size)`` for ``Conv*`` and
``(in_channels, out_channels // groups, *kernel_size)`` for ``ConvTranspose*``; inputs are
channels-first (``NCL`` / ``NCHW`` / ``NCDHW``, or unbatched without ``N``), so a torch
``state_dict`` loads without any transposition.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax

from .functional import conv as Fc
from .functional._utils import _ntuple
from .functional.padding import pad as _pad
from .linear import default_bias_init, default_weight_init
from .module import Module
from .parameter import Parameter

_PADDING_MODES = {"zeros", "reflect", "replicate", "circular"}


def _pad_spatial(x: jax.Array, pads: Sequence[tuple[int, int]], mode: str) -> jax.Array:
    """``padding_mode`` padding of the last ``len(pads)`` dims through ``F.pad``, as
    torch's ``_conv_forward`` does (``_reversed_padding_repeated_twice``: last dim first)."""
    reversed_pads = tuple(p for lo_hi in reversed(pads) for p in lo_hi)
    return _pad(x, reversed_pads, mode=mode)


class _ConvNd(Module):
    """Shared by the ``Conv*`` and ``ConvTranspose*`` layers; ``_n`` is the number of spatial
    dims. Stores torch's hyper-parameter attributes with torch's names and types."""

    _n: int
    transposed: bool = False

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
        output_padding: int | Sequence[int] = 0,
    ) -> None:
        super().__init__()
        n = self._n
        kernel_size = _ntuple(kernel_size, n, "kernel_size")
        stride = _ntuple(stride, n, "stride")
        dilation = _ntuple(dilation, n, "dilation")
        output_padding = _ntuple(output_padding, n, "output_padding")
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
        self.transposed = type(self).transposed
        self.output_padding = output_padding
        self.groups = groups
        self.padding_mode = padding_mode
        # (low, high) padding per spatial dim, for padding_mode != 'zeros' ('same': torch's
        # asymmetric rule, the odd element on the high side).
        if padding == "same":
            self._pads = Fc.same_padding(kernel_size, dilation)
        elif padding == "valid":
            self._pads = ((0, 0),) * n
        else:
            self._pads = tuple((p, p) for p in padding)

        if self.transposed:
            weight_shape = (in_channels, out_channels // groups, *kernel_size)
        else:
            weight_shape = (out_channels, in_channels // groups, *kernel_size)
        # torch's fan_in is weight.size(1) * receptive field, whichever the layout
        fan_in = weight_shape[1] * math.prod(kernel_size)
        self.weight = Parameter(weight_shape, default_weight_init, dtype)
        if bias:
            self.bias = Parameter((out_channels,), default_bias_init(fan_in), dtype)
        else:
            self.register_parameter("bias", None)

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if isinstance(self.padding, str) or any(self.padding):
            s += f", padding={self.padding}"
        if any(d != 1 for d in self.dilation):
            s += f", dilation={self.dilation}"
        if any(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """``Conv1d/2d/3d``: ``padding_mode`` pads first (with ``_pads``), then convolves."""

    _fn: Callable[..., jax.Array]

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
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            dtype,
        )

    def forward(self, input: jax.Array) -> jax.Array:
        fn = type(self)._fn
        if self.padding_mode == "zeros":
            padding = self.padding
        else:
            Fc._is_batched(input, self._n, fn.__name__)
            input = _pad_spatial(input, self._pads, self.padding_mode)
            padding = 0
        return fn(input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class _ConvTranspose(_ConvNd):
    """``ConvTranspose1d/2d/3d``: ``output_size=`` in forward picks torch's output padding."""

    _fn: Callable[..., jax.Array]
    transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        output_padding: int | Sequence[int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | Sequence[int] = 1,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        if isinstance(padding, str):
            raise ValueError(
                f"{type(self).__name__} takes an int or a tuple of ints as padding, got "
                f"{padding!r}: string padding exists for Conv layers only"
            )
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            dtype,
            output_padding,
        )

    def _output_padding(
        self, input: jax.Array, output_size: Sequence[int] | None
    ) -> tuple[int, ...]:
        """torch's ``_output_padding``: ``output_padding``, or the one that gives
        ``output_size`` (its spatial dims, or all of them), within ``[min, min + stride - 1]``."""
        if output_size is None:
            return self.output_padding
        n = self._n
        non_spatial = 2 if input.ndim == n + 2 else 1
        if len(output_size) == non_spatial + n:
            output_size = output_size[non_spatial:]
        if len(output_size) != n:
            raise ValueError(
                f"ConvTranspose{n}D: for {input.ndim}D input, output_size must have {n} "
                f"or {non_spatial + n} elements (got {len(output_size)})"
            )
        min_sizes = [
            (input.shape[d + non_spatial] - 1) * self.stride[d]
            - 2 * self.padding[d]
            + self.dilation[d] * (self.kernel_size[d] - 1)
            + 1
            for d in range(n)
        ]
        max_sizes = [m + s - 1 for m, s in zip(min_sizes, self.stride)]
        for size, lo, hi in zip(output_size, min_sizes, max_sizes):
            if size < lo or size > hi:
                raise ValueError(
                    f"requested an output size of {output_size}, but valid sizes range from "
                    f"{min_sizes} to {max_sizes} (for an input of {list(input.shape[2:])})"
                )
        return tuple(int(size) - lo for size, lo in zip(output_size, min_sizes))

    def forward(self, input: jax.Array, output_size: Sequence[int] | None = None) -> jax.Array:
        fn = type(self)._fn
        Fc._is_batched(input, self._n, fn.__name__)
        output_padding = self._output_padding(input, output_size)
        return fn(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            output_padding,
            self.groups,
            self.dilation,
        )


class Conv1d(_Conv):
    """1-d convolution over ``(N, C_in, L)`` (or unbatched ``(C_in, L)``) inputs, as torch's
    ``nn.Conv1d`` (:func:`jaxinit.nn.functional.conv1d`).

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
    _fn = staticmethod(Fc.conv1d)


class Conv2d(_Conv):
    """2-d convolution over ``(N, C_in, H, W)`` (or unbatched ``(C_in, H, W)``) inputs, as
    torch's ``nn.Conv2d`` (:func:`jaxinit.nn.functional.conv2d`).

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
    _fn = staticmethod(Fc.conv2d)


class Conv3d(_Conv):
    """3-d convolution over ``(N, C_in, D, H, W)`` (or unbatched ``(C_in, D, H, W)``) inputs,
    as torch's ``nn.Conv3d`` (:func:`jaxinit.nn.functional.conv3d`): :class:`Conv2d`'s
    formula with a depth axis, ``weight (out_channels, in_channels // groups, kD, kH, kW)``,
    the same ``padding`` strings and ``padding_mode`` values.

    Default init as torch: U(+-1/sqrt(fan_in)) for weight and bias,
    ``fan_in = (in_channels // groups) * kD * kH * kW``.

    Example::

        conv = nn.Conv3d(2, 4, 3, padding="same")
        v = conv.init(jax.random.key(0))        # weight (4, 2, 3, 3, 3), bias (4,)
        y = conv(v, jnp.ones((1, 2, 5, 6, 7)))  # (1, 4, 5, 6, 7)
    """

    _n = 3
    _fn = staticmethod(Fc.conv3d)


class ConvTranspose1d(_ConvTranspose):
    """1-d transposed convolution (the gradient of :class:`Conv1d` with respect to its input),
    as torch's ``nn.ConvTranspose1d`` (:func:`jaxinit.nn.functional.conv_transpose1d`).

    ``weight (in_channels, out_channels // groups, k)``;
    ``L_out = (L_in - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``.
    ``forward(x, output_size=...)`` picks the ``output_padding`` that gives ``output_size``
    (torch's rule: it must lie in ``[L_min, L_min + stride - 1]``). Only
    ``padding_mode='zeros'``.

    Default init as torch: U(+-1/sqrt(fan_in)) for weight and bias with torch's fan of this
    layout, ``fan_in = (out_channels // groups) * k`` (``weight.size(1)`` times the kernel).

    Example::

        up = nn.ConvTranspose1d(16, 8, 3, stride=2, padding=1)
        v = up.init(jax.random.key(0))                           # weight (16, 8, 3)
        y = up(v, jnp.ones((1, 16, 6)), output_size=[1, 8, 12])  # (1, 8, 12)
    """

    _n = 1
    _fn = staticmethod(Fc.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """2-d transposed convolution, as torch's ``nn.ConvTranspose2d``
    (:func:`jaxinit.nn.functional.conv_transpose2d`).

    ``weight (in_channels, out_channels // groups, kH, kW)``; ``H_out = (H_in - 1) * s_h -
    2 p_h + d_h (kH - 1) + output_padding_h + 1`` (likewise ``W_out``); ``output_size=`` in
    forward as :class:`ConvTranspose1d`. Default init: U(+-1/sqrt(fan_in)),
    ``fan_in = (out_channels // groups) * kH * kW``.

    Example::

        up = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)
        v = up.init(jax.random.key(0))          # weight (4, 2, 3, 3), bias (2,)
        y = up(v, jnp.ones((1, 4, 5, 5)))       # (1, 2, 10, 10)
    """

    _n = 2
    _fn = staticmethod(Fc.conv_transpose2d)


class ConvTranspose3d(_ConvTranspose):
    """3-d transposed convolution, as torch's ``nn.ConvTranspose3d``
    (:func:`jaxinit.nn.functional.conv_transpose3d`): :class:`ConvTranspose2d` with a depth
    axis, ``weight (in_channels, out_channels // groups, kD, kH, kW)``, ``fan_in =
    (out_channels // groups) * kD * kH * kW``.

    Example::

        up = nn.ConvTranspose3d(2, 4, 2, stride=2)
        v = up.init(jax.random.key(0))          # weight (2, 4, 2, 2, 2), bias (4,)
        y = up(v, jnp.ones((1, 2, 3, 3, 3)))    # (1, 4, 6, 6, 6)
    """

    _n = 3
    _fn = staticmethod(Fc.conv_transpose3d)
