"""safetensors files <-> jaxinit variables.

A safetensors file is a flat ``{dotted name: tensor}`` map (what Hugging Face ships); it becomes
nested jaxinit variables and back, bit for bit (bfloat16 and float8 included). safetensors
cannot store one tensor under two names, so a tie (one array object at several names) is
written at every name (so plain torch loads it with a strict ``load_state_dict``) and the
repeats are listed in the header's metadata as
``{"jaxinit.aliases": '{"alias": "first name", ...}'}`` (JSON); loading puts the same array back
at every name after checking that the copies hold the same bits (metadata never replaces a
tensor silently). Reading parses the header itself and checks every offset, shape and dtype
against the file before reading data (no mmap). ``num_batches_tracked`` is stored as int64, as
torch keeps it, and int64 loads as int32 while ``jax_enable_x64`` is off (see
:mod:`jaxinit.interop.torch`).

Neither reading nor writing needs the safetensors package (the format is a JSON header and
the raw bytes); files are written through jaxinit.save's atomic writer (fsynced, renamed into
place, an existing file's mode kept).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

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
    "F8_E4M3FNUZ": "float8_e4m3fnuz",
    "F8_E5M2FNUZ": "float8_e5m2fnuz",
    "F8_E8M0": "float8_e8m0fnu",
}
_MAX_HEADER = 100 << 20  # safetensors' own limit on the JSON header
_MAX_ELEMENTS = 2**62  # product of the nonzero dimensions, as jaxinit's own files


def _safetensors() -> Any:
    try:
        import safetensors
        import safetensors.numpy
    except ImportError as err:
        raise ImportError(f"jaxinit.interop.safetensors: {INSTALL_HINT}") from err
    return safetensors


class _Entry(NamedTuple):
    name: str
    shape: tuple
    dtype: str
    begin: int  # absolute file offsets of the data
    end: int


class _Duplicate(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different (a tensor named twice is refused, as the
    safetensors library refuses it; ``json`` alone would keep the last silently)."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _Duplicate(f"the name {twice!r} appears twice")
    return out


def _parse_header(file: Any, source: str) -> tuple[list[_Entry], dict[str, str]]:
    """The header, every field checked against the file: entries in file order, metadata."""
    size = os.fstat(file.fileno()).st_size
    head = file.read(8)
    n = int.from_bytes(head, "little") if len(head) == 8 else -1
    if not 2 <= n <= min(size - 8, _MAX_HEADER):
        raise _ser.CheckpointError(f"{source}: not a valid safetensors file (bad header length)")
    try:
        header = json.loads(file.read(n), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, _Duplicate) as err:
        raise _ser.CheckpointError(
            f"{source}: not a valid safetensors file (header: {err})"
        ) from err
    if not isinstance(header, dict):
        raise _ser.CheckpointError(f"{source}: not a valid safetensors file (header)")
    metadata = header.pop("__metadata__", None) or {}
    if not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        raise _ser.CheckpointError(f"{source}: the header's __metadata__ is not a map of strings")
    base, entries = 8 + n, []
    for name, info in header.items():
        ok = isinstance(info, dict) and info.get("dtype") in DTYPE_NAMES
        shape, offsets = (info.get("shape"), info.get("data_offsets")) if ok else (None, None)
        ok = (
            ok
            and isinstance(shape, list)
            and len(shape) <= 64
            and all(type(d) is int and 0 <= d < 2**62 for d in shape)
            and (math.prod(max(d, 1) for d in shape) < _MAX_ELEMENTS)
        )  # [0, 2**40, 2**40]: refused
        ok = (
            ok
            and isinstance(offsets, list)
            and len(offsets) == 2
            and all(type(o) is int for o in offsets)
            and 0 <= offsets[0] <= offsets[1] <= size - base
        )
        dtype = DTYPE_NAMES[info["dtype"]] if ok else ""
        ok = (
            ok
            and dtype in _ser._DTYPES
            and (
                int(np.prod(shape, dtype=object)) * _ser._DTYPES[dtype].itemsize
                == offsets[1] - offsets[0]
            )
        )
        if not ok:
            code = info.get("dtype") if isinstance(info, dict) else None
            raise _ser.CheckpointError(
                f"{source}: tensor {name!r} has a damaged or unsupported "
                f"header entry (dtype {code!r})"
            )
        entries.append(_Entry(name, tuple(shape), dtype, base + offsets[0], base + offsets[1]))
    entries.sort(key=lambda e: e.begin)
    for before, after in zip(entries, entries[1:]):
        if after.begin < before.end:
            raise _ser.CheckpointError(
                f"{source}: tensors {before.name!r} and {after.name!r} "
                "overlap in the file: it is damaged"
            )
    return entries, metadata


def read_header(path: str | os.PathLike) -> tuple[list[tuple[str, tuple, str]], dict[str, str]]:
    """``([(name, shape, dtype name), ...] in file order, aliases)`` without reading any data."""
    source = repr(os.fspath(path))
    with _ser.open_regular(path) as file:
        entries, metadata = _parse_header(file, source)
    return [(e.name, e.shape, e.dtype) for e in entries], _aliases(metadata, source)


def _aliases(metadata: Mapping[str, str], source: str) -> dict[str, str]:
    try:
        aliases = json.loads(metadata.get(ALIASES_KEY, "{}"))
    except json.JSONDecodeError as err:
        raise _ser.CheckpointError(f"{source}: metadata {ALIASES_KEY!r} is damaged") from err
    if not (
        isinstance(aliases, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in aliases.items())
    ):
        raise _ser.CheckpointError(
            f"{source}: metadata {ALIASES_KEY!r} is not a JSON object of names"
        )
    return aliases


def read_host(
    path: str | os.PathLike, *, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """The file as nested numpy arrays, dtypes exactly as stored (float8 included), ties
    restored. Raises :class:`~jaxinit.CheckpointError` for a damaged file, colliding names
    (``'a.b'`` and ``'a'``), or an alias whose stored copy differs from the tensor it names."""
    source = repr(os.fspath(path))
    flat: dict[str, Any] = {}
    with _ser.open_regular(path) as file:
        entries, metadata = _parse_header(file, source)
        aliases = _aliases(metadata, source)
        total, done = sum(e.end - e.begin for e in entries), 0
        for entry in entries:
            buf = _ser.aligned_empty(entry.end - entry.begin)
            file.seek(entry.begin)
            if file.readinto(memoryview(buf)) != len(buf):
                raise _ser.CheckpointError(
                    f"{source}: the file is truncated (in tensor {entry.name!r})"
                )
            flat[entry.name] = buf.view(_ser._DTYPES[entry.dtype]).reshape(entry.shape)
            done += len(buf)
            if progress is not None:
                progress(done, total)
    for alias, target in aliases.items():
        if target not in flat:
            raise _ser.CheckpointError(
                f"{source}: alias {alias!r} names {target!r}, which the file lacks"
            )
        if alias in flat:  # written at every name: tie them only if the bits agree
            a, b = flat[alias], flat[target]
            if not (a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()):
                raise _ser.CheckpointError(
                    f"{source}: metadata says {alias!r} is an alias of {target!r}, but the file "
                    f"holds a different tensor {alias!r}: the file is inconsistent"
                )
        flat[alias] = flat[target]
    try:
        return unflatten(flat)
    except ValueError as err:
        raise _ser.CheckpointError(f"{source}: {err}") from err


def load_safetensors(
    path: str | os.PathLike,
    *,
    like: Any = None,
    strict: bool = True,
    device: Any = None,
    sharding: Any = None,
    net: Any = None,
) -> Any:
    """Read a safetensors file as nested jaxinit variables (jax arrays).

    ``'hidden.weight'`` -> ``variables['hidden']['weight']``, same shape and bits. Ties saved by
    :func:`save_safetensors` come back as one array object. ``like``, ``strict``, ``device`` and
    ``sharding`` are those of :func:`jaxinit.load` (checks of every name, shape and dtype,
    reported at once; ``strict=False`` returns ``(variables, IncompatibleKeys)``).

    ``net``: the model the file is for. A tie then resolves by the model's names, as
    ``safetensors.torch.load_model`` resolves it in torch: a file written by safetensors'
    ``save_model`` holds a tie under one of its names only (the alphabetically first, e.g.
    ``lm_head.weight``), which becomes the variable's stored name; a copy at another name is
    dropped after checking it holds the same bits.

    Example::

        >>> variables = load_safetensors("model.safetensors", like=template)
        >>> variables = load_safetensors("save_model.safetensors", like=template, net=net)
    """
    host = read_host(path)
    if net is not None:
        host = fold_ties(host, net, repr(os.fspath(path)))
    return _ser.assemble(
        host,
        like=like,
        strict=strict,
        device=device,
        sharding=sharding,
        source=repr(os.fspath(path)),
    )


def fold_ties(host: Any, net: Any, source: str) -> Any:
    """``host`` (nested arrays) with every tied name of ``net`` stored once, under the name
    ``net.init`` stores it (its first name): an alias present alone is renamed to it, a copy
    at an alias is dropped if its bits equal the stored name's (a CheckpointError if not)."""
    from jaxinit._tree import iter_flat
    from jaxinit.nn._plan import plan_of

    flat = dict(iter_flat(host))
    plan = plan_of(net)
    for alias, canon in plan.state_keys:
        if canon is None or alias == canon or alias not in flat:
            continue
        value = flat.pop(alias)
        if canon not in flat:
            flat[canon] = value
        elif not (value.shape == flat[canon].shape and value.tobytes() == flat[canon].tobytes()):
            raise _ser.CheckpointError(
                f"{source}: {alias!r} and {canon!r} are tied in {type(net).__name__}, but the "
                "file holds different tensors at the two names"
            )
    return unflatten(flat)


def flat_arrays(tree: Any) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """``tree`` as safetensors wants it: ``{dotted name: contiguous host array}`` for every name
    (a tie's array at each of its names), and ``{alias: first name}`` for the repeats. Two
    leaves with one dotted name (``'a.b'`` and ``{'a': {'b'}}``) raise a ValueError."""
    arrays: dict[str, np.ndarray] = {}
    aliases: dict[str, str] = {}
    first: dict[tuple, str] = {}
    paths: dict[str, tuple] = {}
    for path, leaf in _ser._walk(tree):
        name = _ser._dotted(path)
        if name in paths:
            raise ValueError(
                f"keys {paths[name]} and {path} collide: both are named {name!r} "
                "in a flat state_dict; rename one"
            )
        paths[name] = path
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
            arrays[name] = arrays[first[key]]  # written again: plain torch sees every key
            continue
        if key is not None:
            first[key] = name
        array = np.asarray(leaf, order="C")  # (np.ascontiguousarray makes 0-d 1-d)
        if path[-1] == "num_batches_tracked" and array.dtype == np.int32:
            array = array.astype(np.int64)
        arrays[name] = array
    unflatten(dict.fromkeys(arrays))  # 'a' beside 'a.b': refused at write, not at read
    return arrays, aliases


def save_safetensors(
    variables: Any,
    path: str | os.PathLike,
    *,
    metadata: Mapping[str, str] | None = None,
    net: Any = None,
) -> None:
    """Write variables (nested dicts of arrays) to a safetensors file, atomically.

    Names are dotted (``'hidden.weight'``), values keep their bits. A tie (one array object
    at several names) is written at every name (plain torch loads it strictly) and listed in
    the metadata (see the module doc). A model's variables hold a tie once, under its first
    name: pass ``net`` (or save ``net.state_dict(variables)``) to write every name torch's
    strict ``load_state_dict`` expects. ``metadata`` adds string entries to the header.

    Example::

        >>> save_safetensors(variables, "model.safetensors", net=net)
        >>> from safetensors.torch import load_file; net.load_state_dict(load_file(...))
    """
    from jaxinit.serialization.sharded_convert import write_safetensors

    if net is not None:
        variables = net.state_dict(variables)  # every name of a tie, as torch's state_dict
    arrays, _ = flat_arrays(variables)  # a tie is one object at each name: listed as aliases
    write_safetensors(arrays, path, None, metadata)  # streamed, fsynced, mode kept
