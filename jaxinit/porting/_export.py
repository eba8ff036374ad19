"""Capture one module's ``forward`` with ``torch.export``, for code ``torch.fx`` cannot trace.

``torch.fx`` traces a ``forward`` with symbolic inputs, so Python control flow on shapes or
values stops it (Hugging Face transformers' models branch on ``input_ids.shape``, masks and
configuration at every level). ``torch.export`` runs the ``forward`` on the example inputs
instead: each branch is taken as the examples take it, and sizes stay symbolic (every axis of
every input is exported as ``Dim.AUTO``, so the port runs on other batch sizes and lengths
wherever the torch code does). Its graph holds ATen operations (``aten.view``,
``aten.scaled_dot_product_attention``), which :mod:`jaxinit.porting.aten` spells in jaxinit.

Each module is exported on its own, on the inputs it received when the whole model ran on the
example inputs (:func:`record`), with its children kept as calls
(``preserve_module_call_signature``), so one graph is one class's ``forward``, as the
``torch.fx`` path gives. :func:`capture` then rewrites the unflattened graph into the plain
form the renderer reads: placeholders named and ordered as torch's ``forward`` parameters, the
pytree packing around child calls resolved into ``self.child(x, mask=m)`` and ``out[0]``, and
the output as torch's structure (a Hugging Face ``ModelOutput`` as a dict of its fields).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import operator
from typing import Any

from .errors import Problem, first_line

_CONTAINERS = ("ModuleList", "ModuleDict")


@contextlib.contextmanager
def without_cache(root: Any) -> Any:
    """Every Hugging Face config in ``root`` with ``use_cache`` False while the model is
    captured: a port has no KV cache (a ``DynamicCache`` object is no array), and a causal LM
    builds one by default. Restored afterwards (``convert``'s check then runs torch as the user
    built it; ``compare`` skips the cache in its outputs)."""
    configs = {id(c): c for m in root.modules() if (c := getattr(m, "config", None)) is not None}
    saved = [(c, c.use_cache) for c in configs.values() if getattr(c, "use_cache", False) is True]
    for c, _ in saved:
        c.use_cache = False
    try:
        yield
    finally:
        for c, value in saved:
            c.use_cache = value


class Recording(dict):
    """``training -> {id(module): (args, kwargs)}``: each module's first call when the model
    ran on the example inputs in that mode; ``exporting`` says which code paths it took."""

    def __init__(self, calls: dict, exporting: bool):
        super().__init__(calls)
        self.exporting = exporting


def record(root: Any, example: tuple, exporting: bool) -> Recording:
    """Run ``root`` on ``example = (args, kwargs)`` in both modes, noting every module's
    inputs. ``exporting=False``: the code's eager paths, which the export then takes too
    (Hugging Face passes ``is_causal=True`` instead of a mask when nothing is padded);
    ``exporting=True``: its export paths (masks built whatever the inputs: the fallback when
    an eager path reads tensor values, as a padding check does)."""
    return Recording({t: _record(root, *example, t, exporting) for t in (True, False)}, exporting)


def _record(root: Any, args: tuple, kwargs: dict, training: bool, exporting: bool) -> dict:
    import torch

    seen: dict[int, tuple] = {}

    def hook(mod: Any, a: tuple, k: dict) -> None:
        seen.setdefault(id(mod), (a, dict(k)))

    flags = [(m, m.training) for m in root.modules()]
    handles = [m.register_forward_pre_hook(hook, with_kwargs=True) for m in root.modules()]
    try:
        root.train(training)
        with torch.no_grad(), _as_if_exporting(exporting):
            root(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
        for m, flag in flags:
            m.training = flag
    return seen


@contextlib.contextmanager
def _as_if_exporting(value: bool) -> Any:
    """``torch.compiler.is_compiling()`` and ``is_exporting()`` read ``value``, so the
    recording run and each module's export take the same code paths (code such as Hugging
    Face's builds attention masks under export and may skip them in eager)."""
    import torch

    saved = (torch.compiler.is_compiling, torch.compiler.is_exporting)
    torch.compiler.is_compiling = torch.compiler.is_exporting = lambda: value
    try:
        yield
    finally:
        torch.compiler.is_compiling, torch.compiler.is_exporting = saved


_INDEX_NAMES = ("layer_idx", "layer_id", "layer_index", "block_idx", "idx")


def fingerprint(module: Any, recorded: dict) -> tuple:
    """What decides ``module``'s exported graphs: its class, the structure of its recorded
    inputs in both modes (shapes, dtypes, non-tensor values), and for every module under it
    the class, the parameter and buffer shapes and the plain attributes. Instances with equal
    fingerprints (a model's repeated blocks) are exported once. Attributes that only number
    a layer (``layer_idx``: Hugging Face reads it for the KV cache) are left out; anything
    else differing makes a separate export, and ``convert``'s check compares every instance.
    """
    parts: list = [_structure(recorded[t][id(module)]) for t in sorted(recorded)]
    for name, m in module.named_modules():
        attrs = tuple(
            (k, v)
            for k, v in sorted(vars(m).items())
            if not k.startswith("_") and k not in _INDEX_NAMES and _plain_value(v)
        )
        tensors = tuple(
            (k, tuple(t.shape), str(t.dtype))
            for k, t in list(m._parameters.items()) + list(m._buffers.items())
            if t is not None
        )
        parts.append((name, type(m), attrs, tensors))
    return tuple(parts)


def _plain_value(v: Any) -> bool:
    if isinstance(v, (tuple, list)):
        return all(_plain_value(x) for x in v)
    return v is None or isinstance(v, (bool, int, float, str))


def _structure(x: Any) -> Any:
    if type(x).__name__ in ("Tensor", "Parameter"):
        return ("tensor", tuple(x.shape), str(x.dtype))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, tuple(_structure(v) for v in x))
    if isinstance(x, dict):
        return ("dict", tuple((k, _structure(v)) for k, v in x.items()))
    return ("value", repr(x) if _plain_value(x) else type(x).__name__)


def _callees(module: Any, called: dict[int, tuple]) -> list[str]:
    """The paths (under ``module``) of the modules its ``forward`` calls: its children, and
    the elements of ModuleList / ModuleDict children (which are indexed, not called)."""
    out = []

    def walk(m: Any, prefix: str) -> None:
        for name, c in m.named_children():
            path = f"{prefix}{name}"
            if type(c).__name__ in _CONTAINERS and id(c) not in called:
                walk(c, path + ".")
            elif id(c) in called:
                out.append(path)

    walk(module, "")
    return out


def _dynamic(x: Any) -> Any:
    import torch
    from torch.export import Dim

    if isinstance(x, torch.Tensor):
        return {i: Dim.AUTO for i in range(x.dim())} if x.dim() else None
    if isinstance(x, (list, tuple)):
        return type(x)(_dynamic(v) for v in x)
    if isinstance(x, dict):
        return {k: _dynamic(v) for k, v in x.items()}
    return None


def export_graph(
    module: Any, inputs: tuple, called: dict[int, tuple], training: bool, exporting: bool
) -> Any:
    """``module`` exported on ``inputs = (args, kwargs)``, unflattened one level: its graph
    with the modules it calls kept as ``call_module`` nodes."""
    import warnings

    import torch

    args, kwargs = inputs
    sig = _explicit_signature(module.forward, kwargs)
    bound = sig.bind(*args, **kwargs).arguments
    dyn = {k: _dynamic(v) for k, v in bound.items()}
    flags = [(m, m.training) for m in module.modules()]
    module.train(training)
    own_forward = "forward" in vars(module)
    if sig != inspect.signature(module.forward):
        module.forward = _with_signature(module.forward, sig)
    try:
        paths = contextlib.nullcontext() if exporting else _as_if_exporting(False)
        with warnings.catch_warnings(), _quiet(), contextlib.redirect_stdout(io.StringIO()), paths:
            warnings.simplefilter("ignore")
            ep = torch.export.export(
                module,
                tuple(args),
                dict(kwargs),
                dynamic_shapes=dyn,
                strict=False,
                preserve_module_call_signature=tuple(_callees(module, called)),
            )
            with _lenient_unflatten():
                unflat = torch.export.unflatten(ep)
    finally:
        for m, flag in flags:
            m.training = flag
        if not own_forward:
            vars(module).pop("forward", None)
    return unflat.graph, ep.call_spec.in_spec, ep.call_spec.out_spec


@contextlib.contextmanager
def _lenient_unflatten() -> Any:
    """Unflatten without compiling the children's graphs to Python: only this module's own
    graph is read, and torch's codegen of a child's graph can fail (an encoder-decoder's
    children take two inputs of one name, their own and the parent's hoisted one)."""
    from torch.export.unflatten import InterpreterModule

    finalize = InterpreterModule.finalize

    def lenient(self: Any) -> None:
        try:
            finalize(self)
        except SyntaxError:
            self.arg_names = [n.target for n in self.graph.nodes if n.op == "placeholder"]

    InterpreterModule.finalize = lenient
    try:
        yield
    finally:
        InterpreterModule.finalize = finalize


@contextlib.contextmanager
def _quiet() -> Any:
    """torch.export's log lines (``0/1 specialized``) silenced: one warning from the survey
    names the example axes of size 1 instead of a log line per module."""
    loggers = [logging.getLogger(n) for n in ("torch._export", "torch.export", "torch.fx")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _explicit_signature(forward: Any, kwargs: dict) -> inspect.Signature:
    """``forward``'s signature with the keyword inputs that land in its ``**kwargs`` made
    keyword parameters (torch.export mismatches dynamic shapes given under ``**kwargs``)."""
    sig = inspect.signature(forward)
    params = list(sig.parameters.values())
    var = [p for p in params if p.kind is p.VAR_KEYWORD]
    extra = [k for k in kwargs if k not in sig.parameters]
    if not var or not extra:
        return sig
    params = [p for p in params if p.kind is not p.VAR_KEYWORD]
    params += [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=None) for k in extra]
    return sig.replace(parameters=params)


def _with_signature(forward: Any, sig: inspect.Signature) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        return forward(*args, **kwargs)

    call.__signature__ = sig  # type: ignore[attr-defined]
    return call


def capture(
    module: Any, path: str, inputs: tuple, recording: Recording, training: bool
) -> tuple[Any, list[Problem]]:
    """The plain graph of ``module.forward`` (see the module docstring), or None and the
    problem when ``torch.export`` cannot capture it."""
    try:
        called = recording[training]
        graph, in_spec, out_spec = export_graph(
            module, inputs, called, training, recording.exporting
        )
    except Exception as e:  # noqa: BLE001 -- any export failure becomes a listed problem
        return None, [
            Problem(
                path,
                type(module).__name__,
                f"forward cannot be captured by torch.export ({type(e).__name__}: {first_line(e)})",
            )
        ]
    import torch.utils._pytree as pytree

    try:
        replaced = _name_inputs(module, graph, in_spec)
        flat = pytree.tree_leaves(inputs)
        inputs_of = {replaced[leaf]: t for t, leaf in zip(flat, replaced) if replaced[leaf]}
        _resolve_pytrees(graph, out_spec, module, called, inputs_of)
    except _Unmatched as e:
        return None, [Problem(path, type(module).__name__, str(e))]
    except Exception as e:  # noqa: BLE001 -- a graph shape this reader does not know
        return None, [
            Problem(
                path,
                type(module).__name__,
                f"the graph torch.export captured could not be read ({type(e).__name__}: {e})",
            )
        ]
    graph.eliminate_dead_code()
    return graph, []


def _name_inputs(module: Any, graph: Any, in_spec: Any) -> dict:
    """Placeholders become torch's ``forward`` parameters, in order, with their defaults;
    an input that is a tuple or dict of tensors is one parameter, its leaves read by index.
    Returns ``{old placeholder: the node that now stands for it, or None}`` (input order)."""
    import torch.utils._pytree as pytree

    leaves = [n for n in graph.nodes if n.op == "placeholder"]
    args, kwargs = pytree.tree_unflatten(leaves, in_spec)
    sig = inspect.signature(module.forward)
    bound = sig.bind(*args, **kwargs).arguments
    first = next(iter(graph.nodes))
    params = []
    with graph.inserting_before(first):
        for p in sig.parameters.values():
            if p.kind is p.VAR_POSITIONAL:
                ph = graph.placeholder("*" + p.name)
            elif p.kind is p.VAR_KEYWORD:
                ph = graph.placeholder("**" + p.name)
            else:
                default = p.default if p.default is not p.empty else inspect.Parameter.empty
                ph = graph.placeholder(p.name)
                if default is not inspect.Parameter.empty:
                    ph.args = (default if _plain_value(default) else None,)
            params.append((p, ph))
    replaced: dict = dict.fromkeys(leaves)
    for p, ph in params:
        if p.name not in bound:
            continue
        value = bound[p.name]
        if p.kind is p.VAR_KEYWORD:
            for k, v in value.items():
                _bind(graph, v, ph, (k,), replaced)
        elif p.kind is p.VAR_POSITIONAL:
            for i, v in enumerate(value):
                _bind(graph, v, ph, (i,), replaced)
        else:
            _bind(graph, value, ph, (), replaced)
    for leaf in leaves:
        if leaf.users:
            raise RuntimeError(f"input {leaf.name} was not bound to a parameter")
        graph.erase_node(leaf)
    for _p, ph in params:
        ph.name = ph.target.lstrip("*")  # keeps torch's parameter name (fx may suffix it)
    taken = {n.name for n in graph.nodes}
    for node in replaced.values():  # position_embeddings_0, or kwargs' own key
        if node is not None and "leaf" in node.meta and node.meta["leaf"] not in taken:
            taken.add(node.meta["leaf"])
            node.name = node.meta["leaf"]  # the renderer's name (the graph is not recompiled)
    return replaced


def _bind(graph: Any, value: Any, base: Any, keys: tuple, replaced: dict) -> None:
    """Uses of the placeholder leaves inside ``value`` read ``base[k0][k1]...`` instead."""
    if hasattr(value, "op"):
        if not keys:
            value.replace_all_uses_with(base)
            replaced[value] = base
            return
        if not value.users:
            return
        body = next(n for n in graph.nodes if n.op != "placeholder" and "leaf" not in n.meta)
        with graph.inserting_before(body):  # in input order, after every placeholder
            node = base
            for k in keys:
                node = graph.call_function(operator.getitem, (node, k))
                node.meta["leaf"] = _leaf_name(base, keys)  # renamed once the old leaves go
        value.replace_all_uses_with(node)
        replaced[value] = node
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _bind(graph, v, base, keys + (i,), replaced)
    elif isinstance(value, dict):
        for k, v in value.items():
            _bind(graph, v, base, keys + (k,), replaced)


def _leaf_name(base: Any, keys: tuple) -> str:
    """``position_embeddings[0]`` -> ``position_embeddings_0``; ``kwargs['position_ids']`` ->
    ``position_ids``."""
    parts = [str(k) for k in keys]
    if not base.target.startswith("**"):
        parts.insert(0, base.target.lstrip("*"))
    name = "_".join(parts)
    return (
        name if name.isidentifier() else "input_" + "".join(c if c.isalnum() else "_" for c in name)
    )


def _keys(spec: Any) -> list[tuple]:
    """The access path of each leaf of a pytree spec: ``(0,)``, ``('logits',)``, ``()``."""
    if spec.is_leaf():
        return [()]
    out = []
    ctx = spec.context
    for i, child in enumerate(spec.children()):
        if isinstance(ctx, (list, tuple)) and len(ctx) == spec.num_children:
            k = ctx[i]  # dict keys, ModelOutput fields
        else:
            k = i
        out += [(k,) + rest for rest in _keys(child)]
    return out


def _as_plain(obj: Any) -> Any:
    """A pytree container as plain tuples, lists and dicts (a ModelOutput as a dict)."""
    if isinstance(obj, dict):
        return {k: _as_plain(v) for k, v in obj.items() if v is not None or type(obj) is dict}
    if isinstance(obj, tuple) and type(obj) is not tuple:  # a namedtuple
        return tuple(_as_plain(v) for v in obj)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_as_plain(v) for v in obj)
    return obj


def _resolve_pytrees(graph: Any, out_spec: Any, module: Any, called: dict, inputs_of: dict) -> None:
    """Remove ``tree_unflatten`` / ``tree_flatten_spec`` around child calls: their arguments
    become the values themselves, and a leaf of a child's output becomes ``out[k]``.

    A child call also receives the parent's inputs it reads sizes from (unflatten hoists
    them in front of its arguments); the child's own ``forward`` reads its sizes from its own
    inputs, so they are dropped. A child argument the parent's graph does not compute (an
    input of the parent passed on, or a tensor the child reads only the shape of, as BART's
    positional embedding) shows as None: it becomes the hoisted input that was that tensor in
    the recording run, else the one of its shape (and dtype, if several)
    (``inputs_of``: ``node -> the tensor it was``)."""
    import torch.fx._pytree as fx_pytree
    import torch.utils._pytree as pytree

    static: dict[Any, Any] = {}  # node -> the Python value or structure it stands for
    specs = {n: getattr(graph.owning_module, n.target) for n in graph.nodes if _spec(n)}
    for node in list(graph.nodes):
        if node.op == "output":
            flat = _resolve(node.args[0], static)
            flat = list(flat) if isinstance(flat, (list, tuple)) else [flat]
            node.args = (_as_plain(pytree.tree_unflatten(flat, out_spec)),)
        elif node.op == "call_module":
            args = _resolve(tuple(a for a in node.args if a in static), static)
            kwargs = _resolve(node.kwargs, static)
            rec = called.get(id(module.get_submodule(node.target)))
            if rec is not None:
                hoisted = {n: inputs_of[n] for n in node.args if n in inputs_of}
                args, kwargs = _fill(args, rec[0], hoisted), _fill(kwargs, rec[1], hoisted)
            node.args, node.kwargs = tuple(args), dict(kwargs)
        elif node.op != "call_function":
            continue
        elif node.target is pytree.tree_unflatten:
            leaves, spec = node.args
            static[node] = pytree.tree_unflatten(list(leaves), specs[spec])
        elif node.target is fx_pytree.tree_flatten_spec:
            src, spec = node.args
            src = _resolve(src, static)
            if hasattr(src, "op"):
                static[node] = _Leaves(src, _keys(specs[spec]))
            else:
                static[node] = pytree.tree_leaves(src)
        elif node.target is operator.getitem and node.args[0] in static:
            holder, key = static[node.args[0]], node.args[1]
            if isinstance(holder, _Leaves):
                with graph.inserting_before(node):
                    new = holder.src
                    for k in holder.keys[key]:
                        new = graph.call_function(operator.getitem, (new, k))
                node.replace_all_uses_with(new)
            else:
                static[node] = holder[key]
        else:
            node.args = _resolve(node.args, static)
            node.kwargs = _resolve(node.kwargs, static)
    for node in reversed(list(graph.nodes)):
        if (node in static or _spec(node)) and not node.users:
            graph.erase_node(node)


class _Unmatched(Exception):
    pass


def _fill(value: Any, recorded: Any, hoisted: dict) -> Any:
    """``value`` with each None that was a tensor in the recorded call replaced by the
    hoisted parent input it was."""
    if value is None and type(recorded).__name__ in ("Tensor", "Parameter"):
        shaped = [n for n, t in hoisted.items() if getattr(t, "shape", None) == recorded.shape]
        same = [n for n, t in hoisted.items() if t is recorded]
        same = same or [n for n in shaped if hoisted[n].dtype == recorded.dtype] or shaped
        if len(same) != 1:
            raise _Unmatched(
                "a tensor passed to a child could not be traced to one of the forward's "
                f"inputs (shape {tuple(recorded.shape)}; pass check=False to see the rest)"
            )
        return same[0]
    if isinstance(value, (list, tuple)) and isinstance(recorded, (list, tuple)):
        if len(value) == len(recorded):
            return type(value)(_fill(v, r, hoisted) for v, r in zip(value, recorded))
    if isinstance(value, dict) and isinstance(recorded, dict):
        return {k: _fill(v, recorded.get(k), hoisted) for k, v in value.items()}
    return value


class _Leaves:
    """The flat leaves of a child's output: leaf ``i`` is ``src[keys[i][0]][keys[i][1]]...``."""

    def __init__(self, src: Any, keys: list[tuple]):
        self.src, self.keys = src, keys


def _spec(node: Any) -> bool:
    return node.op == "get_attr" and node.target.startswith("_spec_")


def _resolve(a: Any, static: dict) -> Any:
    if hasattr(a, "op"):
        return _resolve(static[a], static) if a in static else a
    if isinstance(a, tuple) and type(a) is not tuple and hasattr(a, "_fields"):
        return type(a)(*(_resolve(v, static) for v in a))
    if isinstance(a, (list, tuple)):
        return type(a)(_resolve(v, static) for v in a)
    if isinstance(a, dict):
        return (
            type(a)({k: _resolve(v, static) for k, v in a.items()})
            if type(a) is dict
            else {k: _resolve(v, static) for k, v in a.items()}
        )
    return a
