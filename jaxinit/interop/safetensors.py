"""safetensors files <-> jaxinit variables.

A safetensors file is a flat ``{dotted name: tensor}`` map (what Hugging Face ships); it becomes
nested jaxinit variables and back, bit for bit (bfloat16 included). safetensors cannot store one
tensor under two names, so a tie (one array object at several names) is written once, under its
first name, and the other names are listed in the header's metadata as
``{"jaxinit.aliases": '{"alias": "first name", ...}'}`` (JSON); loading puts the same array back
at every name. ``num_batches_tracked`` is stored as int64, as torch keeps it, and int64 loads as
int32 while ``jax_enable_x64`` is off (see :mod:`jaxinit.interop.torch`).

safetensors is optional and imported only when one of these functions runs:
``pip install "jaxinit[safetensors]"``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from jaxinit import serialization as _ser
from jaxinit._tree import unflatten

__all__ = ["load_safetensors", "save_safetensors"]

ALIASES_KEY = "jaxinit.aliases"
INSTALL_HINT = (
    'this needs safetensors, an optional dependency of jaxinit: pip install "jaxinit[safetensors]"'
)

# safetensors' dtype codes -> numpy dtype names (the names jaxinit shows everywhere).
DTYPE_NAMES = {
    "BOOL": "bool",
    "U8": "uint8",
    "I8": "int8",
    "I16": "int16",
    "U16": "uint16",
    "I32": "int32",
    "U32": "uint32",
    "I64": "int64",
    "U64": "uint64",
    "F16": "float16",
    "BF16": "bfloat16",
    "F32": "float32",
    "F64": "float64",
    "C64": "complex64",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
}


def _safetensors() -> Any:
    try:
        import safetensors
        import safetensors.numpy
    except ImportError as err:
        raise ImportError(f"jaxinit.interop.safetensors: {INSTALL_HINT}") from err
    return safetensors


def read_header(path: str | os.PathLike) -> tuple[list[tuple[str, tuple, str]], dict[str, str]]:
    """``([(name, shape, dtype name), ...] in file order, aliases)`` without reading any data."""
    safetensors = _safetensors()
    try:
        with safetensors.safe_open(os.fspath(path), framework="np") as file:
            entries = []
            for name in getattr(file, "offset_keys", file.keys)():  # file order where known
                view = file.get_slice(name)
                code = view.get_dtype()
                entries.append((name, tuple(view.get_shape()), DTYPE_NAMES.get(code, code)))
            metadata = file.metadata() or {}
    except safetensors.SafetensorError as err:
        raise _ser.CheckpointError(
            f"{os.fspath(path)!r}: not a valid safetensors file ({err})"
        ) from err
    return entries, _aliases(metadata, path)


def _aliases(metadata: Mapping[str, str], path: Any) -> dict[str, str]:
    try:
        aliases = json.loads(metadata.get(ALIASES_KEY, "{}"))
    except json.JSONDecodeError as err:
        raise _ser.CheckpointError(
            f"{os.fspath(path)!r}: metadata {ALIASES_KEY!r} is damaged"
        ) from err
    return aliases


def read_host(
    path: str | os.PathLike, *, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """The file as nested numpy arrays, dtypes exactly as stored, ties restored."""
    safetensors = _safetensors()
    entries, aliases = read_header(path)
    total = sum(
        int(np.prod(shape)) * _ser._DTYPES[dtype].itemsize
        for _, shape, dtype in entries
        if dtype in _ser._DTYPES
    )
    flat: dict[str, Any] = {}
    done = 0
    try:
        with safetensors.safe_open(os.fspath(path), framework="np") as file:
            for name, _, _ in entries:
                flat[name] = file.get_tensor(name)
                done += flat[name].nbytes
                if progress is not None:
                    progress(done, total)
    except safetensors.SafetensorError as err:
        raise _ser.CheckpointError(f"{os.fspath(path)!r}: cannot read it ({err})") from err
    for alias, source in aliases.items():
        if source not in flat:
            raise _ser.CheckpointError(
                f"{os.fspath(path)!r}: alias {alias!r} names {source!r}, which the file lacks"
            )
        flat[alias] = flat[source]
    return unflatten(flat)


def load_safetensors(
    path: str | os.PathLike,
    *,
    like: Any = None,
    strict: bool = True,
    device: Any = None,
    sharding: Any = None,
) -> Any:
    """Read a safetensors file as nested jaxinit variables (jax arrays).

    ``'hidden.weight'`` -> ``variables['hidden']['weight']``, same shape and bits. Ties saved by
    :func:`save_safetensors` come back as one array object. ``like``, ``strict``, ``device`` and
    ``sharding`` are those of :func:`jaxinit.load` (checks of every name, shape and dtype,
    reported at once; ``strict=False`` returns ``(variables, IncompatibleKeys)``).

    Example::

        >>> variables = load_safetensors("model.safetensors", like=template)
    """
    host = read_host(path)
    return _ser.assemble(
        host,
        like=like,
        strict=strict,
        device=device,
        sharding=sharding,
        source=repr(os.fspath(path)),
    )


def flat_arrays(tree: Any) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """``tree`` as safetensors wants it: ``{dotted name: contiguous host array}`` holding each
    array object once, and ``{alias: first name}`` for the others."""
    arrays: dict[str, np.ndarray] = {}
    aliases: dict[str, str] = {}
    first: dict[tuple, str] = {}
    for path, leaf in _ser._walk(tree):
        name = _ser._dotted(path)
        if not path:
            raise TypeError("safetensors stores named arrays: give a dict of arrays")
        if not isinstance(leaf, (np.ndarray, jax.Array)):
            raise TypeError(
                f"cannot save '{name}' ({type(leaf).__name__}) to safetensors, "
                "which stores arrays only"
            )
        key = _ser._identity(leaf)
        if key is not None and key in first:
            aliases[name] = first[key]
            continue
        if key is not None:
            first[key] = name
        array = np.asarray(leaf, order="C")  # (np.ascontiguousarray makes 0-d 1-d)
        if path[-1] == "num_batches_tracked" and array.dtype == np.int32:
            array = array.astype(np.int64)
        arrays[name] = array
    return arrays, aliases


def save_safetensors(
    variables: Any, path: str | os.PathLike, *, metadata: Mapping[str, str] | None = None
) -> None:
    """Write variables (nested dicts of arrays) to a safetensors file, atomically.

    Names are dotted (``'hidden.weight'``), values keep their bits. A tie is written once and
    listed in the metadata (see the module doc). ``metadata`` adds string entries to the header.

    Example::

        >>> save_safetensors(variables, "model.safetensors")
        >>> from safetensors.torch import load_file; net.load_state_dict(load_file(...))
    """
    safetensors = _safetensors()
    arrays, aliases = flat_arrays(variables)
    header = dict(metadata or {})
    if aliases:
        header[ALIASES_KEY] = json.dumps(aliases)
    _ser.atomic_write(
        path, lambda _, tmp: safetensors.numpy.save_file(arrays, tmp, metadata=header or None)
    )
