"""The one place jaxinit calls a convolution primitive.

Every convolution of :mod:`jaxinit.nn.functional` (``conv1d/2d/3d`` and
``conv_transpose1d/2d/3d``, hence every ``Conv*`` layer) goes through
:func:`conv_general_dilated` here, with ``lax.conv_general_dilated``'s signature and
semantics, so a faster backend path can replace this body without touching any caller.
Callers pass only non-negative padding pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
from jax import lax


def conv_general_dilated(
    lhs: jax.Array,
    rhs: jax.Array,
    window_strides: Sequence[int],
    padding: Sequence[tuple[int, int]],
    lhs_dilation: Sequence[int] | None = None,
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers: tuple[str, str, str] | None = None,
    feature_group_count: int = 1,
) -> jax.Array:
    """``lax.conv_general_dilated(lhs, rhs, ...)``: the cross-correlation of ``lhs`` with
    ``rhs``, ``lhs`` dilated by ``lhs_dilation`` and padded by ``padding`` (low, high) per
    spatial dim, ``rhs`` dilated by ``rhs_dilation``, sampled every ``window_strides``.

    Example::

        y = conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1)),
                                 dimension_numbers=("NCHW", "OIHW", "NCHW"))
    """
    return lax.conv_general_dilated(
        lhs,
        rhs,
        window_strides=window_strides,
        padding=padding,
        lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation,
        dimension_numbers=dimension_numbers,
        feature_group_count=feature_group_count,
    )
