"""Generate docs/api.md, the API reference, from the docstrings of jaxinit's public surface.

    python docs/gen_api.py            rewrite docs/api.md
    python docs/gen_api.py --check    exit 1 (and say so) if docs/api.md is out of date

The surface is: ``jaxinit.__all__``, ``jaxinit.init.__all__``, ``jaxinit.nn.__all__`` and the
public methods of ``nn.Module``, the public functions of ``jaxinit.devices``,
``jaxinit.serialization.__all__``, ``jaxinit.interop.__all__``, ``jaxinit.testing.__all__``,
``jaxinit.optim.__all__`` (with the methods of ``Optimizer``),
``jaxinit.optim.lr_scheduler.__all__``, ``jaxinit.porting.__all__`` and the public methods of
``TorchGenerator``. Each entry is its signature and its docstring, grouped by module, under a
table of contents. Standard library only (``inspect``); the output depends on nothing but the
code, so ``--check`` is exact.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
import textwrap
import types
import typing
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
API_MD = ROOT / "docs" / "api.md"

HEADER = """\
# API reference

Generated from the docstrings by `python docs/gen_api.py`; do not edit by hand
(`tests/test_docs.py` fails when this file is out of date). Signatures show keyword-only
arguments after `*`, as in Python.
"""


class Entry(NamedTuple):
    """One documented object: its qualified name, kind and the object itself."""

    qualname: str  # e.g. "jaxinit.nn.Module.init"
    kind: str  # "function", "class", "method", "property"
    obj: Any


class Section(NamedTuple):
    title: str  # e.g. "jaxinit.init"
    intro: str  # the module's docstring (or a one-line summary)
    entries: list[Entry]


# ------------------------------------------------------------------------------------ surface


def _kind(obj: Any) -> str | None:
    if isinstance(obj, type):
        return "class"
    if callable(obj):
        return "function"
    return None  # modules, constants (__version__): not documented as entries


def _names(module: types.ModuleType, names: list[str] | None = None) -> list[Entry]:
    """Entries for ``names`` (default: the module's ``__all__``), skipping non-callables."""
    out = []
    for name in names if names is not None else module.__all__:
        obj = getattr(module, name)
        kind = _kind(obj)
        if kind is not None:
            out.append(Entry(f"{module.__name__}.{name}", kind, obj))
    return out


def _own_functions(module: types.ModuleType) -> list[str]:
    """Public functions defined in ``module`` itself (for modules without ``__all__``)."""
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and inspect.isfunction(obj)
        and obj.__module__ == module.__name__
    ]


def _methods(cls: type, prefix: str) -> list[Entry]:
    """Public methods and properties defined on ``cls`` and the jaxinit classes it is assembled
    from (``nn.Module``'s mixins), in MRO and source order."""
    out = []
    seen: set[str] = set()
    own = [k for k in cls.__mro__ if k is cls or k.__module__.startswith("jaxinit")]
    for name, obj in [(n, o) for k in own for n, o in vars(k).items()]:
        if name.startswith("_") or name in seen:
            continue
        seen.add(name)
        if isinstance(obj, property):
            out.append(Entry(f"{prefix}.{name}", "property", obj))
        elif isinstance(obj, (staticmethod, classmethod)):
            out.append(Entry(f"{prefix}.{name}", "method", obj.__func__))
        elif inspect.isfunction(obj):
            out.append(Entry(f"{prefix}.{name}", "method", obj))
    return out


def surface() -> list[Section]:
    """The documented surface, grouped by module, in the order the reference shows it."""
    jaxinit = importlib.import_module("jaxinit")
    init = importlib.import_module("jaxinit.init")
    nn = importlib.import_module("jaxinit.nn")
    devices = importlib.import_module("jaxinit.devices")
    serialization = importlib.import_module("jaxinit.serialization")
    interop = importlib.import_module("jaxinit.interop")
    generator = importlib.import_module("jaxinit.generator")
    testing = importlib.import_module("jaxinit.testing")
    optim = importlib.import_module("jaxinit.optim")
    lr_scheduler = importlib.import_module("jaxinit.optim.lr_scheduler")
    porting = importlib.import_module("jaxinit.porting")
    # nn.__all__ is not sorted by kind: show Module first, then the rest alphabetically.
    nn_names = sorted(nn.__all__, key=lambda n: (n != "Module", n.lower()))
    top = [n for n in jaxinit.__all__ if n != "TorchGenerator"]  # it has its own section
    return [
        Section("jaxinit", _doc(jaxinit), _names(jaxinit, top)),
        Section("jaxinit.init", _doc(init), _names(init)),
        Section("jaxinit.nn", _doc(nn), _names(nn, nn_names)),
        Section(
            "jaxinit.nn.Module",
            "The methods of `nn.Module`, the base class of every layer and model.",
            _methods(nn.Module, "jaxinit.nn.Module"),
        ),
        Section(
            "jaxinit.TorchGenerator",
            _doc(generator),
            [
                Entry("jaxinit.TorchGenerator", "class", generator.TorchGenerator),
                *_methods(generator.TorchGenerator, "jaxinit.TorchGenerator"),
            ],
        ),
        Section("jaxinit.devices", _doc(devices), _names(devices, _own_functions(devices))),
        Section("jaxinit.serialization", _summary(serialization), _names(serialization)),
        Section("jaxinit.interop", _doc(interop), _names(interop)),
        Section("jaxinit.testing", _doc(testing), _names(testing)),
        Section(
            "jaxinit.optim",
            _doc(optim),
            _names(optim, [n for n in optim.__all__ if n != "lr_scheduler"]),
        ),
        Section(
            "jaxinit.optim.Optimizer",
            "The methods every `jaxinit.optim` optimizer has.",
            _methods(optim.Optimizer, "jaxinit.optim.Optimizer"),
        ),
        Section("jaxinit.optim.lr_scheduler", _doc(lr_scheduler), _names(lr_scheduler)),
        Section("jaxinit.porting", _doc(porting), _names(porting)),
    ]


# ----------------------------------------------------------------------------------- rendering


def _doc(obj: Any) -> str:
    """``obj``'s own docstring, dedented ('' if it has none: classes do not inherit it here)."""
    if isinstance(obj, property):
        obj = obj.fget
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if doc else ""


def _summary(module: types.ModuleType) -> str:
    """The first paragraph of a module docstring (serialization's describes the file format
    at length; the reference keeps the overview)."""
    return _doc(module).split("\n\n")[0]


class _Text:
    """Shows as its text in a signature (annotations are strings under PEP 563)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _default(value: Any) -> Any:
    # A class default (jnp.float32) is shown as it is spelt, not as <class '...'>.
    if isinstance(value, type) and value is not inspect.Parameter.empty:
        module = {"jax.numpy": "jnp", "numpy": "np"}.get(value.__module__, value.__module__)
        return _Text(f"{module}.{value.__name__}")
    return value


def _annotation(annotation: Any) -> Any:
    if isinstance(annotation, str):  # PEP 563: the source text
        return _Text(annotation)
    if isinstance(annotation, typing.ForwardRef):  # NamedTuple fields under PEP 563
        return _Text(annotation.__forward_arg__)
    return annotation


def signature(entry: Entry) -> str:
    """``name(args) -> result`` as written in the source (annotations unevaluated)."""
    obj = entry.obj.fget if entry.kind == "property" else entry.obj
    name = entry.qualname.rsplit(".", 1)[1]
    if entry.kind == "property":
        ret = inspect.signature(obj).return_annotation
        return name if ret is inspect.Signature.empty else f"{name}: {ret}"
    if entry.kind == "class" and issubclass(obj, BaseException):
        return f"{name}({obj.__bases__[0].__name__})"
    target = obj
    if entry.kind == "class" and not hasattr(obj, "_fields"):  # namedtuples: their __new__
        target = obj.__init__
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return f"{name}(...)"
    params = list(sig.parameters.values())
    if entry.kind in ("class", "method") and params and params[0].name in ("self", "cls"):
        params = params[1:]
    params = [
        p.replace(annotation=_annotation(p.annotation), default=_default(p.default)) for p in params
    ]
    ret = sig.return_annotation
    if entry.kind == "class" or ret is inspect.Signature.empty:
        ret = inspect.Signature.empty
    elif isinstance(ret, str):
        ret = _Text(ret)
    text = str(sig.replace(parameters=params, return_annotation=ret))
    if "0x" in text:  # an address would make the output differ between runs
        raise ValueError(f"{entry.qualname}: a default has no stable repr: {text}")
    return f"{name}{text}"


_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|exc):`~?([^`]+)`")
_RST_RULE = re.compile(r"^=+( +=+)+$")  # the rules of an RST simple table


def _markdown(doc: str) -> str:
    """A docstring as markdown: RST roles become code spans (``x`` already is one), RST tables
    and the indented block after a line ending in ``:`` or ``::`` become fenced blocks
    (``python`` for examples, ``text`` otherwise)."""
    lines = _ROLE.sub(r"`\1`", doc).splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _RST_RULE.match(line):  # a table: three rules, text between them
            end, rules = i, 0
            while end < len(lines) and rules < 3:
                rules += bool(_RST_RULE.match(lines[end]))
                end += 1
            out += ["```text", *lines[i:end], "```"]
            i = end
            continue
        start = i + 1
        while start < len(lines) and not lines[start].strip():
            start += 1
        if (
            line.rstrip().endswith(":")
            and start < len(lines)
            and (_indent(lines[start]) > _indent(line))
        ):
            end = start
            while end < len(lines) and (
                not lines[end].strip() or _indent(lines[end]) > _indent(line)
            ):
                end += 1
            while not lines[end - 1].strip():
                end -= 1
            block = textwrap.dedent("\n".join(lines[start:end])).splitlines()
            code = line.rstrip().endswith("::") or block[0].startswith((">>>", "$"))
            lang = "text" if not code else "console" if block[0].startswith("$") else "python"
            out += [line.rstrip()[:-1] if line.rstrip().endswith("::") else line, ""]
            out += [f"```{lang}", *block, "```"]
            i = end
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip()) if line.strip() else 0


def _anchor(qualname: str) -> str:
    return qualname.lower().replace(".", "-")


def render(sections: list[Section]) -> str:
    lines = [HEADER, "## Contents", ""]
    for section in sections:
        lines.append(f"- [`{section.title}`](#{_anchor(section.title)})")
        for entry in section.entries:
            if entry.qualname == section.title:
                continue
            short = entry.qualname.removeprefix(section.title + ".")
            lines.append(f"  - [`{short}`](#{_anchor(entry.qualname)})")
    first: dict[int, str] = {}  # id(obj) -> where it is documented (jaxinit.load is
    for section in sections:  # jaxinit.serialization.load: documented once, linked after)
        lines += ["", f'<a id="{_anchor(section.title)}"></a>', "", f"## `{section.title}`", ""]
        if section.intro:
            lines += [_markdown(section.intro), ""]
        for entry in section.entries:
            if entry.qualname != section.title:
                lines += [f'<a id="{_anchor(entry.qualname)}"></a>', ""]
                lines += [f"### `{entry.qualname}`", ""]
            home = first.setdefault(id(entry.obj), entry.qualname)
            if home != entry.qualname:
                lines += [f"The same object as [`{home}`](#{_anchor(home)}).", ""]
                continue
            lines += ["```python", f"{_prefix(entry)}{signature(entry)}", "```", ""]
            doc = _doc(entry.obj)
            lines += [_markdown(doc) if doc else "*(no docstring)*", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _prefix(entry: Entry) -> str:
    return {"class": "class ", "property": "property "}.get(entry.kind, "")


def undocumented(sections: list[Section] | None = None) -> list[str]:
    """Qualified names of documented entries whose docstring has no line of text."""
    return [
        entry.qualname
        for section in sections or surface()
        for entry in section.entries
        if not _doc(entry.obj).strip()
    ]


# ----------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate docs/api.md from the docstrings.")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if docs/api.md is out of date, write nothing"
    )
    args = parser.parse_args(argv)
    text = render(surface())
    if args.check:
        current = API_MD.read_text(encoding="utf-8") if API_MD.exists() else ""
        if current != text:
            print(
                f"{API_MD.relative_to(ROOT)} is out of date: run `python docs/gen_api.py`",
                file=sys.stderr,
            )
            return 1
        print(f"{API_MD.relative_to(ROOT)} is up to date")
        return 0
    API_MD.write_text(text, encoding="utf-8")
    print(f"wrote {API_MD.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # import the jaxinit of this checkout
    sys.exit(main())
