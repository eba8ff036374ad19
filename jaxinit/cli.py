"""The ``jaxinit`` command: look inside a checkpoint, convert it to another format, or port a
torch model (``jaxinit port``, :mod:`jaxinit.porting.cli`).

    jaxinit inspect FILE          names, shapes, dtypes, element counts, totals and bytes
    jaxinit convert SRC DST       between jaxinit/flax msgpack, torch.save, safetensors and
                                  sharded checkpoint directories (jaxinit.save_sharded)

The format comes from the extension: ``.msgpack`` / ``.jaxinit`` (jaxinit and flax msgpack),
``.pt`` / ``.pth`` / ``.bin`` (``torch.save``, read with ``weights_only=True``),
``.safetensors``; a directory (an existing one, or a destination ending in ``/``) is a sharded
checkpoint (:func:`jaxinit.save_sharded`), converted array by array: from a sharded
checkpoint to msgpack or safetensors the extra memory is about one array (``.pt`` needs all
tensors at once), and the arrays read and written are counted and must agree. Converting
keeps every value bit for bit, dtypes included (no JAX arrays are
made, so int64 stays int64), and ties (one array at several names). Big files get a progress
bar on stderr (tqdm when installed). Also runs as ``python -m jaxinit.cli``.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Any, NamedTuple, TextIO

import numpy as np

from jaxinit import serialization

FORMATS = {
    ".msgpack": "jaxinit",
    ".jaxinit": "jaxinit",
    ".pt": "torch",
    ".pth": "torch",
    ".bin": "torch",
    ".safetensors": "safetensors",
}
PROGRESS_MIN_BYTES = 64 << 20  # smaller files are read and written without a bar


def _format(path: str) -> str:
    """The format of ``path``: from its extension, else (an existing file, e.g. seed 003's
    ``mlp.params``) from its first bytes."""
    if os.path.isdir(path) or path.endswith(("/", os.sep)):
        return "sharded"
    ext = os.path.splitext(path)[1].lower()
    if ext in FORMATS:
        return FORMATS[ext]
    if os.path.isfile(path):
        with open(path, "rb") as f:
            head = f.read(16)
        if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
            return "torch"  # torch.save's zip archive, or its legacy pickle
        if len(head) >= 9 and head[8:9] == b"{":
            return "safetensors"  # 8-byte header length, then the JSON header
        if head[:1] and (0x80 <= head[0] <= 0x8F or head[0] in (0xDE, 0xDF)):
            return "jaxinit"  # a msgpack map: jaxinit / flax
    raise ValueError(
        f"{path!r}: unknown extension {ext or '(none)'!r} and not a recognisable checkpoint; "
        f"use one of {', '.join(FORMATS)}, or a path ending in '/' for a sharded checkpoint"
    )


# ------------------------------------------------------------------------------------- inspect


class Entry(NamedTuple):
    """One row of ``jaxinit inspect``: an array, a tie to an earlier array, or a scalar."""

    name: str
    shape: tuple[int, ...] | None  # None for a scalar
    dtype: str  # dtype name, or the Python type of a scalar
    alias_of: str | None = None
    value: Any = None


def _itemsize(dtype: str) -> int:
    known = serialization._DTYPES.get(dtype)
    return known.itemsize if known is not None else 0


def entries(path: str) -> list[Entry]:
    """What the checkpoint at ``path`` holds, in file order, without reading array data."""
    fmt = _format(path)
    if fmt == "sharded":
        from jaxinit.serialization import sharded

        meta, shapes = sharded.stored_arrays(path)
        rows = []
        for p, kind, data in meta["entries"]:
            name = ".".join(p) or "value"
            if kind == "value":
                rows.append(Entry(name, None, type(data).__name__, value=data))
            else:
                struct = shapes[data]
                rows.append(
                    Entry(
                        name,
                        tuple(struct.shape),
                        np.dtype(struct.dtype).name,
                        data if kind == "alias" else None,
                    )
                )
        return rows
    if fmt == "safetensors":
        from jaxinit.interop import safetensors

        header, aliases = safetensors.read_header(path)
        rows = [Entry(name, shape, dtype, aliases.get(name)) for name, shape, dtype in header]
        by_name = {row.name: row for row in rows}
        return rows + [
            Entry(a, by_name[s].shape, by_name[s].dtype, s)
            for a, s in aliases.items()
            if s in by_name and a not in by_name
        ]
    if fmt == "torch":
        from jaxinit.interop import torch as interop_torch

        torch = interop_torch._torch()
        tree = interop_torch.read_pt(path)
        is_array = lambda x: isinstance(x, torch.Tensor)  # noqa: E731

        def key(t: Any) -> Any:  # (sparse and meta tensors have no storage to share)
            plain = t.numel() and t.layout == torch.strided and not t.is_meta
            return (
                (
                    t.untyped_storage().data_ptr(),
                    t.storage_offset(),
                    tuple(t.shape),
                    t.stride(),
                    t.dtype,
                )
                if plain
                else id(t)
            )

        def dtype(t: Any) -> str:
            return str(t.dtype).removeprefix("torch.")
    else:
        with serialization.open_regular(path) as file:
            tree = serialization.read_structure(file, repr(path), allow_unverified=True).tree
        is_array = lambda x: isinstance(x, serialization._Ref)  # noqa: E731
        key = id

        def dtype(ref: Any) -> str:
            return ref.dtype.name if not ref.scalar else f"numpy.{ref.dtype.name}"

    rows, first = [], {}
    for p, leaf in serialization._walk(tree):
        name = serialization._dotted(p) or "<root>"
        if not is_array(leaf):
            rows.append(Entry(name, None, type(leaf).__name__, value=leaf))
            continue
        k = key(leaf)
        rows.append(Entry(name, tuple(leaf.shape), dtype(leaf), first.get(k)))
        first.setdefault(k, name)
    return rows


def printable(text: str) -> str:
    """``text`` with control and other non-printable characters escaped (``\\x1b``), so a
    hostile name cannot send escape sequences to the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _human(nbytes: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if nbytes < 1024 or unit == "GiB":
            return f"{nbytes:.1f} {unit}" if unit != "bytes" else f"{nbytes} bytes"
        nbytes /= 1024
    raise AssertionError  # unreachable


def _kind(path: str) -> str:
    return "directory" if os.path.isdir(path) else "file"


def _disk_bytes(path: str) -> int:
    if not os.path.isdir(path):
        return os.path.getsize(path)
    return sum(
        os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files
    )


def inspect(path: str) -> str:
    """The ``jaxinit inspect`` report for ``path``: a table and a totals line."""
    rows = entries(path)
    table = [("name", "shape", "dtype", "numel")]
    arrays = ties = numel = nbytes = 0
    for row in rows:
        if row.shape is None:
            table.append((row.name, "-", row.dtype, f"= {row.value!r}"))
            continue
        count = int(np.prod(row.shape, dtype=np.int64))
        if row.alias_of is not None:
            ties += 1
            table.append((row.name, str(row.shape), row.dtype, f"tied to {row.alias_of}"))
            continue
        arrays += 1
        numel += count
        nbytes += count * _itemsize(row.dtype.removeprefix("numpy."))
        table.append((row.name, str(row.shape), row.dtype, f"{count:,}"))
    table = [tuple(printable(cell) for cell in row) for row in table]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    lines = [
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]:>{widths[3]}}"
        for r in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    tied = f" (+{ties} tied name{'s' if ties != 1 else ''})" if ties else ""
    lines.append(
        f"{arrays} arrays{tied}, {numel:,} elements (parameters and buffers), "
        f"{nbytes:,} bytes of data ({_human(nbytes)}); {_kind(path)} "
        f"{_disk_bytes(path):,} bytes"
    )
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- convert


class Progress:
    """A byte progress bar on stderr for files of ``PROGRESS_MIN_BYTES`` or more: tqdm when it
    is installed, else a one-line bar. Call it with ``(done, total)``; ``close()`` at the end."""

    def __init__(self, label: str, enabled: bool = True, stream: TextIO | None = None):
        self.label, self.enabled = label, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.bar: Any = None
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total < PROGRESS_MIN_BYTES:
            return
        if self.bar is None:
            try:
                import tqdm
            except ImportError:
                self.bar = False
            else:
                self.bar = tqdm.tqdm(
                    total=total,
                    desc=self.label,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    file=self.stream,
                )
        if self.bar:
            self.bar.update(done - self.bar.n)
            return
        percent = 100 * done // max(total, 1)
        if percent != self.shown:
            self.shown = percent
            filled = percent * 30 // 100
            self.stream.write(
                f"\r{self.label}: [{'#' * filled}{'.' * (30 - filled)}] "
                f"{percent:3d}% {done / 2**20:,.0f}/{total / 2**20:,.0f} MiB"
            )
            self.stream.flush()

    def close(self) -> None:
        if self.bar:
            self.bar.close()
        elif self.shown >= 0:
            self.stream.write("\n")
            self.stream.flush()


def read(path: str, progress: Any = None, *, unverified: bool = False) -> Any:
    """The checkpoint at ``path`` as a tree of numpy arrays, exactly as stored (a flax file,
    with no jaxinit checksums, only when ``unverified``)."""
    fmt = _format(path)
    if fmt == "jaxinit":
        return serialization.read_host(path, progress, allow_unverified=unverified)
    if fmt == "torch":
        from jaxinit.interop import torch as interop_torch

        obj = interop_torch.read_pt(path)
        try:
            return interop_torch.torch_to_host(obj, progress=progress, copy=False)
        except (TypeError, ValueError) as err:  # colliding names, unconvertible tensors
            raise serialization.CheckpointError(f"{path!r}: {err}") from err
    from jaxinit.interop import safetensors

    return safetensors.read_host(path, progress=progress)


def write(tree: Any, path: str, progress: Any = None) -> None:
    """Write a tree of numpy arrays to ``path`` in the format of its extension, atomically."""
    fmt = _format(path)
    if fmt == "jaxinit":
        serialization._save(tree, path, progress)
    elif fmt == "torch":
        from jaxinit.interop import torch as interop_torch

        interop_torch.write_pt(interop_torch.host_to_torch(tree), path)
    else:
        from jaxinit.interop import safetensors

        safetensors.save_safetensors(tree, path)


def _count_arrays(path: str) -> int:
    """The distinct arrays (ties counted once) ``path`` holds, read from its index only."""
    return sum(1 for row in entries(path) if row.shape is not None and row.alias_of is None)


def _convert_sharded(src: str, dst: str, progress: bool) -> str:
    """``convert`` where one side is a sharded checkpoint directory: array by array, counted."""
    from jaxinit.serialization import sharded, sharded_convert

    src_fmt, dst_fmt = _format(src), _format(dst)
    if src_fmt == dst_fmt:
        raise ValueError(
            "both sides are sharded checkpoints: use jaxinit.load_sharded and "
            "save_sharded to reshard"
        )
    if src_fmt == "sharded":
        tree, lazies = sharded_convert.lazy_tree(src)
        total = sum(a.nbytes for a in lazies)
        bar = Progress(f"converting {os.path.basename(src.rstrip('/'))}", progress)
        try:
            if dst_fmt == "safetensors":
                sharded_convert.write_safetensors(tree, dst, bar)
            elif dst_fmt == "jaxinit":
                serialization._save(tree, dst, bar)
            else:  # torch.save takes every tensor at once
                host = {id(a): np.asarray(a) for a in lazies}
                write(_rebuild(tree, lambda leaf: host.get(id(leaf), leaf)), dst, bar)
        finally:
            bar.close()
        read_count = sum(a.reads for a in lazies)
        if any(a.reads != 1 for a in lazies):
            raise ValueError(
                f"converting {src}: arrays were not each read once ({read_count} "
                f"reads of {len(lazies)} arrays)"
            )
        read_count, nbytes = len(lazies), total
    else:
        bar = Progress(f"reading {os.path.basename(src)}", progress)
        try:
            tree = read(src, bar)
        finally:
            bar.close()
        arrays = {
            id(leaf): leaf for _, leaf in serialization._walk(tree) if isinstance(leaf, np.ndarray)
        }
        read_count, nbytes = len(arrays), sum(a.nbytes for a in arrays.values())
        sharded.save_sharded(dst, tree)
    written = _count_arrays(dst)
    if written != read_count:
        raise ValueError(
            f"converting {src} -> {dst}: read {read_count} arrays but {dst} holds {written}"
        )
    return (
        f"converted {src} ({src_fmt}) -> {dst} ({dst_fmt}): {read_count} arrays read, "
        f"{written} written, {_human(nbytes)}"
    )


def _rebuild(tree: Any, fn: Any) -> Any:
    from jaxinit.serialization.paths import rebuild

    return rebuild(tree, lambda _, leaf: fn(leaf))


def _count_names(tree: Any) -> int:  # numpy scalars are records (shape ()) like arrays
    return sum(
        1 for _, leaf in serialization._walk(tree) if isinstance(leaf, (np.ndarray, np.generic))
    )


def convert(src: str, dst: str, *, progress: bool = True, unverified: bool = False) -> str:
    """Convert ``src`` to ``dst`` (formats from the extensions); returns a one-line summary.

    The arrays read (every name, ties included) are counted, and so are the arrays the
    written file lists (read back from its header): a difference is an error, never silent.
    A directory is a sharded checkpoint (:func:`jaxinit.save_sharded`), converted array by
    array.
    """
    if "sharded" in (_format(src), _format(dst)):
        return _convert_sharded(src, dst, progress)
    _format(dst)  # an unknown extension fails before anything is read
    bar = Progress(f"reading {os.path.basename(src)}", progress)
    try:
        tree = read(src, bar, unverified=unverified)
    finally:
        bar.close()
    bar = Progress(f"writing {os.path.basename(dst)}", progress)
    try:
        write(tree, dst, bar)
    finally:
        bar.close()
    arrays = {
        id(leaf): leaf for _, leaf in serialization._walk(tree) if isinstance(leaf, np.ndarray)
    }
    nbytes = sum(a.nbytes for a in arrays.values())
    read_names = _count_names(tree)
    written = sum(1 for row in entries(dst) if row.shape is not None)
    if written != read_names:
        raise ValueError(
            f"{dst!r}: read {read_names} named arrays from {src!r} but the written "
            f"file lists {written}: the conversion lost data; do not use {dst!r}"
        )
    return (
        f"converted {src} ({_format(src)}) -> {dst} ({_format(dst)}): read {read_names} "
        f"named arrays, wrote {written} ({len(arrays)} distinct), {_human(nbytes)}"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jaxinit`` command; returns the exit status (0 ok, 1 error).

    Example::

        $ jaxinit inspect mlp.msgpack
        $ jaxinit convert pytorch_model.bin model.msgpack
        $ jaxinit port torchvision.models:resnet18 --input 2x3x64x64 -o resnet18.py
    """
    parser = argparse.ArgumentParser(
        prog="jaxinit",
        description="Inspect and convert checkpoints (jaxinit/flax msgpack, "
        "torch .pt, safetensors).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    p_inspect = commands.add_parser("inspect", help="list names, shapes, dtypes and sizes")
    p_inspect.add_argument("file")
    p_convert = commands.add_parser(
        "convert", help=f"convert between formats (by extension: {', '.join(FORMATS)})"
    )
    p_convert.add_argument("src")
    p_convert.add_argument("dst")
    p_convert.add_argument("--no-progress", action="store_true", help="no progress bar")
    p_convert.add_argument(
        "--unverified",
        action="store_true",
        help="also read msgpack files without jaxinit checksums (flax's)",
    )
    from jaxinit.porting import cli as port_cli

    port_cli.add_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "port":
        try:
            status, text = port_cli.run(args)
        except port_cli.PortError as err:  # every unsupported line, one per line
            print(f"jaxinit: error: {err}", file=sys.stderr)
            return 1
        except (OSError, ImportError, TypeError, ValueError) as err:
            print(f"jaxinit: error: {_one_line(str(err))}", file=sys.stderr)
            return 1
        print(text)
        return status
    # warnings (torch's, numpy's) would add lines around the one-line report: an error drops
    # them, a success shows each as one line
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if args.command == "inspect":
                report = inspect(args.file)
            else:
                report = convert(
                    args.src, args.dst, progress=not args.no_progress, unverified=args.unverified
                )
        except (serialization.CheckpointError, OSError, ImportError, TypeError, ValueError) as err:
            print(f"jaxinit: error: {_one_line(str(err))}", file=sys.stderr)
            return 1
        except Exception as err:  # anything else from a hostile file: one line, no traceback
            print(f"jaxinit: error: {type(err).__name__}: {_one_line(str(err))}", file=sys.stderr)
            return 1
    for warning in dict.fromkeys(_one_line(str(w.message)) for w in caught):
        print(f"jaxinit: warning: {warning}", file=sys.stderr)
    print(report)
    return 0


def _one_line(text: str) -> str:
    """``text`` on one line: its line breaks become spaces, control characters are escaped."""
    return printable(" ".join(line.strip() for line in text.splitlines() if line.strip()))


if __name__ == "__main__":
    sys.exit(main())
