"""Bounds on a tree that came out of an untrusted file (``torch.load(weights_only=True)``).

Unpickling can share one container at many places (pickle's memo) and can make a container
hold itself. A 1 KB file of nested lists that share their children has 2**40 paths, so any walk
by path (naming every leaf, converting it) would never end, and a cycle makes it recurse until
``RecursionError``. :func:`check_tree` visits each distinct container once (so its cost is
bounded by the file's size), refuses cycles and deep nesting, and counts how many nodes a walk
by path would visit, refusing a tree that would expand beyond :data:`MAX_EXPANDED` nodes (or 16
times its distinct containers, whichever is larger) before any walk starts.

Example::

    >>> shared = [1, 2]
    >>> check_tree({"a": shared, "b": shared}, "'x.pt'")   # fine: 7 nodes by path
"""

from __future__ import annotations

import io
import pickletools
import zipfile
from typing import Any

from jaxinit.serialization import CheckpointError

MAX_DEPTH = 128  # as jaxinit's own files (jaxinit.serialization.format.MAX_DEPTH)
MAX_EXPANDED = 1 << 22  # nodes a walk by path may visit, at least
# containers the pickle of a torch.save zip may build: this many plus one per 16 of its bytes
# (a state_dict's pickle spends ~30 bytes per container; one byte can make an empty dict)
MAX_CONTAINERS, BYTES_PER_CONTAINER = 1 << 20, 16
_CONTAINER_OPS = frozenset(
    {
        "EMPTY_DICT",
        "EMPTY_LIST",
        "EMPTY_TUPLE",
        "EMPTY_SET",
        "DICT",
        "LIST",
        "TUPLE",
        "TUPLE1",
        "TUPLE2",
        "TUPLE3",
        "FROZENSET",
        "REDUCE",
        "NEWOBJ",
        "NEWOBJ_EX",
        "BUILD",
        "OBJ",
        "INST",
    }
)


def check_pickle(file: Any, size: int, source: str) -> None:
    """Refuse a ``torch.save`` file whose pickles would build more than ``MAX_CONTAINERS``
    (plus one per ``BYTES_PER_CONTAINER`` of the pickle, or of a legacy file) containers,
    before torch unpickles it: two million empty dicts take 2 MB of file, and about 50 s and
    800 MB in ``torch.load``. The pickles are scanned (:func:`pickletools.genops`, no object
    built), stopping at the limit: a zip's ``data.pkl``, or the five leading pickles of
    torch's legacy (non-zip) format. What cannot be scanned is left to ``torch.load`` to report.

    Example::

        >>> with open("model.pt", "rb") as f:
        ...     check_pickle(f, os.fstat(f.fileno()).st_size, "'model.pt'")
    """
    try:
        if zipfile.is_zipfile(file):
            archive = zipfile.ZipFile(file)
            infos = [i for i in archive.infolist() if i.filename.rsplit("/", 1)[-1] == "data.pkl"]
            if len(infos) != 1 or infos[0].file_size > size:
                return  # torch.load reports it
            data = archive.read(infos[0])
            streams, limit = [io.BytesIO(data)], MAX_CONTAINERS + len(data) // BYTES_PER_CONTAINER
        else:  # legacy: magic number, protocol, sys info, the data, its storage keys
            file.seek(0)
            streams, limit = [file] * 5, MAX_CONTAINERS + size // BYTES_PER_CONTAINER
        count = 0
        for stream in streams:
            for opcode, _, _ in pickletools.genops(stream):
                count += opcode.name in _CONTAINER_OPS
                if count > limit:
                    break
            if count > limit:
                break
    except (
        zipfile.BadZipFile,
        OSError,
        ValueError,
        EOFError,
        KeyError,
        IndexError,
        NotImplementedError,
    ):
        return  # not scannable (or a malformed pickle): torch.load reports it
    finally:
        file.seek(0)
    if count > limit:
        raise CheckpointError(
            f"{source}: its pickle builds more than {limit:,} containers "
            "(dicts, lists, tuples): not a state_dict; the file is damaged or crafted"
        )


def _children(node: Any) -> list | None:
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, (list, tuple)):
        return list(node)
    return None


def check_tree(obj: Any, source: str) -> int:
    """Raise :class:`CheckpointError` if walking ``obj`` by path would not end or be huge.

    Dicts, lists and tuples are containers; anything else is a leaf. Each distinct container
    is visited once (iteratively, no recursion); returns the number of nodes a walk by path
    visits (each shared container counted at each of its places). Refused: a container inside
    itself (a cycle), nesting deeper than :data:`MAX_DEPTH`, and more than
    ``max(MAX_EXPANDED, 16 * distinct containers)`` nodes by path.

    Example::

        >>> check_tree([[1, 2], 3], "'x.pt'")
        5
    """
    expanded: dict[int, int] = {}  # id(container) -> nodes by path in its subtree
    on_stack: set[int] = set()
    keep: list[Any] = []  # containers visited (ids stay valid while they are alive)
    root_children = _children(obj)
    if root_children is None:
        return 1
    stack: list[tuple[Any, list, int]] = [(obj, root_children, 0)]
    on_stack.add(id(obj))
    keep.append(obj)
    while stack:
        node, children, i = stack[-1]
        if i < len(children):
            stack[-1] = (node, children, i + 1)
            child = children[i]
            grand = _children(child)
            if grand is None or id(child) in expanded:
                continue
            if id(child) in on_stack:
                raise CheckpointError(
                    f"{source}: a container holds itself (a cycle in the "
                    "pickled data): not a state_dict; the file is damaged "
                    "or crafted"
                )
            if len(stack) >= MAX_DEPTH:
                raise CheckpointError(
                    f"{source}: containers nested deeper than {MAX_DEPTH} levels: not a state_dict"
                )
            on_stack.add(id(child))
            keep.append(child)
            stack.append((child, grand, 0))
            continue
        stack.pop()
        on_stack.discard(id(node))
        total = 1 + sum(expanded.get(id(c), 1) if _is_container(c) else 1 for c in children)
        expanded[id(node)] = total
        limit = max(MAX_EXPANDED, 16 * len(expanded))
        if total > limit:
            raise CheckpointError(
                f"{source}: its containers are shared so often that a walk through every name "
                f"would visit more than {limit:,} entries (from {len(expanded):,} distinct "
                "containers): not a state_dict; the file is damaged or crafted"
            )
    return expanded[id(obj)]


def _is_container(x: Any) -> bool:
    return isinstance(x, (dict, list, tuple))
