"""Verification: the ``__jaxinit__`` entry, the structure checksum, ties and sequences, the root,
and the array-data checksums computed while the data is read.

What each format version covers (the checksum functions are in :mod:`.checksum`):

* version 3 (written now): as version 2, with XXH3-64 instead of ``zlib.crc32`` (keys ``xxh3``
  and ``structure_xxh3``).
* version 2 (still read): ``structure_crc32`` is the last value of the file and covers every
  byte before it that is not array data: the top-level map header, every key, shape, dtype and
  scalar, and the whole ``__jaxinit__`` entry (format, version, root, sequences, the per-array
  checksums and the key ``structure_crc32``). Array data is covered by ``crc32``, one per record.
* version 1 (still read): ``structure_crc32`` covers the bytes before the ``__jaxinit__`` key;
  the entry itself is checked for consistency only, so a file with lists or tuples (whose
  record is in that entry) loads only with ``verify=False``.

Example::

    >>> checkpoint = verify(parse(src), src, allow_unverified=False)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from . import format as fmt
from .checksum import SCHEMES, hasher, scheme
from .files import aligned_empty
from .format import CheckpointError
from .parse import AliasMarker, FileBytes, Parsed, Ref
from .paths import Path, dotted

_BLOCK = 64 << 20  # bytes per read call, so progress advances on big arrays
_META_KEYS = ["format", "version", "root", "sequences"]  # then the two checksum keys


class Checkpoint(NamedTuple):
    """A parsed, verified file: the tree with ``Ref`` leaves and the per-record checksums."""

    tree: Any
    sums: list[int] | None  # None for files without checksums (flax's, read when asked)
    version: int | None = None  # the format version (its checksum function); None for flax's


UNVERIFIED_HINT = (
    "it has no complete '__jaxinit__' entry, so nothing in it can be verified "
    "(files written by flax have none; a damaged jaxinit file may look the same). "
    "To read a flax file you trust, pass verify=False: jaxinit.load(path, "
    "verify=False)"
)


def verify(parsed: Parsed, src: FileBytes, *, allow_unverified: bool) -> Checkpoint:
    """Check everything but the array data; resolve ties and sequences; return the tree."""
    source, tree = src.source, parsed.tree
    if not (isinstance(tree, dict) and fmt.META_KEY in tree):
        if isinstance(tree, dict) and any(
            isinstance(v, dict)
            and v.get("format") == fmt.FORMAT
            and any(c.structure_key in v for c in SCHEMES.values())
            for v in tree.values()
        ):
            raise CheckpointError(
                f"{source}: the file is corrupted: the key of its '{fmt.META_KEY}' entry is damaged"
            )
        if parsed.saw_jaxinit:  # e.g. a changed root header hid the entry: never "flax's"
            raise CheckpointError(
                f"{source}: the file is corrupted: it is a jaxinit checkpoint "
                f"(it holds names only jaxinit writes) but its "
                f"'{fmt.META_KEY}' entry is not where it belongs; restore it "
                "from a copy"
            )
        if not allow_unverified:
            raise CheckpointError(
                f"{source}: not a verifiable jaxinit checkpoint: {UNVERIFIED_HINT}"
            )
        return Checkpoint(resolve(tree, [], source), None)
    meta = tree.pop(fmt.META_KEY)
    version = _check_meta(meta, parsed, source)
    if version == 1 and meta["sequences"] and not allow_unverified:
        raise CheckpointError(
            f"{source}: a format version 1 file whose lists and tuples are recorded outside its "
            "checksum: one damaged byte there would load a different structure silently, so "
            "it is refused. Everything else in it is verified when you accept that record "
            "unverified: jaxinit.load(path, verify=False) (CLI: --unverified); then save it "
            "again with jaxinit.save (version 3 covers every byte)"
        )
    names = scheme(version)
    if version == 1:
        end = parsed.meta_offset
    else:
        end = src.size - len(fmt.pack(meta[names.structure_key]))
    running, position = hasher(version), 0
    for offset, nbytes in parsed.records:
        _hash_range(src, position, offset, running)
        position = offset + nbytes
    _hash_range(src, position, end, running)
    if running.intdigest() != meta[names.structure_key]:
        raise CheckpointError(
            f"{source}: the file is corrupted: its keys, shapes, dtypes or '{fmt.META_KEY}' "
            "entry do not match their checksum (the bytes changed after jaxinit wrote them); "
            "restore it from a copy"
        )
    tree = resolve(tree, meta["sequences"], source)
    if meta["root"] == "value":
        if not (isinstance(tree, dict) and set(tree) == {"value"}):
            raise CheckpointError(f"{source}: the file is damaged (bad root)")
        tree = tree["value"]
    return Checkpoint(tree, meta[names.name], version)


def _hash_range(src: FileBytes, start: int, stop: int, running: Any) -> None:
    while start < stop:
        n = min(stop - start, _BLOCK)
        data, offset = src.span(start, n)
        running.update(memoryview(data)[offset : offset + n])
        start += n


def _check_meta(meta: Any, parsed: Parsed, source: str) -> int:
    if not isinstance(meta, dict) or meta.get("format") != fmt.FORMAT:
        raise CheckpointError(f"{source}: the '{fmt.META_KEY}' entry is damaged or not jaxinit's")
    version = meta.get("version")
    if type(version) is int and version > fmt.FORMAT_VERSION:
        raise CheckpointError(
            f"{source}: written by a newer jaxinit (format version {version}; this jaxinit "
            f"reads up to {fmt.FORMAT_VERSION}): upgrade jaxinit"
        )
    if not (type(version) is int and version in fmt.READ_VERSIONS):
        raise CheckpointError(f"{source}: the '{fmt.META_KEY}' entry is damaged (version)")
    name, structure_key = scheme(version)[:2]
    ok = (
        parsed.top_level
        and parsed.last_top_key == fmt.META_KEY
        and meta.get("root") in ("tree", "value")
        and isinstance(meta.get("sequences"), list)
        and isinstance(meta.get(name), list)
        and len(meta[name]) == len(parsed.records)
        and all(type(c) is int for c in meta[name])
        and type(meta.get(structure_key)) is int
        and (version == 1 or list(meta) == [*_META_KEYS, name, structure_key])
    )
    if not ok:
        raise CheckpointError(f"{source}: the '{fmt.META_KEY}' entry is damaged")
    return version


def resolve(tree: Any, sequences: list, source: str) -> Any:
    """Turn alias markers into the array they name, and maps that were lists back into lists."""
    refs: dict[Path, Ref] = {}

    def visit(node: Any, path: Path) -> Any:
        if isinstance(node, dict):
            return {k: visit(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [
                v if v is None or isinstance(v, (int, float, str, bytes)) else visit(v, path)
                for v in node
            ]
        if isinstance(node, Ref):
            refs[path] = node
        elif isinstance(node, AliasMarker):
            if node.path not in refs:
                raise CheckpointError(
                    f"{source}: '{dotted(path)}' is an alias of '{dotted(node.path)}', which "
                    "is not an earlier array in the file: the file is damaged"
                )
            return refs[node.path]
        return node

    tree = visit(tree, ())
    damaged = CheckpointError(f"{source}: the '{fmt.META_KEY}' entry is damaged (sequences)")
    for entry in sequences:
        if not (
            isinstance(entry, list)
            and len(entry) == 2
            and entry[1] in ("list", "tuple")
            and isinstance(entry[0], list)
            and all(isinstance(k, str) for k in entry[0])
        ):
            raise damaged
    if len({tuple(entry[0]) for entry in sequences}) != len(sequences):
        raise damaged
    for path, kind in sorted(sequences, key=lambda entry: -len(entry[0])):  # innermost first
        parent, node = None, tree
        for key in path:
            parent = node
            node = node.get(key) if isinstance(node, dict) else None
        if not (isinstance(node, dict) and list(node) == [str(i) for i in range(len(node))]):
            raise damaged
        seq = list(node.values()) if kind == "list" else tuple(node.values())
        if parent is None:
            tree = seq
        else:
            parent[path[-1]] = seq
    return tree


class DataReader:
    """Reads ``Ref`` arrays into fresh 64-byte aligned buffers (one copy, no mmap of the file),
    checksumming each block as it arrives: a damaged array raises as soon as it is read,
    naming it; :meth:`finish` reports a file that changed size meanwhile."""

    def __init__(
        self, src: FileBytes, checkpoint: Checkpoint, progress: Callable | None, total: int
    ):
        self.src, self.file, self.source = src, src.file, src.source
        self.sums, self.version = checkpoint.sums, checkpoint.version
        self.once = None if self.sums is None else scheme(checkpoint.version).once
        self.progress, self.total, self.done = progress, total, 0

    def __call__(self, ref: Ref) -> np.ndarray | np.generic:
        buf = aligned_empty(ref.nbytes)
        view = memoryview(buf)
        for (offset, nbytes), record in zip(ref.spans, ref.records):
            if nbytes < (1 << 16):  # small: from the parser's read window, no seek
                data, at = self.src.span(offset, nbytes)
                view[:nbytes] = memoryview(data)[at : at + nbytes]
                self.done += nbytes
                if self.once is not None and self.once(view[:nbytes]) != self.sums[record]:
                    self._damaged(ref)
            else:
                running = None if self.sums is None else hasher(self.version)
                self.file.seek(offset)
                for start in range(0, nbytes, _BLOCK):
                    block = view[start : min(start + _BLOCK, nbytes)]
                    self._read_into(block, ref)
                    if running is not None:
                        running.update(block)
                if running is not None and running.intdigest() != self.sums[record]:
                    self._damaged(ref)
            if self.progress is not None:
                self.progress(self.done, self.total)
            view = view[nbytes:]
        array = buf.view(ref.dtype).reshape(ref.shape)
        return array[()] if ref.scalar else array

    def _read_into(self, view: memoryview, ref: Ref) -> None:
        while len(view):
            n = self.file.readinto(view)
            if not n:
                raise CheckpointError(
                    f"{self.source}: the file became shorter while "
                    f"'{ref.name}' was read (was it overwritten?)"
                )
            view = view[n:]
            self.done += n

    def _damaged(self, ref: Ref) -> None:
        """Raise at once, before the array is converted or placed (so damage is never
        misreported as, e.g., an int64 value out of int32's range)."""
        self.src.check_size()
        raise CheckpointError(
            f"{self.source}: the array data of '{ref.name}' is corrupted "
            f"({scheme(self.version).name} mismatch: the bytes changed after jaxinit wrote "
            "them); restore the file from a copy"
        )

    def finish(self) -> None:
        """Raise if the file changed size while it was read."""
        self.src.check_size()
