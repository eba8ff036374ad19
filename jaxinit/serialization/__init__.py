"""Checkpoints: ``save`` and ``load`` for arrays, pytrees and model variables.

The file is flax msgpack, so ``flax.serialization.msgpack_restore`` reads a jaxinit file and
``jaxinit.load(path, verify=False)`` reads a file written by ``flax.serialization.to_bytes`` or
``msgpack_serialize``. What jaxinit adds is what flax users get hurt by: checks of names, shapes
and dtypes against the model (all problems reported at once, in torch's ``load_state_dict``
format), checksums over every byte, atomic writes that keep the target's permissions, ties that
survive a round trip, streaming writes and reads (about 1x the payload in memory, where flax
needs 2-4x), and arrays saved straight from a GPU or a sharding.

File format (version 2; version 1 files still load)
---------------------------------------------------
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

* a last top-level entry ``"__jaxinit__"``: ``{"format": "jaxinit", "version": 3,
  "root": "tree" | "value", "sequences": [[path, "list" | "tuple"], ...],
  "xxh3": [one per array record, in file order], "structure_xxh3": int}`` (keys in this
  order; version 2, still read, has ``crc32`` / ``structure_crc32`` with ``zlib.crc32``).
  ``root`` is ``"value"`` when the saved object is a single leaf, stored under the key
  ``"value"``; ``sequences`` says which maps were lists or tuples (path ``[]`` is the root);
  ``xxh3`` is XXH3-64 (``xxhash.xxh3_64``, seed 0) of each record's array bytes;
  ``structure_xxh3``, the last value in the file, is XXH3-64 of every byte before it that is
  not array data (so the header, every key, shape, dtype and scalar, and ``__jaxinit__``
  itself). In version 1 it covered only the bytes before the ``"__jaxinit__"`` key;
* an alias marker ``{"__jaxinit_alias__": [key, key, ...]}`` where an array object already written
  appears again (a tie, e.g. a state_dict listing every alias); the list is the key path of the
  first occurrence. jaxinit loads the alias as the same array object; flax shows the marker.

Modules, one concern each: :mod:`.format` (constants, dtypes, framing), :mod:`.paths` (pytree
walking), :mod:`.files` (safe targets and sources), :mod:`.write`, :mod:`.parse`,
:mod:`.checksum` (each version's checksum function), :mod:`.verify`, :mod:`.template` (the
check against ``like=``), :mod:`.place`, :mod:`.api`.

The public API is ``save``, ``load``, ``CheckpointError`` and ``IncompatibleKeys``; the other
names without an underscore (``atomic_write``, ``aligned_empty``, ``assemble``,
``check_template``, ``read_structure``, ``read_host``) are shared with ``jaxinit.interop`` and
``jaxinit.cli``.

Example::

    >>> jaxinit.save({"w": jnp.ones(3), "step": 3}, "ckpt.msgpack")
    >>> jaxinit.load("ckpt.msgpack")["step"]
    3
"""

from __future__ import annotations

from jaxinit._keys import IncompatibleKeys

from .api import _load, _save, load, read_host, read_structure, save
from .files import aligned_empty, atomic_write, open_regular
from .format import DTYPES as _DTYPES
from .format import CheckpointError
from .parse import Ref as _Ref
from .paths import dotted as _dotted
from .paths import walk as _walk
from .place import assemble
from .template import check_template
from .write import identity as _identity

__all__ = ["CheckpointError", "IncompatibleKeys", "load", "save"]

_shared = (
    _load,
    _save,
    read_host,
    read_structure,
    aligned_empty,
    atomic_write,
    open_regular,
    _DTYPES,
    _Ref,
    _dotted,
    _walk,
    assemble,
    check_template,
    _identity,
)


def __getattr__(name: str):  # sharded checkpoints import orbax: only when first used
    if name in ("save_sharded", "load_sharded"):
        from . import sharded

        return getattr(sharded, name)
    raise AttributeError(f"module 'jaxinit.serialization' has no attribute {name!r}")
