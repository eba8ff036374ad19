"""The dropout family with torch's names, signatures, defaults, warnings and errors, keyed by
a keyword-only ``rng=`` (a JAX PRNG key; required when ``training`` and ``0 < p``).

* ``dropout``: ``y = x * m / (1 - p)``, ``m ~ Bernoulli(1 - p)`` per element.
* ``dropout1d/2d/3d`` (and torch's ``feature_dropout``): one ``m`` per sample and channel,
  shared over the spatial dims.
* ``alpha_dropout``: keeps SELU's self-normalising mean and variance: dropped elements are set
  to ``-alpha'`` (``alpha' = 1.7580993408473766``), then ``y = a * x' + b`` with
  ``a = 1 / sqrt((alpha'^2 p + 1)(1 - p))`` and ``b = a * alpha' * p``;
  ``feature_alpha_dropout`` draws one ``m`` per sample and channel.

``p = 1`` gives zeros and ``p = 0`` (or eval) returns the input, as torch. ``inplace`` is
accepted and has no effect.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import jax
import jax.numpy as jnp

from ._utils import _require_rng

__all__ = [
    "alpha_dropout",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "feature_alpha_dropout",
]

_SELU_ALPHA_PRIME = 1.7580993408473766  # selu's scale * alpha


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _mask_shape(x: jax.Array, feature: bool) -> tuple[int, ...]:
    if not feature:
        return tuple(x.shape)
    if x.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return tuple(x.shape[:2]) + (1,) * (x.ndim - 2)


def _dropout(
    x: jax.Array, p: float, training: bool, rng: Any, feature: bool, alpha: bool, name: str
) -> jax.Array:
    _check_p(p)
    x = jnp.asarray(x)
    if not training or p == 0:
        return x
    if feature:
        _mask_shape(x, True)  # the rank check, before the p == 1 shortcut, as torch
    if p == 1:
        return jnp.zeros_like(x)
    _require_rng(rng, name)
    shape = _mask_shape(x, feature)
    keep = jax.random.bernoulli(rng, 1 - p, shape)
    keep = jnp.broadcast_to(keep, x.shape)
    if not alpha:
        return jnp.where(keep, x * (1 / (1 - p)), jnp.zeros((), x.dtype))
    a = 1 / math.sqrt((_SELU_ALPHA_PRIME**2 * p + 1) * (1 - p))
    b = _SELU_ALPHA_PRIME * a * p
    dropped = jnp.full((), b - _SELU_ALPHA_PRIME * a, x.dtype)
    return jnp.where(keep, x * a + b, dropped)


def dropout(
    input: jax.Array,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    rng: Any = None,
) -> jax.Array:
    """Zeroes each element with probability ``p`` and scales the rest by ``1 / (1 - p)``.
    torch's default is ``training=True``: pass ``rng=`` (or ``training=False``).

    Example::

        y = F.dropout(x, 0.2, rng=jax.random.key(0))
    """
    return _dropout(input, p, training, rng, False, False, "dropout")


def dropout1d(
    input: jax.Array,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    rng: Any = None,
) -> jax.Array:
    """Channel-wise dropout of ``(N, C, L)`` or unbatched ``(C, L)`` inputs: whole channels
    are zeroed with probability ``p``, the rest scaled by ``1 / (1 - p)``.

    Example::

        y = F.dropout1d(jnp.ones((2, 8, 5)), 0.5, rng=jax.random.key(0))
    """
    _check_p(p)
    x = jnp.asarray(input)
    if x.ndim not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {x.ndim}D input. "
            "Note that dropout1d exists to provide channel-wise dropout on inputs with 1 "
            "spatial dimension, a channel dimension, and an optional batch dimension "
            "(i.e. 2D or 3D inputs)."
        )
    if x.ndim == 2:
        return _dropout(x[None], p, training, rng, True, False, "dropout1d")[0]
    return _dropout(x, p, training, rng, True, False, "dropout1d")


def dropout2d(
    input: jax.Array,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    rng: Any = None,
) -> jax.Array:
    """Channel-wise dropout of ``(N, C, H, W)`` inputs. As torch, a 3-D input is read as
    ``(N, C, L)`` (1-D channel-wise behaviour, with torch's warning) and other ranks warn.

    Example::

        y = F.dropout2d(jnp.ones((2, 8, 4, 4)), 0.5, rng=jax.random.key(0))
    """
    _check_p(p)
    x = jnp.asarray(input)
    if x.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {x.ndim}-D input to dropout2d, which is deprecated "
            "and will result in an error in a future release. To retain the behavior "
            "and silence this warning, please use dropout instead. Note that dropout2d "
            "exists to provide channel-wise dropout on inputs with 2 spatial dimensions, "
            "a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if x.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
            "1D dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    return _dropout(x, p, training, rng, True, False, "dropout2d")


def dropout3d(
    input: jax.Array,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    rng: Any = None,
) -> jax.Array:
    """Channel-wise dropout of ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)`` inputs
    (other ranks warn, as torch).

    Example::

        y = F.dropout3d(jnp.ones((2, 8, 2, 4, 4)), 0.5, rng=jax.random.key(0))
    """
    _check_p(p)
    x = jnp.asarray(input)
    if x.ndim not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {x.ndim}-D input to dropout3d, which is deprecated "
            "and will result in an error in a future release. To retain the behavior "
            "and silence this warning, please use dropout instead. Note that dropout3d "
            "exists to provide channel-wise dropout on inputs with 3 spatial dimensions, "
            "a channel dimension, and an optional batch dimension (i.e. 4D or 5D inputs).",
            stacklevel=2,
        )
    if x.ndim != 5:
        return _dropout(x[None], p, training, rng, True, False, "dropout3d")[0]
    return _dropout(x, p, training, rng, True, False, "dropout3d")


def alpha_dropout(
    input: jax.Array,
    p: float = 0.5,
    training: bool = False,
    inplace: bool = False,
    *,
    rng: Any = None,
) -> jax.Array:
    """Dropout for SELU networks: keeps zero mean and unit variance (see the module
    docstring). torch's default here is ``training=False``.

    Example::

        y = F.alpha_dropout(x, 0.2, training=True, rng=jax.random.key(0))
    """
    return _dropout(input, p, training, rng, False, True, "alpha_dropout")


def feature_alpha_dropout(
    input: jax.Array,
    p: float = 0.5,
    training: bool = False,
    inplace: bool = False,
    *,
    rng: Any = None,
) -> jax.Array:
    """Alpha dropout of whole channels (one draw per sample and channel, dim 0 and 1).

    Example::

        y = F.feature_alpha_dropout(jnp.ones((2, 8, 4)), 0.2, training=True,
                                    rng=jax.random.key(0))
    """
    return _dropout(input, p, training, rng, True, True, "feature_alpha_dropout")
