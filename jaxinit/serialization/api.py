"""The public API: :func:`save`, :func:`load`, and the readers shared with
:mod:`jaxinit.cli` (:func:`read_structure`, :func:`read_host`).

Example::

    >>> jaxinit.save({"w": jnp.ones(3)}, "w.msgpack"); jaxinit.load("w.msgpack")["w"].shape
    (3,)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, overload

from jaxinit._keys import IncompatibleKeys

from .files import PathLike, atomic_write, open_regular
from .parse import FileBytes, Ref, parse
from .paths import Path, rebuild, walk
from .place import assemble
from .verify import Checkpoint, DataReader
from .verify import verify as verify_checkpoint
from .write import plan, write_checkpoint


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
    checked = plan(obj)
    atomic_write(path, lambda fd, _: write_checkpoint(fd, checked, progress))


@overload
def load(
    path: PathLike,
    *,
    like: Any = ...,
    strict: Literal[True] = ...,
    device: Any = ...,
    sharding: Any = ...,
    verify: bool = ...,
    mmap: bool = ...,
) -> Any: ...
@overload
def load(
    path: PathLike,
    *,
    like: Any = ...,
    strict: Literal[False],
    device: Any = ...,
    sharding: Any = ...,
    verify: bool = ...,
    mmap: bool = ...,
) -> tuple[Any, IncompatibleKeys]: ...


def load(
    path: PathLike,
    *,
    like: Any = None,
    strict: bool = True,
    device: Any = None,
    sharding: Any = None,
    verify: bool = True,
    mmap: bool = False,
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
    value. Size and dtype mismatches raise either way. An alias of a loaded array (a tie listed
    twice) is never unexpected.

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
        verify: with the default True, only complete jaxinit files load: every byte is covered
            by a checksum, and a file without a ``__jaxinit__`` entry (as flax writes, or as
            damage may leave) is refused. ``verify=False`` also reads such files, unverified,
            as flax would (``jaxinit.load("flax.msgpack", like=template, verify=False)``); a
            jaxinit file is still fully verified (with ``mmap=True``: all but its array
            checksums, as ``torch.load(mmap=True)`` checks nothing).
        mmap: read the arrays through a memory map of the file, as ``torch.load(mmap=True)``
            (see :mod:`jaxinit.serialization.mapped`): about 0.8x the default load's time on
            CPU, but a file truncated while mapped may kill the process with SIGBUS, and a file
            changed while mapped changes the arrays jax adopted without a copy. The default
            False reads with ``read`` calls: a file cut short or changed meanwhile raises
            ``CheckpointError``, never a signal.

    Memory: arrays are read one by one into their final buffers (on CPU, jax adopts them without
    a copy), so the extra peak is about one array, not 2-4x the file as with flax.

    Example::

        >>> variables = jaxinit.load("mlp.msgpack", like=jax.eval_shape(net.init, key))
        >>> variables, keys = jaxinit.load("mlp.msgpack", like=template, strict=False)
        >>> keys.missing_keys
        ['output.bias']
    """
    if mmap:
        from .mapped import load_mapped

        return load_mapped(
            path, like=like, strict=strict, device=device, sharding=sharding, verify=verify
        )
    return _load(path, like=like, strict=strict, device=device, sharding=sharding, verify=verify)


def _load(
    path: PathLike,
    *,
    like: Any = None,
    strict: bool = True,
    device: Any = None,
    sharding: Any = None,
    verify: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    with _reading(path, progress, allow_unverified=not verify) as (tree, reader, source):
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
def _reading(
    path: PathLike, progress: Callable | None, *, allow_unverified: bool
) -> Iterator[tuple[Any, DataReader, str]]:
    """Open, parse and verify a checkpoint: ``(tree with Ref leaves, data reader, source)``."""
    with open_regular(path) as file:
        src = FileBytes(file, repr(str(path)))
        checkpoint = verify_checkpoint(parse(src), src, allow_unverified=allow_unverified)
        refs = {id(leaf): leaf for _, leaf in walk(checkpoint.tree) if isinstance(leaf, Ref)}
        total = sum(ref.nbytes for ref in refs.values())
        reader = DataReader(src, checkpoint, progress, total)
        yield checkpoint.tree, reader, src.source


def read_structure(file: Any, source: str, *, allow_unverified: bool = False) -> Checkpoint:
    """Parse and verify an open checkpoint's framing (no array data is read): the tree with
    ``Ref`` leaves (``shape``, ``dtype``, ``nbytes``), and its checksums."""
    src = FileBytes(file, source)
    return verify_checkpoint(parse(src), src, allow_unverified=allow_unverified)


def read_host(
    path: PathLike,
    progress: Callable[[int, int], None] | None = None,
    *,
    allow_unverified: bool = False,
) -> Any:
    """The checkpoint as a tree of numpy arrays, dtypes exactly as stored (for converters)."""
    with _reading(path, progress, allow_unverified=allow_unverified) as (tree, reader, _):
        arrays: dict[int, Any] = {}  # one array per Ref: ties stay one object

        def read(_: Path, leaf: Any) -> Any:
            if not isinstance(leaf, Ref):
                return leaf
            if id(leaf) not in arrays:
                arrays[id(leaf)] = reader(leaf)
            return arrays[id(leaf)]

        result = rebuild(tree, read)
        reader.finish()
    return result
