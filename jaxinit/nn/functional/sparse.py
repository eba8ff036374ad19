"""Lookup tables with torch's names, signatures and errors: ``embedding``, ``embedding_bag``,
``one_hot``.

``max_norm``: torch renormalises the looked-up rows of ``weight`` *in place* (under no_grad)
before the lookup, so its result has rows of norm at most ``max_norm`` and the weight tensor is
mutated. JAX arrays are immutable: here the *result* is exactly torch's (each looked-up row
scaled by ``max_norm / (norm + 1e-7)`` where its ``norm_type``-norm exceeds ``max_norm``) and
the gradient is torch's (it flows to the rows as if unscaled, the scale being a no-grad
constant), but the stored weight is not changed. Renormalise the table yourself (e.g. with
``net.map_parameters``) if later reads of the weight must see torch's mutated values.

``sparse=True`` is accepted and has no effect (JAX gradients are dense).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._reduction import concrete

__all__ = ["embedding", "embedding_bag", "one_hot"]


def _check_indices(indices: jax.Array, num: int, what: str) -> jax.Array | None:
    """Integer indices in range: ``IndexError`` when their values are known (an eager call,
    or a constant closed over by a jitted function: checked in numpy, so no tracer is ever
    converted to a bool), the ``valid`` mask when traced (``None`` when checked)."""
    if not jnp.issubdtype(indices.dtype, jnp.integer):
        raise TypeError(
            f"{what} indices must be integers, got {indices.dtype}: cast them, e.g. "
            "indices.astype(jnp.int32)"
        )
    values = concrete(indices)
    if values is None:
        return (indices >= 0) & (indices < num)
    bad = values[(values < 0) | (values >= num)]
    if bad.size:
        raise IndexError(
            f"index out of range in self: {what} with {num} rows got index {bad.flat[0]}; "
            f"valid indices are 0..{num - 1}"
        )
    return None


def _row_norms(rows: jax.Array, norm_type: float) -> jax.Array:
    a = jnp.abs(rows)
    if norm_type == float("inf"):
        return jnp.max(a, axis=-1, keepdims=True)
    if norm_type == 2:
        return jnp.sqrt(jnp.sum(jnp.square(rows), axis=-1, keepdims=True))
    if norm_type == 1:
        return jnp.sum(a, axis=-1, keepdims=True)
    return jnp.sum(a**norm_type, axis=-1, keepdims=True) ** (1.0 / norm_type)


def _lookup(
    weight: jax.Array,
    indices: jax.Array,
    padding_idx: int | None,
    max_norm: float | None,
    norm_type: float,
    scale_grad_by_freq: bool,
    what: str,
) -> jax.Array:
    """``weight[indices]`` with torch's renorm, padding-row and gradient-scaling rules."""
    num = weight.shape[0]
    valid = _check_indices(indices, num, what)
    rows = jnp.take(weight, jnp.clip(indices, 0, num - 1), axis=0)
    if valid is not None:  # no value to check under jit: NaN rows
        rows = jnp.where(valid[..., None], rows, jnp.asarray(jnp.nan, rows.dtype))
    if max_norm is not None:
        norm = _row_norms(jax.lax.stop_gradient(rows), norm_type)
        scale = jnp.where(norm > max_norm, max_norm / (norm + 1e-7), 1.0).astype(rows.dtype)
        # value: the renormed row; gradient: as torch, unscaled (the renorm is no-grad).
        rows = rows + jax.lax.stop_gradient(rows * scale - rows)
    if scale_grad_by_freq:
        flat = jnp.clip(indices, 0, num - 1).reshape(-1)
        counts = jnp.zeros((num,), rows.dtype).at[flat].add(1)
        s = (1 / counts[jnp.clip(indices, 0, num - 1)])[..., None]
        rows = rows * s + jax.lax.stop_gradient(rows * (1 - s))  # value unchanged, grad / freq
    if padding_idx is not None:  # torch's backward skips the padding row
        keep = (indices != padding_idx)[..., None]
        rows = jnp.where(keep, rows, jax.lax.stop_gradient(rows))
    return rows


def _padding(padding_idx: int | None, num: int) -> int | None:
    if padding_idx is None:
        return None
    if padding_idx >= 0:
        if padding_idx >= num:
            raise ValueError("Padding_idx must be within num_embeddings")
        return padding_idx
    if padding_idx < -num:
        raise ValueError("Padding_idx must be within num_embeddings")
    return padding_idx + num


def embedding(
    input: jax.Array,
    weight: jax.Array,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> jax.Array:
    """``weight[input]``: rows of ``weight (num_embeddings, embedding_dim)``.

    ``padding_idx``'s row gets no gradient; ``max_norm`` renorms the looked-up rows (see the
    module docstring: torch's result, stored weight unchanged); ``scale_grad_by_freq``
    divides each row's gradient by its index's count in ``input``.

    Example::

        F.embedding(jnp.array([[0, 2]]), jnp.eye(3))    # [[[1, 0, 0], [0, 0, 1]]]
    """
    weight = jnp.asarray(weight)
    indices = jnp.asarray(input)
    pad = _padding(padding_idx, weight.shape[0])
    return _lookup(weight, indices, pad, max_norm, norm_type, scale_grad_by_freq, "embedding")


def embedding_bag(
    input: jax.Array,
    weight: jax.Array,
    offsets: jax.Array | None = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: jax.Array | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> jax.Array:
    """Sums, averages or maxes bags of embedding rows without materialising the lookup.

    A 2-d ``input (B, N)`` is ``B`` bags of ``N`` indices (``offsets`` must be ``None``); a
    1-d ``input`` is cut into bags at ``offsets`` (bag ``b`` is ``input[offsets[b]:
    offsets[b + 1]]``; with ``include_last_offset`` the last offset ends the last bag).
    ``per_sample_weights`` (``mode='sum'`` only) scale each row; entries equal to
    ``padding_idx`` are left out (not counted in the mean); an empty bag gives zeros.
    Output ``(B, embedding_dim)``.

    Example::

        F.embedding_bag(jnp.array([0, 1, 2]), jnp.eye(3), jnp.array([0, 1]), mode="sum")
        # [[1, 0, 0], [0, 1, 1]]
    """
    weight = jnp.asarray(weight)
    indices = jnp.asarray(input)
    if per_sample_weights is not None and jnp.shape(per_sample_weights) != indices.shape:
        raise ValueError(
            f"embedding_bag: If per_sample_weights ({tuple(jnp.shape(per_sample_weights))}) "
            f"is not None, then it must have the same shape as the input "
            f"({tuple(indices.shape)})"
        )
    if indices.ndim == 2:
        if offsets is not None:
            raise ValueError(
                "if input is 2D, then offsets has to be None, as input is treated is a "
                "mini-batch of fixed length sequences. However, found offsets of type "
                f"{type(offsets)}"
            )
        bags, length = indices.shape
        offsets_np = np.arange(0, bags * length, length) if length else np.zeros(bags, int)
        offsets = jnp.asarray(offsets_np, jnp.int32)
        indices = indices.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = jnp.reshape(per_sample_weights, (-1,))
        include_last_offset = False
    elif indices.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        offsets = jnp.asarray(offsets)
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
    else:
        raise ValueError(
            f"input has to be 1D or 2D Tensor, but got Tensor of dimension {indices.ndim}"
        )
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            "embedding_bag: per_sample_weights was not None. per_sample_weights is only "
            f"supported for mode='sum' (got mode='{mode}'). Please open a feature request "
            "on GitHub."
        )
    pad = _padding(padding_idx, weight.shape[0])
    rows = _lookup(weight, indices, None, max_norm, norm_type, scale_grad_by_freq, "embedding_bag")
    n = indices.shape[0]
    num_bags = offsets.shape[0] - 1 if include_last_offset else offsets.shape[0]
    positions = jnp.arange(n)
    bag = jnp.searchsorted(offsets, positions, side="right") - 1
    if include_last_offset:
        # past the last offset: dropped for sum/mean; torch's max kernel keeps those entries
        # in the last bag (observed in torch 2.13), and so does this one.
        last = num_bags - 1 if mode == "max" else num_bags
        bag = jnp.where(positions < offsets[-1], bag, last)
    used = jnp.ones((n,), bool) if pad is None else indices != pad
    bag = jnp.where(used, bag, num_bags)  # padding entries go to a discarded extra segment
    if per_sample_weights is not None:
        rows = rows * jnp.asarray(per_sample_weights).astype(rows.dtype)[:, None]
    segs = num_bags + 1
    if mode == "max":
        out = jax.ops.segment_max(rows, bag, num_segments=segs)[:num_bags]
        count = jax.ops.segment_sum(jnp.ones((n,), jnp.int32), bag, num_segments=segs)
        return jnp.where(count[:num_bags, None] > 0, out, jnp.zeros((), out.dtype))
    out = jax.ops.segment_sum(rows, bag, num_segments=segs)[:num_bags]
    if mode == "mean":
        count = jax.ops.segment_sum(jnp.ones((n,), rows.dtype), bag, num_segments=segs)
        out = out / jnp.maximum(count[:num_bags], 1)[:, None]
    return out


def one_hot(tensor: jax.Array, num_classes: int = -1) -> jax.Array:
    """``out[..., c] = (tensor == c)``, integer-typed; ``num_classes=-1`` is ``max + 1``
    (needs concrete values).

    Example::

        F.one_hot(jnp.array([0, 2]))    # [[1, 0, 0], [0, 0, 1]]
    """
    x = jnp.asarray(tensor)
    if not jnp.issubdtype(x.dtype, jnp.integer):
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    values = concrete(x)  # numpy when known (eager, or a constant under jit), else None
    if values is not None and values.size and int(values.min()) < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        if values is None:
            raise ValueError("one_hot(num_classes=-1) needs concrete values: pass num_classes")
        num_classes = int(values.max()) + 1 if values.size else 0
    elif values is not None and values.size and int(values.max()) >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    out_dtype = jnp.int64 if jax.config.jax_enable_x64 else jnp.int32
    classes = jnp.arange(num_classes).reshape((1,) * x.ndim + (-1,))
    return (x[..., None] == classes).astype(out_dtype)
