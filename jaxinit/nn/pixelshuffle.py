"""``PixelShuffle`` and ``PixelUnshuffle`` as torch's (see
:func:`jaxinit.nn.functional.pixel_shuffle`)."""

from __future__ import annotations

import jax

from . import functional as F
from .module import Module


class PixelShuffle(Module):
    """``(*, C*r*r, H, W) -> (*, C, H*r, W*r)``.

    Example::

        nn.PixelShuffle(2)(jnp.zeros((1, 12, 4, 4))).shape  # (1, 3, 8, 8)
    """

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: jax.Array) -> jax.Array:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """``(*, C, H*r, W*r) -> (*, C*r*r, H, W)``.

    Example::

        nn.PixelUnshuffle(2)(jnp.zeros((1, 3, 8, 8))).shape  # (1, 12, 4, 4)
    """

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: jax.Array) -> jax.Array:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
