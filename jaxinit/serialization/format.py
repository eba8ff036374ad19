"""The file format's constants, dtypes, errors and msgpack framing (shared by writer and parser).

The framing makes the same choices as msgpack-python's ``Packer``, so the bytes equal flax's.

Example::

    >>> _map_header(2)
    b'\\x82'
"""

from __future__ import annotations

import struct
from typing import Any

import ml_dtypes
import msgpack
import numpy as np

FORMAT = "jaxinit"
# version 2: the structure checksum covers __jaxinit__ itself (see __init__); version 3: the
# checksums are XXH3-64 instead of zlib.crc32 (see checksum.py)
FORMAT_VERSION = 3
READ_VERSIONS = (1, 2, 3)
META_KEY = "__jaxinit__"
ALIAS_KEY = "__jaxinit_alias__"
CHUNKED_KEY = "__msgpack_chunked_array__"
RESERVED_KEYS = frozenset({META_KEY, ALIAS_KEY, CHUNKED_KEY})
MAX_CHUNK_SIZE = 2**30  # flax.serialization.MAX_CHUNK_SIZE: arrays above it are chunked
MAX_DEPTH = 128  # nesting of maps and arrays, counted once over the whole file
MAX_NDIM = 64  # numpy's limit
MAX_ELEMENTS = 2**62  # product of an array's nonzero dimensions times its itemsize
# maps and lists in one file: at most this many plus one per BYTES_PER_CONTAINER bytes (an
# empty map is 1 byte in the file and ~64 in Python: memory and time stay linear in the size)
MAX_CONTAINERS, BYTES_PER_CONTAINER = 1 << 18, 64
# strings only jaxinit writes (its entry's key, its alias marker, its checksum keys): a file
# holding one is a jaxinit file, verified even when unverified files are accepted
JAXINIT_MARKERS = frozenset({META_KEY, ALIAS_KEY, "structure_crc32", "structure_xxh3"})

EXT_NDARRAY, EXT_COMPLEX, EXT_NPSCALAR = 1, 2, 3

# Every dtype listed here is written by save and read back by load onto a jax device; float6
# (which jax cannot place) is left out, so save refuses what load could not read.
DTYPES: dict[str, np.dtype] = {
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
DTYPES.update(
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
        "int2",
        "int4",
        "uint2",
        "uint4",
    )
    if hasattr(ml_dtypes, name)
)

# dtypes narrower than a byte: numpy (ml_dtypes) holds one value per byte in its low bits and
# ignores the others, jax drops them; save writes them as zero so loaded bits equal saved bits
SUB_BYTE_BITS = {"int2": 2, "uint2": 2, "int4": 4, "uint4": 4, "float4_e2m1fn": 4}


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded: a foreign, truncated or corrupted file, or one that
    does not fit the model it is loaded into. The message names the file and what is wrong.

    Example::

        >>> try:
        ...     jaxinit.load("damaged.msgpack")
        ... except jaxinit.CheckpointError as err:
        ...     print(err)   # "'damaged.msgpack': the file is truncated: ..."
    """


def pack(value: Any) -> bytes:
    """msgpack bytes of a plain value, as flax packs it."""
    return msgpack.packb(value, use_bin_type=True)


def map_header(n: int) -> bytes:
    """msgpack map header for ``n`` entries."""
    if n <= 0x0F:
        return bytes([0x80 | n])
    return b"\xde" + struct.pack(">H", n) if n <= 0xFFFF else b"\xdf" + struct.pack(">I", n)


def bin_header(n: int) -> bytes:
    """msgpack bin header for ``n`` bytes."""
    if n <= 0xFF:
        return b"\xc4" + struct.pack(">B", n)
    return b"\xc5" + struct.pack(">H", n) if n <= 0xFFFF else b"\xc6" + struct.pack(">I", n)


def ext_header(n: int, code: int) -> bytes:
    """msgpack extension header for ``n`` bytes of type ``code``."""
    fixext = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
    if n in fixext:
        return bytes([fixext[n], code])
    if n <= 0xFF:
        return b"\xc7" + struct.pack(">Bb", n, code)
    if n <= 0xFFFF:
        return b"\xc8" + struct.pack(">Hb", n, code)
    return b"\xc9" + struct.pack(">Ib", n, code)


def record_header(code: int, shape: tuple[int, ...], dtype: np.dtype, nbytes: int) -> bytes:
    """Framing of flax's array record: ext(code, msgpack (shape, dtype name, bin(bytes)))."""
    inner = b"\x93" + pack(list(shape)) + pack(dtype.name) + bin_header(nbytes)
    return ext_header(len(inner) + nbytes, code) + inner


_FOREIGN = [
    (
        b"PK\x03\x04",
        "a zip archive, as torch.save writes: read it with "
        "jaxinit.interop.torch.load_pt, or convert it with `jaxinit convert FILE OUT.msgpack`",
    ),
    (b"\x93NUMPY", "a numpy .npy file: read it with numpy.load"),
    (b"\x89HDF", "an HDF5 file (Keras?), not a msgpack checkpoint"),
]


def sniff(head: bytes, size: int) -> str | None:
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
