"""Index and naming helpers shared by the containers (torch's ``_get_abs_string_index``, the
renumbering after deletion, ``_addindent`` for reprs, ``update`` from pairs)."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from typing import Any

from ._plan import structure_changed


def _abs_index(idx: Any, n: int) -> int:
    """torch's ``_get_abs_string_index`` check: ``-n <= idx < n``, negatives wrapped."""
    idx = operator.index(idx)
    if not -n <= idx < n:
        raise IndexError(f"index {idx} is out of range")
    return idx % n if n else idx


def _renumber(module: Any) -> None:
    """torch's ``__delitem__`` epilogue: children renamed ``'0', '1', ...`` in order."""
    table = module._modules
    values = list(table.values())
    table.clear()
    table.update((str(i), m) for i, m in enumerate(values))
    structure_changed()


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    first = lines.pop(0)
    return first + "\n" + "\n".join(spaces * " " + line for line in lines)


def _pairs(what: str, items: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
    for j, m in enumerate(items):
        if not isinstance(m, Iterable):
            raise TypeError(
                f"{what} update sequence element #{j} should be Iterable; is" + type(m).__name__
            )
        if len(m) != 2:
            raise ValueError(
                f"{what} update sequence element #{j} has length {len(m)}; 2 is required"
            )
        yield m[0], m[1]
