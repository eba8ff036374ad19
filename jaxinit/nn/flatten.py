"""``Flatten``, as torch's ``nn.Flatten``."""

from __future__ import annotations

import jax

from .module import Module


class Flatten(Module):
    """Flattens dims ``start_dim..end_dim`` (default: all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: jax.Array) -> jax.Array:
        if x.ndim == 0:
            return x.reshape(1)
        start = self.start_dim % x.ndim
        end = self.end_dim % x.ndim
        return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1 :])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expands dim ``dim`` into ``unflattened_size`` (one entry may be ``-1``), as torch's
    ``nn.Unflatten``.

    Example::

        nn.Unflatten(1, (2, 5))(jnp.zeros((3, 10))).shape  # (3, 2, 5)
    """

    def __init__(self, dim: int, unflattened_size: tuple[int, ...] | list[int]) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(
                "unflattened_size must be a tuple of ints, but found type "
                f"{type(unflattened_size).__name__}"
            )
        for idx, elem in enumerate(unflattened_size):
            if not isinstance(elem, int):
                raise TypeError(
                    "unflattened_size must be tuple of ints, but found element of type "
                    f"{type(elem).__name__} at pos {idx}"
                )
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, x: jax.Array) -> jax.Array:
        if not -x.ndim <= self.dim < max(x.ndim, 1):
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-x.ndim}, "
                f"{x.ndim - 1}], but got {self.dim})"
            )
        dim = self.dim % x.ndim
        sizes = list(self.unflattened_size)
        known = 1
        for s in sizes:
            if s != -1:
                known *= s
        if (
            sizes.count(-1) > 1
            or (-1 not in sizes and known != x.shape[dim])
            or (-1 in sizes and (known == 0 or x.shape[dim] % known))
        ):
            raise RuntimeError(
                f"unflatten: Provided sizes {sizes} don't multiply up to the size of dim "
                f"{self.dim} ({x.shape[dim]}) in the input tensor"
            )
        return x.reshape(*x.shape[:dim], *sizes, *x.shape[dim + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
