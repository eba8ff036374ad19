"""Argument helpers shared by the functional operations and their layers (torch's
``nn/modules/utils.py``: ``_single``, ``_pair``, ``_triple``)."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence


def _ntuple(value: int | Sequence[int], n: int, name: str) -> tuple[int, ...]:
    """torch's ``_single``/``_pair``: an int repeated ``n`` times, or a sequence of ``n`` ints."""
    try:
        return (operator.index(value),) * n
    except TypeError:
        pass
    try:
        out = tuple(int(v) for v in value)
    except TypeError:
        raise TypeError(f"{name} must be an int or a tuple of {n} ints, got {value!r}") from None
    if len(out) != n:
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
    return out


def _repeat(value, n: int) -> tuple:
    """torch's ``nn.modules.utils._ntuple(n)``: an iterable as a tuple (unchecked), else
    ``value`` repeated ``n`` times. Used where torch stores the result as an attribute."""
    if isinstance(value, Iterable):
        return tuple(value)
    return (value,) * n


def _unbatch(x, n_spatial: int):
    """``(x4, unbatched)``: a ``(C, *spatial)`` input gets a batch dim of 1."""
    if x.ndim == n_spatial + 1:
        return x[None], True
    return x, False
