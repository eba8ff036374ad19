"""The dropout layers, as torch's ``nn/modules/dropout.py``, over
:mod:`jaxinit.nn.functional.dropout`.

In training each layer draws its mask from ``self.next_key()`` (the call's ``key``, the
module's path and a per-call counter), so a training call needs ``key=``; in eval (the
default call) they return the input. ``inplace`` is accepted, stored and shown in the repr, and
has no effect (JAX arrays are immutable).
"""

from __future__ import annotations

from typing import Any

import jax

from . import functional as F
from .module import Module


class _DropoutNd(Module):
    _fn: Any

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        training = self.training
        rng = self.next_key() if training and 0 < self.p < 1 else None
        return type(self)._fn(input, self.p, training, rng=rng)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zeroes each element with probability ``p`` in training and scales the survivors by
    ``1 / (1 - p)``, so the expectation is unchanged; the identity in eval. As torch's
    ``nn.Dropout(p=0.5, inplace=False)``; ``p = 1`` gives zeros.

    Example::

        drop = nn.Dropout(0.2)
        y = drop({}, x)                                         # eval: y is x
        y, _ = drop({}, x, train=True, key=jax.random.key(0))   # ~20% zeros, rest x / 0.8
    """

    _fn = staticmethod(F.dropout)


class Dropout1d(_DropoutNd):
    """Zeroes whole channels of ``(N, C, L)`` / ``(C, L)`` inputs, as ``nn.Dropout1d``.

    Example: ``y, _ = nn.Dropout1d(0.5)({}, x, train=True, key=jax.random.key(0))``.
    """

    _fn = staticmethod(F.dropout1d)


class Dropout2d(_DropoutNd):
    """Zeroes whole channels of ``(N, C, H, W)`` inputs, as ``nn.Dropout2d`` (a 3-D input is
    read as ``(N, C, L)``, with torch's warning).

    Example: ``y, _ = nn.Dropout2d(0.5)({}, x, train=True, key=jax.random.key(0))``.
    """

    _fn = staticmethod(F.dropout2d)


class Dropout3d(_DropoutNd):
    """Zeroes whole channels of ``(N, C, D, H, W)`` / ``(C, D, H, W)`` inputs, as
    ``nn.Dropout3d``.

    Example: ``y, _ = nn.Dropout3d(0.5)({}, x, train=True, key=jax.random.key(0))``.
    """

    _fn = staticmethod(F.dropout3d)


class AlphaDropout(_DropoutNd):
    """Alpha dropout for SELU networks (keeps mean 0 and variance 1), as
    ``nn.AlphaDropout``; see :func:`jaxinit.nn.functional.alpha_dropout`.

    Example: ``y, _ = nn.AlphaDropout(0.2)({}, x, train=True, key=jax.random.key(0))``.
    """

    _fn = staticmethod(F.alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels, as ``nn.FeatureAlphaDropout``.

    Example: ``y, _ = nn.FeatureAlphaDropout(0.2)({}, x, train=True, key=jax.random.key(0))``.
    """

    _fn = staticmethod(F.feature_alpha_dropout)
