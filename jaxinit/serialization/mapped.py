"""``jaxinit.load(path, mmap=True)``: arrays read through a memory map of the file, as
``torch.load(path, mmap=True)``.

The framing is parsed and verified exactly as by the default reader (:mod:`.parse`,
:mod:`.verify`: bounded, structure checksum checked, no array byte read). Each array is then a
``np.frombuffer`` view of the mapped file, handed to jax:

* an array whose bytes start on a 64-byte boundary of the file is adopted by jax's CPU client
  as it is (zero copy): the jax array *is* the file's pages;
* any other array (most of them: msgpack puts a record's bytes wherever its header ends, and
  jax copies any buffer that is not 64-byte aligned) is copied once, by 1 MiB blocks, from the
  mapped pages into a fresh 64-byte aligned buffer that jax adopts -- no ``read`` call, and
  faster than letting jax copy it (jax's copy faults its fresh pages in one by one);
* an array stored in several chunks (over 1 GiB) is joined the same way.

The mapping is made with ``MAP_POPULATE`` where the OS has it (and the file is at most half the
machine's memory): its pages are faulted in up front, in one call, since nearly every byte is
copied anyway.

Checksums: with ``verify=True`` (the default) every array's checksum is computed as it is
copied (each block while it is in cache; over the mapped bytes for a zero-copy array) before
anything is returned, and a mismatch raises :class:`CheckpointError` as the default path does;
a GPT-2 load took 0.61 s verified, 0.49 s not (medians, docs/checkpoints.md).
``verify=False`` skips the array checksums (the structure checksum of a jaxinit file is still
checked: it covers only the non-array bytes) -- what ``torch.load(mmap=True)`` does, which
checks nothing.

What a mapping gives up (the default ``mmap=False`` keeps every guarantee):

* a file changed while it is mapped changes the zero-copy arrays (they are the file's pages);
* a file truncated while it is mapped makes any access to the lost pages raise SIGBUS, which
  kills the process (Python cannot turn it into an exception) -- during the load, or later
  through a zero-copy array. Do not use ``mmap=True`` on files another process may overwrite in
  place; ``jaxinit.save`` itself replaces files by rename, which leaves a mapped file intact.

Example::

    >>> variables = jaxinit.load("gpt2.msgpack", like=template, mmap=True)
"""

from __future__ import annotations

import mmap
import os
from typing import Any

import numpy as np

from .checksum import hasher, scheme
from .files import _ALIGN, PathLike, aligned_empty, open_regular
from .format import CheckpointError
from .parse import FileBytes, Ref, parse
from .place import assemble
from .verify import Checkpoint
from .verify import verify as verify_checkpoint

_BLOCK = 1 << 20  # bytes copied then checksummed at a time (while they are in cache)


class MappedReader:
    """``Ref -> np.ndarray``: views of a read-only mapping of the file (see the module doc);
    checks each record's checksum when the file has them and ``check`` is set."""

    def __init__(self, region: mmap.mmap, checkpoint: Checkpoint, source: str, check: bool):
        self.region, self.source = region, source
        self.sums = checkpoint.sums if check else None
        self.version = checkpoint.version
        self.once = None if self.sums is None else scheme(checkpoint.version).once
        self.bad: list[str] = []

    def _span(self, offset: int, nbytes: int) -> np.ndarray:
        if offset + nbytes > len(self.region):  # parse checked this; a guard against SIGBUS
            raise CheckpointError(
                f"{self.source}: '{offset}+{nbytes}' is past the end of the "
                "mapped file: the file is damaged"
            )
        return np.frombuffer(self.region, np.uint8, count=nbytes, offset=offset)

    def __call__(self, ref: Ref) -> np.ndarray | np.generic:
        parts = [self._span(offset, nbytes) for offset, nbytes in ref.spans]
        if len(parts) == 1 and parts[0].ctypes.data % _ALIGN == 0:  # zero copy
            data = parts[0]
            if self.once is not None and self.once(data) != self.sums[ref.records[0]]:
                self.bad.append(ref.name)
        else:  # one copy into an aligned buffer jax adopts, checksummed block by block
            data = aligned_empty(ref.nbytes)
            at = 0
            for part, record, (offset, _) in zip(parts, ref.records, ref.spans):
                running = None if self.once is None else hasher(self.version)
                for start in range(0, len(part), _BLOCK):
                    block = part[start : start + _BLOCK]
                    data[at : at + len(block)] = block
                    if running is not None:  # the block is still in cache
                        running.update(data[at : at + len(block)])
                    at += len(block)
                if running is not None and running.intdigest() != self.sums[record]:
                    self.bad.append(ref.name)
                self._release(offset, len(part))
        array = data.view(ref.dtype).reshape(ref.shape)
        return array[()] if ref.scalar else array

    def _release(self, offset: int, nbytes: int) -> None:
        """Unmap the whole pages of a copied record (``MADV_DONTNEED``: they stay in the page
        cache), so the process does not hold the file's pages beside their copies."""
        if not hasattr(mmap, "MADV_DONTNEED"):
            return
        start = -(-offset // mmap.PAGESIZE) * mmap.PAGESIZE
        stop = (offset + nbytes) // mmap.PAGESIZE * mmap.PAGESIZE
        if stop > start:
            self.region.madvise(mmap.MADV_DONTNEED, start, stop - start)

    def finish(self) -> None:
        """Raise naming every array whose checksum did not match."""
        if self.bad:
            names = ", ".join(f"'{n}'" for n in dict.fromkeys(self.bad))
            raise CheckpointError(
                f"{self.source}: the array data of {names} is corrupted (checksum mismatch: the "
                "bytes changed after jaxinit wrote them); restore the file from a copy"
            )


def _map(fileno: int, size: int) -> mmap.mmap:
    """A read-only shared mapping of the file, its pages faulted in up front where the OS can
    (``MAP_POPULATE``: jax copies most arrays anyway, and faulting the pages in one call is
    faster than one page fault per 4 KiB as the copy touches them) -- unless the file is over
    half the machine's memory, where populating it whole would only evict its own first pages."""
    populate = getattr(mmap, "MAP_POPULATE", 0)
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        memory = 0
    if populate and hasattr(mmap, "MAP_SHARED") and size <= memory // 2:
        return mmap.mmap(fileno, size, flags=mmap.MAP_SHARED | populate, prot=mmap.PROT_READ)
    return mmap.mmap(fileno, size, access=mmap.ACCESS_READ)


def load_mapped(
    path: PathLike, *, like: Any, strict: bool, device: Any, sharding: Any, verify: bool
) -> Any:
    """:func:`jaxinit.load` with ``mmap=True`` (same arguments and checks; see the module doc)."""
    with open_regular(path) as file:
        src = FileBytes(file, repr(str(path)))
        checkpoint = verify_checkpoint(parse(src), src, allow_unverified=not verify)
        if src.size == 0:  # parse refuses an empty file; mmap cannot map one
            raise CheckpointError(f"{src.source}: the file is empty")
        region = _map(file.fileno(), src.size)
        src.check_size()  # the file did not shrink between the parse and the mapping
        reader = MappedReader(region, checkpoint, src.source, check=verify)
        result = assemble(
            checkpoint.tree,
            like=like,
            strict=strict,
            device=device,
            sharding=sharding,
            source=src.source,
            read=reader,
        )
        reader.finish()
    return result
