"""Render one captured ``forward`` graph as readable Python over jaxinit.

Each FX node becomes one statement named as FX named it (after torch's variable and layer
names): ``conv1 = self.conv1(x)``, ``flatten = ops.flatten(avgpool, 1)``, ``add = bn2 +
identity``. Every call is looked up in :mod:`jaxinit.porting.table`; what is not there becomes
a :class:`~jaxinit.porting.errors.Problem` (all of them are collected, none stops the walk).
"""

from __future__ import annotations

import keyword
import math
from typing import Any

from . import aten, table
from ._graph import node_location
from .errors import Problem

_RESERVED = {
    "self",
    "ops",
    "F",
    "nn",
    "jnp",
    "np",
    "jax",
    "init",
    "rnn_utils",
    "OrderedDict",
    "vision_ops",
}


def attr_path(module: Any, target: str) -> str:
    """``'features.0.conv'`` -> ``'self.features[0].conv'``: indices for list-like
    containers, ``['key']`` for ModuleDict keys, attributes otherwise."""
    out, obj = "self", module
    for part in target.split("."):
        kind = type(obj).__mro__
        names = {c.__name__ for c in kind}
        if part.isdigit() and names & {"Sequential", "ModuleList", "ParameterList"}:
            out += f"[{part}]"
        elif "ModuleDict" in names or "ParameterDict" in names:
            out += f"[{part!r}]"
        elif part.isidentifier() and not keyword.iskeyword(part):
            out += f".{part}"
        else:
            out = f"getattr({out}, {part!r})"
        obj = getattr(obj, part, None)
    return out


def _explicit_kwargs(fn: Any, kwargs: dict) -> dict:
    """``kwargs`` without torch-private ones (``_stacklevel``) and without those equal to
    ``fn``'s default (torch's functional wrappers record every argument)."""
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}
    out = {}
    for k, v in kwargs.items():
        if k.startswith("_"):
            continue
        p = params.get(k)
        if (
            p is not None
            and p.default is not inspect.Parameter.empty
            and type(p.default) is type(v)
            and not hasattr(v, "op")
            and p.default == v
        ):
            continue
        out[k] = v
    return out


class _NextKey:
    """An argument that renders as ``self.next_key()`` (the call's PRNG key)."""

    def __init__(self, if_training: bool = False):
        self.if_training = if_training


class Source:
    """An argument written as the given Python source (``0.1 if self.training else 0.0``)."""

    def __init__(self, text: str):
        self.text = text


class _SelfTraining:
    """A ``training`` argument that was the module's mode: renders as ``self.training``."""


class Renderer:
    """Renders the nodes of one graph of ``module`` (at ``path``) as statements."""

    def __init__(self, module: Any, path: str, training: bool):
        self.module = module
        self.path = path
        self.training = training  # the mode the graph was captured in
        self.names: dict[Any, str] = {}
        self.problems: list[Problem] = []
        self.uses_rng = False

    # ---------------------------------------------------------------- names and constants
    def name(self, node: Any) -> str:
        if node not in self.names:
            n = node.name
            if n in _RESERVED or keyword.iskeyword(n):
                n += "_"
            self.names[node] = n
        return self.names[node]

    def problem(self, node: Any, what: str) -> None:
        self.problems.append(
            Problem(
                self.path,
                type(self.module).__name__,
                what,
                node_location(node) if node is not None else "",
            )
        )

    def fmt(self, a: Any, node: Any = None) -> str:
        import torch

        if isinstance(a, _NextKey):
            return (
                "self.next_key() if self.training else None" if a.if_training else "self.next_key()"
            )
        if isinstance(a, _SelfTraining):
            return "self.training"
        if isinstance(a, Source):
            return a.text
        if hasattr(a, "op") and hasattr(a, "graph"):
            return self.name(a)
        if isinstance(a, torch.Size):
            a = tuple(a)
        if isinstance(a, tuple):
            inner = ", ".join(self.fmt(x, node) for x in a)
            return f"({inner},)" if len(a) == 1 else f"({inner})"
        if isinstance(a, list):
            return "[" + ", ".join(self.fmt(x, node) for x in a) + "]"
        if isinstance(a, dict):
            return "{" + ", ".join(f"{k!r}: {self.fmt(v, node)}" for k, v in a.items()) + "}"
        if isinstance(a, slice):
            return (
                f"slice({self.fmt(a.start, node)}, {self.fmt(a.stop, node)}, "
                f"{self.fmt(a.step, node)})"
            )
        if isinstance(a, torch.dtype):
            name = str(a).removeprefix("torch.")
            return {
                "bool": "ops.bool_",
                "long": "ops.int64",
                "int": "ops.int32",
                "float": "ops.float32",
                "double": "ops.float64",
                "half": "ops.float16",
            }.get(name, f"ops.{name}")
        if isinstance(a, (torch.device, torch.memory_format, torch.layout)):
            return "None"
        if isinstance(a, float) and not math.isfinite(a):
            return f"float({str(a)!r})"
        if a is Ellipsis:
            return "..."
        if a is None or isinstance(a, (bool, int, float, str)):
            return repr(a)
        if isinstance(a, torch.Tensor):
            self.problem(
                node,
                f"a tensor constant of shape {tuple(a.shape)} (make it a buffer of the module)",
            )
            return "None"
        self.problem(node, f"an argument of type {type(a).__name__}")
        return repr(a)

    def index(self, idx: Any, node: Any) -> str:
        def one(i: Any) -> str:
            if isinstance(i, slice):
                s = "" if i.start is None else self.fmt(i.start, node)
                e = "" if i.stop is None else self.fmt(i.stop, node)
                st = "" if i.step is None else ":" + self.fmt(i.step, node)
                return f"{s}:{e}{st}"
            return self.fmt(i, node)

        if isinstance(idx, tuple):
            return ", ".join(one(i) for i in idx) + ("," if len(idx) == 1 else "")
        return one(idx)

    def call(self, fn: str, args: tuple, kwargs: dict, node: Any) -> str:
        parts = [self.fmt(a, node) for a in args]
        parts += [f"{k}={self.fmt(v, node)}" for k, v in kwargs.items()]
        return f"{fn}({', '.join(parts)})"

    # ------------------------------------------------------------------------- statements
    def signature(self, graph: Any) -> str:
        params = ["self"]
        for node in graph.nodes:
            if node.op != "placeholder":
                continue
            if node.target.startswith("**"):
                params.append("**" + self.name(node))
            elif node.target.startswith("*"):
                params.append("*" + self.name(node))
            elif node.args:
                params.append(f"{self.name(node)}={self.fmt(node.args[0], node)}")
            else:
                params.append(self.name(node))
        return ", ".join(params)

    def body(self, graph: Any) -> list[str]:
        lines = []
        for node in graph.nodes:
            if node.op == "placeholder":
                self.name(node)
                continue
            if node.op == "output":
                lines.append(f"return {self.fmt(node.args[0], node)}")
                continue
            expr = self.expr(node)
            if expr is not None:
                lines.append(f"{self.name(node)} = {expr}")
        return lines

    def expr(self, node: Any) -> str | None:
        import builtins
        import operator

        if node.op == "get_attr":
            if node.target.rsplit(".", 1)[-1].startswith("_tensor_constant"):
                self.problem(
                    node,
                    "a tensor made while torch.fx traced (make it a buffer, "
                    "or build it from the inputs)",
                )
            return attr_path(self.module, node.target)
        if node.op == "call_module":
            return self.call(attr_path(self.module, node.target), node.args, node.kwargs, node)
        if node.op == "call_method":
            spelling = table.lookup_method(node.target)
            if spelling is None:
                self.problem(node, f"tensor method .{node.target}()")
                return "None"
            return self.call(spelling, node.args, node.kwargs, node)
        fn = node.target
        if aten.is_aten(fn):  # a graph torch.export captured (jaxinit.porting._export)
            return aten.spell(self, node)
        if fn is operator.getitem:
            return f"{self.fmt(node.args[0], node)}[{self.index(node.args[1], node)}]"
        if fn is builtins.getattr:
            attr = node.args[1]
            if attr in ("device", "is_cuda"):  # devices are jax's concern: torch's is moot
                return "None" if attr == "device" else "False"
            if attr not in table.ATTRIBUTES:
                self.problem(node, f"tensor attribute .{attr}")
            return f"{self.fmt(node.args[0], node)}.{attr}"
        if fn in table.OPERATORS:
            return table.OPERATORS[fn].format(*(self.fmt(a, node) for a in node.args))
        spelling = table.lookup(fn)
        if spelling is None:
            mod = getattr(fn, "__module__", None) or ""
            self.problem(node, f"function {mod + '.' if mod else ''}{getattr(fn, '__name__', fn)}")
            return "None"
        args, kwargs = list(node.args), dict(node.kwargs)
        rnd = table.RANDOM.get(spelling, ())
        follows_mode = False  # a training flag that is the module's mode: self.training
        pos = next((c[1] for g in rnd for c in g if c[0] == "training"), None)
        if kwargs.get("training", None) is self.training:
            kwargs["training"], follows_mode = _SelfTraining(), True
        elif pos is not None and len(args) > pos and args[pos] is self.training:
            args[pos], follows_mode = _SelfTraining(), True
        kwargs = _explicit_kwargs(fn, kwargs)
        if rnd:

            def value(name: str, pos: int, default: Any) -> Any:
                return node.kwargs.get(name, node.args[pos] if len(node.args) > pos else default)

            groups = [g for g in rnd if not (follows_mode and g[0][0] == "training")]
            if all(any(value(*c) for c in g) for g in groups):
                kwargs["rng"] = _NextKey(if_training=follows_mode)
                self.uses_rng = True
        return self.call(spelling, tuple(args), kwargs, node)
