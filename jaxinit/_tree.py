"""Dotted names <-> nested dicts: the one mapping between torch's flat ``state_dict`` keys
and jaxinit's nested variables (``'A.1.conv.weight'`` <-> ``v['A']['1']['conv']['weight']``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def iter_flat(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(dotted_name, leaf)`` for every non-dict leaf, depth first, in insertion order."""
    for name, value in tree.items():
        full = f"{prefix}.{name}" if prefix else str(name)
        if isinstance(value, Mapping):
            yield from iter_flat(value, full)
        else:
            yield full, value


def flatten(tree: Mapping[str, Any]) -> dict[str, Any]:
    """``{'a': {'b': x}}`` -> ``{'a.b': x}``."""
    return dict(iter_flat(tree))


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{'a.b': x}`` -> ``{'a': {'b': x}}``; the inverse of :func:`flatten`."""
    out: dict[str, Any] = {}
    for name, value in flat.items():
        *parents, leaf = name.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"name {name!r} nests under a leaf {p!r}")
        node[leaf] = value
    return out
