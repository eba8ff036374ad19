"""Sharded checkpoints: :func:`save_sharded` and :func:`load_sharded`, through orbax-checkpoint.

A sharded checkpoint is a directory, written by every process of a ``jax.distributed`` job
together, each process writing only the shards it holds; it restores onto any mesh or sharding
(resharding), checked against a template with the same torch-format reports as
:func:`jaxinit.load`. orbax does the storage (tensorstore, OCDBT, one data file set per process)
and the multi-host coordination; jaxinit adds torch's names, ties, non-array values and
structure, the template check and the no-damage overwrite.

Layout (orbax ``CompositeCheckpointHandler``, two items)::

    DIR/arrays/    orbax PyTree item: a *flat* dict {dotted torch name: array}
                   ("conv.weight", "layers.0.bias"), each tied array stored once
    DIR/jaxinit/   orbax JSON item: {"format": "jaxinit-sharded", "version": 2,
                   "root": "tree" | "value", "entries": [[path, kind, data], ...],
                   "sequences": [[path, "list" | "tuple", length], ...],
                   "arrays": {key: [shape, dtype]}, "xxh3": checksum}
                   (sealed and verified by :mod:`.sharded_meta`)

``entries`` lists every leaf in tree order: ``kind`` is ``"array"`` (``data`` = its key in
``arrays``), ``"alias"`` (a tie: ``data`` = the key of the array stored for it) or ``"value"``
(a JSON scalar: None, bool, int, float, str). Keys are flat dotted names so that
``orbax.checkpoint`` users see torch's names, and a flat state_dict and nested variables give
the same keys.

Atomicity: orbax writes into a temporary directory and renames it when every process has
finished. Overwriting (``overwrite=True``) saves beside the old checkpoint first and swaps
by renames only after the new one is complete, so a failed or killed save leaves the previous
checkpoint loadable.

Example::

    >>> jaxinit.save_sharded("ckpt/step_100", variables)            # every process calls it
    >>> variables = jaxinit.load_sharded("ckpt/step_100", like=abstract_variables)
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import jax
import numpy as np

from . import sharded_meta
from .format import CheckpointError
from .paths import Path, dotted, is_namedtuple, node_items, rebuild, walk
from .template import Keep, check_template, loaded_dtype

FORMAT = "jaxinit-sharded"
ARRAYS, META = "arrays", "jaxinit"
_NEW, _OLD = ".jaxinit-new", ".jaxinit-old"  # siblings used by an overwrite


def _ocp() -> Any:
    try:
        import orbax.checkpoint as ocp
    except ImportError as err:  # pragma: no cover - orbax comes with flax
        raise ImportError(
            "sharded checkpoints need orbax-checkpoint: pip install "
            "orbax-checkpoint (it comes with flax)"
        ) from err
    return ocp


def _checkpointer(asynchronous: bool = False) -> Any:
    ocp = _ocp()
    cls = ocp.AsyncCheckpointer if asynchronous else ocp.Checkpointer
    return cls(
        ocp.CompositeCheckpointHandler(
            **{ARRAYS: ocp.PyTreeCheckpointHandler(), META: ocp.JsonCheckpointHandler()}
        )
    )


# --------------------------------------------------------------------------------------- save


def _flatten(tree: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``({key: array}, metadata)`` for ``tree``: ties stored once, values and lists kept."""
    arrays: dict[str, Any] = {}
    entries: list[list] = []
    sequences: list[list] = []
    seen: dict[int, str] = {}

    def note_sequences(node: Any, path: Path) -> None:
        if node is None or isinstance(node, (np.ndarray, np.generic, jax.Array)):
            return
        if type(node) in (list, tuple) and not is_namedtuple(node):
            sequences.append([list(path), type(node).__name__, len(node)])
        items = node_items(node)
        for key, child in items[0] if items else []:
            note_sequences(child, (*path, str(key)))

    note_sequences(tree, ())
    for path, leaf in walk(tree):
        name = dotted(path) or "value"
        if isinstance(leaf, (np.ndarray, np.generic, jax.Array)):
            if id(leaf) in seen:
                entries.append([list(path), "alias", seen[id(leaf)]])
                continue
            if name in arrays:
                raise ValueError(
                    f"cannot save '{name}': two entries have this dotted name (a key "
                    "with dots and a nested dict): rename one"
                )
            seen[id(leaf)] = name
            arrays[name] = np.asarray(leaf) if isinstance(leaf, np.generic) else leaf
            entries.append([list(path), "array", name])
        elif leaf is None or isinstance(leaf, (bool, int, float, str)):
            entries.append([list(path), "value", leaf])
        else:
            raise TypeError(
                f"cannot save '{name}' in a sharded checkpoint: {type(leaf).__name__} "
                "is neither an array nor a JSON scalar (None, bool, int, float, str)"
            )
    root = "value" if _is_leaf(tree) else "tree"
    meta = {
        "format": FORMAT,
        "version": sharded_meta.VERSION,
        "root": root,
        "entries": entries,
        "sequences": sequences,
    }
    return arrays, meta


def _is_leaf(tree: Any) -> bool:
    """Whether ``tree`` is a single leaf (saved under the key ``"value"``)."""
    return tree is not None and node_items(tree) is None


def _sync(name: str) -> None:
    if jax.process_count() > 1:
        _ocp().multihost.sync_global_processes(name)


def _remove(path: str) -> None:
    if jax.process_index() == 0 and os.path.lexists(path):
        shutil.rmtree(path)


def save_sharded(directory: str | os.PathLike, variables: Any, *, overwrite: bool = False) -> None:
    """Save ``variables`` as a sharded checkpoint directory; every process must call it.

    ``variables``: nested dicts / lists / tuples of arrays (jax arrays on any sharding, also
    spanning processes, or numpy arrays) and JSON scalars -- model variables, a state_dict,
    optimizer state. Each process writes only the shards it holds (replicated shards once).
    Arrays are stored under torch's dotted names; an array object that appears twice (a tie)
    is stored once and loads back as one array.

    The directory appears complete or not at all: orbax writes into a temporary directory and
    renames it when all processes are done. An existing ``directory`` is an error unless
    ``overwrite=True``; then the new checkpoint is written beside it and swapped in only when
    complete, so a failed or killed save never damages the previous one.

    Example::

        >>> variables = net.init(jax.random.key(0), sharding=layout)   # on every process
        >>> jaxinit.save_sharded("ckpt/step_0", variables)
        >>> jaxinit.save_sharded("ckpt/step_0", variables, overwrite=True)
    """
    ocp = _ocp()
    target = os.path.abspath(os.fspath(directory))
    arrays, meta = _flatten(variables)
    meta = sharded_meta.seal(meta, arrays)  # names, shapes, dtypes and a checksum
    if os.path.lexists(target) and not overwrite:
        raise FileExistsError(
            f"{target!r} already exists: pass overwrite=True to replace it "
            "(the old checkpoint stays intact until the new one is complete)"
        )
    exists = os.path.lexists(target)
    dest = target + _NEW if exists else target
    _remove(dest)  # a leftover of an earlier interrupted overwrite
    _sync("jaxinit_save_sharded_clean")
    writer = _checkpointer(asynchronous=True)  # (orbax's async path writes in parallel)
    writer.save(
        dest,
        args=ocp.args.Composite(
            **{ARRAYS: ocp.args.PyTreeSave(arrays), META: ocp.args.JsonSave(meta)}
        ),
    )
    writer.wait_until_finished()
    writer.close()
    if exists:
        if jax.process_index() == 0:  # two renames: the old one is never half gone
            _remove(target + _OLD)
            os.replace(target, target + _OLD)
            os.replace(dest, target)
            shutil.rmtree(target + _OLD)
        _sync("jaxinit_save_sharded_swap")


# --------------------------------------------------------------------------------------- load


def _read_meta(target: str) -> tuple[dict, dict[str, Any]]:
    """The jaxinit metadata and ``{key: jax.ShapeDtypeStruct}`` of a complete checkpoint."""
    source = repr(target)
    if not os.path.isdir(target):
        hint = ""
        if os.path.isdir(target + _NEW) or os.path.isdir(target + _OLD):
            hint = f" (an interrupted overwrite left {target + _NEW!r} / {target + _OLD!r})"
        raise CheckpointError(f"{source}: no sharded checkpoint here: not a directory{hint}")
    for part in (META, ARRAYS, "_CHECKPOINT_METADATA"):
        if not os.path.exists(os.path.join(target, part)):
            raise CheckpointError(
                f"{source}: not a complete jaxinit sharded checkpoint ({part!r} "
                "is missing): an interrupted save, or not written by "
                "jaxinit.save_sharded"
            )
    ocp = _ocp()
    try:
        meta = _checkpointer().restore(
            target, args=ocp.args.Composite(**{META: ocp.args.JsonRestore()})
        )[META]
        tree_meta = _checkpointer().metadata(target).item_metadata[ARRAYS]
    except Exception as err:  # orbax raises many types for damaged files
        raise CheckpointError(f"{source}: damaged sharded checkpoint: {err}") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{source}: not a jaxinit sharded checkpoint (no {FORMAT!r} metadata)"
        )
    stored = getattr(tree_meta, "tree", tree_meta)
    shapes = {}
    try:
        for key, m in (stored or {}).items():
            shapes[key] = jax.ShapeDtypeStruct(tuple(m.shape), np.dtype(m.dtype))
    except (TypeError, ValueError, AttributeError) as err:
        raise CheckpointError(
            f"{source}: damaged sharded checkpoint: orbax's array metadata ({err})"
        ) from err
    entries = meta.get("entries")
    wanted = (
        {
            e[2]
            for e in entries
            if isinstance(e, list)
            and len(e) == 3
            and e[1] in ("array", "alias")
            and isinstance(e[2], str)
        }
        if isinstance(entries, list)
        else set()
    )
    lost = sorted(wanted - set(shapes))
    if lost:
        raise CheckpointError(
            f"{source}: damaged sharded checkpoint: array(s) "
            f"{', '.join(repr(k) for k in lost)} listed but not stored"
        )
    sharded_meta.check(meta, shapes, target)
    return meta, shapes


def _structure(meta: dict, shapes: dict[str, Any]) -> Any:
    """The saved tree with ``ShapeDtypeStruct`` leaves (one object per stored array)."""
    try:
        return _build(meta, shapes)
    except (AttributeError, KeyError, TypeError, IndexError) as err:  # a crafted version 1
        raise CheckpointError(
            f"damaged sharded checkpoint: its jaxinit metadata is "
            f"inconsistent ({type(err).__name__}: {err})"
        ) from err


def _build(meta: dict, shapes: dict[str, Any]) -> Any:
    if meta["root"] == "value":
        entry = meta["entries"][0]
        return entry[2] if entry[1] == "value" else shapes[entry[2]]
    root: dict = {}
    for path, kind, data in meta["entries"]:
        node = root
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = data if kind == "value" else shapes[data]
    for path, kind, length in sorted(meta["sequences"], key=lambda s: -len(s[0])):
        parent, node = None, root
        for key in path:
            parent, node = node, node.get(key, {})
        seq = [node.get(str(i)) for i in range(length)]  # None entries are not stored
        value = seq if kind == "list" else tuple(seq)
        if parent is None:
            root = value
        else:
            parent[path[-1]] = value
    return root


def _target_sharding(leaf: Any, name: str, struct: Any, sharding: Any) -> Any:
    own = getattr(leaf, "sharding", None)
    if isinstance(own, jax.sharding.Sharding):
        return own
    if isinstance(sharding, jax.sharding.Sharding):
        return sharding
    if callable(sharding):
        chosen = sharding(name, struct)
        if chosen is not None:
            return chosen
    return jax.sharding.SingleDeviceSharding(jax.local_devices()[0])


def _check_fits(sharding: Any, shape: tuple, name: str) -> None:
    """A ValueError (the caller's choice, not damage) when ``sharding`` cannot hold an array of
    ``shape`` in equal shards, as orbax restores them."""
    try:
        shard = sharding.shard_shape(tuple(shape))
        fits = all(s == 0 or d % s == 0 for d, s in zip(shape, shard))
        problem = "" if fits else f"its shards would be {tuple(shard)}, which do not divide it"
    except (ValueError, TypeError, IndexError) as err:
        problem = str(err)
    if problem:
        raise ValueError(
            f"cannot load '{name}' of shape {tuple(shape)} with {sharding}: "
            f"{problem}; choose a sharding whose mesh axes divide the array's "
            "dimensions"
        )


def load_sharded(
    directory: str | os.PathLike, *, like: Any = None, strict: bool = True, sharding: Any = None
) -> Any:
    """Load a checkpoint written by :func:`save_sharded`, onto any mesh or sharding.

    Every process calls it and reads only the shards its devices need. Where an array goes:
    the sharding of its ``like`` leaf (a ``jax.Array`` or a ``jax.ShapeDtypeStruct`` with
    ``sharding=``, e.g. ``jax.eval_shape`` of a sharded init), else ``sharding`` (one
    ``jax.sharding.Sharding`` for every array, or ``fn(name, shape_dtype) -> Sharding | None``),
    else the first local device. The saved sharding does not matter: a checkpoint written on a
    4x2 mesh restores onto 2x4, 8x1 or one device.

    With ``like``: the result has ``like``'s structure, filled by dotted name, and every name,
    shape and dtype is checked first, all problems reported at once in torch's
    ``load_state_dict`` format (as :func:`jaxinit.load`); ``strict=False`` returns
    ``(tree, IncompatibleKeys)`` and missing leaves keep ``like``'s value. Without ``like``:
    the saved tree (lists, tuples, JSON values and ties restored). A tie stored once loads as one
    array at all its names.

    A missing, partial (interrupted) or damaged directory raises :class:`CheckpointError`.

    Example::

        >>> abstract = jax.eval_shape(lambda: net.init(key, sharding=new_layout))
        >>> variables = jaxinit.load_sharded("ckpt/step_100", like=abstract)
    """
    ocp = _ocp()
    target = os.path.abspath(os.fspath(directory))
    source = repr(target)
    meta, shapes = _read_meta(target)
    tree = _structure(meta, shapes)
    ids = {id(s): k for k, s in shapes.items()}
    keys = None
    if like is not None:
        tree, keys = check_template(
            tree,
            like,
            strict=strict,
            source=source,
            is_source=lambda x: isinstance(x, jax.ShapeDtypeStruct),
        )
        like_leaves = {dotted(p): leaf for p, leaf in walk(like)}
    else:
        like_leaves = {}
    # one restore target per stored array, the sharding of its first place in the result
    targets: dict[str, Any] = {}
    for path, leaf in walk(tree):
        if isinstance(leaf, jax.ShapeDtypeStruct) and id(leaf) in ids:
            key = ids[id(leaf)]
            if key not in targets:
                name = dotted(path)
                where = _target_sharding(like_leaves.get(name), name, leaf, sharding)
                _check_fits(where, leaf.shape, name)
                targets[key] = jax.ShapeDtypeStruct(
                    leaf.shape, loaded_dtype(leaf.dtype), sharding=where
                )
    restored: dict[str, Any] = {}
    if targets:
        try:
            restore_args = ocp.checkpoint_utils.construct_restore_args(targets)
            restored = _checkpointer().restore(
                target,
                args=ocp.args.Composite(
                    **{
                        ARRAYS: ocp.args.PyTreeRestore(
                            targets,
                            restore_args=restore_args,
                            partial_restore=len(targets) < len(shapes),
                        )
                    }
                ),
            )[ARRAYS]
        except Exception as err:
            raise CheckpointError(f"{source}: damaged sharded checkpoint: {err}") from err

    def place(_: Path, leaf: Any) -> Any:
        if isinstance(leaf, Keep):
            return leaf.leaf
        if isinstance(leaf, jax.ShapeDtypeStruct) and id(leaf) in ids:
            return restored[ids[id(leaf)]]
        return leaf

    result = rebuild(tree, place)
    return result if keys is None or strict else (result, keys)


def stored_arrays(directory: str | os.PathLike) -> tuple[dict, dict[str, Any]]:
    """``(metadata, {key: ShapeDtypeStruct})`` of a sharded checkpoint, reading no array data
    (for ``jaxinit convert`` and ``inspect``)."""
    return _read_meta(os.path.abspath(os.fspath(directory)))


def restore_one(directory: str | os.PathLike, key: str, struct: Any) -> np.ndarray:
    """One stored array (``struct`` from :func:`stored_arrays`) as a host numpy array with its
    stored dtype, by orbax's partial restore: only that array's bytes are read."""
    ocp = _ocp()
    target = os.path.abspath(os.fspath(directory))
    try:
        args = ocp.args.PyTreeRestore(
            {key: struct},
            partial_restore=True,
            restore_args={key: ocp.RestoreArgs(restore_type=np.ndarray)},
        )
        out = _checkpointer().restore(target, args=ocp.args.Composite(**{ARRAYS: args}))[ARRAYS]
    except Exception as err:
        raise CheckpointError(f"{target!r}: damaged sharded checkpoint: {err}") from err
    return np.asarray(out[key])
