"""Capture one module's own ``forward`` as a ``torch.fx`` graph, its children left as calls.

Every submodule is a leaf for the tracer, so the graph of a module shows exactly what its class
writes: ``self.conv1(x)``, ``F.relu``, ``torch.cat``, tensor methods, reads of its parameters.
In-place operations (``x += y``, ``x.relu_()``, ``F.relu(x, inplace=True)``, a child layer
built with ``inplace=True``) are rewritten so that later uses of ``x`` read the result, which
makes the graph a pure function; calls with no effect on values (``torch._assert``) go.
"""

from __future__ import annotations

import traceback
from typing import Any

from . import table
from .errors import Problem, first_line


def _tracer_class() -> type:
    import torch.fx as fx
    from torch.nn.utils import rnn

    class _ChildrenAreLeaves(fx.Tracer):
        def __init__(self) -> None:
            super().__init__(
                autowrap_functions=(
                    rnn.pack_padded_sequence,
                    rnn.pad_packed_sequence,
                    rnn.pad_sequence,
                )
            )
            self.record_stack_traces = True
            self.proxy_buffer_attributes = True  # self.buf[0] is traced, not a constant

        def is_leaf_module(self, m: Any, qualname: str) -> bool:
            return True

    return _ChildrenAreLeaves


def _source_line(exc: BaseException, cls: type) -> str:
    """``file:line: code`` of the innermost frame of the torch class's own source file."""
    import inspect

    try:
        path = inspect.getsourcefile(cls)
    except TypeError:
        path = None
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if path and f.filename == path] or frames[-1:]
    if not own:
        return ""
    f = own[-1]
    return f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}: {(f.line or '').strip()}"


def node_location(node: Any) -> str:
    """``file:line: code`` of the torch source that recorded ``node`` (its stack trace)."""
    import os

    import torch

    torch_dir = os.path.dirname(torch.__file__)
    trace = getattr(node, "stack_trace", None) or ""
    lines = [ln for ln in trace.strip().splitlines() if ln.strip()]
    for i in range(len(lines) - 1, -1, -1):
        ln = lines[i].strip()
        if ln.startswith("File ") and torch_dir not in ln:
            try:
                fname = ln.split('"')[1].rsplit("/", 1)[-1]
                lineno = ln.split("line ")[1].split(",")[0]
            except IndexError:
                return ln
            code = lines[i + 1].strip() if i + 1 < len(lines) else ""
            return f"{fname}:{lineno}: {code}"
    return ""


def trace(module: Any, path: str, training: bool) -> tuple[Any, list[Problem]]:
    """The graph of ``module.forward`` in the given mode (``self.training``), or None and the
    problem when the forward cannot be traced (data-dependent Python control flow)."""
    flags = {id(m): (m, m.training) for m in module.modules()}
    module.train(training)
    try:
        graph = _tracer_class()().trace(module)
    except Exception as e:  # noqa: BLE001 -- any trace failure becomes a listed problem
        return None, [
            Problem(
                path,
                type(module).__name__,
                f"forward cannot be captured ({type(e).__name__}: {first_line(e)})",
                _source_line(e, type(module)),
            )
        ]
    finally:
        for m, flag in flags.values():
            m.training = flag
    _functionalize(module, graph)
    return graph, []


def _inplace_source(module: Any, node: Any) -> Any:
    """The node whose value ``node`` overwrites in place, or None."""
    if not node.args or not hasattr(node.args[0], "op"):
        return None
    if node.op == "call_method":
        name = node.target
        if name.endswith("_") and not name.endswith("__") and table.lookup_method(name):
            return node.args[0]
    elif node.op == "call_function":
        if node.target in table.INPLACE_OPERATORS or node.kwargs.get("inplace") is True:
            return node.args[0]
    elif node.op == "call_module":
        child = module.get_submodule(node.target)
        if getattr(child, "inplace", False) is True:
            return node.args[0]
    return None


def _functionalize(module: Any, graph: Any) -> None:
    """Later uses of a value overwritten in place read the new value; drop no-op calls."""
    order = {n: i for i, n in enumerate(graph.nodes)}
    for node in list(graph.nodes):
        src = _inplace_source(module, node)
        if src is None:
            continue
        for user in list(src.users):
            if user is not node and order[user] > order[node]:
                user.replace_input_with(src, node)
    for node in list(graph.nodes):
        if node.op == "call_function" and table.lookup(node.target) == "":
            if not node.users:
                graph.erase_node(node)
    for node in reversed(list(graph.nodes)):  # values nothing reads (the graph is pure now)
        if node.op not in ("placeholder", "output") and not node.users:
            graph.erase_node(node)
