"""The checksum of each format version: which function, and the ``__jaxinit__`` keys it fills.

* versions 1 and 2: ``zlib.crc32`` (about 3 GB/s here), keys ``crc32`` / ``structure_crc32``;
* version 3 (written now): xxHash's XXH3-64 (``xxhash.xxh3_64``, seed 0; about 30 GB/s, fast
  enough to run inline while the bytes stream), keys ``xxh3`` / ``structure_xxh3``.

Both are 32/64-bit non-cryptographic checks against damage, not against a forger (who can
recompute any unkeyed checksum).

Example::

    >>> h = hasher(3); h.update(b"abc"); h.intdigest() == checksum(3)(b"abc")
    True
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, NamedTuple

import xxhash


class Scheme(NamedTuple):
    """A version's checksum: its ``__jaxinit__`` keys and its one-shot function."""

    name: str  # e.g. "crc32": the per-array list key, and the message's wording
    structure_key: str  # e.g. "structure_crc32": the last value of the file
    once: Callable[[Any], int]  # bytes-like -> int


class _Crc32:
    """zlib.crc32 with hashlib's streaming interface (``update``, ``intdigest``)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: Any) -> None:
        self.value = zlib.crc32(data, self.value)

    def intdigest(self) -> int:
        return self.value


_CRC32 = Scheme("crc32", "structure_crc32", zlib.crc32)
_XXH3 = Scheme("xxh3", "structure_xxh3", xxhash.xxh3_64_intdigest)
SCHEMES = {1: _CRC32, 2: _CRC32, 3: _XXH3}


def scheme(version: int) -> Scheme:
    """The checksum scheme of format ``version`` (1, 2 or 3)."""
    return SCHEMES[version]


def checksum(version: int) -> Callable[[Any], int]:
    """The one-shot checksum function of format ``version``: bytes-like -> int."""
    return SCHEMES[version].once


def hasher(version: int) -> Any:
    """A fresh streaming checksum of format ``version``: ``update(bytes)``, ``intdigest()``."""
    return _Crc32() if SCHEMES[version] is _CRC32 else xxhash.xxh3_64()
