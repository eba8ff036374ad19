"""Pytree walking in insertion order (jax.tree_util sorts dict keys; torch order matters here).

Example::

    >>> list(walk({"b": 1, "a": [2, 3]}))
    [(('b',), 1), (('a', '0'), 2), (('a', '1'), 3)]
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np

Path = tuple[str, ...]


class Opaque:
    """Base of jaxinit's internal leaves (file references, kept template leaves)."""

    __slots__ = ()


LEAF_TYPES = (
    np.ndarray,
    np.generic,
    jax.Array,
    jax.ShapeDtypeStruct,
    str,
    bytes,
    int,
    float,
    complex,
    jax.sharding.Sharding,
    Opaque,
)


def is_namedtuple(x: Any) -> bool:
    """Whether ``x`` is a namedtuple instance."""
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _key_name(entry: Any) -> str:
    for attr in ("key", "name", "idx"):  # DictKey / FlattenedIndexKey, GetAttrKey, SequenceKey
        if hasattr(entry, attr):
            return str(getattr(entry, attr))
    return str(entry)


def node_items(node: Any) -> tuple[list[tuple[Any, Any]], Callable[[list], Any]] | None:
    """A pytree node's ``(key, child)`` pairs in order and how to rebuild it; None for a leaf."""
    if node is None or isinstance(node, LEAF_TYPES):
        return None
    if isinstance(node, dict):
        keys = list(node)
        cls = OrderedDict if isinstance(node, OrderedDict) else dict
        return [(k, node[k]) for k in keys], lambda values: cls(zip(keys, values))
    if is_namedtuple(node):
        return list(zip(node._fields, node)), lambda values: type(node)(*values)
    if isinstance(node, (list, tuple)):
        cls = list if isinstance(node, list) else tuple
        return list(enumerate(node)), lambda values: cls(values)
    flat, treedef = jax.tree_util.tree_flatten_with_path(node, is_leaf=lambda x: x is not node)
    if jax.tree_util.treedef_is_leaf(treedef):
        return None
    return [(_key_name(p[0]), child) for p, child in flat], treedef.unflatten


def walk(tree: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Yield ``(path, leaf)`` in insertion order; None is an empty subtree (as in jax)."""
    if tree is None:
        return
    if type(tree) in (list, tuple):  # (no (key, child) pairs: long lists stay cheap)
        pairs: Any = enumerate(tree)
    else:
        items = node_items(tree)
        if items is None:
            yield path, tree
            return
        pairs = items[0]
    for key, child in pairs:
        if child is None:
            continue
        if isinstance(child, LEAF_TYPES):  # (a leaf without a recursive call: long lists)
            yield (*path, str(key)), child
        else:
            yield from walk(child, (*path, str(key)))


def rebuild(tree: Any, fn: Callable[[Path, Any], Any], path: Path = ()) -> Any:
    """``tree`` with every leaf replaced by ``fn(path, leaf)``, node types and order kept."""
    if tree is None:
        return None
    if type(tree) in (list, tuple):
        children = [
            None if child is None else rebuild(child, fn, (*path, str(i)))
            for i, child in enumerate(tree)
        ]
        return children if type(tree) is list else tuple(children)
    items = node_items(tree)
    if items is None:
        return fn(path, tree)
    pairs, rebuild_node = items
    return rebuild_node([rebuild(child, fn, (*path, str(key))) for key, child in pairs])


def dotted(path: Path) -> str:
    """``('a', '0', 'w')`` -> ``'a.0.w'``."""
    return ".".join(path)
