"""The jaxinit metadata of a sharded checkpoint (``DIR/jaxinit/metadata``, JSON): sealed with
a checksum when saved, verified and validated before anything is loaded.

Version 2 (written now) adds two fields to version 1's ``format``, ``version``, ``root``,
``entries`` and ``sequences``:

* ``"arrays"``: ``{key: [shape, dtype name]}`` of every array jaxinit gave orbax, so names,
  shapes and dtypes that orbax's own metadata reports are checked against what was saved;
* ``"xxh3"``: the XXH3-64 of the canonical JSON of every other field
  (``json.dumps(fields, sort_keys=True, separators=(",", ":"))``, UTF-8).

A mismatch raises :class:`CheckpointError` naming the metadata file. Version 1 (no checksum)
is still read and validated field by field, but a changed name or value in it cannot be
detected. The array data is orbax's (tensorstore) and is not covered here.

Example::

    >>> meta = seal({"format": "jaxinit-sharded", ...}, arrays)
    >>> check(meta, shapes, "ckpt/step_0")   # raises CheckpointError if anything is off
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import xxhash

from .format import CheckpointError

VERSION = 2
READ_VERSIONS = (1, 2)
_KINDS = ("array", "alias", "value")
_MAX_LENGTH = 1 << 24  # of one list or tuple (its None entries are not stored)


def _digest(meta: dict) -> int:
    fields = {k: v for k, v in meta.items() if k != "xxh3"}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return xxhash.xxh3_64_intdigest(text.encode("utf-8", "surrogatepass"))


def seal(meta: dict, arrays: dict[str, Any]) -> dict:
    """``meta`` as version 2: the arrays' names, shapes and dtypes recorded, and the checksum
    of the whole."""
    out = dict(meta, version=VERSION)
    out["arrays"] = {
        key: [[int(d) for d in np.shape(a)], np.dtype(a.dtype).name] for key, a in arrays.items()
    }
    out["xxh3"] = _digest(out)
    return out


def check(meta: Any, shapes: dict[str, Any], target: str) -> None:
    """Raise :class:`CheckpointError` naming ``DIR/jaxinit/metadata`` unless ``meta`` is intact
    (version 2: its checksum matches), well formed, and agrees with orbax's ``shapes``
    (``{key: ShapeDtypeStruct}``)."""
    where = repr(os.path.join(target, "jaxinit", "metadata"))

    def damaged(what: str) -> CheckpointError:
        return CheckpointError(
            f"{where}: the sharded checkpoint's jaxinit metadata is "
            f"damaged ({what}); restore the checkpoint from a copy"
        )

    if not isinstance(meta, dict):
        raise damaged("not a JSON object")
    version = meta.get("version")
    if version not in READ_VERSIONS:
        raise CheckpointError(
            f"{where}: sharded checkpoint version {version!r} is not "
            f"supported (this jaxinit reads versions {READ_VERSIONS})"
        )
    if version >= 2:
        if type(meta.get("xxh3")) is not int or meta["xxh3"] != _digest(meta):
            raise damaged("xxh3 mismatch: it changed after jaxinit wrote it")
        recorded = meta.get("arrays")
        if not isinstance(recorded, dict):
            raise damaged("arrays")
        stored = {k: [list(s.shape), np.dtype(s.dtype).name] for k, s in shapes.items()}
        if recorded != stored:
            diff = sorted(set(recorded) ^ set(stored)) or sorted(
                k for k in recorded if recorded[k] != stored[k]
            )
            raise CheckpointError(
                f"{where}: orbax's array metadata disagrees with what jaxinit saved (names, "
                f"shapes or dtypes of {', '.join(repr(k) for k in diff[:5])}): the "
                "checkpoint is damaged; restore it from a copy"
            )
    _check_fields(meta, shapes, damaged)


def _check_fields(meta: dict, shapes: dict[str, Any], damaged: Any) -> None:
    root, entries, sequences = meta.get("root"), meta.get("entries"), meta.get("sequences")
    if root not in ("tree", "value"):
        raise damaged("root")
    if not isinstance(entries, list) or (root == "value" and len(entries) != 1):
        raise damaged("entries")
    places: set[tuple] = set()
    for entry in entries:
        ok = isinstance(entry, list) and len(entry) == 3 and entry[1] in _KINDS
        ok = ok and isinstance(entry[0], list) and all(isinstance(k, str) for k in entry[0])
        ok = ok and (root == "value" or bool(entry[0]))
        if ok and entry[1] == "value":
            ok = entry[2] is None or isinstance(entry[2], (bool, int, float, str))
        elif ok:
            ok = isinstance(entry[2], str) and entry[2] in shapes
        if not ok or tuple(entry[0]) in places:
            raise damaged(f"entry {str(entry)[:80]}")
        places.add(tuple(entry[0]))
    prefixes = {p[:i] for p in places for i in range(len(p))}
    if places & prefixes:  # a leaf where another entry needs a dict
        raise damaged("entries overlap")
    if not isinstance(sequences, list):
        raise damaged("sequences")
    for seq in sequences:
        ok = isinstance(seq, list) and len(seq) == 3 and seq[1] in ("list", "tuple")
        ok = ok and isinstance(seq[0], list) and all(isinstance(k, str) for k in seq[0])
        ok = ok and type(seq[2]) is int and 0 <= seq[2] < _MAX_LENGTH
        if not ok:
            raise damaged(f"sequence {str(seq)[:80]}")
