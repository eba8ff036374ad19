"""Attention: torch's ``F.scaled_dot_product_attention`` and ``F.multi_head_attention_forward``.

Both follow torch 2.13's math backend step for step (masks, scaling, dropout on the attention
weights, the packed in-projection), as pure functions; dropout is keyed by ``rng=``.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["multi_head_attention_forward", "scaled_dot_product_attention"]


def _need_rng(rng: Any, what: str) -> None:
    if rng is None:
        raise ValueError(
            f"{what} draws a dropout mask: pass rng=jax.random.key(...) (or set the "
            "dropout probability to 0)"
        )


def _attn_dropout(x: jax.Array, p: float, rng: Any, what: str) -> jax.Array:
    """``x * Bernoulli(1 - p) / (1 - p)`` (torch's dropout on the attention weights)."""
    if p <= 0.0:
        return x
    _need_rng(rng, what)
    if p >= 1.0:
        return jnp.zeros_like(x)
    keep = jax.random.bernoulli(rng, 1.0 - p, x.shape)
    return jnp.where(keep, x * jnp.asarray(1.0 / (1.0 - p), x.dtype), jnp.zeros((), x.dtype))


def _lift(x: jax.Array, ndim: int) -> jax.Array:
    """``x`` with leading 1-dims up to ``ndim`` (explicit: the suite forbids rank promotion)."""
    return x.reshape((1,) * (ndim - x.ndim) + x.shape)


def _broadcast_batch(*arrays: jax.Array) -> list[jax.Array]:
    """Broadcast the batch dims (all but the last two) of each array, as torch's matmul."""
    ndim = max(a.ndim for a in arrays)
    lifted = [_lift(a, ndim) for a in arrays]
    batch: list[int] = []
    for d in range(ndim - 2):
        sizes = {a.shape[d] for a in lifted} - {1}
        if len(sizes) > 1:
            a, b = sorted(sizes, reverse=True)[:2]
            raise RuntimeError(
                f"The size of tensor a ({a}) must match the size of tensor b ({b}) at "
                f"non-singleton dimension {d}"
            )
        batch.append(sizes.pop() if sizes else 1)
    return [jnp.broadcast_to(a, tuple(batch) + a.shape[-2:]) for a in lifted]


def _masked_softmax(scores: jax.Array) -> jax.Array:
    """Softmax over the last axis where a row masked everywhere (all ``-inf``) gives zeros and
    zero gradients, as torch's math backend of ``scaled_dot_product_attention``."""
    top = jnp.max(scores, axis=-1, keepdims=True)
    top = jnp.where(jnp.isfinite(top), top, jnp.zeros((), scores.dtype))
    e = jnp.exp(scores - jax.lax.stop_gradient(top))
    total = jnp.sum(e, axis=-1, keepdims=True)
    return e / jnp.where(total == 0, jnp.ones((), total.dtype), total)


def scaled_dot_product_attention(
    query: jax.Array,
    key: jax.Array,
    value: jax.Array,
    attn_mask: jax.Array | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
    *,
    rng: Any = None,
) -> jax.Array:
    """``softmax(q @ k^T * scale + mask) @ v``, as torch's ``F.scaled_dot_product_attention``.

    ``query (..., L, E)``, ``key (..., S, E)``, ``value (..., S, Ev)`` -> ``(..., L, Ev)``; batch
    dims broadcast. ``scale`` defaults to ``1/sqrt(E)``. ``attn_mask`` broadcasts to
    ``(..., L, S)``: a bool mask says which positions *take part* (True = attend), a float mask
    is added to the scores. ``is_causal`` masks ``j > i`` (top-left aligned; combined with
    ``attn_mask`` if both are given). A row masked everywhere gives zeros, as torch. With
    ``enable_gqa``, key/value heads (dim -3) are repeated to the query's head count.
    ``dropout_p > 0`` drops attention weights (always, as torch: pass 0 in eval) keyed by ``rng``.

    Example::

        q = k = v = jnp.ones((2, 4, 8, 16))       # (batch, heads, seq, dim)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)   # (2, 4, 8, 16)
    """
    L, S, E = query.shape[-2], key.shape[-2], query.shape[-1]
    if enable_gqa and query.ndim >= 3:
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hq % hk or hq % hv:
            raise RuntimeError(
                "Number of heads in key and value must divide the number of heads in query"
            )
        key = jnp.repeat(key, hq // hk, axis=-3)
        value = jnp.repeat(value, hq // hv, axis=-3)
    scale_factor = 1.0 / math.sqrt(E) if scale is None else scale
    q, k, v = _broadcast_batch(query, key, value)
    scores = jnp.matmul(q, jnp.swapaxes(k, -1, -2)) * jnp.asarray(scale_factor, q.dtype)
    allowed = None
    if is_causal:
        allowed = jnp.asarray(np.tril(np.ones((L, S), bool)))
    if attn_mask is not None and attn_mask.dtype == jnp.bool_:
        allowed = (
            attn_mask
            if allowed is None
            else jnp.logical_and(_lift(allowed, attn_mask.ndim), attn_mask)
        )
    elif attn_mask is not None:
        scores, bias = _broadcast_batch(scores, attn_mask.astype(scores.dtype))
        scores = scores + bias
    if allowed is not None:
        scores, allowed = _broadcast_batch(scores, allowed)
        scores = jnp.where(allowed, scores, jnp.asarray(-jnp.inf, scores.dtype))
    weights = _masked_softmax(scores)
    weights = _attn_dropout(weights, dropout_p, rng, "scaled_dot_product_attention")
    weights, v = _broadcast_batch(weights, v)
    return jnp.matmul(weights, v)


def _linear(x: jax.Array, w: jax.Array, b: jax.Array | None) -> jax.Array:
    y = jnp.matmul(x, w.T)
    return y if b is None else y + _lift(b, y.ndim)


def _canonical_mask(mask: jax.Array | None, name: str, dtype: Any) -> jax.Array | None:
    """torch's ``_canonical_mask``: bool (True = masked out) -> float 0/-inf, float kept."""
    if mask is None:
        return None
    if mask.dtype == jnp.bool_:
        return jnp.where(mask, jnp.asarray(-jnp.inf, dtype), jnp.zeros((), dtype))
    if not jnp.issubdtype(mask.dtype, jnp.floating):
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return mask


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads) -> bool:
    if query.ndim == 3:
        if key.ndim != 3 or value.ndim != 3:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key` and `value` to be 3-D but found "
                f"{key.ndim}-D and {value.ndim}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D "
                f"but found {key_padding_mask.ndim}-D tensor instead"
            )
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise AssertionError(
                "For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D "
                f"but found {attn_mask.ndim}-D tensor instead"
            )
        return True
    if query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found "
                f"{key.ndim}-D and {value.ndim}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D "
                f"but found {key_padding_mask.ndim}-D tensor instead"
            )
        if attn_mask is not None:
            if attn_mask.ndim not in (2, 3):
                raise AssertionError(
                    "For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or "
                    f"3-D but found {attn_mask.ndim}-D tensor instead"
                )
            expected = (num_heads, query.shape[0], key.shape[0])
            if attn_mask.ndim == 3 and tuple(attn_mask.shape) != expected:
                raise AssertionError(
                    f"Expected `attn_mask` shape to be {expected} but got "
                    f"torch.Size({list(attn_mask.shape)})"
                )
        return False
    raise AssertionError(
        "query should be unbatched 2D or batched 3D tensor but received "
        f"{query.ndim}-D query tensor"
    )


def _in_projection(query, key, value, embed_dim, in_proj_weight, in_proj_bias, separate):
    """q, k, v projections: the packed ``in_proj_weight`` split in q, k, v order, or the
    separate ``(q_proj_weight, k_proj_weight, v_proj_weight)``."""
    if separate is None:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        ws = (
            in_proj_weight[:embed_dim],
            in_proj_weight[embed_dim : 2 * embed_dim],
            in_proj_weight[2 * embed_dim :],
        )
    else:
        ws = separate
    bs = (None,) * 3
    if in_proj_bias is not None:
        bs = tuple(in_proj_bias[i * embed_dim : (i + 1) * embed_dim] for i in range(3))
    return [_linear(x, w, b) for x, w, b in zip((query, key, value), ws, bs)]


def _pad_last(x: jax.Array | None) -> jax.Array | None:
    """torch's ``pad(mask, (0, 1))``: one zero column appended on the last axis."""
    if x is None:
        return None
    return jnp.concatenate([x, jnp.zeros(x.shape[:-1] + (1,), x.dtype)], axis=-1)


def multi_head_attention_forward(
    query: jax.Array,
    key: jax.Array,
    value: jax.Array,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: jax.Array | None,
    in_proj_bias: jax.Array | None,
    bias_k: jax.Array | None,
    bias_v: jax.Array | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: jax.Array,
    out_proj_bias: jax.Array | None,
    training: bool = True,
    key_padding_mask: jax.Array | None = None,
    need_weights: bool = True,
    attn_mask: jax.Array | None = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: jax.Array | None = None,
    k_proj_weight: jax.Array | None = None,
    v_proj_weight: jax.Array | None = None,
    static_k: jax.Array | None = None,
    static_v: jax.Array | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
    *,
    rng: Any = None,
) -> tuple[jax.Array, jax.Array | None]:
    """torch's ``F.multi_head_attention_forward`` (what ``nn.MultiheadAttention`` calls).

    Sequence-first layout: ``query (L, N, E)`` (or unbatched ``(L, E)``), ``key (S, N, kdim)``,
    ``value (S, N, vdim)``. ``q, k, v = in-projections``, split into ``num_heads`` heads,
    ``softmax(q k^T / sqrt(head_dim) + masks) v``, heads concatenated, ``out_proj``. Masks as
    torch: a bool ``attn_mask`` ``(L, S)`` / ``(N*num_heads, L, S)`` or ``key_padding_mask``
    ``(N, S)`` marks with True the positions *not* attended; float masks are added.
    ``bias_k``/``bias_v`` append one key/value, ``add_zero_attn`` one zero key/value. Returns
    ``(attn_output, attn_weights)``; weights are ``None`` unless ``need_weights``, averaged over
    heads if ``average_attn_weights``. Dropout on the weights when ``training and dropout_p > 0``,
    keyed by ``rng``.

    Example::

        out, w = F.multi_head_attention_forward(x, x, x, 8, 2, w_in, b_in, None, None, False,
                                                0.0, w_out, b_out, training=False)
    """
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        query, key, value = query[:, None], key[:, None], value[:, None]
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask[None]
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer "
            "module method `generate_square_subsequent_mask` to create this mask."
        )
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the SDPA path below builds the causal mask itself
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", query.dtype)
        if key_padding_mask is not None:
            is_causal = False
    if embed_dim != embed_dim_to_check:
        raise AssertionError(
            f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}"
        )
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if key.shape[:2] != value.shape[:2]:
            raise AssertionError(
                f"key's sequence and batch dims torch.Size({list(key.shape[:2])}) do not match "
                f"value's torch.Size({list(value.shape[:2])})"
            )
        for name, w in (("q", q_proj_weight), ("k", k_proj_weight), ("v", v_proj_weight)):
            if w is None:
                raise AssertionError(
                    f"use_separate_proj_weight is True but {name}_proj_weight is None"
                )
        separate = (q_proj_weight, k_proj_weight, v_proj_weight)
    else:
        if key.shape != value.shape:
            raise AssertionError(
                f"key shape torch.Size({list(key.shape)}) does not match value shape "
                f"torch.Size({list(value.shape)})"
            )
        separate = None
    q, k, v = _in_projection(query, key, value, embed_dim, in_proj_weight, in_proj_bias, separate)
    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 2D attn_mask is torch.Size({list(attn_mask.shape)}), "
                    f"but should be {(tgt_len, src_len)}."
                )
            attn_mask = attn_mask[None]
        elif attn_mask.ndim == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 3D attn_mask is torch.Size({list(attn_mask.shape)}), "
                    f"but should be {(bsz * num_heads, tgt_len, src_len)}."
                )
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")
    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k = jnp.concatenate([k, jnp.broadcast_to(bias_k.reshape(1, 1, -1), (1, bsz, k.shape[-1]))])
        v = jnp.concatenate([v, jnp.broadcast_to(bias_v.reshape(1, 1, -1), (1, bsz, v.shape[-1]))])
        attn_mask, key_padding_mask = _pad_last(attn_mask), _pad_last(key_padding_mask)
    elif bias_k is not None:
        raise AssertionError("bias_k is set but bias_v is None")
    elif bias_v is not None:
        raise AssertionError("bias_v is set but bias_k is None")
    heads = bsz * num_heads
    q = jnp.swapaxes(q.reshape(tgt_len, heads, head_dim), 0, 1)
    k = _static_or_heads(k, static_k, heads, head_dim, "static_k")
    v = _static_or_heads(v, static_v, heads, head_dim, "static_v")
    if add_zero_attn:
        k = jnp.concatenate([k, jnp.zeros((heads, 1, head_dim), k.dtype)], axis=1)
        v = jnp.concatenate([v, jnp.zeros((heads, 1, head_dim), v.dtype)], axis=1)
        attn_mask, key_padding_mask = _pad_last(attn_mask), _pad_last(key_padding_mask)
    src_len = k.shape[1]
    if key_padding_mask is not None:
        if key_padding_mask.shape[0] != bsz:
            raise AssertionError(
                f"Expected key_padded_mask.shape[0] to be {bsz}, but got "
                f"{key_padding_mask.shape[0]}"
            )
        if key_padding_mask.shape[1] != src_len:
            raise AssertionError(
                f"Expected key_padded_mask.shape[1] to be {src_len}, but got "
                f"{key_padding_mask.shape[1]}"
            )
        kpm = jnp.broadcast_to(
            key_padding_mask.reshape(bsz, 1, 1, src_len), (bsz, num_heads, 1, src_len)
        )
        kpm = kpm.reshape(heads, 1, src_len)
        if attn_mask is None:
            attn_mask = kpm
        else:
            attn_mask, kpm = _broadcast_batch(attn_mask, kpm)
            attn_mask = attn_mask + kpm
    if not training:
        dropout_p = 0.0
    if need_weights:
        q_scaled = q * jnp.asarray(math.sqrt(1.0 / float(head_dim)), q.dtype)
        scores = jnp.matmul(q_scaled, jnp.swapaxes(k, 1, 2))
        if attn_mask is not None:
            scores, mask = _broadcast_batch(scores, attn_mask)
            scores = scores + mask
        weights = jax.nn.softmax(scores, axis=-1)
        weights = _attn_dropout(weights, dropout_p, rng, "multi_head_attention_forward")
        out = jnp.matmul(weights, v)
        out = jnp.swapaxes(out, 0, 1).reshape(tgt_len * bsz, embed_dim)
        out = _linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = jnp.mean(weights, axis=1)
        if not is_batched:
            out, weights = out[:, 0], weights[0]
        return out, weights
    if attn_mask is not None:
        if attn_mask.shape[0] == 1:
            attn_mask = attn_mask[None]
        else:
            attn_mask = attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal, rng=rng)
    out = jnp.transpose(out, (2, 0, 1, 3)).reshape(bsz * tgt_len, embed_dim)
    out = _linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
    if not is_batched:
        out = out[:, 0]
    return out, None


def _static_or_heads(x, static, heads, head_dim, name):
    if static is None:
        return jnp.swapaxes(x.reshape(x.shape[0], heads, head_dim), 0, 1)
    if static.shape[0] != heads:
        raise AssertionError(f"expecting {name}.size(0) of {heads}, but got {static.shape[0]}")
    if static.shape[2] != head_dim:
        raise AssertionError(f"expecting {name}.size(2) of {head_dim}, but got {static.shape[2]}")
    return static
