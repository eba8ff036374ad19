"""``jaxinit.load(path, mmap=True)``: arrays read through a memory map of the file, as
``torch.load(path, mmap=True)``.

The framing is parsed and verified exactly as by the default reader (:mod:`.parse`,
:mod:`.verify`: bounded, structure checksum checked, no array byte read). Each array is then a
``np.frombuffer`` view of the mapped file, handed to jax:

* an array whose bytes start on a 64-byte boundary of the file is adopted by jax's CPU client
  as it is (zero copy): the jax array *is* the file's pages, read from disk when first touched;
* any other array (most of them: msgpack puts a record's bytes wherever its header ends) is
  copied once by jax into its own buffer -- one copy straight from the page cache, with no
  ``read`` call and no intermediate buffer;
* an array stored in several chunks (over 1 GiB) is joined into one aligned buffer (one copy).

Checksums: with ``verify=True`` (the default) every array's checksum is computed over the
mapped bytes before anything is returned (this reads every page once; XXH3 runs at tens of
GB/s, so on a file in the page cache it costs little next to the copy jax makes anyway), and a
mismatch raises :class:`CheckpointError` as the default path does. ``verify=False`` skips the
array checksums (the structure checksum of a jaxinit file is still checked: it reads only the
non-array bytes), so nothing but the framing is read up front -- torch's ``mmap=True`` behaviour.

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
from typing import Any

import numpy as np

from .checksum import scheme
from .files import PathLike, aligned_empty, open_regular
from .format import CheckpointError
from .parse import FileBytes, Ref, parse
from .place import assemble
from .verify import Checkpoint
from .verify import verify as verify_checkpoint


class MappedReader:
    """``Ref -> np.ndarray``: views of a read-only mapping of the file (see the module doc);
    checks each record's checksum when the file has them and ``check`` is set."""

    def __init__(self, region: mmap.mmap, checkpoint: Checkpoint, source: str, check: bool):
        self.region, self.source = region, source
        self.sums = checkpoint.sums if check else None
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
        if self.once is not None:
            for part, record in zip(parts, ref.records):
                if self.once(part) != self.sums[record]:
                    self.bad.append(ref.name)
        if len(parts) == 1:
            data = parts[0]
        else:  # a chunked array: one aligned buffer (jax adopts it)
            data = aligned_empty(ref.nbytes)
            np.concatenate(parts, out=data)
        array = data.view(ref.dtype).reshape(ref.shape)
        return array[()] if ref.scalar else array

    def finish(self) -> None:
        """Raise naming every array whose checksum did not match."""
        if self.bad:
            names = ", ".join(f"'{n}'" for n in dict.fromkeys(self.bad))
            raise CheckpointError(
                f"{self.source}: the array data of {names} is corrupted (checksum mismatch: the "
                "bytes changed after jaxinit wrote them); restore the file from a copy"
            )


def load_mapped(
    path: PathLike, *, like: Any, strict: bool, device: Any, sharding: Any, verify: bool
) -> Any:
    """:func:`jaxinit.load` with ``mmap=True`` (same arguments and checks; see the module doc)."""
    with open_regular(path) as file:
        src = FileBytes(file, repr(str(path)))
        checkpoint = verify_checkpoint(parse(src), src, allow_unverified=not verify)
        if src.size == 0:  # parse refuses an empty file; mmap cannot map one
            raise CheckpointError(f"{src.source}: the file is empty")
        region = mmap.mmap(file.fileno(), src.size, access=mmap.ACCESS_READ)
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
