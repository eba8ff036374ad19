"""``LayerNorm``, ``GroupNorm``, ``RMSNorm`` and ``LocalResponseNorm`` (torch's
``nn/modules/normalization.py``) over :mod:`jaxinit.nn.functional.normalization`."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import jax

from .. import init
from .functional import normalization as F
from .module import Module
from .parameter import Parameter


def register_affine(module: Module, shape: tuple, affine: bool, bias: bool, dtype: Any) -> None:
    """torch's affine parameters of a norm layer: ``weight`` (ones) and ``bias`` (zeros) of
    ``shape``, or registered as ``None`` (``affine=False``, or ``bias=False`` for the bias), so
    that the names exist as in torch's ``state_dict`` and ``named_parameters``."""
    if affine:
        module.weight = Parameter(shape, init.ones, dtype)
        if bias:
            module.bias = Parameter(shape, init.zeros, dtype)
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


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
        register_affine(self, normalized_shape, elementwise_affine, bias, dtype)

    def forward(self, input: jax.Array) -> jax.Array:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Splits the ``num_channels`` channels (dim 1) into ``num_groups`` groups and normalises
    each sample's group over its channels and spatial dims, then applies per-channel
    ``weight`` and ``bias``; as torch's ``nn.GroupNorm(num_groups, num_channels, eps=1e-5,
    affine=True, dtype=None, *, bias=True)``.

    Variables: ``weight`` = ones(C), ``bias`` = zeros(C) if ``affine`` (no randomness).

    Example::

        gn = nn.GroupNorm(2, 4)
        v = gn.init(jax.random.key(0))
        y = gn(v, jnp.ones((2, 4, 8, 8)))
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(
                f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})"
            )
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        register_affine(self, (num_channels,), affine, bias, dtype)

    def forward(self, input: jax.Array) -> jax.Array:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
            f"affine={self.affine}, bias={self.bias is not None}"
        )


class RMSNorm(Module):
    """``y = x / sqrt(mean(x^2) + eps) * weight`` over the trailing ``normalized_shape``
    dims, as torch's ``nn.RMSNorm(normalized_shape, eps=None, elementwise_affine=True,
    dtype=None)``. ``eps=None`` (stored as ``None``) means ``finfo(dtype).eps`` at call
    time (of the computation dtype: float32 for half inputs, as torch). ``weight`` = ones if
    ``elementwise_affine``.

    Example::

        norm = nn.RMSNorm(8)
        v = norm.init(jax.random.key(0))
        y = norm(v, jnp.ones((2, 8)))    # ones
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float | None = None,
        elementwise_affine: bool = True,
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
        else:
            self.register_parameter("weight", None)

    def forward(self, input: jax.Array) -> jax.Array:
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )


class LocalResponseNorm(Module):
    """``y = x / (k + alpha / size * sum of x^2 over size neighbouring channels) ** beta``,
    as torch's ``nn.LocalResponseNorm(size, alpha=1e-4, beta=0.75, k=1.0)``.

    Example::

        y = nn.LocalResponseNorm(2)(jnp.ones((1, 4, 3, 3)))
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input: jax.Array) -> jax.Array:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
