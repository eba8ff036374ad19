"""Write the generated module file: header, imports, one class per torch class, ``build()``."""

from __future__ import annotations

import inspect
import keyword
from typing import Any

import numpy as np

from ._classes import ClassInfo, Survey, kind
from ._forward import attr_path
from ._leaf import constructor_args, jaxinit_class
from .errors import Problem

IMPORTS = """\
from collections import OrderedDict

import jax.numpy as jnp
import numpy as np

from jaxinit import init, nn
from jaxinit.nn import functional as F
from jaxinit.nn.utils import rnn as rnn_utils
from jaxinit.porting import ops, vision_ops
"""
_INLINE_MAX = 4096  # buffer values up to this many elements are written into the file
_CTOR_INIT_HINTS = (
    "init.",
    "_init_weights",
    ".normal_(",
    ".uniform_(",
    ".zero_(",
    ".fill_(",
    "trunc_normal",
    "self.apply(",
)


def value(v: Any) -> str:
    """A hyper-parameter value as Python source (``F.gelu`` for a torch function)."""
    import torch

    if isinstance(v, torch.dtype):
        return "jnp." + str(v).removeprefix("torch.")
    if isinstance(v, (list, tuple)):
        inner = ", ".join(value(x) for x in v)
        if isinstance(v, list):
            return f"[{inner}]"
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if callable(v) and hasattr(v, "__name__"):
        return f"F.{v.__name__}"
    if isinstance(v, float) and not np.isfinite(v):
        return f"float({str(v)!r})"
    return repr(v)


def array_source(a: np.ndarray) -> str:
    """A numpy array as a short expression: ``np.arange``, ``np.full`` or a literal."""
    dt = f"np.{a.dtype.name}" if a.dtype.name != "bool" else "np.bool_"
    flat = a.reshape(-1)
    if a.size and a.dtype.kind in "iuf" and np.array_equal(flat, np.arange(a.size)):
        expr = f"np.arange({a.size}, dtype={dt})"
    elif a.size and np.all(flat == flat[0]):
        return f"np.full({tuple(a.shape)}, {flat[0].item()!r}, dtype={dt})"
    else:
        return f"np.array({a.tolist()!r}, dtype={dt})"
    return expr if a.ndim == 1 else f"{expr}.reshape({tuple(a.shape)})"


def _declaration(t: Any, kind_: str, persistent: bool, problems: list[Problem], where: str) -> str:
    from jaxinit.interop.torch import tensor_to_numpy

    a = tensor_to_numpy(t.detach())
    dtype = "" if a.dtype == np.float32 else f", dtype=jnp.{a.dtype.name}"
    if kind_ == "Parameter":
        return f"nn.Parameter({tuple(a.shape)}, init.zeros{dtype})"
    if a.size <= _INLINE_MAX:
        p = "" if persistent else ", persistent=False"
        return f"nn.Buffer({array_source(a)}{p})"
    if not persistent:
        problems.append(
            Problem(
                where,
                "",
                f"non-persistent buffer of {a.size} elements "
                f"(more than {_INLINE_MAX} cannot be written into the file)",
            )
        )
    return f"nn.Buffer({tuple(a.shape)}, init.zeros{dtype})"


class Builder:
    """Renders ``build()``: one nested constructor expression, shared modules hoisted."""

    def __init__(self, root: Any, survey: Survey):
        self.root, self.survey = root, survey
        self.problems: list[Problem] = []
        counts: dict[int, int] = {}
        for _, m in root.named_modules(remove_duplicate=False):
            counts[id(m)] = counts.get(id(m), 0) + 1
        self.shared = {i for i, c in counts.items() if c > 1}
        self.hoisted: dict[int, str] = {}
        self.pre: list[str] = []

    def expr(self, m: Any, path: str, ind: str) -> str:
        if id(m) in self.hoisted:
            return self.hoisted[id(m)]
        text = self._expr(m, path, ind if id(m) not in self.shared else "    ")
        if id(m) in self.shared:
            name = f"shared_{len(self.hoisted)}"
            self.pre.append(f"    {name} = {text}")
            self.hoisted[id(m)] = name
            return name
        return text

    def _call(self, fn: str, items: list[str], ind: str) -> str:
        if not items:
            return f"{fn}()"
        one = f"{fn}({', '.join(items)})"
        if len(one) + len(ind) < 96 and "\n" not in one:
            return one
        inner = ind + "    "
        return f"{fn}(\n" + "".join(f"{inner}{it},\n" for it in items) + f"{ind})"

    def _children(self, m: Any, path: str, ind: str) -> list[tuple[str, str]]:
        """Each child's name and expression, written to stand at indentation ``ind``."""
        return [
            (n, self.expr(c, f"{path}.{n}" if path else n, ind))
            for n, c in m._modules.items()
            if c is not None
        ]

    def _seq(self, brackets: str, items: list[str], ind: str) -> str:
        one = brackets[0] + ", ".join(items) + brackets[1]
        if not items or (len(one) + len(ind) < 88 and "\n" not in one):
            return one
        return brackets[0] + "\n" + "".join(f"{ind}    {it},\n" for it in items) + ind + brackets[1]

    def _container(self, fn: str, m: Any, path: str, ind: str, cname: str) -> str:
        inner = ind + "    "
        if cname.endswith(("ParameterList", "ParameterDict")):
            decls = [
                (n, _declaration(p, "Parameter", True, self.problems, path))
                for n, p in m._parameters.items()
            ]
            if cname.endswith("ParameterList"):
                return self._call(fn, [self._seq("[]", [d for _, d in decls], inner)], ind)
            return self._call(fn, [self._seq("{}", [f"{n!r}: {d}" for n, d in decls], inner)], ind)
        nested = cname.endswith(("ModuleList", "ModuleDict"))
        kids = self._children(m, path, inner + "    " if nested else inner)
        if cname.endswith("ModuleList"):
            return self._call(fn, [self._seq("[]", [e for _, e in kids], inner)], ind)
        if cname.endswith("ModuleDict"):
            return self._call(fn, [self._seq("{}", [f"{n!r}: {e}" for n, e in kids], inner)], ind)
        if [n for n, _ in kids] == [str(i) for i in range(len(kids))]:
            return self._call(fn, [e for _, e in kids], ind)
        kids = self._children(m, path, inner + "        ")
        pairs = [f"({n!r}, {e})" for n, e in kids]
        return self._call(
            fn, [self._call("OrderedDict", [self._seq("[]", pairs, inner + "    ")], inner)], ind
        )

    def _expr(self, m: Any, path: str, ind: str) -> str:
        k = kind(m)
        if k == "layer":
            jcls = jaxinit_class(m)
            return self._layer(f"nn.{jcls.__name__}", m, jcls, path, ind)
        if k == "container":
            cname = jaxinit_class(m).__name__
            return self._container(f"nn.{cname}", m, path, ind, cname)
        info: ClassInfo = self.survey.classes[type(m)]
        fn = self.survey.variant_of.get(id(m), info.name)
        if info.base_is_layer:
            import jaxinit.nn as jnn

            return self._layer(fn, m, getattr(jnn, info.base[3:]), path, ind)
        if info.base != "nn.Module":
            return self._container(fn, m, path, ind, info.base)
        items = []
        for n in info.params + info.buffers:
            t = m._parameters.get(n) if n in info.params else m._buffers.get(n)
            if t is not None:
                persistent = n not in m._non_persistent_buffers_set
                kind_ = "Parameter" if n in info.params else "Buffer"
                items.append(f"{n}={_declaration(t, kind_, persistent, self.problems, path)}")
        for n, e in self._children(m, path, ind + "    "):
            items.append(f"{n}={e}")
        return self._call(fn, items, ind)

    def _layer(self, fn: str, m: Any, jcls: type, path: str, ind: str) -> str:
        pos, kw, missing = constructor_args(m, jcls)
        if missing:
            self.problems.append(
                Problem(
                    path,
                    type(m).__name__,
                    f"layer arguments torch does not store: {', '.join(missing)}",
                )
            )
        items = [value(v) for v in pos] + [f"{k}={value(v)}" for k, v in kw.items()]
        return self._call(fn, items, ind)

    def ties(self) -> list[str]:
        """``model.b.weight = model.a.weight`` for each parameter reached from two modules."""
        first: dict[int, tuple[Any, str, str]] = {}
        lines = []
        for mpath, m in self.root.named_modules(remove_duplicate=False):
            for n, t in list(m._parameters.items()) + list(m._buffers.items()):
                if t is None:
                    continue
                if id(t) not in first:
                    first[id(t)] = (m, mpath, n)
                    continue
                owner, opath, on = first[id(t)]
                if owner is m:
                    continue  # a shared module: tied by construction
                lines.append(
                    f"    {_target(self.root, mpath, n)} = {_target(self.root, opath, on)}"
                )
        return lines


def _target(root: Any, mpath: str, name: str) -> str:
    base = attr_path(root, mpath).replace("self", "model", 1) if mpath else "model"
    if name.isidentifier() and not keyword.iskeyword(name):
        return f"{base}.{name}"
    return f"getattr({base}, {name!r})"


def render_class(info: ClassInfo) -> list[str]:
    """The source of one generated class and its variants."""
    tc = info.torch_class
    out = [
        f"class {info.name}({info.base}):",
        f'    """{tc.__module__}.{tc.__qualname__}, ported."""',
        "",
    ]
    if not info.base_is_layer and info.base == "nn.Module":
        params = []
        for n in info.params + info.buffers + info.children:
            params.append(f"{n}=None" if n in info.optional else n)
        params.sort(key=lambda p: "=" in p)
        names = info.params + info.buffers + info.children
        me = "self" if "self" not in names else "self_"  # a child named self (BERT's)
        out.append(f"    def __init__({', '.join([me] + params)}):")
        out.append("        super().__init__()")
        for n in names:
            if n in info.optional:
                out += [f"        if {n} is not None:", f"            {me}.{n} = {n}"]
            else:
                out.append(f"        {me}.{n} = {n}")
        out.append("")
    variants = info.variants
    if variants:
        out += _forward(variants[0])
    elif out[-1] == "":
        out.pop()
    if out[-1] == "":
        out.pop()
    for v in variants[1:]:
        out += [
            "",
            "",
            f"class {v.name}({info.name}):",
            f'    """{tc.__qualname__} with another forward (this instance\'s code path)."""',
            "",
        ] + _forward(v)
        if out[-1] == "":
            out.pop()
    for name in [info.name] + [v.name for v in variants[1:]]:
        if name != tc.__name__:
            out += ["", "", f"{name}.__name__ = {name}.__qualname__ = {tc.__name__!r}"]
    return out


def _forward(v: Any) -> list[str]:
    out = [f"    def forward({v.signature}):"]
    if v.train_body != v.eval_body:
        out.append("        if self.training:")
        out += [f"            {ln}" for ln in v.train_body]
    out += [f"        {ln}" for ln in v.eval_body]
    out.append("")
    return out


def ctor_init_notes(root: Any) -> list[str]:
    """Torch classes of the model whose constructor sets weights (what ``init`` cannot
    reproduce), as lines of the file's docstring."""
    notes = []
    for cls in dict.fromkeys(type(m) for m in root.modules()):
        if cls.__module__.startswith("torch.nn."):
            continue
        try:
            src = inspect.getsource(cls.__init__)
        except (OSError, TypeError):
            continue
        hits = sorted({h.strip(".(") for h in _CTOR_INIT_HINTS if h in src})
        if "post_init()" in src and hasattr(cls, "_init_weights"):
            hits.append("post_init: Hugging Face's _init_weights over every module")
        if hits:
            notes.append(f"{cls.__name__}.__init__ sets weights itself ({', '.join(hits)})")
    return notes
