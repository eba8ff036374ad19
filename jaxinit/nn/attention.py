"""``MultiheadAttention``, as torch's ``nn.MultiheadAttention`` (torch keeps it in
``activation.py``; here it has its own module, next to the functional form it calls).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from .. import init
from .functional import attention as _F
from .linear import Linear
from .module import Module
from .parameter import Parameter

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear"]


class NonDynamicallyQuantizableLinear(Linear):
    """torch's ``out_proj`` class: a ``Linear`` under the name torch prints."""


class MultiheadAttention(Module):
    """``MultiHead(q, k, v) = Concat(head_1..head_h) W_O``, ``head_i = Attention(q W_Qi, k W_Ki,
    v W_Vi)``: torch's ``nn.MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True,
    add_bias_kv=False, add_zero_attn=False, kdim=None, vdim=None, batch_first=False)``.

    Parameters as torch: ``in_proj_weight (3E, E)`` when ``kdim == vdim == E``, else
    ``q_proj_weight``/``k_proj_weight``/``v_proj_weight``; ``in_proj_bias (3E,)``; ``bias_k``,
    ``bias_v (1, 1, E)``; ``out_proj`` (a Linear). Default init as torch's ``_reset_parameters``:
    in-projections ``xavier_uniform``, biases 0, ``bias_k``/``bias_v`` ``xavier_normal``; under a
    ``TorchGenerator`` the draws come in torch's order (``out_proj`` is drawn at construction,
    its bias then zeroed).

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False) -> (attn_output, attn_weights)``; see
    :func:`jaxinit.nn.functional.multi_head_attention_forward` for the masks. ``forward`` has a
    parameter named ``key`` (torch's), so give the PRNG key for dropout as ``rng=``.

    Example::

        mha = nn.MultiheadAttention(16, 4, batch_first=True)
        v = mha.init(jax.random.key(0))
        out, w = mha(v, x, x, x)                # x (B, L, 16): out (B, L, 16), w (B, L, L)
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        dtype: Any = None,
    ) -> None:
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} "
                f"and num_heads={num_heads} instead"
            )
        super().__init__()
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != self.embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        # torch's construction: the in-projection is torch.empty (no draw); out_proj draws its
        # Linear default now; _reset_parameters then redraws/zeroes (see _reset_parameters).
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter((embed_dim, embed_dim), init.empty, dtype)
            self.k_proj_weight = Parameter((embed_dim, self.kdim), init.empty, dtype)
            self.v_proj_weight = Parameter((embed_dim, self.vdim), init.empty, dtype)
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter((3 * embed_dim, embed_dim), init.empty, dtype)
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter((3 * embed_dim,), init.empty, dtype)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(
            embed_dim, embed_dim, bias=bias, dtype=dtype
        )
        if add_bias_kv:
            self.bias_k = Parameter((1, 1, embed_dim), init.empty, dtype)
            self.bias_v = Parameter((1, 1, embed_dim), init.empty, dtype)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """torch's ``_reset_parameters``, as written there."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(
        self,
        query: jax.Array,
        key: jax.Array,
        value: jax.Array,
        key_padding_mask: jax.Array | None = None,
        need_weights: bool = True,
        attn_mask: jax.Array | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[jax.Array, jax.Array | None]:
        is_batched = query.ndim == 3
        if self.batch_first and is_batched:
            query, key, value = (jnp.swapaxes(t, 0, 1) for t in (query, key, value))
        training = self.training
        rng = self.next_key() if training and self.dropout > 0 else None
        out, weights = _F.multi_head_attention_forward(
            query,
            key,
            value,
            self.embed_dim,
            self.num_heads,
            self.in_proj_weight,
            self.in_proj_bias,
            self.bias_k,
            self.bias_v,
            self.add_zero_attn,
            self.dropout,
            self.out_proj.weight,
            self.out_proj.bias,
            training=training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
            rng=rng,
        )
        if self.batch_first and is_batched:
            out = jnp.swapaxes(out, 0, 1)
        return out, weights
