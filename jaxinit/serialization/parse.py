"""Parsing a checkpoint's framing: a small msgpack reader that returns arrays as ``Ref``
(offsets into the file), so no array byte is read or copied here.

Bounded by construction: bytes come through :class:`FileBytes` (``read`` calls, no mmap, so a
file cut short while it is parsed is an error, not SIGBUS); every length is checked against the
end of the file (or of the enclosing record) before anything is allocated; the depth limit is
global (a record's fields are read by dedicated code, never by the generic reader); elements of
msgpack arrays get no path of their own, so a long list costs one Python object per element.

Example::

    >>> with open_regular("ckpt.msgpack") as f:
    ...     parsed = parse(FileBytes(f, "'ckpt.msgpack'"))
"""

from __future__ import annotations

import math
import os
import struct
from typing import Any

import msgpack
import numpy as np

from . import format as fmt
from .format import CheckpointError
from .paths import Opaque, Path, dotted


class Ref(Opaque):
    """An array in the file, not read yet: its shape, dtype and where its bytes are."""

    __slots__ = ("shape", "dtype", "spans", "records", "scalar", "name")

    def __init__(self, shape, dtype, spans, records, scalar, name):
        self.shape, self.dtype, self.spans = tuple(shape), dtype, spans
        self.records, self.scalar, self.name = records, scalar, name

    @property
    def nbytes(self) -> int:
        return sum(n for _, n in self.spans)


class AliasMarker(Opaque):
    """``{"__jaxinit_alias__": [key, ...]}``: the array first written at that path."""

    __slots__ = ("path",)

    def __init__(self, path: Path):
        self.path = path


class FileBytes:
    """Random access to a regular file's bytes through a small read window.

    The size is taken once; a read that comes back short (the file shrank) raises
    :class:`CheckpointError`, and :meth:`check_size` reports a file that changed size.
    """

    WINDOW = 1 << 20

    def __init__(self, file: Any, source: str):
        self.file, self.source = file, source
        self.size = os.fstat(file.fileno()).st_size
        self.start, self.data = 0, b""

    def span(self, start: int, n: int) -> tuple[bytes, int]:
        """``(buffer, offset)`` with ``buffer[offset : offset + n]`` the file's bytes there."""
        offset = start - self.start
        if offset >= 0 and offset + n <= len(self.data):
            return self.data, offset
        want = min(max(n, self.WINDOW), self.size - start)
        self.file.seek(start)
        data = self.file.read(want)
        if len(data) < n:
            raise CheckpointError(
                f"{self.source}: the file became shorter while it was read (was it overwritten?)"
            )
        self.start, self.data = start, data
        return data, 0

    def read(self, start: int, n: int) -> bytes:
        data, offset = self.span(start, n)
        return bytes(data[offset : offset + n])

    def check_size(self) -> None:
        if os.fstat(self.file.fileno()).st_size != self.size:
            raise CheckpointError(
                f"{self.source}: the file changed size while it was read (was it overwritten?)"
            )


_STRUCTS: dict[str, struct.Struct] = {}
# msgpack type bytes (besides the fix* ranges): constants, numbers, and length-prefixed types
# (bin 8/16/32, ext 8/16/32, str 8/16/32, array 16/32, map 16/32) with their length's format.
_CONSTANTS = {0xC0: None, 0xC2: False, 0xC3: True}
_NUMBERS = {
    0xCA: ">f",
    0xCB: ">d",
    0xCC: ">B",
    0xCD: ">H",
    0xCE: ">I",
    0xCF: ">Q",
    0xD0: ">b",
    0xD1: ">h",
    0xD2: ">i",
    0xD3: ">q",
}
_ONE_BYTE = bytes(range(0x80)) + bytes(range(0xE0, 0x100)) + b"\xc0\xc2\xc3"
_ONE_BYTE_VALUES = [
    b if b < 0x80 else b - 0x100 if b >= 0xE0 else _CONSTANTS.get(b) for b in range(256)
]
_INTS = {
    0xCC: ">B",
    0xCD: ">H",
    0xCE: ">I",
    0xCF: ">Q",
    0xD0: ">b",
    0xD1: ">h",
    0xD2: ">i",
    0xD3: ">q",
}
_LENGTHS = {
    0xC4: ">B",
    0xC5: ">H",
    0xC6: ">I",
    0xC7: ">B",
    0xC8: ">H",
    0xC9: ">I",
    0xD9: ">B",
    0xDA: ">H",
    0xDB: ">I",
    0xDC: ">H",
    0xDD: ">I",
    0xDE: ">H",
    0xDF: ">I",
}


_MARKER_LENGTHS = frozenset(len(m.encode()) for m in fmt.JAXINIT_MARKERS)


class Parsed:
    """The result of :func:`parse`: the raw tree and where its pieces are in the file."""

    def __init__(
        self,
        tree: Any,
        records: list[tuple[int, int]],
        meta_offset: int | None,
        last_top_key: str | None,
        top_level: bool,
        saw_jaxinit: bool = False,
    ):
        self.tree, self.records, self.meta_offset = tree, records, meta_offset
        self.last_top_key, self.top_level = last_top_key, top_level
        self.saw_jaxinit = saw_jaxinit  # names only jaxinit writes occur: never a flax file


class _Parser:
    def __init__(self, src: FileBytes):
        self.src, self.end, self.pos, self.source = src, src.size, 0, src.source
        self.records: list[tuple[int, int]] = []  # (offset, nbytes) of array data, file order
        self.meta_offset: int | None = None
        self.last_top_key: str | None = None
        self.in_record = False
        # maps and arrays cost ~100 bytes of Python each but can be 1 byte in the file: bounded
        self.containers_left = fmt.MAX_CONTAINERS + src.size // fmt.BYTES_PER_CONTAINER
        self.saw_jaxinit = False  # a string only jaxinit writes (its entry's keys) was seen

    def fail(self, what: str, path: Path = ()) -> None:
        where = f" (at '{dotted(path)}')" if path else ""
        raise CheckpointError(f"{self.source}: {what}{where}")

    def need(self, n: int, path: Path) -> None:
        if self.pos + n > self.end and self.in_record:
            self.fail("an array record is damaged: its contents overrun its length", path)
        if self.pos + n > self.end:
            self.fail(
                f"the file is truncated: it ends at byte {self.end} in the middle of an "
                "entry, so it was not completely written or was cut short",
                path,
            )

    def take(self, n: int, path: Path) -> int:
        self.need(n, path)
        self.pos += n
        return self.pos - n

    def unpack(self, form: str, path: Path) -> Any:
        layout = _STRUCTS.get(form) or _STRUCTS.setdefault(form, struct.Struct(form))
        data, offset = self.src.span(self.take(layout.size, path), layout.size)
        return layout.unpack_from(data, offset)[0]

    def raw(self, n: int, path: Path) -> bytes:
        return self.src.read(self.take(n, path), n)

    def value(self, path: Path, depth: int) -> Any:
        if depth > fmt.MAX_DEPTH:
            self.fail(f"nesting deeper than {fmt.MAX_DEPTH} levels: not a checkpoint", path)
        pos, src = self.pos, self.src
        at = pos - src.start
        if pos < self.end and 0 <= at < len(src.data):  # fast path: the byte is in the window
            self.pos = pos + 1
            b = src.data[at]
        else:
            b = self.unpack(">B", path)
        if b <= 0x7F:
            return b
        if b >= 0xE0:
            return b - 0x100
        if b <= 0x8F:
            return self.map(b & 0x0F, path, depth)
        if b <= 0x9F:
            return self.array(b & 0x0F, path, depth)
        if b <= 0xBF:
            return self.text(b & 0x1F, path)
        if b in _CONSTANTS:
            return _CONSTANTS[b]
        if b in _NUMBERS:
            return self.unpack(_NUMBERS[b], path)
        if 0xD4 <= b <= 0xD8:  # fixext 1, 2, 4, 8, 16
            return self.ext(1 << (b - 0xD4), path)
        if b not in _LENGTHS:
            self.fail(
                f"invalid msgpack byte 0x{b:02x} at offset {self.pos - 1}: the file is "
                "damaged or not a msgpack checkpoint",
                path,
            )
        n = self.unpack(_LENGTHS[b], path)
        if b <= 0xC6:
            return self.raw(n, path)
        if b <= 0xC9:
            return self.ext(n, path)
        if b <= 0xDB:
            return self.text(n, path)
        if b <= 0xDD:
            return self.array(n, path, depth)
        return self.map(n, path, depth)

    def text(self, n: int, path: Path) -> str:
        start = self.pos
        try:
            text = self.raw(n, path).decode("utf-8")
        except UnicodeDecodeError:
            self.fail(f"a string at offset {start} is not valid UTF-8: the file is damaged", path)
        if n in _MARKER_LENGTHS and text in fmt.JAXINIT_MARKERS:
            self.saw_jaxinit = True
        return text

    def container(self, path: Path) -> None:
        self.containers_left -= 1
        if self.containers_left < 0:
            self.fail(
                f"more than {fmt.MAX_CONTAINERS:,} maps and lists (plus one per "
                f"{fmt.BYTES_PER_CONTAINER} bytes of file): not a checkpoint jaxinit "
                "writes; the file is damaged or crafted",
                path,
            )

    def array(self, n: int, path: Path, depth: int) -> list:
        self.need(n, path)  # every element takes at least one byte
        self.container(path)
        out: list = []
        while len(out) < n:
            k = min(n - len(out), 1 << 16, self.end - self.pos)
            if k <= 0:
                self.need(1, path)  # the file (or record) ends inside the list
            data, at = self.src.span(self.pos, k)
            if data[at] in _ONE_BYTE:  # a run of one-byte values (nil, bool, small int) at once
                run = data[at : at + k]
                m = k - len(run.lstrip(_ONE_BYTE))
                out.extend(map(_ONE_BYTE_VALUES.__getitem__, run[:m]))
                self.pos += m
            else:
                out.append(self.value(path, depth + 1))
        return out

    def map(self, n: int, path: Path, depth: int) -> Any:
        self.need(2 * n, path)
        self.container(path)
        out: dict[str, Any] = {}
        for _ in range(n):
            key_offset = self.pos
            key = self.value(path, depth + 1)
            if not isinstance(key, str):
                self.fail(
                    f"a map key at offset {key_offset} is {type(key).__name__}, not a "
                    "string: not a checkpoint written by jaxinit or flax",
                    path,
                )
            if key in out:
                self.fail(f"the key {key!r} appears twice: the file is damaged", path)
            if depth == 0:
                self.last_top_key = key
                if key == fmt.META_KEY:
                    self.meta_offset = key_offset
            out[key] = self.value((*path, key), depth + 1)
        if fmt.CHUNKED_KEY in out:
            return self.unchunk(out, path)
        if fmt.ALIAS_KEY in out:
            target = out[fmt.ALIAS_KEY]
            if not (
                len(out) == 1
                and isinstance(target, list)
                and all(isinstance(k, str) for k in target)
            ):
                self.fail("an alias marker is damaged", path)
            return AliasMarker(tuple(target))
        return out

    def ext(self, n: int, path: Path) -> Any:
        code = self.unpack(">b", path)
        start = self.take(n, path)
        if code == fmt.EXT_COMPLEX:
            try:
                real, imag = msgpack.unpackb(
                    self.src.read(start, n),
                    max_bin_len=0,
                    max_str_len=0,
                    max_array_len=2,
                    max_map_len=0,
                )
                return complex(real, imag)
            except (ValueError, TypeError, msgpack.UnpackException):
                self.fail(f"the complex number at offset {start} is damaged", path)
        if code not in (fmt.EXT_NDARRAY, fmt.EXT_NPSCALAR):
            self.fail(
                f"unknown msgpack extension type {code}: not written by jaxinit or flax", path
            )
        outer_end, self.end, self.pos, self.in_record = self.end, self.pos, start, True
        try:
            return self.record(code, path)
        finally:
            self.end, self.pos, self.in_record = outer_end, start + n, False

    def shape(self, path: Path) -> list[int]:
        """A record's shape: a msgpack array of non-negative ints, nothing else."""
        b = self.unpack(">B", path)
        if 0x90 <= b <= 0x9F:
            n = b & 0x0F
        elif b in (0xDC, 0xDD):
            n = self.unpack(_LENGTHS[b], path)
        else:
            self.fail("an array record is damaged (bad shape)", path)
        if n > fmt.MAX_NDIM:
            self.fail(
                f"an array record is damaged (shape of {n} dimensions; at most {fmt.MAX_NDIM})",
                path,
            )
        dims = []
        for _ in range(n):
            b = self.unpack(">B", path)
            d = b if b <= 0x7F else self.unpack(_INTS[b], path) if b in _INTS else -1
            if d < 0:
                self.fail("an array record is damaged (bad shape)", path)
            dims.append(d)
        return dims

    def record(self, code: int, path: Path) -> Ref:
        header = self.unpack(">B", path)
        if header != 0x93:
            self.fail("an array record is damaged (bad header)", path)
        shape = self.shape(path)
        b = self.unpack(">B", path)
        if 0xA0 <= b <= 0xBF:
            name = self.raw(b & 0x1F, path)
        elif b in (0xC4, 0xD9):  # flax writes the dtype name as str; old msgpack as bin
            name = self.raw(self.unpack(">B", path), path)
        else:
            self.fail("an array record is damaged (bad dtype)", path)
        name = name.decode("ascii", "replace")
        kind = self.unpack(">B", path)
        if kind not in (0xC4, 0xC5, 0xC6):
            self.fail("an array record is damaged (bad data header)", path)
        nbytes = self.unpack({0xC4: ">B", 0xC5: ">H", 0xC6: ">I"}[kind], path)
        offset = self.take(nbytes, path)
        if self.pos != self.end:
            self.fail("an array record is damaged (bad length)", path)
        dtype = fmt.DTYPES.get(name)
        if dtype is None:
            raise CheckpointError(
                f"{self.source}: '{dotted(path)}' has dtype {name!r}, which jaxinit does not "
                "load (only numeric dtypes jax can hold; object and structured arrays are "
                "refused)"
            )
        size = math.prod(shape)
        if math.prod(max(d, 1) for d in shape) * dtype.itemsize >= fmt.MAX_ELEMENTS:
            self.fail(f"an array record is damaged: shape {tuple(shape)} is too large", path)
        if size * dtype.itemsize != nbytes or (code == fmt.EXT_NPSCALAR and shape):
            self.fail(
                f"an array record is damaged: shape {tuple(shape)} of {dtype.name} needs "
                f"{size * dtype.itemsize} bytes, the record holds {nbytes}",
                path,
            )
        self.records.append((offset, nbytes))
        index = len(self.records) - 1
        return Ref(
            shape, dtype, [(offset, nbytes)], [index], code == fmt.EXT_NPSCALAR, dotted(path)
        )

    def unchunk(self, d: dict, path: Path) -> Ref:
        """flax's chunked form of a big array -> one Ref over all the chunks."""
        shape, chunks = d.get("shape"), d.get("chunks")
        ok = set(d) == {fmt.CHUNKED_KEY, "shape", "chunks"} and d[fmt.CHUNKED_KEY] is True
        ok = ok and isinstance(shape, dict) and isinstance(chunks, dict)
        ok = ok and list(shape) == [str(i) for i in range(len(shape))]
        ok = ok and list(chunks) == [str(i) for i in range(len(chunks))]
        parts = list(chunks.values()) if ok else []
        ok = ok and all(isinstance(p, Ref) and len(p.shape) == 1 for p in parts) and bool(parts)
        ok = ok and len(shape) <= fmt.MAX_NDIM
        ok = ok and all(type(v) is int and v >= 0 for v in shape.values())
        if ok:
            dims = tuple(shape.values())
            ok = (
                all(p.dtype == parts[0].dtype for p in parts)
                and sum(p.shape[0] for p in parts) == math.prod(dims)
                and math.prod(max(v, 1) for v in dims) < fmt.MAX_ELEMENTS
            )
        if not ok:
            self.fail("a chunked array is damaged", path)
        return Ref(
            dims,
            parts[0].dtype,
            [s for p in parts for s in p.spans],
            [r for p in parts for r in p.records],
            False,
            dotted(path),
        )


def parse(src: FileBytes) -> Parsed:
    """Parse the whole file's framing; raise :class:`CheckpointError` for anything malformed."""
    size, source = src.size, src.source
    if size == 0:
        raise CheckpointError(
            f"{source}: the file is empty (an interrupted write by a tool "
            "that does not write atomically?)"
        )
    head = src.read(0, min(16, size))
    foreign = fmt.sniff(head, size)
    first = head[0]
    container = (
        0x80 <= first <= 0x9F
        or first in (0xDC, 0xDD, 0xDE, 0xDF, 0xC7, 0xC8, 0xC9)
        or (0xD4 <= first <= 0xD8)
    )
    if foreign or not container:
        raise CheckpointError(
            f"{source}: not a jaxinit or flax msgpack checkpoint: it is "
            f"{foreign or f'something else (it starts with {head[:8]!r})'}"
        )
    parser = _Parser(src)
    tree = parser.value((), 0)
    if parser.pos != size:
        raise CheckpointError(
            f"{source}: {size - parser.pos} unexpected bytes after the end of the checkpoint "
            f"(byte {parser.pos}): the file is damaged, or two files were concatenated"
        )
    top_level = 0x80 <= first <= 0x8F or first in (0xDE, 0xDF)
    return Parsed(
        tree, parser.records, parser.meta_offset, parser.last_top_key, top_level, parser.saw_jaxinit
    )


def numpy_dtype(name: str) -> np.dtype | None:
    """The numpy dtype a checkpoint calls ``name``, or None when jaxinit does not load it."""
    return fmt.DTYPES.get(name)
