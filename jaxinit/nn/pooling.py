"""Pooling layers as torch's ``nn.MaxPool{1,2,3}d``, ``MaxUnpool{1,2,3}d``,
``AvgPool{1,2,3}d``, ``LPPool{1,2,3}d``, ``AdaptiveAvgPool{1,2,3}d`` and
``AdaptiveMaxPool{1,2,3}d``: torch's constructor signatures and stored attributes, reprs, and
forwards that call :mod:`jaxinit.nn.functional` (sizes, divisors, indices and errors are
documented there). Unlike torch, bad window arguments raise at construction (ValueError).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax

from . import functional as F
from .functional._utils import _ntuple
from .functional.pooling import pool_arguments
from .module import Module

_Size = int | Sequence[int]


class _MaxPoolNd(Module):
    _n = 2

    def __init__(
        self,
        kernel_size: _Size,
        stride: _Size | None = None,
        padding: _Size = 0,
        dilation: _Size = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        pool_arguments(
            f"max_pool{self._n}d", self._n, kernel_size, stride, padding, dilation, error=ValueError
        )
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: jax.Array):
        fn = getattr(F, f"max_pool{self._n}d")
        return fn(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPoolNd):
    """Max over windows of ``(N, C, L)``/``(C, L)`` (see :func:`F.max_pool1d`); with
    ``return_indices=True`` the forward returns ``(values, indices)``.

    Example::

        pool = nn.MaxPool1d(3, stride=2, padding=1)
        pool   # MaxPool1d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)
    """

    _n = 1


class MaxPool2d(_MaxPoolNd):
    """Max over windows of ``(N, C, H, W)``/``(C, H, W)`` (see :func:`F.max_pool2d`).

    Example::

        pool = nn.MaxPool2d(2, 2)
        y = pool(jnp.ones((1, 3, 32, 32)))  # (1, 3, 16, 16)
    """

    _n = 2


class MaxPool3d(_MaxPoolNd):
    """Max over windows of ``(N, C, D, H, W)``/``(C, D, H, W)`` (see :func:`F.max_pool3d`).

    Example::

        y = nn.MaxPool3d(2)(jnp.ones((1, 2, 4, 4, 4)))  # (1, 2, 2, 2, 2)
    """

    _n = 3


class _MaxUnpoolNd(Module):
    _n = 2

    def __init__(self, kernel_size: _Size, stride: _Size | None = None, padding: _Size = 0):
        super().__init__()
        n = self._n
        self.kernel_size = _ntuple(kernel_size, n, "kernel_size")
        self.stride = _ntuple(stride if stride is not None else kernel_size, n, "stride")
        self.padding = _ntuple(padding, n, "padding")

    def forward(self, input: jax.Array, indices: jax.Array, output_size=None) -> jax.Array:
        fn = getattr(F, f"max_unpool{self._n}d")
        return fn(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Partial inverse of :class:`MaxPool1d` (see :func:`F.max_unpool1d`).

    Example::

        y, i = nn.MaxPool1d(2, return_indices=True)(x)
        x_back = nn.MaxUnpool1d(2)(y, i)
    """

    _n = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """Partial inverse of :class:`MaxPool2d` (see :func:`F.max_unpool2d`).

    Example::

        x_back = nn.MaxUnpool2d(2)(y, i, output_size=x.shape)
    """

    _n = 2


class MaxUnpool3d(_MaxUnpoolNd):
    """Partial inverse of :class:`MaxPool3d` (see :func:`F.max_unpool3d`).

    Example::

        x_back = nn.MaxUnpool3d(2)(y, i)
    """

    _n = 3


class _AvgPoolNd(Module):
    _n = 2

    def _check(self, kernel_size, stride, padding, divisor_override) -> None:
        if divisor_override is not None and divisor_override <= 0:
            raise ValueError(f"divisor must be not zero, got divisor_override={divisor_override}")
        pool_arguments(
            f"avg_pool{self._n}d", self._n, kernel_size, stride, padding, 1, error=ValueError
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """Mean over windows of ``(N, C, L)``/``(C, L)`` (see :func:`F.avg_pool1d`); stores
    ``kernel_size``/``stride``/``padding`` as 1-tuples, as torch.

    Example::

        nn.AvgPool1d(3)   # AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))
    """

    _n = 1

    def __init__(
        self,
        kernel_size: _Size,
        stride: _Size | None = None,
        padding: _Size = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        self._check(kernel_size, stride, padding, None)
        self.kernel_size = _ntuple(kernel_size, 1, "kernel_size")
        self.stride = _ntuple(stride if stride is not None else kernel_size, 1, "stride")
        self.padding = _ntuple(padding, 1, "padding")
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: jax.Array) -> jax.Array:
        return F.avg_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )


class _AvgPool23(_AvgPoolNd):
    def __init__(
        self,
        kernel_size: _Size,
        stride: _Size | None = None,
        padding: _Size = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self._check(kernel_size, stride, padding, divisor_override)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: jax.Array) -> jax.Array:
        fn = getattr(F, f"avg_pool{self._n}d")
        return fn(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )


class AvgPool2d(_AvgPool23):
    """Mean over windows of ``(N, C, H, W)``/``(C, H, W)`` (see :func:`F.avg_pool2d`).

    Example::

        pool = nn.AvgPool2d(3, stride=2, padding=1)
        y = pool(jnp.ones((1, 3, 32, 32)))  # (1, 3, 16, 16)
    """

    _n = 2


class AvgPool3d(_AvgPool23):
    """Mean over windows of ``(N, C, D, H, W)``/``(C, D, H, W)`` (see :func:`F.avg_pool3d`).

    Example::

        y = nn.AvgPool3d(2)(jnp.ones((1, 2, 4, 4, 4)))  # (1, 2, 2, 2, 2)
    """

    _n = 3


class _LPPoolNd(Module):
    _n = 2

    def __init__(
        self,
        norm_type: float,
        kernel_size: _Size,
        stride: _Size | None = None,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input: jax.Array) -> jax.Array:
        fn = getattr(F, f"lp_pool{self._n}d")
        return fn(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (
            f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, ceil_mode={self.ceil_mode}"
        )


class LPPool1d(_LPPoolNd):
    """Power-average pooling ``(sum x**p)**(1/p)`` over windows (see :func:`F.lp_pool1d`).

    Example::

        nn.LPPool1d(2, 3, stride=2)
    """

    _n = 1


class LPPool2d(_LPPoolNd):
    """2-d :class:`LPPool1d`.

    Example::

        nn.LPPool2d(2, 3)
    """

    _n = 2


class LPPool3d(_LPPoolNd):
    """3-d :class:`LPPool1d`.

    Example::

        nn.LPPool3d(2, 2)
    """

    _n = 3


class _AdaptiveAvgPoolNd(Module):
    _n = 2

    def __init__(self, output_size) -> None:
        super().__init__()
        if self._n > 1 and output_size is not None and not isinstance(output_size, int):
            if len(tuple(output_size)) != self._n:
                raise ValueError(
                    f"adaptive_avg_pool{self._n}d: output_size must be {self._n}, got "
                    f"output_size={output_size!r}"
                )
        if (
            isinstance(output_size, int)
            and output_size < 0
            or (
                isinstance(output_size, (tuple, list))
                and any(s is not None and s < 0 for s in output_size)
            )
        ):
            raise ValueError(f"output_size must be non-negative, got {output_size!r}")
        self.output_size = output_size

    def forward(self, input: jax.Array) -> jax.Array:
        return getattr(F, f"adaptive_avg_pool{self._n}d")(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average pooling of ``(N, C, L)``/``(C, L)`` to a fixed length (see
    :func:`F.adaptive_avg_pool1d`).

    Example::

        y = nn.AdaptiveAvgPool1d(1)(x)
    """

    _n = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed ``output_size`` (an int, or a pair whose ``None`` entries
    keep the input size), for any input size (see :func:`F.adaptive_avg_pool2d`).

    Example::

        pool = nn.AdaptiveAvgPool2d((1, 1))
        y = pool(jnp.ones((2, 512, 7, 7)))  # (2, 512, 1, 1)
    """

    _n = 2


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """3-d :class:`AdaptiveAvgPool2d`.

    Example::

        y = nn.AdaptiveAvgPool3d((1, 2, 2))(x)
    """

    _n = 3


class _AdaptiveMaxPoolNd(Module):
    _n = 2

    def __init__(self, output_size, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input: jax.Array):
        fn = getattr(F, f"adaptive_max_pool{self._n}d")
        return fn(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max pooling of ``(N, C, L)``/``(C, L)`` to a fixed length; ``return_indices`` as
    :class:`MaxPool1d` (see :func:`F.adaptive_max_pool1d`).

    Example::

        y = nn.AdaptiveMaxPool1d(4)(x)
    """

    _n = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """2-d :class:`AdaptiveMaxPool1d`; ``None`` keeps a dim.

    Example::

        y = nn.AdaptiveMaxPool2d((1, 1))(x)
    """

    _n = 2


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """3-d :class:`AdaptiveMaxPool1d`.

    Example::

        y = nn.AdaptiveMaxPool3d(1)(x)
    """

    _n = 3
