"""``linear`` and ``bilinear`` with torch's names, signatures and layouts."""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["bilinear", "linear"]


def linear(input: jax.Array, weight: jax.Array, bias: jax.Array | None = None) -> jax.Array:
    """``y = x @ weight.T + bias`` with ``weight (out_features, in_features)`` (or a 1-d
    ``weight (in_features,)``, giving one output per row, as torch).

    Example::

        F.linear(jnp.ones((2, 4)), jnp.ones((3, 4)))    # (2, 3), all 4.0
    """
    weight = jnp.asarray(weight)
    y = jnp.matmul(input, weight.T)
    if bias is None:
        return y
    return y + jnp.broadcast_to(jnp.asarray(bias).astype(y.dtype), y.shape)


def bilinear(
    input1: jax.Array, input2: jax.Array, weight: jax.Array, bias: jax.Array | None = None
) -> jax.Array:
    """``y[..., o] = sum_ij x1[..., i] * weight[o, i, j] * x2[..., j] + bias[o]`` with
    ``weight (out_features, in1_features, in2_features)``; ``input1`` and ``input2`` share
    their leading dims.

    Example::

        F.bilinear(jnp.ones((2, 3)), jnp.ones((2, 4)), jnp.ones((5, 3, 4)))   # (2, 5), 12.0
    """
    x1, x2, w = jnp.asarray(input1), jnp.asarray(input2), jnp.asarray(weight)
    if x1.shape[:-1] != x2.shape[:-1]:
        raise RuntimeError(
            "bilinear(): input batch dimensions do not match: got "
            f"{list(x1.shape[:-1])} and {list(x2.shape[:-1])}"
        )
    if w.ndim != 3 or w.shape[1] != x1.shape[-1] or w.shape[2] != x2.shape[-1]:
        raise RuntimeError(
            f"bilinear(): weight of shape {list(w.shape)} does not match input1 "
            f"{list(x1.shape)} and input2 {list(x2.shape)}: expected "
            f"(out_features, {x1.shape[-1]}, {x2.shape[-1]})"
        )
    y = jnp.einsum("...i,oij,...j->...o", x1, w, x2)
    if bias is None:
        return y
    return y + jnp.broadcast_to(jnp.asarray(bias).astype(y.dtype), y.shape)
