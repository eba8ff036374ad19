"""``Dropout``, as torch's ``nn.Dropout``."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .module import Module


class Dropout(Module):
    """Zeroes each element with probability ``p`` in training and scales the survivors by
    ``1 / (1 - p)``, so the expectation is unchanged; the identity in eval.

    ``y = x * m / (1 - p)``, ``m ~ Bernoulli(1 - p)`` elementwise, keyed by ``self.next_key()``
    (the call's ``rng``, this module's path and a per-call counter): a training call needs
    ``rng=``. ``p = 1`` gives zeros, as torch. ``inplace`` is accepted for torch compatibility
    and has no effect (JAX arrays are immutable).

    Example::

        drop = nn.Dropout(0.2)
        y = drop({}, x)                                         # eval: y is x
        y, _ = drop({}, x, train=True, rng=jax.random.key(0))   # ~20% zeros, rest x / 0.8
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, x: jax.Array) -> jax.Array:
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return jnp.zeros_like(x)
        keep = jax.random.bernoulli(self.next_key(), 1 - self.p, x.shape)
        return jnp.where(keep, x * (1 / (1 - self.p)), jnp.zeros((), x.dtype))

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
