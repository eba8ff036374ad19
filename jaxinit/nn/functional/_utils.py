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


def _wrap_dim(dim: int, ndim: int) -> int:
    """torch's ``maybe_wrap_dim``: a dim in ``[-ndim, ndim - 1]`` as a non-negative index (a
    0-d tensor accepts ``-1`` and ``0``), else torch's ``IndexError``."""
    dim = operator.index(dim)
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-size}, {size - 1}], "
            f"but got {dim})"
        )
    return dim % size


def _require_rng(rng: object, name: str) -> None:
    """The error every keyed function raises when it needs randomness and got no ``rng`` (or
    the placeholder ``self.next_key()`` returns in an eval call without one)."""
    from .._nokey import is_no_key

    if is_no_key(rng):
        raise ValueError(
            f"{name} needs randomness when training: pass rng=jax.random.key(...) "
            "(inside a layer's forward, rng=self.next_key())"
        )


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
