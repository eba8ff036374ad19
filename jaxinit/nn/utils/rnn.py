"""Variable-length batches for the recurrent layers, jit-friendly (torch's ``nn.utils.rnn``).

torch packs a padded batch into one flat tensor ordered by time (``pack_padded_sequence``),
which has a data-dependent shape. Here a :class:`PackedSequence` keeps the *padded* array and
the per-sequence ``lengths``: shapes stay static, so packing, the recurrent layers and
unpacking all trace under ``jit``. ``nn.RNN``/``LSTM``/``GRU`` given one run each sequence for
its own length -- the outputs, ``h_n`` and ``c_n`` equal torch's packed results (each
sequence's last state at its own length, zeros past it, the original batch order).

Example::

    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, (h, c) = lstm(variables, packed)
    y, lengths = pad_packed_sequence(out, batch_first=True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "PackedSequence",
    "pack_padded_sequence",
    "pack_sequence",
    "pad_packed_sequence",
    "pad_sequence",
]


@dataclasses.dataclass(frozen=True)
class PackedSequence:
    """A padded batch and the length of each sequence (torch's ``PackedSequence``, kept padded).

    ``padded``: ``(T, B, *)`` or ``(B, T, *)`` if ``batch_first``; ``lengths``: ``(B,)`` ints in
    the batch's own order. A pytree (``batch_first`` is static), so it crosses ``jit``.
    """

    padded: jax.Array
    lengths: jax.Array
    batch_first: bool = False

    def time_major(self) -> jax.Array:
        """The padded data as ``(T, B, *)``."""
        return jnp.swapaxes(self.padded, 0, 1) if self.batch_first else self.padded


jax.tree_util.register_dataclass(
    PackedSequence, data_fields=["padded", "lengths"], meta_fields=["batch_first"]
)


def _concrete(x: Any) -> np.ndarray | None:
    """``x`` as numpy if its value is known now (not a tracer), else None."""
    if isinstance(x, jax.core.Tracer):
        return None
    return np.asarray(x)


def pack_padded_sequence(
    input: jax.Array, lengths: Any, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Mark a padded batch with its sequence ``lengths`` for the recurrent layers.

    ``input``: ``(T, B, *)`` (``(B, T, *)`` if ``batch_first``). ``enforce_sorted=True``
    requires lengths in decreasing order, as torch (checked when the lengths are concrete;
    under ``jit`` traced lengths are taken as given). No sorting is ever needed: the layers mask
    each sequence by its own length, and results come back in the batch's order.

    Example::

        packed = pack_padded_sequence(x, [5, 3, 2], batch_first=True)
    """
    if isinstance(lengths, (list, tuple)):
        lengths = np.asarray(lengths, np.int64)
    host = _concrete(lengths)
    if host is not None:
        if host.ndim != 1:
            raise RuntimeError(f"'lengths' argument should be a 1D tensor, got {host.ndim}D")
        batch = input.shape[0] if batch_first else input.shape[1]
        if host.shape[0] != batch:
            raise RuntimeError(
                f"Expected `len(lengths)` to be equal to batch_size, but got {host.shape[0]} "
                f"(batch_size={batch})"
            )
        if enforce_sorted and np.any(host[1:] > host[:-1]):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                "pack_sequence to sidestep this requirement if you do not need ONNX "
                "exportability."
            )
        if host.size and host.min() <= 0:
            raise RuntimeError(
                "Length of all samples has to be greater than 0, but found an element in "
                "'lengths' that is <= 0"
            )
        time = input.shape[1] if batch_first else input.shape[0]
        if host.size and host.max() > time:
            raise RuntimeError(
                f"Expected sequence length to be at most {time} (the padded length), "
                f"but got a length of {host.max()}"
            )
    # concrete lengths stay numpy, so they stay concrete inside a jit (padded lengths, checks)
    lengths = host.astype(np.int32) if host is not None else jnp.asarray(lengths, jnp.int32)
    return PackedSequence(jnp.asarray(input), lengths, batch_first)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[jax.Array, jax.Array]:
    """The padded batch and its lengths (torch's ``pad_packed_sequence``).

    Positions past each length hold ``padding_value``. The time axis is cut to the longest
    sequence when the lengths are concrete (torch's shape); under ``jit`` it keeps the padded
    length. ``total_length`` pads (or cuts) it to that length, as torch.

    Example::

        y, lengths = pad_packed_sequence(out, batch_first=True)   # y (B, max(lengths), H)
    """
    data = sequence.time_major()
    lengths = sequence.lengths
    host = _concrete(lengths)
    T = data.shape[0]
    if host is not None and host.size:
        longest = int(host.max())
        if total_length is not None and total_length < longest:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being "
                f"{longest}"
            )
        T = longest
    if total_length is not None:
        T = total_length
    if T <= data.shape[0]:
        data = data[:T]
    else:
        pad = jnp.zeros((T - data.shape[0],) + data.shape[1:], data.dtype)
        data = jnp.concatenate([data, pad])
    valid = jnp.arange(T).reshape(T, 1) < lengths.reshape(1, -1)
    valid = valid.reshape(valid.shape + (1,) * (data.ndim - 2))
    data = jnp.where(valid, data, jnp.asarray(padding_value, data.dtype))
    if batch_first:
        data = jnp.swapaxes(data, 0, 1)
    return data, lengths


def pad_sequence(
    sequences: Sequence[jax.Array],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> jax.Array:
    """Stack variable-length ``(L_i, *)`` arrays into ``(T, B, *)`` (or ``(B, T, *)``), padded
    with ``padding_value`` on ``padding_side`` ('right' or 'left'), as torch.

    Example::

        x = pad_sequence([jnp.ones((3, 2)), jnp.ones((1, 2))], batch_first=True)  # (2, 3, 2)
    """
    if padding_side not in ("left", "right"):
        raise ValueError(
            f"Expected padding_side to be one of left or right, but got {padding_side}."
        )
    T = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        fill = jnp.full((T - s.shape[0],) + s.shape[1:], padding_value, s.dtype)
        rows.append(jnp.concatenate([s, fill] if padding_side == "right" else [fill, s]))
    out = jnp.stack(rows, axis=0)
    return out if batch_first else jnp.swapaxes(out, 0, 1)


def pack_sequence(sequences: Sequence[jax.Array], enforce_sorted: bool = True) -> PackedSequence:
    """Pad a list of ``(L_i, *)`` sequences and pack them (torch's ``pack_sequence``).

    Example::

        packed = pack_sequence([jnp.ones((3, 2)), jnp.ones((1, 2))])
    """
    lengths = np.asarray([s.shape[0] for s in sequences], np.int64)
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)
