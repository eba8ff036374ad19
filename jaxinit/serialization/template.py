"""The template check: a loaded tree against ``like=`` by dotted name, shape and dtype, every
problem collected and reported at once in torch's ``load_state_dict`` format.

One reusable function, :func:`check_template`, for every reader (msgpack files, torch files,
safetensors, sharded checkpoints): leaves are anything with ``shape`` and ``dtype`` (file
references, numpy arrays, ``jax.ShapeDtypeStruct``).

Example::

    >>> structure, keys = check_template(tree, like, strict=False, source="'ckpt.msgpack'",
    ...                                  is_source=lambda x: hasattr(x, "dtype"))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from jaxinit._dtypes import x64_enabled
from jaxinit._keys import IncompatibleKeys

from .format import CheckpointError
from .paths import Opaque, Path, dotted, rebuild, walk


class Keep(Opaque):
    """A template leaf the checkpoint lacks (strict=False): returned as it is."""

    __slots__ = ("leaf",)

    def __init__(self, leaf: Any):
        self.leaf = leaf


def loaded_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype an array has once in JAX: 64-bit integers become 32-bit while x64 is off."""
    if not x64_enabled() and dtype in (np.dtype(np.int64), np.dtype(np.uint64)):
        return np.dtype(np.int32 if dtype == np.int64 else np.uint32)
    return dtype


def _fmt_shape(shape: tuple) -> str:
    return str(tuple(int(d) for d in shape))


def flat_leaves(tree: Any, source: str) -> dict[str, Any]:
    """``{dotted name: leaf}``; two leaves with one name (``"a.b"`` and ``{"a": {"b"}}``) are
    an error naming it."""
    leaves: dict[str, Any] = {}
    for path, leaf in walk(tree):
        name = dotted(path)
        if name in leaves:
            raise CheckpointError(
                f"{source}: two entries are both named '{name}' (a key with "
                "dots and a nested dict): rename one"
            )
        leaves[name] = leaf
    return leaves


def check_template(
    tree: Any, like: Any, *, strict: bool, source: str, is_source: Callable[[Any], bool]
) -> tuple[Any, IncompatibleKeys]:
    """``like``'s structure filled from ``tree`` by dotted name, checking shapes and dtypes.

    torch's ``load_state_dict`` rules: missing and unexpected names (errors when ``strict``),
    size and dtype mismatches and non-array values (errors always) are collected, then raised
    at once as one :class:`CheckpointError`. Template leaves without a match become
    :class:`Keep`. An alias of a taken array is never unexpected.
    """
    leaves = flat_leaves(tree, source)
    missing: list[str] = []
    errors: list[str] = []
    taken: set[str] = set()

    def take(path: Path, want: Any) -> Any:
        name = dotted(path)
        if name not in leaves:
            missing.append(name)
            return Keep(want)
        got = leaves[name]
        taken.add(name)
        if not (hasattr(want, "shape") and hasattr(want, "dtype")):
            return got
        if not is_source(got):
            errors.append(
                f'While copying the parameter named "{name}", expected an array from '
                f"checkpoint but received {type(got)}"
            )
            return got
        if tuple(got.shape) != tuple(want.shape):
            errors.append(
                f"size mismatch for {name}: copying a param with shape "
                f"{_fmt_shape(got.shape)} from checkpoint, the shape in current model "
                f"is {_fmt_shape(want.shape)}."
            )
        dtype = np.dtype(got.dtype)
        if not getattr(got, "scalar", False):  # numpy scalars load as they are, never narrowed
            dtype = loaded_dtype(dtype)
        if dtype != np.dtype(want.dtype):
            errors.append(
                f"dtype mismatch for {name}: copying a param with dtype {dtype.name} "
                f"from checkpoint, the dtype in current model is "
                f"{np.dtype(want.dtype).name}."
            )
        return got

    result = rebuild(like, take)
    consumed = {id(leaves[n]) for n in taken if is_source(leaves[n])}
    unexpected = [
        n
        for n, leaf in leaves.items()
        if n not in taken and not (is_source(leaf) and id(leaf) in consumed)
    ]
    lines = []
    if strict and missing:
        lines.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
    if strict and unexpected:
        lines.append(
            "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". "
        )
    lines += errors
    if lines:
        raise CheckpointError(
            f"Error(s) in loading state_dict from {source}:\n\t" + "\n\t".join(lines)
        )
    return result, IncompatibleKeys(missing, unexpected)
