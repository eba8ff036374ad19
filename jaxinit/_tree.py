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
    """``{'a.b': x}`` -> ``{'a': {'b': x}}``; the inverse of :func:`flatten`.

    Nothing is dropped: two names for one place (``'a.b'`` and ``'a'``, in either order, or
    ``'a.b'`` next to ``'a': {'b': ...}``) raise a ValueError naming both keys.

    Example::

        >>> unflatten({"a.b": 1, "c": 2})
        {'a': {'b': 1}, 'c': 2}
    """
    out: dict[str, Any] = {}
    owners: dict[tuple[str, ...], str] = {}  # each place -> the first name that made it

    def collide(name: str, place: tuple[str, ...]) -> ValueError:
        prefixes = (place[:i] for i in range(len(place), 0, -1))
        other = next((owners[q] for q in prefixes if q in owners), ".".join(place))
        return ValueError(
            f"keys {other!r} and {name!r} collide: both name "
            f"{'.'.join(place)!r} (a dotted key and a nested one); rename one"
        )

    for name, value in flat.items():
        *parents, leaf = name.split(".")
        node = out
        for i, p in enumerate(parents):
            node = node.setdefault(p, {})
            owners.setdefault(tuple(parents[: i + 1]), name)
            if not isinstance(node, dict):
                raise collide(name, tuple(parents[: i + 1]))
        if leaf in node:
            raise collide(name, (*parents, leaf))
        node[leaf] = value
        owners[(*parents, leaf)] = name
    return out
