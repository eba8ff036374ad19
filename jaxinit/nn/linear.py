"""``Identity`` and ``Linear``, with torch's layout and default init."""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp

from .. import init
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
        y = jnp.matmul(x, self.weight.T)
        return y if self.bias is None else y + jnp.broadcast_to(self.bias, y.shape)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )
