"""Padding layers as torch's ``nn.{Zero,Constant,Reflection,Replication,Circular}Pad{1,2,3}d``:
``padding`` stored as torch stores it (an int becomes a 2-, 4- or 6-tuple, last dim first),
torch's reprs; the forward is :func:`jaxinit.nn.functional.pad`."""

from __future__ import annotations

from collections.abc import Sequence

import jax

from . import functional as F
from .functional._utils import _repeat
from .module import Module

_Pad = int | Sequence[int]


class _PadNd(Module):
    _n = 1
    _mode = "constant"

    def __init__(self, padding: _Pad) -> None:
        super().__init__()
        self.padding = _repeat(padding, 2 * self._n)

    def forward(self, input: jax.Array) -> jax.Array:
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: _Pad, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: jax.Array) -> jax.Array:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dim with ``value``: ``padding`` is ``(left, right)`` or an int.

    Example::

        nn.ConstantPad1d(2, 3.5)   # ConstantPad1d(padding=(2, 2), value=3.5)
    """

    _n = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads the last 2 dims with ``value``: ``(left, right, top, bottom)`` or an int.

    Example::

        nn.ConstantPad2d((1, 1, 2, 0), 0.0)
    """

    _n = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last 3 dims with ``value``: ``(left, right, top, bottom, front, back)``.

    Example::

        nn.ConstantPad3d(1, -1.0)
    """

    _n = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding: _Pad) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    """:class:`ConstantPad1d` with zeros.

    Example::

        nn.ZeroPad1d((1, 2))
    """

    _n = 1


class ZeroPad2d(_ZeroPadNd):
    """:class:`ConstantPad2d` with zeros.

    Example::

        nn.ZeroPad2d(1)   # ZeroPad2d((1, 1, 1, 1))
    """

    _n = 2


class ZeroPad3d(_ZeroPadNd):
    """:class:`ConstantPad3d` with zeros.

    Example::

        nn.ZeroPad3d(1)
    """

    _n = 3


class ReflectionPad1d(_PadNd):
    """Reflects the last dim about its edges (edges not repeated): ``[2 1 | 0 1 2 3 | 2 1]``.

    Example::

        nn.ReflectionPad1d(2)
    """

    _n, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """:class:`ReflectionPad1d` over the last 2 dims.

    Example::

        nn.ReflectionPad2d((1, 1, 2, 0))
    """

    _n, _mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """:class:`ReflectionPad1d` over the last 3 dims.

    Example::

        nn.ReflectionPad3d(1)
    """

    _n, _mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """Repeats the edge values of the last dim: ``[0 0 | 0 1 2 3 | 3 3]``.

    Example::

        nn.ReplicationPad1d(2)
    """

    _n, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """:class:`ReplicationPad1d` over the last 2 dims.

    Example::

        nn.ReplicationPad2d(1)
    """

    _n, _mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """:class:`ReplicationPad1d` over the last 3 dims.

    Example::

        nn.ReplicationPad3d(1)
    """

    _n, _mode = 3, "replicate"


class _CircularPadNd(_PadNd):
    _mode = "circular"

    def forward(self, input: jax.Array) -> jax.Array:
        if input.ndim not in (self._n + 1, self._n + 2):
            raise ValueError(
                f"expected {self._n + 1}D or {self._n + 2}D input (got {input.ndim}D input)"
            )
        return F.pad(input, self.padding, "circular")


class CircularPad1d(_CircularPadNd):
    """Wraps the last dim around: ``[2 3 | 0 1 2 3 | 0 1]``.

    Example::

        nn.CircularPad1d(2)
    """

    _n = 1


class CircularPad2d(_CircularPadNd):
    """:class:`CircularPad1d` over the last 2 dims.

    Example::

        nn.CircularPad2d(1)
    """

    _n = 2


class CircularPad3d(_CircularPadNd):
    """:class:`CircularPad1d` over the last 3 dims.

    Example::

        nn.CircularPad3d(1)
    """

    _n = 3
