"""``Embedding`` and ``EmbeddingBag``, as torch's ``nn/modules/sparse.py``: lookup tables of
``num_embeddings`` rows over :mod:`jaxinit.nn.functional.sparse`."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from .. import init
from .functional import sparse as F
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


def _norm_padding(padding_idx: int | None, num: int) -> int | None:
    if padding_idx is None:
        return None
    if not -num <= padding_idx < num:
        raise ValueError(
            f"Padding_idx must be within num_embeddings: got padding_idx={padding_idx} "
            f"for num_embeddings={num}"
        )
    return padding_idx % num


class Embedding(Module):
    """``y = weight[indices]`` with ``weight (num_embeddings, embedding_dim)``, over
    :func:`jaxinit.nn.functional.embedding`.

    Default init as torch: ``weight ~ N(0, 1)``, then row ``padding_idx`` (if given; a
    negative index counts from the end) set to zero. As in torch, the padding row gets no
    gradient from the lookup (its value is still returned, whatever it is).

    ``max_norm``: the looked-up rows come out renormalised to at most ``max_norm`` (in the
    ``norm_type`` norm), exactly torch's result and gradient; torch also writes the renormed
    rows back into ``weight`` in place, which a pure function cannot do: here the stored
    weight is left unchanged (decided so; renormalise it with ``net.map_parameters`` if later
    reads must see torch's mutated table). ``scale_grad_by_freq`` divides each row's gradient
    by its count in the batch. ``sparse`` is accepted and has no effect (dense gradients).

    Indices must be integers. Out-of-range indices raise ``IndexError`` when the indices are
    concrete; under ``jit`` (no value to check) their rows come out as NaN instead of JAX's
    silent clamping.

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
        padding_idx = _norm_padding(padding_idx, num_embeddings)
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        weight_init = functools.partial(_embedding_init, padding_idx=padding_idx)
        self.weight = Parameter((num_embeddings, embedding_dim), weight_init, dtype)

    def forward(self, input: jax.Array) -> jax.Array:
        return F.embedding(
            input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
            self.scale_grad_by_freq, self.sparse,
        )

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse is not False:
            s += ", sparse=True"
        return s


class EmbeddingBag(Module):
    """Sums, averages (default) or maxes bags of embedding rows, as torch's
    ``nn.EmbeddingBag(num_embeddings, embedding_dim, max_norm=None, norm_type=2.0,
    scale_grad_by_freq=False, mode='mean', sparse=False, include_last_offset=False,
    padding_idx=None, dtype=None)``, over :func:`jaxinit.nn.functional.embedding_bag`
    (bag layout, ``offsets``, ``per_sample_weights`` and ``padding_idx`` rules there).

    Default init as torch: ``weight ~ N(0, 1)``, row ``padding_idx`` zeroed.

    Example::

        bag = nn.EmbeddingBag(10, 3, mode="sum")
        v = bag.init(jax.random.key(0))
        y = bag(v, jnp.array([1, 2, 4, 5, 4]), jnp.array([0, 2]))   # (2, 3)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        include_last_offset: bool = False,
        padding_idx: int | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        padding_idx = _norm_padding(padding_idx, num_embeddings)
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.mode = mode
        self.sparse = sparse
        self.include_last_offset = include_last_offset
        self.padding_idx = padding_idx
        weight_init = functools.partial(_embedding_init, padding_idx=padding_idx)
        self.weight = Parameter((num_embeddings, embedding_dim), weight_init, dtype)

    def forward(
        self,
        input: jax.Array,
        offsets: jax.Array | None = None,
        per_sample_weights: jax.Array | None = None,
    ) -> jax.Array:
        return F.embedding_bag(
            input, self.weight, offsets, self.max_norm, self.norm_type,
            self.scale_grad_by_freq, self.mode, self.sparse, per_sample_weights,
            self.include_last_offset, self.padding_idx,
        )

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
