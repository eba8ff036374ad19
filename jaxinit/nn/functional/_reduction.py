"""torch's ``nn/_reduction.py``: the ``reduction`` argument of every loss, the legacy
``size_average``/``reduce`` flags, and the checks the losses share."""

from __future__ import annotations

import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_REDUCTIONS = ("none", "mean", "sum")


def legacy_get_string(size_average: bool | None, reduce: bool | None) -> str:
    """torch's mapping of the deprecated ``size_average``/``reduce`` flags to ``reduction``,
    with torch's warning."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    warnings.warn(
        f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
        stacklevel=3,
    )
    return ret


def get_reduction(
    reduction: str, size_average: bool | None = None, reduce: bool | None = None
) -> str:
    """The effective reduction: the legacy flags win when given, as in torch; an unknown
    value raises torch's ``ValueError``."""
    if size_average is not None or reduce is not None:
        return legacy_get_string(size_average, reduce)
    if reduction == "elementwise_mean":
        warnings.warn(
            "reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
            stacklevel=3,
        )
        return "mean"
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def reduce_loss(loss: jax.Array, reduction: str) -> jax.Array:
    """``loss`` itself, its mean or its sum."""
    if reduction == "mean":
        return jnp.mean(loss)
    if reduction == "sum":
        return jnp.sum(loss)
    return loss


def as_array(x: Any) -> jax.Array:
    """A jax array (numpy arrays and scalars accepted); torch tensors get a clear error."""
    if type(x).__module__.startswith("torch"):
        raise TypeError(
            "jaxinit.nn.functional takes JAX or numpy arrays, got a torch tensor: convert it "
            "with jnp.asarray(t.detach().cpu().numpy())"
        )
    return jnp.asarray(x)


def concrete(x: jax.Array) -> np.ndarray | None:
    """``x`` as numpy when its value is known (eager call), else None (under jit): value
    checks torch makes (targets in range, no negative variance) run only when they can."""
    if isinstance(x, jax.core.Tracer):
        return None
    return np.asarray(x)


def size_warning(input: jax.Array, target: jax.Array) -> None:
    """torch's warning when a pointwise loss broadcasts target against input."""
    if input.shape != target.shape:
        warnings.warn(
            f"Using a target size ({tuple(target.shape)}) that is different to the input size "
            f"({tuple(input.shape)}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.",
            stacklevel=3,
        )
