"""The report of :func:`jaxinit.testing.compare`: dataclasses and the printed table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HParamMismatch:
    """One difference between the module trees: ``field`` is a hyper-parameter name,
    ``'type'`` (different layer classes) or ``'module'`` (present on one side only; the
    other value is None)."""

    module: str
    field: str
    torch_value: Any
    jaxinit_value: Any

    @property
    def fatal(self) -> bool:
        """A differing hyper-parameter fails the comparison; a module on one side only or
        a custom layer type is reported and left to the output rows."""
        return self.field not in ("module", "type")

    def describe(self) -> str:
        """``'layer1.0.conv1: padding differs (torch (1, 1), jaxinit (0, 0))'``."""
        where = self.module or "(model)"
        if self.field == "module":
            side = "torch" if self.jaxinit_value is None else "jaxinit"
            kind = self.torch_value if self.jaxinit_value is None else self.jaxinit_value
            return f"{where}: {side} only ({kind})"
        if self.field == "type":
            return (
                f"{where}: layer type differs (torch {self.torch_value}, "
                f"jaxinit {self.jaxinit_value})"
            )
        return (
            f"{where}: {self.field} differs (torch {self.torch_value!r}, "
            f"jaxinit {self.jaxinit_value!r})"
        )


@dataclass(frozen=True)
class StateDictDiff:
    """torch's ``state_dict`` against the port's: ``missing`` keys (torch has, the port
    lacks), ``unexpected`` keys (the port has, torch lacks), and ``(key, torch, jaxinit)``
    triples for differing ``shapes`` and ``dtypes``. int64 buffers stored as int32 (JAX
    without x64) are not a difference."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    shapes: list[tuple[str, tuple, tuple]] = field(default_factory=list)
    dtypes: list[tuple[str, str, str]] = field(default_factory=list)
    num_keys: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.shapes or self.dtypes)

    def lines(self) -> list[str]:
        if self.ok:
            return [f"state_dict: the {self.num_keys} keys agree in name, shape and dtype"]
        out = ["state_dict differs:"]
        out += [f"  missing in the port: {k}" for k in self.missing]
        out += [f"  unexpected in the port: {k}" for k in self.unexpected]
        out += [f"  {k}: shape torch {t}, jaxinit {j}" for k, t, j in self.shapes]
        out += [f"  {k}: dtype torch {t}, jaxinit {j}" for k, t, j in self.dtypes]
        return out


@dataclass(frozen=True)
class Row:
    """One submodule call. ``ok`` is None for a call with no counterpart on the other side
    (a custom layer, a functional call): reported, not a failure. ``call`` counts the calls
    of the same name (a shared module called twice has rows ``call=0`` and ``call=1``)."""

    name: str
    call: int
    torch_type: str | None
    jaxinit_type: str | None
    torch_shape: Any
    jaxinit_shape: Any
    torch_dtype: Any
    jaxinit_dtype: Any
    max_abs: float | None
    max_rel: float | None
    ok: bool | None
    note: str = ""
    worst: str = ""  # the element furthest outside the tolerance, when ok is False

    @property
    def label(self) -> str:
        name = self.name or "(model)"
        return name if self.call == 0 else f"{name} (call {self.call + 1})"


@dataclass(frozen=True)
class ValueRow:
    """A named array compared after the call: a buffer (``train=True``) or a gradient
    (``grads=True``)."""

    name: str
    max_abs: float | None
    max_rel: float | None
    ok: bool
    note: str = ""


@dataclass
class CompareReport:
    """What :func:`jaxinit.testing.compare` found; ``print(report)`` for the table."""

    rows: list[Row]
    hparam_mismatches: list[HParamMismatch]
    state_dict: StateDictDiff
    buffers: list[ValueRow] = field(default_factory=list)
    grads: list[ValueRow] = field(default_factory=list)
    train: bool = False
    rtol: float = 1e-5
    atol: float = 1e-6
    notes: list[str] = field(default_factory=list)
    error: str | None = None  # the exception the port raised, if it did
    random_layers: list[str] = field(default_factory=list)  # layers drawing random numbers

    @property
    def first_mismatch(self) -> str | None:
        """The dotted name of the first submodule, in execution order (a row is written when
        its call returns, so children come before their parent), whose output differs."""
        for row in self.rows:
            if row.ok is False:
                return row.name
        return None

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and all(r.ok is not False for r in self.rows)
            and not any(m.fatal for m in self.hparam_mismatches)
            and self.state_dict.ok
            and all(b.ok for b in self.buffers)
            and all(g.ok for g in self.grads)
        )

    def explain(self, name: str) -> str:
        """Why the submodule ``name`` differs, in one line."""
        fields = [m.describe() for m in self.hparam_mismatches if m.module == name and m.fatal]
        if fields:
            return "; ".join(fields)
        where = name or "(model)"
        row = next(r for r in self.rows if r.name == name and r.ok is False)
        if row.note == "shape differs":
            return (
                f"{where}: output shape differs (torch {_fmt(row.torch_shape)}, "
                f"jaxinit {_fmt(row.jaxinit_shape)})"
            )
        if row.note == "dtype differs":
            return (
                f"{where}: output dtype differs (torch {_fmt(row.torch_dtype)}, "
                f"jaxinit {_fmt(row.jaxinit_dtype)})"
            )
        if row.note:
            return f"{where}: {row.note}"
        at = f", worst {row.worst}" if row.worst else ""
        if self.train and self.random_layers:
            return (
                f"{where}: values differ (max_abs {row.max_abs:.3g}{at}) in train mode, where "
                f"layers draw random numbers ({', '.join(self.random_layers)}) that torch and "
                "JAX draw differently: compare in eval (train=False), or with their "
                "probabilities at 0"
            )
        return (
            f"{where}: values differ (max_abs {row.max_abs:.3g}, max_rel {row.max_rel:.3g}"
            f"{at}) with equal hyper-parameters: compare its forward and its inputs"
        )

    def _type_cause(self, first: str | None) -> str:
        """A layer of another type than torch's at the same name: the likely cause of a
        mismatch at or after it. The one at ``first`` (or around it) is preferred."""
        types = [m for m in self.hparam_mismatches if m.field == "type"]
        if not types:
            return ""

        def near(m: HParamMismatch) -> bool:
            return first is not None and (
                m.module == first
                or first.startswith(m.module + ".")
                or m.module.startswith(first + ".")
            )

        m = next((m for m in types if near(m)), types[0])
        return (
            f" -- likely cause: {m.module} is a {m.jaxinit_value} where torch has a {m.torch_value}"
        )

    def headline(self) -> str:
        if self.ok:
            return "jaxinit.testing.compare: OK, the port matches torch"
        first = self.first_mismatch
        raised = "" if self.error is None else f"; then the port raised {self.error}"
        if first is not None:
            return (
                f"jaxinit.testing.compare: MISMATCH, first at {self.explain(first)}"
                f"{self._type_cause(first)}{raised}"
            )
        if self.error is not None:
            return f"jaxinit.testing.compare: the port raised {self.error}"
        fatal = [m.describe() for m in self.hparam_mismatches if m.fatal]
        if fatal:
            return f"jaxinit.testing.compare: MISMATCH, {fatal[0]}"
        if not self.state_dict.ok:
            return "jaxinit.testing.compare: MISMATCH in the state_dict"
        what = [r.name for r in self.buffers + self.grads if not r.ok]
        kind = "buffer" if any(b.name == what[0] for b in self.buffers) else "gradient"
        return f"jaxinit.testing.compare: MISMATCH, first at {kind} {what[0]}"

    def __str__(self) -> str:
        lines = [self.headline(), ""]
        lines.append("Hyper-parameters (compared by module name before any number):")
        if self.hparam_mismatches:
            lines += [f"  {m.describe()}" for m in self.hparam_mismatches]
        else:
            lines.append("  every module and field agrees")
        lines += [""] + self.state_dict.lines() + [""]
        mode = "train" if self.train else "eval"
        lines.append(
            f"Outputs ({mode} mode; one row per call, written when the call returns; ok when "
            f"every element has |jaxinit - torch| <= atol + rtol * |torch| (torch.testing's "
            f"rule), rtol {self.rtol:g}, atol {self.atol:g}):"
        )
        lines += _table(self.rows, self.first_mismatch)
        for title, values in (
            ("Buffers after the call", self.buffers),
            ("Gradients of the loss", self.grads),
        ):
            if values:
                lines += ["", f"{title}:"] + _value_lines(values)
        lines += [""] + self.notes if self.notes else []
        return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple) and all(isinstance(d, int) for d in value):
        return "(" + ", ".join(map(str, value)) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.2e}"


def _table(rows: list[Row], first: str | None) -> list[str]:
    head = ("name", "torch", "jaxinit", "shape", "dtype", "max_abs", "max_rel", "")
    body = []
    marked = False
    for r in rows:
        shape = _fmt(r.torch_shape if r.torch_shape is not None else r.jaxinit_shape)
        if (
            r.torch_shape is not None
            and r.jaxinit_shape is not None
            and r.torch_shape != r.jaxinit_shape
        ):
            shape = f"{_fmt(r.torch_shape)} vs {_fmt(r.jaxinit_shape)}"
        dtype = _fmt(r.torch_dtype if r.torch_dtype is not None else r.jaxinit_dtype)
        if (
            r.torch_dtype is not None
            and r.jaxinit_dtype is not None
            and r.torch_dtype != r.jaxinit_dtype
        ):
            dtype = f"{_fmt(r.torch_dtype)} vs {_fmt(r.jaxinit_dtype)}"
        status = {True: "ok", False: "MISMATCH", None: r.note}[r.ok]
        if r.ok is False and r.name == first and not marked:
            status += "  <-- first mismatch"
            marked = True
        elif r.ok is False and r.note:
            status += f" ({r.note})"
        body.append(
            (
                r.label,
                r.torch_type or "-",
                r.jaxinit_type or "-",
                shape,
                dtype,
                _num(r.max_abs),
                _num(r.max_rel),
                status,
            )
        )
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(7)]
    out = []
    for row in [head, *body]:
        cells = [row[i].ljust(widths[i]) for i in range(7)]
        out.append(("  " + "  ".join(cells) + "  " + row[7]).rstrip())
    return out


def _value_lines(values: list[ValueRow]) -> list[str]:
    width = max(len(v.name) for v in values)
    out = []
    for v in values:
        status = "ok" if v.ok else "MISMATCH"
        note = f" ({v.note})" if v.note else ""
        out.append(f"  {v.name.ljust(width)}  {_num(v.max_abs)}  {_num(v.max_rel)}  {status}{note}")
    return out
