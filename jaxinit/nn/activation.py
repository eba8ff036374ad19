"""Parameterless activations with torch's names, arguments and reprs."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .module import Module


class ReLU(Module):
    """``max(x, 0)``. ``inplace`` is kept for torch's signature and repr (arrays are values)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""

    def forward(self, x: jax.Array) -> jax.Array:
        return jax.nn.relu(x)


class LeakyReLU(Module):
    """``x if x >= 0 else negative_slope * x``."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, x: jax.Array) -> jax.Array:
        return jnp.where(x >= 0, x, x * self.negative_slope)

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"negative_slope={self.negative_slope}{inplace_str}"


class SiLU(Module):
    """``x * sigmoid(x)``. ``inplace`` is kept for torch's signature and repr."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""

    def forward(self, x: jax.Array) -> jax.Array:
        return jax.nn.silu(x)


class GELU(Module):
    """Exact (erf) GELU, or the tanh approximation with ``approximate='tanh'``."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(
                f"approximate argument must be either none or tanh, got {approximate!r}"
            )
        self.approximate = approximate

    def forward(self, x: jax.Array) -> jax.Array:
        return jax.nn.gelu(x, approximate=self.approximate == "tanh")

    def extra_repr(self) -> str:
        return f"approximate='{self.approximate}'"


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``."""

    def forward(self, x: jax.Array) -> jax.Array:
        return jax.nn.sigmoid(x)


class Tanh(Module):
    """``tanh(x)``."""

    def forward(self, x: jax.Array) -> jax.Array:
        return jnp.tanh(x)


class Softmax(Module):
    """Softmax along ``dim`` (torch requires it to be given; ``None`` is torch's legacy
    choice: dim 0 for 0-, 1- and 3-d inputs, else 1)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: jax.Array) -> jax.Array:
        dim = self.dim
        if dim is None:
            dim = 0 if x.ndim in (0, 1, 3) else 1
        return jax.nn.softmax(x, axis=dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
