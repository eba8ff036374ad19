"""Converting between a sharded checkpoint directory and a single file, array by array.

Used by ``jaxinit convert``. From a sharded checkpoint, every array is a :class:`LazyArray`
that is read (orbax partial restore, host numpy, stored dtype) only when the writer reaches it
and dropped after, so the extra memory is about one array: jaxinit msgpack (the writer takes
lazy leaves) and safetensors (written here, header first, then each array) stream; ``.pt``
needs every tensor at once for ``torch.save``, so it holds the model. Into a sharded
checkpoint, the file is read whole (its arrays are numpy, on the host) and saved by
:func:`jaxinit.save_sharded`.

Example::

    >>> tree = lazy_tree("ckpt/step_100")          # nothing read yet
    >>> write_safetensors(tree, "model.safetensors", progress=None)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import sharded
from .files import atomic_write
from .paths import dotted, walk


class LazyArray:
    """A stored array of a sharded checkpoint, read when converted to numpy."""

    __jaxinit_lazy__ = True  # written like an array by jaxinit.save's writer

    def __init__(self, directory: str, key: str, struct: Any):
        self.directory, self.key, self.struct = directory, key, struct
        self.shape, self.dtype = tuple(struct.shape), np.dtype(struct.dtype)
        self.nbytes = int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize
        self.ndim = len(self.shape)
        self.reads = 0

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        self.reads += 1
        value = sharded.restore_one(self.directory, self.key, self.struct)
        return value if dtype is None else value.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"LazyArray({self.key!r}, shape={self.shape}, dtype={self.dtype.name})"


def lazy_tree(directory: str | os.PathLike) -> tuple[Any, list[LazyArray]]:
    """The saved tree with a :class:`LazyArray` per stored array (a tie: one object at each of
    its names), and those arrays; reads no array data."""
    directory = os.path.abspath(os.fspath(directory))
    meta, shapes = sharded.stored_arrays(directory)
    arrays = {key: LazyArray(directory, key, struct) for key, struct in shapes.items()}
    by_struct = {id(struct): arrays[key] for key, struct in shapes.items()}
    tree = sharded._structure(meta, shapes)
    from .paths import rebuild

    tree = rebuild(tree, lambda _, leaf: by_struct.get(id(leaf), leaf))
    return tree, list(arrays.values())


def write_safetensors(
    tree: Any,
    path: str | os.PathLike,
    progress: Callable[[int, int], None] | None,
    metadata: Mapping[str, str] | None = None,
) -> int:
    """Write ``tree`` (nested dicts of arrays or lazy arrays) as a safetensors file, one array
    at a time, through :func:`atomic_write` (fsynced, renamed into place, an existing file's
    mode kept); ties as in :mod:`jaxinit.interop.safetensors` (written at every name, the
    repeats listed in the metadata, beside ``metadata``'s entries). Returns the number of
    distinct arrays written."""
    from jaxinit.interop.safetensors import ALIASES_KEY, DTYPE_NAMES

    codes = {name: code for code, name in DTYPE_NAMES.items()}

    groups: dict[int, tuple[list[str], Any]] = {}  # one array: every name it is stored at
    aliases: dict[str, str] = {}
    for p, leaf in walk(tree):
        name = dotted(p)
        if not hasattr(leaf, "dtype") or not hasattr(leaf, "shape"):
            raise TypeError(
                f"cannot save '{name}' ({type(leaf).__name__}) to safetensors, "
                "which stores arrays only"
            )
        if id(leaf) in groups:
            aliases[name] = groups[id(leaf)][0][0]
            groups[id(leaf)][0].append(name)
            continue
        if np.dtype(leaf.dtype).name not in codes:
            raise TypeError(f"cannot save '{name}': safetensors has no dtype {leaf.dtype}")
        groups[id(leaf)] = ([name], leaf)
    header: dict[str, Any] = {}
    extra = dict(metadata or {}) | ({ALIASES_KEY: json.dumps(aliases)} if aliases else {})
    if extra:
        header["__metadata__"] = extra
    offset = 0
    for names, leaf in groups.values():  # a tie's copies lie next to each other
        nbytes = int(np.prod(leaf.shape, dtype=np.int64)) * np.dtype(leaf.dtype).itemsize
        for name in names:
            header[name] = {
                "dtype": codes[np.dtype(leaf.dtype).name],
                "shape": [int(d) for d in leaf.shape],
                "data_offsets": [offset, offset + nbytes],
            }
            offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    total = offset

    def write(fd: int, _tmp: str) -> None:
        _write_all(fd, len(raw).to_bytes(8, "little") + raw)
        done = 0
        for names, leaf in groups.values():
            data = np.ascontiguousarray(np.asarray(leaf))  # read once, written at every name
            for _name in names:
                _write_all(fd, memoryview(data.reshape(-1).view(np.uint8)))
                done += data.nbytes
            del data  # one array at a time
            if progress is not None:
                progress(done, total)

    atomic_write(path, write)
    return len(groups)


def _write_all(fd: int, data: Any) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
