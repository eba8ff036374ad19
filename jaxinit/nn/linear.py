"""``Identity``, ``Linear`` and ``Bilinear``, with torch's layouts and default init."""

from __future__ import annotations

import functools
import math
from typing import Any

import jax

from .. import init
from . import functional as F
from .module import Module
from .parameter import Parameter

# torch's default for Linear and Conv weights: kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in)).
default_weight_init = functools.partial(init.kaiming_uniform, a=math.sqrt(5))


def default_bias_init(fan_in: int) -> Any:
    """torch's default bias init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bound 0 if fan_in is 0."""
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
    return functools.partial(init.uniform, a=-bound, b=bound)


class Identity(Module):
    """Returns its input; accepts and ignores any constructor arguments, as torch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: jax.Array) -> jax.Array:
        return x


class Linear(Module):
    """``y = x @ weight.T + bias`` with ``weight (out_features, in_features)``.

    Default init as torch's ``reset_parameters``: weight ``kaiming_uniform(a=sqrt(5))``, i.e.
    U(-1/sqrt(in), 1/sqrt(in)); bias U(-1/sqrt(in), 1/sqrt(in)).

    Example::

        fc = nn.Linear(4, 3)
        v = fc.init(jax.random.key(0))      # {'weight': (3, 4), 'bias': (3,)}
        y = fc(v, jnp.ones((2, 4)))         # (2, 3)
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter((out_features, in_features), default_weight_init, dtype)
        if bias:
            self.bias = Parameter((out_features,), default_bias_init(in_features), dtype)
        else:
            self.register_parameter("bias", None)

    def forward(self, x: jax.Array) -> jax.Array:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Bilinear(Module):
    """``y = x1^T weight[o] x2 + bias[o]`` with ``weight (out_features, in1_features,
    in2_features)``, as torch's ``nn.Bilinear(in1_features, in2_features, out_features,
    bias=True, dtype=None)``.

    Default init as torch: with ``b = 1/sqrt(in1_features)``, ``weight ~ U(-b, b)`` then
    ``bias ~ U(-b, b)`` (that draw order).

    Example::

        bl = nn.Bilinear(3, 4, 5)
        v = bl.init(jax.random.key(0))      # weight (5, 3, 4), bias (5,)
        y = bl(v, jnp.ones((2, 3)), jnp.ones((2, 4)))   # (2, 5)
    """

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if in1_features <= 0:
            raise ValueError(
                f"in1_features must be > 0, but got (in1_features={in1_features})"
            )
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        bound = 1 / math.sqrt(in1_features)
        uniform = functools.partial(init.uniform, a=-bound, b=bound)
        self.weight = Parameter((out_features, in1_features, in2_features), uniform, dtype)
        if bias:
            self.bias = Parameter((out_features,), uniform, dtype)
        else:
            self.register_parameter("bias", None)

    def forward(self, input1: jax.Array, input2: jax.Array) -> jax.Array:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )
