"""``Embedding``, as torch's ``nn.Embedding``: a lookup table of ``num_embeddings`` rows."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import init
from .module import Module
from .parameter import Parameter


def _embedding_init(
    key: Any, shape: Sequence[int], dtype: Any = jnp.float32, padding_idx: int | None = None
) -> jax.Array:
    """torch's Embedding default: ``normal(0, 1)`` over the full table, then row
    ``padding_idx`` zeroed. The padding row is drawn before it is zeroed, so a torch-exact
    generator consumes exactly torch's draws."""
    weight = jnp.asarray(init.normal(key, shape, dtype))
    if padding_idx is not None:
        weight = weight.at[padding_idx].set(0)
    return weight


class Embedding(Module):
    """``y = weight[indices]`` with ``weight (num_embeddings, embedding_dim)``.

    Default init as torch: ``weight ~ N(0, 1)``, then row ``padding_idx`` (if given; a
    negative index counts from the end) set to zero. As in torch, the padding row gets no
    gradient from the lookup: its output is wrapped in ``stop_gradient``, so it stays fixed
    in training (its value is still returned, whatever it is).

    Indices must be integers. Out-of-range indices raise ``IndexError`` when the indices are
    concrete; under ``jit`` (no value to check) their rows come out as NaN instead of JAX's
    silent clamping. ``max_norm``, ``scale_grad_by_freq`` and ``sparse`` are not supported.

    Example::

        emb = nn.Embedding(10, 3, padding_idx=0)
        v = emb.init(jax.random.key(0))     # weight (10, 3), row 0 zero
        y = emb(v, jnp.array([[1, 2], [0, 9]]))   # (2, 2, 3)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for name, value, default in (
            ("max_norm", max_norm, None),
            ("scale_grad_by_freq", scale_grad_by_freq, False),
            ("sparse", sparse, False),
        ):
            if value != default:
                raise NotImplementedError(
                    f"Embedding({name}={value!r}) is not supported by jaxinit: leave it at "
                    f"{default!r} (for max_norm, renormalise the weight rows yourself)"
                )
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    "Padding_idx must be within num_embeddings: got padding_idx="
                    f"{padding_idx} for num_embeddings={num_embeddings}"
                )
            padding_idx = padding_idx % num_embeddings
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.norm_type = norm_type
        weight_init = functools.partial(_embedding_init, padding_idx=padding_idx)
        self.weight = Parameter((num_embeddings, embedding_dim), weight_init, dtype)

    def forward(self, indices: jax.Array) -> jax.Array:
        indices = jnp.asarray(indices)
        if not jnp.issubdtype(indices.dtype, jnp.integer):
            raise TypeError(
                f"Embedding indices must be integers, got {indices.dtype}: cast them, e.g. "
                "indices.astype(jnp.int32)"
            )
        num = self.num_embeddings
        valid = (indices >= 0) & (indices < num)
        if not isinstance(indices, jax.core.Tracer) and not bool(np.all(valid)):
            bad = np.asarray(indices)[~np.asarray(valid)]
            raise IndexError(
                f"index out of range in self: Embedding({num}, {self.embedding_dim}) got "
                f"index {bad.flat[0]}; valid indices are 0..{num - 1}"
            )
        weight = self.weight
        out = jnp.take(weight, jnp.clip(indices, 0, num - 1), axis=0)
        if isinstance(indices, jax.core.Tracer):
            out = jnp.where(valid[..., None], out, jnp.asarray(jnp.nan, out.dtype))
        if self.padding_idx is not None:
            # torch's embedding_backward skips the padding row: no gradient flows into it.
            keep = (indices != self.padding_idx)[..., None]
            out = jnp.where(keep, out, jax.lax.stop_gradient(out))
        return out

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        return s
