"""Writing a checkpoint: plan (every check before a byte is written), then stream msgpack.

Structure bytes are buffered and checksummed; array bytes are checksummed inline (XXH3, about
30 GB/s) and go straight from the arrays' memory to the file.

Example::

    >>> atomic_write("ckpt.msgpack", lambda fd, _: write_checkpoint(fd, plan({"w": x}), None))
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import jax
import numpy as np

from . import format as fmt
from .checksum import hasher, scheme
from .paths import Path, dotted, is_namedtuple, node_items

_BLOCK = 64 << 20  # bytes per write call, so progress advances on big arrays

# Test seam: every byte of a jaxinit file goes through this call (fault injection in tests).
_os_write = os.write


class Out:
    """An array (or numpy scalar) to write."""

    __slots__ = ("value", "shape", "dtype", "nbytes", "code")

    def __init__(self, value: Any, name: str, code: int = fmt.EXT_NDARRAY):
        dtype = np.dtype(value.dtype)
        if fmt.DTYPES.get(dtype.name) != dtype.newbyteorder("="):
            raise TypeError(
                f"cannot save '{name}': dtype {dtype} is not a numeric dtype a jaxinit "
                f"checkpoint can store and load back (supported: {', '.join(sorted(fmt.DTYPES))})"
            )
        if isinstance(value, jax.Array) and not value.is_fully_addressable:
            raise ValueError(
                f"cannot save '{name}': it is sharded across processes (not fully addressable); "
                "gather it first (jax.experimental.multihost_utils.process_allgather) or use "
                "orbax-checkpoint for multi-host checkpoints"
            )
        if len(value.shape) > fmt.MAX_NDIM:
            raise ValueError(
                f"cannot save '{name}': {len(value.shape)} dimensions (at most {fmt.MAX_NDIM})"
            )
        self.value, self.code = value, code
        self.shape, self.dtype = tuple(value.shape), dtype.newbyteorder("=")
        self.nbytes = math.prod(self.shape) * self.dtype.itemsize

    def host_buffers(self) -> list[np.ndarray]:
        """C-order host copies whose concatenated bytes are the array's; one shard at a time
        when the array is split along its first axis, else the whole array. Sub-byte dtypes
        (int4, float4, ...) have the unused high bits of each byte cleared (a copy)."""
        bits = fmt.SUB_BYTE_BITS.get(self.dtype.name)
        if bits is None:
            return self._host_buffers()
        mask = np.uint8((1 << bits) - 1)
        return [
            np.bitwise_and(np.ascontiguousarray(b).view(np.uint8), mask).view(self.dtype)
            for b in self._host_buffers()
        ]

    def _host_buffers(self) -> list[np.ndarray]:
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


class Alias(NamedTuple):
    """A second occurrence of an array already written at ``path``."""

    path: Path


def identity(x: Any) -> tuple | None:
    """What makes two leaves the same array: the object, or numpy views of the same memory."""
    if isinstance(x, np.ndarray):
        if x.size == 0:
            return None
        return ("numpy", x.__array_interface__["data"][0], x.shape, x.strides, x.dtype.str)
    return ("object", id(x))


def _is_torch_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


class Plan(NamedTuple):
    """What to write: the encoded body, the root kind, which maps were sequences, total bytes."""

    body: dict[str, Any]
    root: str
    sequences: list[list]
    nbytes: int


def plan(obj: Any) -> Plan:
    """Check everything that can be wrong before a byte is written; collect ties and lists."""
    seen: dict[tuple, Path] = {}
    sequences: list[list] = []
    nbytes = 0

    def encode(x: Any, path: Path) -> Any:
        nonlocal nbytes
        name = dotted(path) or "<root>"
        if len(path) >= fmt.MAX_DEPTH - 2:
            raise ValueError(
                f"cannot save '{name}': nested deeper than {fmt.MAX_DEPTH - 2} "
                "levels (load would refuse it)"
            )
        if isinstance(x, (np.ndarray, jax.Array)) or getattr(type(x), "__jaxinit_lazy__", False):
            key = identity(x)  # (lazy: an array read when written, sharded_convert.LazyArray)
            if key is not None and key in seen:
                return Alias(seen[key])
            if key is not None:
                seen[key] = path
            out = Out(x, name)
            nbytes += out.nbytes
            return out
        if isinstance(x, np.generic):
            out = Out(x, name, fmt.EXT_NPSCALAR)
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
        items = node_items(x)
        if items is None:
            raise TypeError(
                f"cannot save '{name}' of type {type(x).__qualname__}: a checkpoint holds arrays, "
                "Python scalars, strings, None, and dicts, lists, tuples or pytree nodes of them"
            )
        if isinstance(x, (list, tuple)) and not is_namedtuple(x):
            sequences.append([list(path), "list" if isinstance(x, list) else "tuple"])
        out = {}
        for key, child in items[0]:
            if isinstance(x, dict) and not isinstance(key, str):
                raise TypeError(
                    f"cannot save '{name}': dict key {key!r} is {type(key).__name__}; checkpoint "
                    "keys must be strings (as in a torch state_dict)"
                )
            key = str(key)
            if key in fmt.RESERVED_KEYS:
                raise ValueError(f"cannot save '{name}': the key {key!r} is reserved by the format")
            out[key] = encode(child, (*path, key))
        return out

    body = encode(obj, ())
    if isinstance(body, dict):
        return Plan(body, "tree", sequences, nbytes)
    return Plan({"value": body}, "value", sequences, nbytes)


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


class _Writer:
    """Streams msgpack to a file descriptor (see the module doc)."""

    def __init__(
        self,
        fd: int,
        version: int,
        flusher: ThreadPoolExecutor,
        progress: Callable | None,
        total: int,
    ):
        self.fd, self.version, self.progress, self.total = fd, version, progress, total
        self.flusher, self.flushing = flusher, None
        self.pending = bytearray()
        self.structure = hasher(version)
        self.once = scheme(version).once
        self.sums: list[int] = []
        self.done = 0

    def struct(self, data: bytes) -> None:
        self.pending += data
        self.structure.update(data)

    def flush(self) -> None:
        _write_all(self.fd, memoryview(self.pending))
        self.pending = bytearray()

    def data(self, pieces: list[memoryview]) -> None:
        if len(self.pending) >= (1 << 20) or sum(len(p) for p in pieces) >= (1 << 16):
            self.flush()
            running = hasher(self.version)
            for piece in pieces:
                running.update(piece)
            self.sums.append(running.intdigest())
            for piece in pieces:
                for start in range(0, len(piece), _BLOCK):
                    block = piece[start : start + _BLOCK]
                    _write_all(self.fd, block)
                    self.write_behind()
                    self.done += len(block)
        else:  # small arrays are buffered with the structure: one write call for many
            if len(pieces) == 1:
                self.sums.append(self.once(pieces[0]))
            else:
                running = hasher(self.version)
                for piece in pieces:
                    running.update(piece)
                self.sums.append(running.intdigest())
            for piece in pieces:
                self.pending += piece
                self.done += len(piece)
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
            self.struct(fmt.map_header(len(v)))
            for key, child in v.items():
                self.struct(fmt.pack(key))
                self.value(child)
        elif isinstance(v, Out):
            self.array(v)
        elif isinstance(v, Alias):
            self.struct(fmt.pack({fmt.ALIAS_KEY: list(v.path)}))
        elif isinstance(v, complex):
            payload = fmt.pack((v.real, v.imag))
            self.struct(fmt.ext_header(len(payload), fmt.EXT_COMPLEX) + payload)
        else:
            self.struct(fmt.pack(v))

    def array(self, out: Out) -> None:
        stream = _ByteStream(out.host_buffers())
        if out.code == fmt.EXT_NPSCALAR or out.nbytes <= fmt.MAX_CHUNK_SIZE:
            self.struct(fmt.record_header(out.code, out.shape, out.dtype, out.nbytes))
            self.data(stream.take(out.nbytes))
            return
        size, itemsize = math.prod(out.shape), out.dtype.itemsize
        step = max(1, int(fmt.MAX_CHUNK_SIZE / itemsize))  # flax's _chunk
        starts = range(0, size, step)
        self.struct(
            fmt.map_header(3)
            + fmt.pack(fmt.CHUNKED_KEY)
            + fmt.pack(True)
            + fmt.pack("shape")
            + fmt.pack({str(i): d for i, d in enumerate(out.shape)})
            + fmt.pack("chunks")
            + fmt.map_header(len(starts))
        )
        for i, start in enumerate(starts):
            count = min(step, size - start)
            self.struct(
                fmt.pack(str(i))
                + fmt.record_header(fmt.EXT_NDARRAY, (count,), out.dtype, count * itemsize)
            )
            self.data(stream.take(count * itemsize))


def _write_all(fd: int, view: memoryview) -> None:
    while len(view):
        view = view[_os_write(fd, view) :]


_fdatasync = getattr(os, "fdatasync", os.fsync)


def write_checkpoint(
    fd: int, plan: Plan, progress: Callable | None, version: int = fmt.FORMAT_VERSION
) -> None:
    """Write ``plan`` to ``fd`` in format ``version`` (3; 2 for tests of old files): the
    structure checksum, the last value of the file, covers every byte before it except array
    data (which have their own, one per record)."""
    if version not in (2, 3):
        raise ValueError(f"jaxinit writes format versions 2 and 3, not {version}")
    names = scheme(version)
    with ThreadPoolExecutor(max_workers=1) as flusher:
        writer = _Writer(fd, version, flusher, progress, plan.nbytes)
        writer.struct(fmt.map_header(len(plan.body) + 1))
        for key, child in plan.body.items():
            writer.struct(fmt.pack(key))
            writer.value(child)
        meta = {
            "format": fmt.FORMAT,
            "version": version,
            "root": plan.root,
            "sequences": plan.sequences,
            names.name: writer.sums,
        }
        writer.struct(fmt.pack(fmt.META_KEY) + fmt.map_header(len(meta) + 1))
        for key, value in meta.items():
            writer.struct(fmt.pack(key) + fmt.pack(value))
        writer.struct(fmt.pack(names.structure_key))
        writer.pending += fmt.pack(writer.structure.intdigest())
        writer.flush()
        if writer.flushing is not None:
            writer.flushing.result()
