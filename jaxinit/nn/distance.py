"""``CosineSimilarity`` and ``PairwiseDistance`` (torch's ``nn/modules/distance.py``) over
:mod:`jaxinit.nn.functional.distance`."""

from __future__ import annotations

import jax

from . import functional as F
from .module import Module


class CosineSimilarity(Module):
    """Cosine similarity of two inputs along ``dim``, as ``torch.nn.CosineSimilarity(dim=1,
    eps=1e-8)``; see :func:`jaxinit.nn.functional.cosine_similarity`.

    Example: ``nn.CosineSimilarity()(jnp.ones((2, 3)), jnp.ones((2, 3)))`` is ``[1., 1.]``.
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: jax.Array, x2: jax.Array) -> jax.Array:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """``||x1 - x2 + eps||_p`` along the last dim, as ``torch.nn.PairwiseDistance(p=2.0,
    eps=1e-6, keepdim=False)``.

    Example: ``nn.PairwiseDistance()(jnp.zeros((2, 3)), jnp.ones((2, 3)))``.
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: jax.Array, x2: jax.Array) -> jax.Array:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
