"""From leaves to a checked, placed pytree (shared with :mod:`jaxinit.interop`): the template
check, the x64 rules, then host arrays put on devices in batches.

Example::

    >>> variables = assemble(host_tree, like=template, strict=True, device=None,
    ...                      sharding=None, source="'model.safetensors'")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jaxinit._dtypes import X64_HINT, x64_enabled
from jaxinit._host import device_arrays
from jaxinit._keys import IncompatibleKeys

from .files import aligned_empty
from .format import CheckpointError
from .parse import Ref
from .paths import Path, dotted, rebuild, walk
from .template import Keep, check_template, loaded_dtype

_PLACE_BATCH = 256 << 20  # host bytes put on devices per jax.device_put call


def is_source(x: Any) -> bool:
    """Whether a leaf is array data to read and place (a file reference or a numpy array)."""
    return isinstance(x, (Ref, np.ndarray))


class _Placer:
    """Puts host arrays on ``device`` or ``sharding`` (one, or a pytree of them matched by path
    prefix); numpy buffers that are 64-byte aligned are adopted by jax's CPU client uncopied."""

    def __init__(self, device: Any, sharding: Any):
        if device is not None and sharding is not None:
            raise ValueError("pass device= or sharding=, not both")
        self.device = device
        self.shardings = None
        if sharding is not None:
            self.shardings = dict(walk(sharding))
            bad = [v for v in self.shardings.values() if not isinstance(v, jax.sharding.Sharding)]
            if bad:
                raise TypeError(
                    f"sharding= takes a jax.sharding.Sharding or a pytree of them; "
                    f"got {type(bad[0]).__name__}"
                )

    def target(self, path: Path) -> Any:
        if self.shardings is None:
            return self.device
        prefixes = (path[:i] for i in range(len(path), -1, -1))
        target = next((self.shardings[p] for p in prefixes if p in self.shardings), None)
        if target is None:
            raise ValueError(
                f"sharding= has no entry for '{dotted(path)}' (nor for any "
                "enclosing dict); give one, or a single Sharding for all"
            )
        return target

    def place(self, batch: list[tuple[Path, np.ndarray]]) -> list[jax.Array]:
        """Place host arrays in one ``jax.device_put`` call (far cheaper than one per array)."""
        if not batch:
            return []
        targets = [self.target(path) for path, _ in batch]
        hosts = [host for _, host in batch]
        try:
            if all(t is None for t in targets):
                return device_arrays(hosts, copy=False)  # the reader owns them
            return jax.device_put(hosts, targets)
        except ValueError:
            for (path, host), target in zip(batch, targets):
                try:
                    jax.device_put(host, target)
                except ValueError as err:
                    raise ValueError(
                        f"cannot place '{dotted(path)}' of shape {host.shape} on {target}: {err}"
                    ) from err
            raise


def _narrow(host: np.ndarray, name: str, source: str) -> np.ndarray:
    """int64 -> int32 (uint64 -> uint32) while x64 is off, refusing values that do not fit."""
    dtype = loaded_dtype(host.dtype)
    if dtype == host.dtype:
        return host
    info = np.iinfo(dtype)
    if host.size and (host.min() < info.min or host.max() > info.max):
        raise CheckpointError(
            f"{source}: '{name}' holds {host.dtype.name} values outside the "
            f"{dtype.name} range while jax_enable_x64 is off. {X64_HINT}."
        )
    out = aligned_empty(host.size * dtype.itemsize).view(dtype).reshape(host.shape)
    out[...] = host
    return out


def assemble(
    tree: Any,
    *,
    like: Any,
    strict: bool,
    device: Any,
    sharding: Any,
    source: str,
    read: Callable[[Any], Any] = lambda x: x,
) -> Any:
    """Check ``tree`` (leaves: file refs or numpy arrays) against ``like`` and place it.

    Every check runs before any array is read; ``read`` turns a leaf into a host array. Returns
    the tree, or ``(tree, IncompatibleKeys)`` when ``strict`` is False. Cost: linear in the
    number of arrays (a running byte count decides when a batch goes to the devices).
    """
    placer = _Placer(device, sharding)
    if like is None:
        structure, incompatible = tree, IncompatibleKeys([], [])
    else:
        structure, incompatible = check_template(
            tree, like, strict=strict, source=source, is_source=is_source
        )
    wide = [
        dotted(p)
        for p, leaf in walk(structure)
        if is_source(leaf)
        and not x64_enabled()
        and np.dtype(leaf.dtype).name in ("float64", "complex128")
    ]
    if wide:
        raise CheckpointError(
            f"{source}: {', '.join(repr(n) for n in dict.fromkeys(wide))} "
            f"are 64-bit floats but jax_enable_x64 is off. {X64_HINT}."
        )
    sources: dict[int, tuple[Path, Any]] = {}  # each array once (ties), in order
    for path, leaf in walk(structure):
        if is_source(leaf):
            sources.setdefault(id(leaf), (path, leaf))
            placer.target(path)  # a missing sharding fails here, before reading anything
    placed: dict[int, Any] = {}
    batch: list[tuple[int, Path, np.ndarray]] = []
    batch_bytes = 0

    def flush() -> None:
        arrays = placer.place([(path, host) for _, path, host in batch])
        placed.update((key, array) for (key, _, _), array in zip(batch, arrays))
        batch.clear()

    for key, (path, leaf) in sources.items():
        host = read(leaf)
        if not isinstance(host, np.ndarray):  # a numpy scalar stays one
            placed[key] = host
            continue
        batch.append((key, path, _narrow(host, dotted(path), source)))
        batch_bytes += host.nbytes
        if batch_bytes >= _PLACE_BATCH:
            flush()
            batch_bytes = 0
    flush()

    def materialize(path: Path, leaf: Any) -> Any:
        if isinstance(leaf, Keep):
            return _ABSENT if isinstance(leaf.leaf, jax.ShapeDtypeStruct) else leaf.leaf
        return placed[id(leaf)] if is_source(leaf) else leaf

    result = _drop_absent(rebuild(structure, materialize), source)
    return result if strict else (result, incompatible)


_ABSENT = object()  # a missing leaf whose template is abstract: there is no value to return


def _drop_absent(tree: Any, source: str) -> Any:
    """Leave out the entries of missing leaves whose template is a ``ShapeDtypeStruct`` (and
    dicts left empty by that): an abstract template has no value to keep, and a shape is never
    returned as a value."""
    out = _without_absent(tree, source)
    if out is _ABSENT:
        raise CheckpointError(f"{source}: nothing of the template is in the checkpoint")
    return out


def _without_absent(tree: Any, source: str) -> Any:
    if isinstance(tree, dict):
        kept = [(k, _without_absent(v, source)) for k, v in tree.items()]
        out = type(tree)((k, v) for k, v in kept if v is not _ABSENT)
        if tree and not out:
            return _ABSENT
        if hasattr(tree, "_metadata"):
            out._metadata = tree._metadata
        return out
    if isinstance(tree, (list, tuple)) and any(v is _ABSENT for v in tree):
        raise CheckpointError(
            f"{source}: a list or tuple entry is missing and its template is "
            "abstract (a ShapeDtypeStruct): pass a template with values"
        )
    if isinstance(tree, list):
        return [_without_absent(v, source) for v in tree]
    return tree
