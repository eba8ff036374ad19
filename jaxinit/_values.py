"""Value checks for ``load_state_dict``: does a checkpoint value fit the target's dtype?

A neutral module (no import of :mod:`jaxinit.nn`), so that models and checkpoints share it.
torch's ``copy_`` silently wraps out-of-range integers (int64 ``2**40`` into an int32 buffer
becomes 0) and numpy's ``astype`` turns object arrays into NaNs; jaxinit refuses both, with
torch's ``load_state_dict`` message for an exception raised while copying.

Example::

    >>> value_error("bn.num_batches_tracked", np.array(2**40), np.dtype("int32"), ())
    'While copying the parameter named "bn.num_batches_tracked", whose dimensions in the model
    are torch.Size([]) and whose dimensions in the checkpoint are torch.Size([]), an exception
    occurred : (\\'value 1099511627776 does not fit in int32\\',).'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["check_metadata", "value_error"]


def _size(shape: tuple) -> str:
    return f"torch.Size({list(int(d) for d in shape)})"


def _problem(value: np.ndarray, dtype: np.dtype) -> str | None:
    if value.dtype.kind in "OUSV" and value.dtype.type.__module__ == "numpy":
        return (
            f"cannot copy an array of dtype {value.dtype} (object, string or structured "
            "values) into a numeric parameter"
        )
    if dtype.kind not in "iu" or value.size == 0 or value.dtype.kind not in "biuf":
        return None
    info = np.iinfo(dtype)
    if value.dtype.kind == "f":
        v = value.astype(np.float64)
        if not np.isfinite(v).all():
            return f"non-finite values do not fit in {dtype.name}"
        lo, hi = np.trunc(v.min()), np.trunc(v.max())
    else:
        lo, hi = int(value.min()), int(value.max())
    for bad in (lo, hi):
        if not info.min <= bad <= info.max:
            shown = int(bad)
            return f"value {shown} does not fit in {dtype.name}"
    return None


def value_error(name: str, value: np.ndarray, dtype: Any, shape: tuple) -> str | None:
    """None when ``value`` can be copied into a parameter of ``dtype`` without loss of range;
    else torch's ``load_state_dict`` line for an exception while copying (object, string and
    structured arrays; integers, or finite floats truncated, outside the target integer range;
    non-finite floats into integers)."""
    problem = _problem(np.asarray(value), np.dtype(dtype))
    if problem is None:
        return None
    return (
        f'While copying the parameter named "{name}", whose dimensions in the model are '
        f"{_size(shape)} and whose dimensions in the checkpoint are "
        f"{_size(np.shape(value))}, an exception occurred : ({problem!r},)."
    )


def check_metadata(metadata: Any) -> Mapping[str, Mapping[str, Any]] | None:
    """``state_dict._metadata`` as torch lays it out (``{prefix: {"version": int, ...}}``), or
    None; any other shape raises a TypeError that names ``_metadata``."""
    if metadata is None:
        return None
    ok = isinstance(metadata, Mapping) and all(
        isinstance(k, str)
        and isinstance(v, Mapping)
        and (v.get("version") is None or (type(v.get("version")) is int))
        for k, v in metadata.items()
    )
    if not ok:
        raise TypeError(
            f"state_dict._metadata must be a dict mapping module prefixes to dicts with an int "
            f"'version' (as torch writes it); got {type(metadata).__name__}: "
            f"{str(metadata)[:80]!r}"
        )
    return metadata
