"""``Upsample``, ``UpsamplingNearest2d`` and ``UpsamplingBilinear2d`` as torch's: attributes
(``name``, ``size``, ``scale_factor`` as float(s), ``mode``, ``align_corners``,
``recompute_scale_factor``) and reprs as torch; the forward is
:func:`jaxinit.nn.functional.interpolate`."""

from __future__ import annotations

from collections.abc import Sequence

import jax

from . import functional as F
from .module import Module


class Upsample(Module):
    """Resizes ``(N, C, *spatial)`` to ``size`` or by ``scale_factor`` with ``mode``
    (nearest, nearest-exact, linear, bilinear, bicubic, trilinear, area).

    Example::

        up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        up   # Upsample(scale_factor=2.0, mode='bilinear')
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        scale_factor: float | Sequence[float] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: jax.Array) -> jax.Array:
        return F.interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            recompute_scale_factor=self.recompute_scale_factor,
        )

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = "scale_factor=" + repr(self.scale_factor)
        else:
            info = "size=" + repr(self.size)
        return info + ", mode=" + repr(self.mode)


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode="nearest")``.

    Example::

        nn.UpsamplingNearest2d(scale_factor=2)
    """

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode="bilinear", align_corners=True)``.

    Example::

        nn.UpsamplingBilinear2d(scale_factor=2)
    """

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
