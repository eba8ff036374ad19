"""``LayerNorm``, as torch's ``nn.LayerNorm``."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from .. import init
from .module import Module
from .parameter import Parameter


class LayerNorm(Module):
    """Normalises over the trailing ``normalized_shape`` dims of each sample:
    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the biased variance.

    ``weight`` = ones(normalized_shape) and ``bias`` = zeros(normalized_shape) (torch's
    default); ``bias=False`` leaves bias out, ``elementwise_affine=False`` leaves both out.
    An int ``normalized_shape`` becomes a 1-tuple. Half-precision inputs are normalised in
    float32 and cast back.

    Example::

        ln = nn.LayerNorm(8)    # LayerNorm((8,), eps=1e-05, elementwise_affine=True, bias=True)
        v = ln.init(jax.random.key(0))      # {'weight': ones(8), 'bias': zeros(8)}
        y = ln(v, jnp.ones((2, 5, 8)))      # (2, 5, 8)
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        try:
            normalized_shape = (operator.index(normalized_shape),)
        except TypeError:
            normalized_shape = tuple(int(d) for d in normalized_shape)
        self.normalized_shape = normalized_shape
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(normalized_shape, init.ones, dtype)
            if bias:
                self.bias = Parameter(normalized_shape, init.zeros, dtype)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: jax.Array) -> jax.Array:
        shape = self.normalized_shape
        k = len(shape)
        if x.ndim < k or tuple(x.shape[x.ndim - k :]) != shape:
            raise RuntimeError(
                f"Given normalized_shape={list(shape)}, expected input with shape "
                f"[*, {', '.join(map(str, shape))}], but got input of size{list(x.shape)}"
            )
        compute = jnp.float32 if jnp.dtype(x.dtype).itemsize < 4 else x.dtype
        xc = x.astype(compute)
        axes = tuple(range(x.ndim - k, x.ndim))
        mean = jnp.mean(xc, axis=axes, keepdims=True)
        centred = xc - mean
        var = jnp.mean(jnp.square(centred), axis=axes, keepdims=True)
        y = centred * lax.rsqrt(var + jnp.asarray(self.eps, compute))
        lead = (1,) * (x.ndim - k)  # explicit ranks: no implicit rank promotion
        if self.weight is not None:
            y = y * self.weight.astype(compute).reshape(lead + shape)
        if self.bias is not None:
            y = y + self.bias.astype(compute).reshape(lead + shape)
        return y.astype(x.dtype)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )
