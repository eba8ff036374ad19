"""``Fold`` and ``Unfold``: torch's col2im / im2col layers over
:func:`jaxinit.nn.functional.fold` and :func:`jaxinit.nn.functional.unfold`."""

from __future__ import annotations

from collections.abc import Sequence

import jax

from .functional.fold import fold, unfold
from .module import Module

IntOrPair = int | Sequence[int]


class Fold(Module):
    """Sums sliding local blocks ``(N, C*kH*kW, L)`` (or ``(C*kH*kW, L)``) back into
    ``(N, C, *output_size)``, as torch's ``nn.Fold``; see :func:`jaxinit.nn.functional.fold`
    for the formula. Arguments are stored as given, as torch.

    Example::

        fold = nn.Fold(output_size=(4, 5), kernel_size=2)
        y = fold(jnp.ones((1, 8, 12)))       # (1, 2, 4, 5)
    """

    def __init__(
        self,
        output_size: IntOrPair,
        kernel_size: IntOrPair,
        dilation: IntOrPair = 1,
        padding: IntOrPair = 0,
        stride: IntOrPair = 1,
    ) -> None:
        super().__init__()
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: jax.Array) -> jax.Array:
        return fold(
            input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride
        )

    def extra_repr(self) -> str:
        return (
            f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
            f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}"
        )


class Unfold(Module):
    """Extracts sliding local blocks of ``(N, C, H, W)`` (or ``(C, H, W)``) as columns
    ``(N, C*kH*kW, L)``, as torch's ``nn.Unfold``; see :func:`jaxinit.nn.functional.unfold`.

    Example::

        unfold = nn.Unfold(kernel_size=(2, 3))
        cols = unfold(jnp.ones((2, 5, 3, 4)))   # (2, 30, 4)
    """

    def __init__(
        self,
        kernel_size: IntOrPair,
        dilation: IntOrPair = 1,
        padding: IntOrPair = 0,
        stride: IntOrPair = 1,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: jax.Array) -> jax.Array:
        return unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
            f"padding={self.padding}, stride={self.stride}"
        )
