"""Safe targets and sources: atomic writes that keep permissions and refuse special files,
opening for reading without blocking on FIFOs, and aligned host buffers.

Example::

    >>> atomic_write("out.bin", lambda fd, tmp: os.write(fd, b"data"))
"""

from __future__ import annotations

import mmap
import os
import secrets
import stat
from collections.abc import Callable
from typing import Any

import numpy as np

from .format import CheckpointError

PathLike = str | os.PathLike

_ALIGN = 64  # XLA's CPU client adopts 64-byte aligned host buffers without copying them
_TMP_NAME_MAX = 200  # bytes of the target's name kept in the temporary file's (NAME_MAX 255)
_MAP_MIN_BYTES = 4 << 20  # buffers this big are anonymous mappings (see aligned_empty)

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def open_regular(path: PathLike) -> Any:
    """Open ``path`` for reading (unbuffered binary file object) if it is a regular file.

    A FIFO, device, socket or directory raises :class:`CheckpointError` at once: the file is
    opened non-blocking (so a FIFO without a writer cannot hang ``open``) and checked with
    ``fstat`` on the open descriptor (so it cannot be swapped after the check).
    """
    source = repr(os.fspath(path))
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(os.fspath(path), flags)
    except IsADirectoryError as err:
        raise CheckpointError(f"{source}: it is a directory, not a checkpoint file") from err
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise CheckpointError(
                f"{source}: it is {_kind(mode)}, not a regular file: "
                "checkpoints are read from regular files only"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise


def atomic_write(path: PathLike, write: Callable[[int, str], None]) -> None:
    """Run ``write(fd, temp_path)`` on a new file beside ``path``, fsync it, then rename it over
    ``path``: a crash or a full disk at any point leaves any previous file intact, and a
    failed write leaves no temporary file behind.

    An existing target keeps its permission bits (a new file gets ``0o666`` less the umask).
    Anything that is not a regular file (a directory, FIFO, device, socket) is refused, never
    replaced. A symlink is resolved once, up front: the file it points to is replaced (the link
    itself stays a link) and nothing else is written; a dangling link creates its target.
    """
    path = os.fspath(path)
    if os.path.islink(path):
        path = os.path.realpath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        existing = os.stat(path)
    except FileNotFoundError:
        existing = None
    except NotADirectoryError as err:
        raise FileNotFoundError(f"cannot save to {path!r}: a parent is not a directory") from err
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        error = IsADirectoryError if stat.S_ISDIR(existing.st_mode) else FileExistsError
        raise error(
            f"cannot save to {path!r}: it is {_kind(existing.st_mode)}; checkpoints "
            "replace regular files only (remove it or choose another path)"
        )
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save to {path!r}: directory {directory!r} does not exist")
    base = os.path.basename(path)
    if len(os.fsencode(base)) > _TMP_NAME_MAX:  # a 255-byte name must still get a temp file
        base = os.fsdecode(os.fsencode(base)[:_TMP_NAME_MAX])
    while True:
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666
            )
            break
        except FileExistsError:
            continue
    try:
        try:
            if existing is not None and hasattr(os, "fchmod"):
                os.fchmod(fd, stat.S_IMODE(existing.st_mode))
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


def aligned_empty(nbytes: int) -> np.ndarray:
    """A fresh uint8 buffer whose address is a multiple of 64 bytes (so jax adopts it).

    Big buffers are private anonymous mappings: numpy asks the kernel for transparent huge
    pages on arrays over 4 MiB, and on machines where that means synchronous memory compaction
    the first touch of the buffer is several times slower than with plain pages (pages are
    populated up front where the OS can, which is faster than faulting them in one by one).
    Anonymous memory cannot be truncated under us, so this mapping never raises SIGBUS.

    Example::

        >>> aligned_empty(100).ctypes.data % 64
        0
    """
    if nbytes >= _MAP_MIN_BYTES and hasattr(mmap, "MAP_PRIVATE"):
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_POPULATE", 0)
        region = mmap.mmap(-1, nbytes, flags=flags)
        return np.frombuffer(region, np.uint8)  # page aligned; unmapped with the last user
    raw = np.empty(nbytes + _ALIGN, np.uint8)
    start = -raw.ctypes.data % _ALIGN
    return raw[start : start + nbytes]
