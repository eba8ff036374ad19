"""The module tree of a torch model, sorted into what a port writes for each module.

* a **layer** jaxinit has (``nn.Conv2d``): the jaxinit constructor call;
* a **container** (``nn.Sequential``, ``nn.ModuleList``, ``nn.ModuleDict``): the jaxinit
  container of the converted children;
* any other module: a **class** of the generated file, one per torch class, whose
  ``forward`` is captured from torch (both modes; they differ only where ``self.training``
  does). Instances whose captured ``forward`` differs (a block with and without its
  ``downsample``) get one subclass per variant, named as the torch class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import _graph
from ._forward import Renderer
from ._leaf import CONTAINERS, jaxinit_base, jaxinit_class
from .errors import Problem, first_line


@dataclass
class Variant:
    """One distinct captured ``forward`` of a torch class."""

    name: str  # Python name in the generated file
    signature: str
    train_body: list[str]
    eval_body: list[str]


@dataclass
class ClassInfo:
    """Everything the generated file says about one torch class."""

    torch_class: type
    name: str
    base: str  # 'nn.Module', 'nn.Sequential', 'nn.LayerNorm', ...
    base_is_layer: bool  # constructor = the jaxinit layer's (a torch.nn subclass)
    overrides_forward: bool
    params: list[str] = field(default_factory=list)
    buffers: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    optional: set[str] = field(default_factory=set)  # absent from some instance
    instances: int = 0
    variants: list[Variant] = field(default_factory=list)


@dataclass
class Survey:
    """The result of :func:`survey`: classes by torch class, each instance's variant name."""

    classes: dict[type, ClassInfo] = field(default_factory=dict)
    variant_of: dict[int, str] = field(default_factory=dict)  # id(module) -> class name
    problems: list[Problem] = field(default_factory=list)


def kind(m: Any) -> str:
    """``'layer'``, ``'container'`` or ``'class'`` (see the module docstring)."""
    jcls = jaxinit_class(m)
    if jcls is None:
        return "class"
    return "container" if jcls.__name__ in CONTAINERS else "layer"


def _torch_base(cls: type) -> type:
    for base in cls.__mro__[1:]:
        if base.__module__.startswith("torch.nn."):
            return base
    return object


def _unique(name: str, taken: set[str]) -> str:
    out, k = name, 1
    while out in taken:
        out, k = f"{name}_{k}", k + 1
    taken.add(out)
    return out


def survey(root: Any, example: tuple | None = None) -> Survey:
    """Walk ``root``'s module tree once: the classes to generate and their variants.

    Each ``forward`` is traced by ``torch.fx``. When one cannot be (Python control flow on
    shapes or values, as in Hugging Face's models) and ``example = (args, kwargs)`` is given,
    the whole tree is captured again by ``torch.export`` on those inputs
    (:mod:`jaxinit.porting._export`).
    """
    out = _survey(root, None)
    untraced = {p.path for p in out.problems if p.what.startswith(_UNTRACEABLE)}
    if example is None or not untraced:
        return out
    from . import _export

    with _export.without_cache(root):
        return _survey_exported(root, example, out, untraced)


def _survey_exported(root: Any, example: tuple, out: Survey, untraced: set) -> Survey:
    from . import _export

    for exporting in (False, True):  # eager code paths first; export paths if those fail
        try:
            recorded = _export.record(root, example, exporting)
        except Exception as e:  # noqa: BLE001 -- the model fails on its own example inputs
            out.problems.append(
                Problem(
                    "",
                    type(root).__name__,
                    f"torch fails on the example inputs ({first_line(e)})",
                    _graph._source_line(e, type(root)),
                )
            )
            return out
        exported = _survey(root, recorded)
        if not exported.problems:
            _warn_fixed_axes(example)
            return exported
    # each module's problems as the capture that reached it saw them
    exported.problems = [p for p in out.problems if p.path not in untraced] + [
        p for p in exported.problems if p.path in untraced
    ]
    return exported


_UNTRACEABLE = "forward cannot be captured"


def _warn_fixed_axes(example: tuple) -> None:
    """torch.export fixes every axis of size 1 in the example inputs: say which."""
    import warnings

    args, kwargs = example
    named = [(f"input {i}", a) for i, a in enumerate(args)] + list(kwargs.items())
    fixed = [
        f"{name} axis {d}"
        for name, a in named
        for d, n in enumerate(getattr(a, "shape", ()))
        if n == 1
    ]
    if fixed:
        warnings.warn(
            "the port was captured by torch.export, which fixes axes of size 1 in the example "
            f"inputs to size 1 ({', '.join(fixed)}): give examples of size 2 or more on "
            "axes that vary (batch, length)",
            stacklevel=5,
        )


def _capture(m: Any, path: str, training: bool, recorded: dict | None) -> tuple[Any, list]:
    """The graph of ``m.forward`` in one mode: torch.export's when inputs were recorded for
    ``m``, torch.fx's otherwise."""
    if recorded is not None and id(m) in recorded[training]:
        from . import _export

        return _export.capture(m, path, recorded[training][id(m)], recorded, training)
    return _graph.trace(m, path, training)


def _mode_aware(graph: Any) -> bool:
    """Whether an exported train-mode graph reads the same in eval once its dropouts follow
    ``self.training``: it draws random numbers only through dropout and attention dropout,
    which :mod:`jaxinit.porting.aten` writes mode-aware. (Any other difference between the
    modes shows in ``convert``'s check, which runs eval.)"""
    if graph is None:
        return False
    from . import aten

    return not any(
        n.op == "call_function" and aten.is_aten(n.target) and aten.draws(n.target)
        for n in graph.nodes
    )


def _export_fingerprint(m: Any, recorded: dict | None) -> tuple | None:
    if recorded is None or not all(id(m) in r for r in recorded.values()):
        return None
    from . import _export

    return _export.fingerprint(m, recorded)


def _survey(root: Any, recorded: dict | None) -> Survey:
    out = Survey()
    captured: dict[tuple, str] = {}  # export fingerprint -> variant name
    taken: set[str] = set()
    seen: set[int] = set()
    for path, m in root.named_modules(remove_duplicate=False):
        if id(m) in seen or kind(m) != "class":
            continue
        seen.add(id(m))
        cls = type(m)
        info = out.classes.get(cls)
        if info is None:
            base = jaxinit_base(cls)
            tb = _torch_base(cls)
            is_container = base is not None and base.__name__ in CONTAINERS
            info = ClassInfo(
                cls,
                _unique(cls.__name__, taken),
                f"nn.{base.__name__}" if base is not None else "nn.Module",
                base is not None and not is_container,
                getattr(cls, "forward", None) is not getattr(tb, "forward", None),
            )
            if base is None and tb.__name__ not in ("Module", "object"):
                out.problems.append(
                    Problem(
                        path,
                        cls.__name__,
                        f"module type (a subclass of torch.nn.{tb.__name__}, which jaxinit lacks)",
                    )
                )
            out.classes[cls] = info
        if (
            not info.base_is_layer
            and not info.base.startswith("nn.Sequential")
            and info.base not in ("nn.ModuleList", "nn.ModuleDict")
        ):
            own = [
                (info.params, m._parameters),
                (info.buffers, m._buffers),
                (info.children, m._modules),
            ]
            for names, store in own:
                for name, v in store.items():
                    if v is not None and name not in names:
                        names.append(name)
                        if info.instances:  # absent from an earlier instance
                            info.optional.add(name)
            present = {n for _, store in own for n, v in store.items() if v is not None}
            info.optional |= set(info.params + info.buffers + info.children) - present
        info.instances += 1
        if not info.overrides_forward:
            out.variant_of[id(m)] = info.name
            continue
        fp = _export_fingerprint(m, recorded)
        if fp is not None and fp in captured:  # an instance like one already captured
            out.variant_of[id(m)] = captured[fp]
            continue
        graphs, probs = [], []
        for training in (True, False):
            if not training and fp is not None and _mode_aware(graphs[0]):
                graphs.append(graphs[0])  # its eval form is its train form, dropout off
                break
            g, p = _capture(m, path, training, recorded)
            graphs.append(g)
            probs += p
        if probs:
            out.problems += probs[:1]
            out.variant_of[id(m)] = info.name
            continue
        rt, re = Renderer(m, path, True), Renderer(m, path, False)
        train_body, eval_body = rt.body(graphs[0]), re.body(graphs[1])
        out.problems += rt.problems + [p for p in re.problems if p not in rt.problems]
        sig = re.signature(graphs[1])
        for v in info.variants:
            if (v.signature, v.train_body, v.eval_body) == (sig, train_body, eval_body):
                out.variant_of[id(m)] = v.name
                break
        else:
            name = info.name if not info.variants else _unique(f"{info.name}_1", taken)
            info.variants.append(Variant(name, sig, train_body, eval_body))
            out.variant_of[id(m)] = name
        if fp is not None:
            captured[fp] = out.variant_of[id(m)]
    return out
