"""Checkpoints: ``save`` and ``load`` for arrays, pytrees and model variables.

The file is flax msgpack, so ``flax.serialization.msgpack_restore`` reads a jaxinit file and
``jaxinit.load`` reads a file written by ``flax.serialization.to_bytes`` or ``msgpack_serialize``.
What jaxinit adds is what flax users get hurt by: checks of names, shapes and dtypes against the
model (all problems reported at once, in torch's ``load_state_dict`` format), checksums, atomic
writes, ties that survive a round trip, streaming writes and reads (about 1x the payload in
memory, where flax needs 2-4x), and arrays saved straight from a GPU or a sharding.

File format (version 1)
-----------------------
The bytes ``flax.serialization.msgpack_serialize(flax.serialization.to_state_dict(obj))``
writes (tested byte for byte), that is:

* dicts are msgpack maps; lists and tuples are maps keyed ``"0"``, ``"1"``, ... and namedtuples
  maps keyed by field name (flax's ``to_state_dict``); other pytree nodes (flax structs,
  dataclasses) are maps keyed by their ``jax.tree_util`` key paths;
* an array is msgpack extension 1 holding the msgpack triple (shape, dtype name, C-order bytes);
  a numpy scalar is extension 3 (the same triple, shape ``()``), a complex is extension 2;
* an array over ``MAX_CHUNK_SIZE`` (2**30) bytes is the map ``{"__msgpack_chunked_array__": True,
  "shape": {"0": d0, ...}, "chunks": {"0": part0, ...}}`` of 1-D parts, exactly as flax chunks it;
* Python scalars, strings, bytes and None are plain msgpack values;

plus two things flax reads as ordinary dict entries:

* a last top-level entry ``"__jaxinit__"``: ``{"format": "jaxinit", "version": 1,
  "root": "tree" | "value", "sequences": [[path, "list" | "tuple"], ...],
  "crc32": [one per array record, in file order], "structure_crc32": int}``. ``root`` is
  ``"value"`` when the saved object is a single leaf, stored under the key ``"value"``;
  ``sequences`` says which maps were lists or tuples (path ``[]`` is the root); ``crc32`` is
  ``zlib.crc32`` of each record's array bytes; ``structure_crc32`` covers every other byte before
  the ``"__jaxinit__"`` key (keys, shapes, dtypes, scalars);
* an alias marker ``{"__jaxinit_alias__": [key, key, ...]}`` where an array object already written
  appears again (a tie, e.g. a state_dict listing every alias); the list is the key path of the
  first occurrence. jaxinit loads the alias as the same array object; flax shows the marker.

The public API is ``save``, ``load``, ``CheckpointError`` and ``IncompatibleKeys``; the other
names without an underscore (``atomic_write``, ``aligned_empty``, ``assemble``,
``read_structure``, ``read_host``) are shared with ``jaxinit.interop`` and ``jaxinit.cli``.
"""

from __future__ import annotations

import math
import mmap
import os
import secrets
import struct
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Literal, NamedTuple, overload

import jax
import ml_dtypes
import msgpack
import numpy as np

from jaxinit._dtypes import X64_HINT, x64_enabled
from jaxinit._state import IncompatibleKeys  # one class for models and checkpoints

__all__ = ["CheckpointError", "IncompatibleKeys", "load", "save"]

PathLike = str | os.PathLike
Path = tuple[str, ...]

FORMAT = "jaxinit"
FORMAT_VERSION = 1
META_KEY = "__jaxinit__"
ALIAS_KEY = "__jaxinit_alias__"
CHUNKED_KEY = "__msgpack_chunked_array__"
RESERVED_KEYS = frozenset({META_KEY, ALIAS_KEY, CHUNKED_KEY})
MAX_CHUNK_SIZE = 2**30  # flax.serialization.MAX_CHUNK_SIZE: arrays above it are chunked
_ALIGN = 64  # XLA's CPU client adopts 64-byte aligned host buffers without copying them
_BLOCK = 64 << 20  # bytes per read/write call, so progress advances on big arrays
_MAP_MIN_BYTES = 4 << 20  # buffers this big are anonymous mappings (see aligned_empty)
_PLACE_BATCH = 256 << 20  # host bytes put on devices per jax.device_put call
_MAX_DEPTH = 256

_EXT_NDARRAY, _EXT_COMPLEX, _EXT_NPSCALAR = 1, 2, 3

_DTYPES: dict[str, np.dtype] = {
    np.dtype(name).name: np.dtype(name)
    for name in (
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
        "complex64",
        "complex128",
    )
}
_DTYPES.update(
    (name, np.dtype(getattr(ml_dtypes, name)))
    for name in (
        "bfloat16",
        "float8_e4m3fn",
        "float8_e5m2",
        "float8_e4m3fnuz",
        "float8_e5m2fnuz",
        "float8_e4m3b11fnuz",
        "float8_e3m4",
        "float8_e4m3",
        "float8_e8m0fnu",
        "float4_e2m1fn",
        "float6_e2m3fn",
        "float6_e3m2fn",
        "int2",
        "int4",
        "uint2",
        "uint4",
    )
    if hasattr(ml_dtypes, name)
)

# Test seam: every byte of a jaxinit file goes through this call (fault injection in tests).
_os_write = os.write


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded: a foreign, truncated or corrupted file, or one that
    does not fit the model it is loaded into. The message names the file and what is wrong."""


# --------------------------------------------------------------------------------------------
# Pytree walking in insertion order (jax.tree_util sorts dict keys; torch order matters here)
# --------------------------------------------------------------------------------------------


class _Opaque:
    """Base of jaxinit's internal leaves (file references, kept template leaves)."""

    __slots__ = ()


_LEAF_TYPES = (
    np.ndarray,
    np.generic,
    jax.Array,
    jax.ShapeDtypeStruct,
    str,
    bytes,
    int,
    float,
    complex,
    jax.sharding.Sharding,
    _Opaque,
)


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _key_name(entry: Any) -> str:
    for attr in ("key", "name", "idx"):  # DictKey / FlattenedIndexKey, GetAttrKey, SequenceKey
        if hasattr(entry, attr):
            return str(getattr(entry, attr))
    return str(entry)


def _node_items(node: Any) -> tuple[list[tuple[Any, Any]], Callable[[list], Any]] | None:
    """A pytree node's ``(key, child)`` pairs in order and how to rebuild it; None for a leaf."""
    if node is None or isinstance(node, _LEAF_TYPES):
        return None
    if isinstance(node, dict):
        keys = list(node)
        cls = OrderedDict if isinstance(node, OrderedDict) else dict
        return [(k, node[k]) for k in keys], lambda values: cls(zip(keys, values))
    if _is_namedtuple(node):
        return list(zip(node._fields, node)), lambda values: type(node)(*values)
    if isinstance(node, (list, tuple)):
        cls = list if isinstance(node, list) else tuple
        return list(enumerate(node)), lambda values: cls(values)
    flat, treedef = jax.tree_util.tree_flatten_with_path(node, is_leaf=lambda x: x is not node)
    if jax.tree_util.treedef_is_leaf(treedef):
        return None
    return [(_key_name(p[0]), child) for p, child in flat], treedef.unflatten


def _walk(tree: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Yield ``(path, leaf)`` in insertion order; None is an empty subtree (as in jax)."""
    if tree is None:
        return
    items = _node_items(tree)
    if items is None:
        yield path, tree
        return
    for key, child in items[0]:
        yield from _walk(child, (*path, str(key)))


def _rebuild(tree: Any, fn: Callable[[Path, Any], Any], path: Path = ()) -> Any:
    """``tree`` with every leaf replaced by ``fn(path, leaf)``, node types and order kept."""
    if tree is None:
        return None
    items = _node_items(tree)
    if items is None:
        return fn(path, tree)
    pairs, rebuild = items
    return rebuild([_rebuild(child, fn, (*path, str(key))) for key, child in pairs])


def _dotted(path: Path) -> str:
    return ".".join(path)


# --------------------------------------------------------------------------------------------
# msgpack framing (the same choices as msgpack-python's Packer, so bytes equal flax's)
# --------------------------------------------------------------------------------------------


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def _map_header(n: int) -> bytes:
    if n <= 0x0F:
        return bytes([0x80 | n])
    return b"\xde" + struct.pack(">H", n) if n <= 0xFFFF else b"\xdf" + struct.pack(">I", n)


def _bin_header(n: int) -> bytes:
    if n <= 0xFF:
        return b"\xc4" + struct.pack(">B", n)
    return b"\xc5" + struct.pack(">H", n) if n <= 0xFFFF else b"\xc6" + struct.pack(">I", n)


def _ext_header(n: int, code: int) -> bytes:
    fixext = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
    if n in fixext:
        return bytes([fixext[n], code])
    if n <= 0xFF:
        return b"\xc7" + struct.pack(">Bb", n, code)
    if n <= 0xFFFF:
        return b"\xc8" + struct.pack(">Hb", n, code)
    return b"\xc9" + struct.pack(">Ib", n, code)


def _record_header(code: int, shape: tuple[int, ...], dtype: np.dtype, nbytes: int) -> bytes:
    """Framing of flax's array record: ext(code, msgpack (shape, dtype name, bin(bytes)))."""
    inner = b"\x93" + _pack(list(shape)) + _pack(dtype.name) + _bin_header(nbytes)
    return _ext_header(len(inner) + nbytes, code) + inner


# --------------------------------------------------------------------------------------------
# save
# --------------------------------------------------------------------------------------------


class _Out:
    """An array (or numpy scalar) to write."""

    __slots__ = ("value", "shape", "dtype", "nbytes", "code")

    def __init__(self, value: Any, name: str, code: int = _EXT_NDARRAY):
        dtype = np.dtype(value.dtype)
        if _DTYPES.get(dtype.name) != dtype.newbyteorder("="):
            raise TypeError(
                f"cannot save '{name}': dtype {dtype} is not a numeric dtype flax msgpack can "
                f"store (supported: {', '.join(sorted(_DTYPES))})"
            )
        if isinstance(value, jax.Array) and not value.is_fully_addressable:
            raise ValueError(
                f"cannot save '{name}': it is sharded across processes (not fully addressable); "
                "gather it first (jax.experimental.multihost_utils.process_allgather) or use "
                "orbax-checkpoint for multi-host checkpoints"
            )
        self.value, self.code = value, code
        self.shape, self.dtype = tuple(value.shape), dtype.newbyteorder("=")
        self.nbytes = math.prod(self.shape) * self.dtype.itemsize

    def host_buffers(self) -> list[np.ndarray]:
        """C-order host copies whose concatenated bytes are the array's; one shard at a time
        when the array is split along its first axis, else the whole array."""
        x = self.value
        if not isinstance(x, jax.Array):
            return [np.asarray(x, dtype=self.dtype, order="C")]
        shards = [s for s in x.addressable_shards if s.replica_id == 0]
        if len(shards) == 1:
            return [np.asarray(shards[0].data)]
        shards.sort(key=lambda s: tuple(sl.start or 0 for sl in s.index))
        if all(sl == slice(None) for s in shards for sl in s.index[1:]):
            return [np.asarray(s.data) for s in shards]
        full = np.empty(self.shape, self.dtype)
        for s in shards:
            full[s.index] = np.asarray(s.data)
        return [full]


class _Alias(NamedTuple):
    path: Path


def _identity(x: Any) -> tuple | None:
    """What makes two leaves the same array: the object, or numpy views of the same memory."""
    if isinstance(x, np.ndarray):
        if x.size == 0:
            return None
        return ("numpy", x.__array_interface__["data"][0], x.shape, x.strides, x.dtype.str)
    return ("object", id(x))


def _is_torch_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


class _Plan(NamedTuple):
    body: dict[str, Any]
    root: str
    sequences: list[list]
    nbytes: int


def _plan(obj: Any) -> _Plan:
    """Check everything that can be wrong before a byte is written; collect ties and lists."""
    seen: dict[tuple, Path] = {}
    sequences: list[list] = []
    nbytes = 0

    def encode(x: Any, path: Path) -> Any:
        nonlocal nbytes
        name = _dotted(path) or "<root>"
        if isinstance(x, (np.ndarray, jax.Array)):
            key = _identity(x)
            if key is not None and key in seen:
                return _Alias(seen[key])
            if key is not None:
                seen[key] = path
            out = _Out(x, name)
            nbytes += out.nbytes
            return out
        if isinstance(x, np.generic):
            out = _Out(x, name, _EXT_NPSCALAR)
            nbytes += out.nbytes
            return out
        if x is None or isinstance(x, (bool, str, bytes, float, complex)):
            return x
        if isinstance(x, int):
            if not -(2**63) <= x < 2**64:
                raise OverflowError(f"cannot save '{name}': int {x} does not fit in 64 bits")
            return int(x)
        if _is_torch_tensor(x):
            raise TypeError(
                f"cannot save torch.Tensor at '{name}': convert torch objects first with "
                "jaxinit.interop.torch.from_torch(...) (or save them with save_pt)"
            )
        items = _node_items(x)
        if items is None:
            raise TypeError(
                f"cannot save '{name}' of type {type(x).__qualname__}: a checkpoint holds arrays, "
                "Python scalars, strings, None, and dicts, lists, tuples or pytree nodes of them"
            )
        if isinstance(x, (list, tuple)) and not _is_namedtuple(x):
            sequences.append([list(path), "list" if isinstance(x, list) else "tuple"])
        out = {}
        for key, child in items[0]:
            if isinstance(x, dict) and not isinstance(key, str):
                raise TypeError(
                    f"cannot save '{name}': dict key {key!r} is {type(key).__name__}; checkpoint "
                    "keys must be strings (as in a torch state_dict)"
                )
            key = str(key)
            if key in RESERVED_KEYS:
                raise ValueError(f"cannot save '{name}': the key {key!r} is reserved by the format")
            out[key] = encode(child, (*path, key))
        return out

    body = encode(obj, ())
    if isinstance(body, dict):
        return _Plan(body, "tree", sequences, nbytes)
    return _Plan({"value": body}, "value", sequences, nbytes)


class _ByteStream:
    """Consecutive byte ranges over a list of host buffers, without copying."""

    def __init__(self, arrays: list[np.ndarray]):
        self._views = deque(memoryview(a.reshape(-1).view(np.uint8)) for a in arrays)

    def take(self, n: int) -> list[memoryview]:
        pieces = []
        while n:
            view = self._views[0]
            pieces.append(view[:n])
            if len(view) <= n:
                self._views.popleft()
            else:
                self._views[0] = view[n:]
            n -= len(pieces[-1])
        return pieces


def _crc32(pieces: list[memoryview]) -> int:
    crc = 0
    for piece in pieces:
        crc = zlib.crc32(piece, crc)
    return crc


class _Writer:
    """Streams msgpack to a file descriptor: structure bytes are buffered and checksummed,
    array bytes go straight from the arrays' memory to the file while a worker thread
    checksums them (zlib releases the GIL)."""

    def __init__(
        self,
        fd: int,
        pool: ThreadPoolExecutor,
        flusher: ThreadPoolExecutor,
        progress: Callable | None,
        total: int,
    ):
        self.fd, self.pool, self.progress, self.total = fd, pool, progress, total
        self.flusher, self.flushing = flusher, None
        self.pending = bytearray()
        self.structure_crc = 0
        self.crcs: list[Future] = []
        self.done = 0

    def struct(self, data: bytes) -> None:
        self.pending += data
        self.structure_crc = zlib.crc32(data, self.structure_crc)

    def flush(self) -> None:
        _write_all(self.fd, memoryview(self.pending))
        self.pending = bytearray()

    def data(self, pieces: list[memoryview]) -> None:
        self.flush()
        self.crcs.append(self.pool.submit(_crc32, pieces))
        for piece in pieces:
            for start in range(0, len(piece), _BLOCK):
                block = piece[start : start + _BLOCK]
                _write_all(self.fd, block)
                self.write_behind()
                self.done += len(block)
                if self.progress is not None:
                    self.progress(self.done, self.total)

    def write_behind(self) -> None:
        """Keep one fdatasync running while writing, so the disk works while we copy and the
        final fsync has little left to do."""
        if self.flushing is None or self.flushing.done():
            if self.flushing is not None:
                self.flushing.result()  # an I/O error surfaces here
            self.flushing = self.flusher.submit(_fdatasync, self.fd)

    def value(self, v: Any) -> None:
        if isinstance(v, dict):
            self.struct(_map_header(len(v)))
            for key, child in v.items():
                self.struct(_pack(key))
                self.value(child)
        elif isinstance(v, _Out):
            self.array(v)
        elif isinstance(v, _Alias):
            self.struct(_pack({ALIAS_KEY: list(v.path)}))
        elif isinstance(v, complex):
            payload = _pack((v.real, v.imag))
            self.struct(_ext_header(len(payload), _EXT_COMPLEX) + payload)
        else:
            self.struct(_pack(v))

    def array(self, out: _Out) -> None:
        stream = _ByteStream(out.host_buffers())
        if out.code == _EXT_NPSCALAR or out.nbytes <= MAX_CHUNK_SIZE:
            self.struct(_record_header(out.code, out.shape, out.dtype, out.nbytes))
            self.data(stream.take(out.nbytes))
            return
        size, itemsize = math.prod(out.shape), out.dtype.itemsize
        step = max(1, int(MAX_CHUNK_SIZE / itemsize))  # flax's _chunk
        starts = range(0, size, step)
        self.struct(
            _map_header(3)
            + _pack(CHUNKED_KEY)
            + _pack(True)
            + _pack("shape")
            + _pack({str(i): d for i, d in enumerate(out.shape)})
            + _pack("chunks")
            + _map_header(len(starts))
        )
        for i, start in enumerate(starts):
            count = min(step, size - start)
            self.struct(
                _pack(str(i)) + _record_header(_EXT_NDARRAY, (count,), out.dtype, count * itemsize)
            )
            self.data(stream.take(count * itemsize))


def _write_all(fd: int, view: memoryview) -> None:
    while len(view):
        view = view[_os_write(fd, view) :]


_fdatasync = getattr(os, "fdatasync", os.fsync)


def _write_checkpoint(fd: int, plan: _Plan, progress: Callable | None) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool, ThreadPoolExecutor(max_workers=1) as flusher:
        writer = _Writer(fd, pool, flusher, progress, plan.nbytes)
        writer.struct(_map_header(len(plan.body) + 1))
        for key, child in plan.body.items():
            writer.struct(_pack(key))
            writer.value(child)
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "root": plan.root,
            "sequences": plan.sequences,
            "crc32": [crc.result() for crc in writer.crcs],
            "structure_crc32": writer.structure_crc,
        }
        writer.pending += _pack(META_KEY) + _pack(meta)  # outside the structure checksum
        writer.flush()
        if writer.flushing is not None:
            writer.flushing.result()


def atomic_write(path: PathLike, write: Callable[[int, str], None]) -> None:
    """Run ``write(fd, temp_path)`` on a new file beside ``path``, fsync it, then rename it over
    ``path``: a crash or a full disk at any point leaves any previous file intact, and a
    failed write leaves no temporary file behind. A symlink is followed (its target replaced)."""
    path = os.fspath(path)
    if os.path.islink(path):
        path = os.path.realpath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save to {path!r}: it is a directory")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save to {path!r}: directory {directory!r} does not exist")
    while True:
        tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666
            )
            break
        except FileExistsError:
            continue
    try:
        try:
            write(fd, tmp)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(err, OSError) and err.errno is not None:
            raise type(err)(
                err.errno, f"{err.strerror} while saving {path!r} (any previous file is unchanged)"
            ) from err
        raise
    if os.name == "posix":
        try:
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError:
            pass  # some file systems cannot fsync a directory; the rename is still atomic


def save(obj: Any, path: PathLike) -> None:
    """Save ``obj`` to ``path`` as a flax msgpack checkpoint, atomically.

    ``obj`` is an array, or any nested dict / list / tuple / namedtuple / pytree node of arrays
    (numpy or jax, on any device or sharding), numpy and Python scalars, strings and None: e.g.
    model variables, a state_dict, optimizer state. An array object that appears twice (a tie)
    is written once and loads back as one object at both places. Every array's bytes are
    checksummed. The file is written beside ``path``, fsynced and renamed over it, so a crash
    or a full disk never leaves a half-written file behind. Nothing is moved by the caller:
    arrays are copied to the host one at a time (one shard at a time when split along the first
    axis). Extra memory: about one array, never the whole checkpoint.

    Example::

        >>> import jax.numpy as jnp, jaxinit
        >>> jaxinit.save({"hidden": {"weight": jnp.ones((256, 20))}, "step": 3}, "mlp.msgpack")
        >>> jaxinit.load("mlp.msgpack")["step"]
        3
    """
    _save(obj, path)


def _save(obj: Any, path: PathLike, progress: Callable[[int, int], None] | None = None) -> None:
    plan = _plan(obj)
    atomic_write(path, lambda fd, _: _write_checkpoint(fd, plan, progress))


# --------------------------------------------------------------------------------------------
# load: parse the framing from an mmap (offsets only), check, then read arrays one by one
# --------------------------------------------------------------------------------------------


class _Ref(_Opaque):
    """An array in the file, not read yet: its shape, dtype and where its bytes are."""

    __slots__ = ("shape", "dtype", "spans", "records", "scalar", "name")

    def __init__(self, shape, dtype, spans, records, scalar, name):
        self.shape, self.dtype, self.spans = tuple(shape), dtype, spans
        self.records, self.scalar, self.name = records, scalar, name

    @property
    def nbytes(self) -> int:
        return sum(n for _, n in self.spans)


class _AliasMarker(_Opaque):
    __slots__ = ("path",)

    def __init__(self, path: Path):
        self.path = path


_FOREIGN = [
    (
        b"PK\x03\x04",
        "a zip archive, as torch.save writes: read it with "
        "jaxinit.interop.torch.load_pt, or convert it with `jaxinit convert FILE OUT.msgpack`",
    ),
    (b"\x93NUMPY", "a numpy .npy file: read it with numpy.load"),
    (b"\x89HDF", "an HDF5 file (Keras?), not a msgpack checkpoint"),
]


def _sniff(head: bytes, size: int) -> str | None:
    """Name the format of a file that is not msgpack, when it is a common one."""
    for magic, what in _FOREIGN:
        if head.startswith(magic):
            return what
    if len(head) >= 3 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return (
            "a Python pickle (a legacy torch.save file?): jaxinit never unpickles arbitrary "
            "objects; read torch files with jaxinit.interop.torch.load_pt (weights_only)"
        )
    if len(head) >= 9 and head[8:9] == b"{" and 8 + int.from_bytes(head[:8], "little") <= size:
        return "a safetensors file: read it with jaxinit.interop.safetensors.load_safetensors"
    return None


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


class _Parser:
    """A small msgpack reader over a buffer that returns arrays as ``_Ref`` (offsets), so
    nothing is copied; it checks every length against the end of the file."""

    def __init__(self, buf: Any, size: int, source: str):
        self.buf, self.end, self.pos, self.source = buf, size, 0, source
        self.records: list[tuple[int, int]] = []  # (offset, nbytes) of array data, file order
        self.meta_offset: int | None = None
        self.last_top_key: str | None = None
        self.in_record = False

    def fail(self, what: str, path: Path = ()) -> None:
        where = f" (at '{_dotted(path)}')" if path else ""
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

    def unpack(self, fmt: str, path: Path) -> Any:
        layout = _STRUCTS.get(fmt) or _STRUCTS.setdefault(fmt, struct.Struct(fmt))
        return layout.unpack_from(self.buf, self.take(layout.size, path))[0]

    def value(self, path: Path, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            self.fail(f"nesting deeper than {_MAX_DEPTH} levels: not a checkpoint", path)
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
            return bytes(self.buf[self.take(n, path) : self.pos])
        if b <= 0xC9:
            return self.ext(n, path)
        if b <= 0xDB:
            return self.text(n, path)
        if b <= 0xDD:
            return self.array(n, path, depth)
        return self.map(n, path, depth)

    def text(self, n: int, path: Path) -> str:
        start = self.take(n, path)
        try:
            return bytes(self.buf[start : self.pos]).decode("utf-8")
        except UnicodeDecodeError:
            self.fail(f"a string at offset {start} is not valid UTF-8: the file is damaged", path)

    def array(self, n: int, path: Path, depth: int) -> list:
        self.need(n, path)  # every element takes at least one byte
        return [self.value((*path, str(i)), depth + 1) for i in range(n)]

    def map(self, n: int, path: Path, depth: int) -> Any:
        self.need(2 * n, path)
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
                if key == META_KEY:
                    self.meta_offset = key_offset
            out[key] = self.value((*path, key), depth + 1)
        if CHUNKED_KEY in out:
            return self.unchunk(out, path)
        if set(out) == {ALIAS_KEY}:
            target = out[ALIAS_KEY]
            if not (isinstance(target, list) and all(isinstance(k, str) for k in target)):
                self.fail("an alias marker is damaged", path)
            return _AliasMarker(tuple(target))
        return out

    def ext(self, n: int, path: Path) -> Any:
        code = self.unpack(">b", path)
        start = self.take(n, path)
        if code == _EXT_COMPLEX:
            try:
                real, imag = msgpack.unpackb(bytes(self.buf[start : self.pos]))
                return complex(real, imag)
            except (ValueError, TypeError, msgpack.UnpackException):
                self.fail(f"the complex number at offset {start} is damaged", path)
        if code not in (_EXT_NDARRAY, _EXT_NPSCALAR):
            self.fail(
                f"unknown msgpack extension type {code}: not written by jaxinit or flax", path
            )
        outer_end, self.end, self.pos, self.in_record = self.end, self.pos, start, True
        try:
            return self.record(code, path)
        finally:
            self.end, self.pos, self.in_record = outer_end, start + n, False

    def record(self, code: int, path: Path) -> _Ref:
        header = self.unpack(">B", path)
        count = header & 0x0F if 0x90 <= header <= 0x9F else None
        if count != 3:
            self.fail("an array record is damaged (bad header)", path)
        shape = self.value(path, 1)  # (depth 1: never mistaken for top-level entries)
        name = self.value(path, 1)
        name = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        kind = self.unpack(">B", path)
        if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
            self.fail("an array record is damaged (bad shape)", path)
        if kind not in (0xC4, 0xC5, 0xC6):
            self.fail("an array record is damaged (bad data header)", path)
        nbytes = self.unpack({0xC4: ">B", 0xC5: ">H", 0xC6: ">I"}[kind], path)
        offset = self.take(nbytes, path)
        if self.pos != self.end:
            self.fail("an array record is damaged (bad length)", path)
        dtype = _DTYPES.get(name) if isinstance(name, str) else None
        if dtype is None:
            raise CheckpointError(
                f"{self.source}: '{_dotted(path)}' has dtype {name!r}, which jaxinit does not "
                "load (only numeric dtypes; object and structured arrays are refused)"
            )
        if math.prod(shape) * dtype.itemsize != nbytes or (code == _EXT_NPSCALAR and shape):
            self.fail(
                f"an array record is damaged: shape {tuple(shape)} of {dtype.name} needs "
                f"{math.prod(shape) * dtype.itemsize} bytes, the record holds {nbytes}",
                path,
            )
        self.records.append((offset, nbytes))
        index = len(self.records) - 1
        return _Ref(shape, dtype, [(offset, nbytes)], [index], code == _EXT_NPSCALAR, _dotted(path))

    def unchunk(self, d: dict, path: Path) -> _Ref:
        """flax's chunked form of a big array -> one _Ref over all the chunks."""
        shape, chunks = d.get("shape"), d.get("chunks")
        ok = isinstance(shape, dict) and isinstance(chunks, dict)
        ok = ok and list(shape) == [str(i) for i in range(len(shape))]
        ok = ok and list(chunks) == [str(i) for i in range(len(chunks))]
        parts = list(chunks.values()) if ok else []
        ok = ok and all(isinstance(p, _Ref) and len(p.shape) == 1 for p in parts) and bool(parts)
        ok = ok and all(type(v) is int and v >= 0 for v in shape.values())
        if ok:
            dims = tuple(shape.values())
            ok = all(p.dtype == parts[0].dtype for p in parts) and sum(
                p.shape[0] for p in parts
            ) == math.prod(dims)
        if not ok:
            self.fail("a chunked array is damaged", path)
        return _Ref(
            dims,
            parts[0].dtype,
            [s for p in parts for s in p.spans],
            [r for p in parts for r in p.records],
            False,
            _dotted(path),
        )


class _Checkpoint(NamedTuple):
    tree: Any
    crcs: list[int] | None  # None for files without checksums (written by flax)


def _parse(buf: Any, size: int, source: str) -> _Checkpoint:
    if size == 0:
        raise CheckpointError(
            f"{source}: the file is empty (an interrupted write by a tool "
            "that does not write atomically?)"
        )
    head = bytes(buf[:16])
    foreign = _sniff(head, size)
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
    parser = _Parser(buf, size, source)
    tree = parser.value((), 0)
    if parser.pos != size:
        raise CheckpointError(
            f"{source}: {size - parser.pos} unexpected bytes after the end of the checkpoint "
            f"(byte {parser.pos}): the file is damaged, or two files were concatenated"
        )
    if not (isinstance(tree, dict) and META_KEY in tree):
        if isinstance(tree, dict) and any(
            isinstance(v, dict) and v.get("format") == FORMAT and "structure_crc32" in v
            for v in tree.values()
        ):
            raise CheckpointError(
                f"{source}: the file is corrupted: the key of its '{META_KEY}' entry is damaged"
            )
        return _Checkpoint(_resolve(tree, [], source), None)  # a flax file: no checksums
    meta = tree.pop(META_KEY)
    _check_meta(meta, parser, source)
    crc = 0
    position = 0
    for offset, nbytes in parser.records:
        crc = zlib.crc32(buf[position:offset], crc)
        position = offset + nbytes
    crc = zlib.crc32(buf[position : parser.meta_offset], crc)
    if crc != meta["structure_crc32"]:
        raise CheckpointError(
            f"{source}: the file is corrupted: its keys, shapes or dtypes do not match their "
            "checksum (the bytes changed after jaxinit wrote them); restore it from a copy"
        )
    tree = _resolve(tree, meta["sequences"], source)
    if meta["root"] == "value":
        if not (isinstance(tree, dict) and set(tree) == {"value"}):
            raise CheckpointError(f"{source}: the file is damaged (bad root)")
        tree = tree["value"]
    return _Checkpoint(tree, meta["crc32"])


def _check_meta(meta: Any, parser: _Parser, source: str) -> None:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{source}: the '{META_KEY}' entry is damaged or not jaxinit's")
    version = meta.get("version")
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise CheckpointError(
            f"{source}: written by a newer jaxinit (format version {version}; this jaxinit "
            f"reads up to {FORMAT_VERSION}): upgrade jaxinit"
        )
    ok = (
        version == FORMAT_VERSION
        and parser.last_top_key == META_KEY
        and meta.get("root") in ("tree", "value")
        and isinstance(meta.get("sequences"), list)
        and isinstance(meta.get("crc32"), list)
        and len(meta["crc32"]) == len(parser.records)
        and all(type(c) is int for c in meta["crc32"])
        and type(meta.get("structure_crc32")) is int
    )
    if not ok:
        raise CheckpointError(f"{source}: the '{META_KEY}' entry is damaged")


def _resolve(tree: Any, sequences: list, source: str) -> Any:
    """Turn alias markers into the array they name, and maps that were lists back into lists."""
    refs: dict[Path, _Ref] = {}

    def visit(node: Any, path: Path) -> Any:
        if isinstance(node, dict):
            return {k: visit(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [visit(v, (*path, str(i))) for i, v in enumerate(node)]
        if isinstance(node, _Ref):
            refs[path] = node
        elif isinstance(node, _AliasMarker):
            if node.path not in refs:
                raise CheckpointError(
                    f"{source}: '{_dotted(path)}' is an alias of '{_dotted(node.path)}', which "
                    "is not an earlier array in the file: the file is damaged"
                )
            return refs[node.path]
        return node

    tree = visit(tree, ())
    damaged = CheckpointError(f"{source}: the '{META_KEY}' entry is damaged (sequences)")
    for entry in sequences:
        if not (
            isinstance(entry, list)
            and len(entry) == 2
            and entry[1] in ("list", "tuple")
            and isinstance(entry[0], list)
            and all(isinstance(k, str) for k in entry[0])
        ):
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


class _RunningCrc:
    """A crc32 fed block by block from one worker thread (tasks run in submission order)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def update(self, block: memoryview) -> int:
        self.value = zlib.crc32(block, self.value)
        return self.value


class _FileReader:
    """Reads ``_Ref`` arrays into fresh 64-byte aligned buffers (one copy, no mmap pages kept
    resident); a worker thread checksums each block while the next one is read."""

    def __init__(
        self,
        file: Any,
        crcs: list[int] | None,
        source: str,
        pool: ThreadPoolExecutor,
        progress: Callable | None,
        total: int,
    ):
        self.file, self.crcs, self.source, self.pool = file, crcs, source, pool
        self.progress, self.total, self.done = progress, total, 0
        self.checks: list[tuple[_Ref, int, Future]] = []

    def __call__(self, ref: _Ref) -> np.ndarray | np.generic:
        buf = aligned_empty(ref.nbytes)
        view = memoryview(buf)
        for (offset, nbytes), record in zip(ref.spans, ref.records):
            crc, last = _RunningCrc(), None
            self.file.seek(offset)
            for start in range(0, nbytes, _BLOCK):
                block = view[start : min(start + _BLOCK, nbytes)]
                self._read_into(block, ref)
                if self.crcs is not None:
                    last = self.pool.submit(crc.update, block)
            if self.crcs is not None:
                self.checks.append((ref, record, last or self.pool.submit(crc.update, b"")))
            view = view[nbytes:]
        array = buf.view(ref.dtype).reshape(ref.shape)
        return array[()] if ref.scalar else array

    def _read_into(self, view: memoryview, ref: _Ref) -> None:
        while len(view):
            n = self.file.readinto(view)
            if not n:
                raise CheckpointError(
                    f"{self.source}: the file became shorter while "
                    f"'{ref.name}' was read (was it overwritten?)"
                )
            view = view[n:]
            self.done += n
        if self.progress is not None:
            self.progress(self.done, self.total)

    def finish(self) -> None:
        """Raise, naming every damaged array, if any checksum does not match."""
        bad = [ref.name for ref, record, crc in self.checks if crc.result() != self.crcs[record]]
        if bad:
            names = ", ".join(f"'{n}'" for n in dict.fromkeys(bad))
            raise CheckpointError(
                f"{self.source}: the array data of {names} is corrupted (crc32 mismatch: the "
                "bytes changed after jaxinit wrote them); restore the file from a copy"
            )


def aligned_empty(nbytes: int) -> np.ndarray:
    """A fresh uint8 buffer whose address is a multiple of 64 bytes (so jax adopts it).

    Big buffers are private anonymous mappings: numpy asks the kernel for transparent huge
    pages on arrays over 4 MiB, and on machines where that means synchronous memory compaction
    the first touch of the buffer is several times slower than with plain pages (pages are
    populated up front where the OS can, which is faster than faulting them in one by one).
    """
    if nbytes >= _MAP_MIN_BYTES and hasattr(mmap, "MAP_PRIVATE"):
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_POPULATE", 0)
        region = mmap.mmap(-1, nbytes, flags=flags)
        return np.frombuffer(region, np.uint8)  # page aligned; unmapped with the last user
    raw = np.empty(nbytes + _ALIGN, np.uint8)
    start = -raw.ctypes.data % _ALIGN
    return raw[start : start + nbytes]


# --------------------------------------------------------------------------------------------
# From leaves to a checked, placed pytree (shared with jaxinit.interop)
# --------------------------------------------------------------------------------------------


class _Keep(_Opaque):
    """A template leaf the checkpoint lacks (strict=False): returned as it is."""

    __slots__ = ("leaf",)

    def __init__(self, leaf: Any):
        self.leaf = leaf


def _is_source(x: Any) -> bool:
    return isinstance(x, (_Ref, np.ndarray))


def _loaded_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype an array has once in JAX: 64-bit integers become 32-bit while x64 is off."""
    if not x64_enabled() and dtype in (np.dtype(np.int64), np.dtype(np.uint64)):
        return np.dtype(np.int32 if dtype == np.int64 else np.uint32)
    return dtype


def _fmt_shape(shape: tuple) -> str:
    return str(tuple(int(d) for d in shape))


def _match(tree: Any, like: Any, *, strict: bool, source: str) -> tuple[Any, IncompatibleKeys]:
    """``like``'s structure filled from ``tree`` by dotted name, checking shapes and dtypes;
    torch's ``load_state_dict`` rules: everything is collected, then reported at once."""
    leaves: dict[str, Any] = {}
    for path, leaf in _walk(tree):
        name = _dotted(path)
        if name in leaves:
            raise CheckpointError(
                f"{source}: two entries are both named '{name}' (a key with "
                "dots and a nested dict): rename one"
            )
        leaves[name] = leaf
    missing: list[str] = []
    errors: list[str] = []
    taken: set[str] = set()

    def take(path: Path, want: Any) -> Any:
        name = _dotted(path)
        if name not in leaves:
            missing.append(name)
            return _Keep(want)
        got = leaves[name]
        taken.add(name)
        if not (hasattr(want, "shape") and hasattr(want, "dtype")):
            return got
        if not _is_source(got):
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
        dtype = _loaded_dtype(np.dtype(got.dtype))
        if dtype != np.dtype(want.dtype):
            errors.append(
                f"dtype mismatch for {name}: copying a param with dtype {dtype.name} "
                f"from checkpoint, the dtype in current model is "
                f"{np.dtype(want.dtype).name}."
            )
        return got

    result = _rebuild(like, take)
    consumed = {id(leaves[n]) for n in taken if _is_source(leaves[n])}
    unexpected = [
        n
        for n, leaf in leaves.items()
        if n not in taken and not (_is_source(leaf) and id(leaf) in consumed)
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


class _Placer:
    """Puts host arrays on ``device`` or ``sharding`` (one, or a pytree of them matched by path
    prefix); numpy buffers that are 64-byte aligned are adopted by jax's CPU client uncopied."""

    def __init__(self, device: Any, sharding: Any):
        if device is not None and sharding is not None:
            raise ValueError("pass device= or sharding=, not both")
        self.device = device
        self.shardings = None
        if sharding is not None:
            self.shardings = dict(_walk(sharding))
            bad = [v for v in self.shardings.values() if not isinstance(v, jax.sharding.Sharding)]
            if bad:
                raise TypeError(
                    f"sharding= takes a jax.sharding.Sharding or a pytree of them; "
                    f"got {type(bad[0]).__name__}"
                )

    def target(self, path: Path) -> Any:
        if self.shardings is None:
            return self.device
        prefixes = (path[:i] for i in range(len(path), -1, -1))
        target = next((self.shardings[p] for p in prefixes if p in self.shardings), None)
        if target is None:
            raise ValueError(
                f"sharding= has no entry for '{_dotted(path)}' (nor for any "
                "enclosing dict); give one, or a single Sharding for all"
            )
        return target

    def place(self, batch: list[tuple[Path, np.ndarray]]) -> list[jax.Array]:
        """Place host arrays in one ``jax.device_put`` call (far cheaper than one per array)."""
        if not batch:
            return []
        targets = [self.target(path) for path, _ in batch]
        hosts = [host for _, host in batch]
        try:
            if all(t is None for t in targets):
                return jax.device_put(hosts)
            return jax.device_put(hosts, targets)
        except ValueError:
            for (path, host), target in zip(batch, targets):
                try:
                    jax.device_put(host, target)
                except ValueError as err:
                    raise ValueError(
                        f"cannot place '{_dotted(path)}' of shape {host.shape} on {target}: {err}"
                    ) from err
            raise


def _narrow(host: np.ndarray, name: str, source: str) -> np.ndarray:
    """int64 -> int32 (uint64 -> uint32) while x64 is off, refusing values that do not fit."""
    dtype = _loaded_dtype(host.dtype)
    if dtype == host.dtype:
        return host
    info = np.iinfo(dtype)
    if host.size and (host.min() < info.min or host.max() > info.max):
        raise CheckpointError(
            f"{source}: '{name}' holds {host.dtype.name} values outside the "
            f"{dtype.name} range while jax_enable_x64 is off. {X64_HINT}."
        )
    out = aligned_empty(host.size * dtype.itemsize).view(dtype).reshape(host.shape)
    out[...] = host
    return out


def assemble(
    tree: Any,
    *,
    like: Any,
    strict: bool,
    device: Any,
    sharding: Any,
    source: str,
    read: Callable[[Any], Any] = lambda x: x,
) -> Any:
    """Check ``tree`` (leaves: file refs or numpy arrays) against ``like`` and place it.

    Every check runs before any array is read; ``read`` turns a leaf into a host array. Returns
    the tree, or ``(tree, IncompatibleKeys)`` when ``strict`` is False.
    """
    placer = _Placer(device, sharding)
    if like is None:
        structure, incompatible = tree, IncompatibleKeys([], [])
    else:
        structure, incompatible = _match(tree, like, strict=strict, source=source)
    wide = [
        _dotted(p)
        for p, leaf in _walk(structure)
        if _is_source(leaf)
        and not x64_enabled()
        and np.dtype(leaf.dtype).name in ("float64", "complex128")
    ]
    if wide:
        raise CheckpointError(
            f"{source}: {', '.join(repr(n) for n in dict.fromkeys(wide))} "
            f"are 64-bit floats but jax_enable_x64 is off. {X64_HINT}."
        )
    sources: dict[int, tuple[Path, Any]] = {}  # each array once (ties), in order
    for path, leaf in _walk(structure):
        if _is_source(leaf):
            sources.setdefault(id(leaf), (path, leaf))
            placer.target(path)  # a missing sharding fails here, before reading anything
    placed: dict[int, Any] = {}
    batch: list[tuple[int, Path, np.ndarray]] = []

    def flush() -> None:
        arrays = placer.place([(path, host) for _, path, host in batch])
        placed.update((key, array) for (key, _, _), array in zip(batch, arrays))
        batch.clear()

    for key, (path, leaf) in sources.items():
        host = read(leaf)
        if not isinstance(host, np.ndarray):  # a numpy scalar stays one
            placed[key] = host
            continue
        batch.append((key, path, _narrow(host, _dotted(path), source)))
        if sum(h.nbytes for _, _, h in batch) >= _PLACE_BATCH:
            flush()
    flush()

    def materialize(path: Path, leaf: Any) -> Any:
        if isinstance(leaf, _Keep):
            return _ABSENT if isinstance(leaf.leaf, jax.ShapeDtypeStruct) else leaf.leaf
        return placed[id(leaf)] if _is_source(leaf) else leaf

    result = _drop_absent(_rebuild(structure, materialize), source)
    return result if strict else (result, incompatible)


_ABSENT = object()  # a missing leaf whose template is abstract: there is no value to return


def _drop_absent(tree: Any, source: str) -> Any:
    """Leave out the entries of missing leaves whose template is a ``ShapeDtypeStruct`` (and
    dicts left empty by that): an abstract template has no value to keep, and a shape is never
    returned as a value."""
    out = _without_absent(tree, source)
    if out is _ABSENT:
        raise CheckpointError(f"{source}: nothing of the template is in the checkpoint")
    return out


def _without_absent(tree: Any, source: str) -> Any:
    if isinstance(tree, dict):
        kept = [(k, _without_absent(v, source)) for k, v in tree.items()]
        out = type(tree)((k, v) for k, v in kept if v is not _ABSENT)
        if tree and not out:
            return _ABSENT
        if hasattr(tree, "_metadata"):
            out._metadata = tree._metadata
        return out
    if isinstance(tree, (list, tuple)) and any(v is _ABSENT for v in tree):
        raise CheckpointError(f"{source}: a list or tuple entry is missing and its template is "
                              "abstract (a ShapeDtypeStruct): pass a template with values")
    if isinstance(tree, list):
        return [_without_absent(v, source) for v in tree]
    return tree


@overload
def load(
    path: PathLike,
    *,
    like: Any = ...,
    strict: Literal[True] = ...,
    device: Any = ...,
    sharding: Any = ...,
) -> Any: ...
@overload
def load(
    path: PathLike,
    *,
    like: Any = ...,
    strict: Literal[False],
    device: Any = ...,
    sharding: Any = ...,
) -> tuple[Any, IncompatibleKeys]: ...


def load(
    path: PathLike,
    *,
    like: Any = None,
    strict: bool = True,
    device: Any = None,
    sharding: Any = None,
) -> Any:
    """Load a checkpoint written by :func:`save` or by flax (``to_bytes``, ``msgpack_serialize``).

    Without ``like``: the saved object, arrays as jax arrays (lists, tuples and ties restored;
    namedtuples and other pytree nodes come back as dicts).

    With ``like`` (any pytree of arrays or ``jax.ShapeDtypeStruct``, e.g.
    ``jax.eval_shape(net.init, key)`` or the current variables): the result has ``like``'s
    structure, filled by dotted name (``'A.1.conv.weight'``; a flat state_dict file fits nested
    variables). Every name, shape and dtype is checked first, and all problems are reported at
    once in torch's ``load_state_dict`` format::

        Error(s) in loading state_dict from 'mlp.msgpack':
            Missing key(s) in state_dict: "output.bias".
            Unexpected key(s) in state_dict: "head.weight".
            size mismatch for hidden.weight: copying a param with shape (128, 20) from
            checkpoint, the shape in current model is (256, 20).
            dtype mismatch for hidden.bias: copying a param with dtype float32 from
            checkpoint, the dtype in current model is bfloat16.

    (one line each in the message; wrapped here).

    ``strict=False`` (as torch) does not raise for missing or unexpected names and returns
    ``(tree, IncompatibleKeys(missing_keys, unexpected_keys))``; missing leaves keep ``like``'s
    value, or are left out where ``like`` holds only a ``ShapeDtypeStruct`` (nothing abstract is
    returned as a value). Size and dtype mismatches raise either way. An alias of a loaded array
    (a tie listed twice) is never unexpected.

    Checksums are verified, and a foreign, truncated or corrupted file raises
    :class:`CheckpointError` naming the file and the damaged array; a failed load returns
    nothing. Loading never runs code from the file. 64-bit integers load as 32-bit while
    ``jax_enable_x64`` is off (refused if a value does not fit); 64-bit floats need x64.

    Args:
        path: the file.
        like: optional template pytree.
        strict: whether missing and unexpected names are errors.
        device: a ``jax.Device`` to put every array on (default: JAX's default device).
        sharding: a ``jax.sharding.Sharding``, or a pytree of them matched by path prefix.

    Memory: arrays are read one by one into their final buffers (on CPU, jax adopts them without
    a copy), so the extra peak is about one array, not 2-4x the file as with flax.

    Example::

        >>> variables = jaxinit.load("mlp.msgpack", like=jax.eval_shape(net.init, key))
        >>> variables, keys = jaxinit.load("mlp.msgpack", like=template, strict=False)
        >>> keys.missing_keys
        ['output.bias']
    """
    return _load(path, like=like, strict=strict, device=device, sharding=sharding)


def _load(
    path: PathLike,
    *,
    like: Any = None,
    strict: bool = True,
    device: Any = None,
    sharding: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    with _reading(path, progress) as (tree, reader, source):
        result = assemble(
            tree,
            like=like,
            strict=strict,
            device=device,
            sharding=sharding,
            source=source,
            read=reader,
        )
        reader.finish()
    return result


@contextmanager
def _reading(path: PathLike, progress: Callable | None) -> Iterator[tuple[Any, _FileReader, str]]:
    """Open and parse a checkpoint: ``(tree with _Ref leaves, reader of their data, source)``."""
    source = repr(os.fspath(path))
    with open(os.fspath(path), "rb", buffering=0) as file, ThreadPoolExecutor(1) as pool:
        checkpoint = read_structure(file, source)
        refs = {id(leaf): leaf for _, leaf in _walk(checkpoint.tree) if isinstance(leaf, _Ref)}
        total = sum(ref.nbytes for ref in refs.values())
        reader = _FileReader(file, checkpoint.crcs, source, pool, progress, total)
        yield checkpoint.tree, reader, source


def read_structure(file: Any, source: str) -> _Checkpoint:
    """Parse an open checkpoint's framing: the tree with ``_Ref`` leaves, and its checksums."""
    size = os.fstat(file.fileno()).st_size
    if size == 0:
        return _parse(b"", 0, source)
    with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        return _parse(buf, size, source)


def read_host(path: PathLike, progress: Callable[[int, int], None] | None = None) -> Any:
    """The checkpoint as a tree of numpy arrays, dtypes exactly as stored (for converters)."""
    with _reading(path, progress) as (tree, reader, _):
        arrays: dict[int, Any] = {}  # one array per _Ref: ties stay one object

        def read(_: Path, leaf: Any) -> Any:
            if not isinstance(leaf, _Ref):
                return leaf
            if id(leaf) not in arrays:
                arrays[id(leaf)] = reader(leaf)
            return arrays[id(leaf)]

        result = _rebuild(tree, read)
        reader.finish()
    return result
