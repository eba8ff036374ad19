"""How the ATen operations of a ``torch.export`` graph are spelled in jaxinit.

A ``forward`` that only ``torch.export`` can capture (:mod:`jaxinit.porting._export`) is a
graph of ATen operations (``aten.view.default``, ``aten.scaled_dot_product_attention``). Most
are torch functions or tensor methods under another name, with torch's argument order, and take
the spelling :mod:`jaxinit.porting.table` gives that function (``aten.cumsum`` ->
``ops.cumsum``). The rest are listed here: :data:`OPERATORS` (written as Python operators),
:data:`RENAMED` (another jaxinit function), :data:`SKIPPED` (checks with no effect on values)
and a few written by hand in :func:`spell` (indexing, ``embedding``'s argument order,
``dropout``'s mode and key).
"""

from __future__ import annotations

from typing import Any

from . import table

OPERATORS: dict[str, str] = {
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "div": "{0} / {1}",
    "floor_divide": "{0} // {1}",
    "remainder": "{0} % {1}",
    "pow": "{0} ** {1}",
    "eq": "{0} == {1}",
    "ne": "{0} != {1}",
    "lt": "{0} < {1}",
    "le": "{0} <= {1}",
    "gt": "{0} > {1}",
    "ge": "{0} >= {1}",
    "__and__": "{0} & {1}",
    "__or__": "{0} | {1}",
    "bitwise_and": "{0} & {1}",
    "bitwise_or": "{0} | {1}",
    "bitwise_not": "~{0}",
    "neg": "-{0}",
    "rsub": "{1} - {0}",
}
RENAMED: dict[str, str] = {
    "linear": "F.linear",
    "softmax": "F.softmax",
    "_softmax": "F.softmax",
    "log_softmax": "F.log_softmax",
    "gelu": "F.gelu",
    "silu": "F.silu",
    "relu": "F.relu",
    "conv1d": "F.conv1d",
    "conv2d": "F.conv2d",
    "scaled_dot_product_attention": "F.scaled_dot_product_attention",
    "minimum": "ops.min",
    "maximum": "ops.max",
    "alias": "ops.clone",
    "lift_fresh_copy": "ops.clone",
    "new_empty": "ops.new_zeros",
    "empty": "ops.zeros",
    "zeros": "ops.zeros",
    "ones": "ops.ones",
    "full": "ops.full",
    "sum": "ops.sum",
    "mean": "ops.mean",
}
SKIPPED: tuple[str, ...] = (
    "_assert_tensor_metadata",
    "_assert_scalar",
    "_assert_async",
    "sym_constrain_range_for_size",
    "sym_constrain_range",
)
_DROPPED_KWARGS = ("device", "layout", "pin_memory", "memory_format", "non_blocking", "copy")
_BIG = 2**62  # a slice end at or past this is "to the end"


def is_aten(fn: Any) -> bool:
    """Whether ``fn`` is an ATen operator overload (``torch.ops.aten.view.default``)."""
    return type(fn).__name__ == "OpOverload" and getattr(fn, "namespace", "") == "aten"


_RANDOM = (
    "bernoulli",
    "rand",
    "randn",
    "randint",
    "uniform",
    "normal",
    "native_dropout",
    "rrelu_with_noise",
    "randperm",
    "multinomial",
    "exponential",
    "alpha_dropout",
    "feature_alpha_dropout",
)


def draws(fn: Any) -> bool:
    """Whether ATen op ``fn`` draws random numbers other than through ``dropout``,
    ``feature_dropout`` and ``scaled_dot_product_attention`` (written mode-aware here)."""
    name = _name(fn).rstrip("_")
    return name in _RANDOM or name.startswith(("rand", "normal", "bernoulli"))


def _name(fn: Any) -> str:
    return fn._schema.name.split("::", 1)[1]


# written by hand in spell() (listed in docs/porting-coverage.md)
HAND_WRITTEN: dict[str, str] = {
    "sym_size": "`x.shape[d]`",
    "slice": "`x[:, a:b]`",
    "select": "`x[:, i]`",
    "index": "`x[i, j]` (None indices as `:`)",
    "embedding": "`F.embedding(ids, weight)`",
    "layer_norm": "`F.layer_norm` (without cudnn_enable)",
    "dropout": "`F.dropout(x, p, training=self.training, rng=...)`, `x` when p is 0",
    "feature_dropout": "`F.dropout1d(...)` likewise",
    "scaled_dot_product_attention": "`F.scaled_dot_product_attention`, `dropout_p=p if "
    "self.training else 0.0`",
    "to": "`ops.to(x, dtype=...)`, `x` for a device move",
    "clamp_min": "`ops.clamp(x, min=v)`",
    "clamp_max": "`ops.clamp(x, max=v)`",
}


def spell(r: Any, node: Any) -> str | None:
    """The expression for ATen call ``node`` (``r`` is the :class:`Renderer`); None for a
    call to drop. Unsupported operations are recorded as problems of ``r``."""
    from ._forward import Source, _NextKey, _SelfTraining

    name = _name(node.target)
    args, kwargs = (
        list(node.args),
        {k: v for k, v in node.kwargs.items() if k not in _DROPPED_KWARGS},
    )
    f = r.fmt
    if name in SKIPPED:
        return None
    if name == "sym_size":
        return f"{f(args[0], node)}.shape[{f(args[1], node)}]"
    if name in ("slice", "select"):
        x, dim = args[0], args[1] if len(args) > 1 else kwargs.get("dim", 0)
        if name == "select":
            item: Any = args[2]
        else:
            start = args[2] if len(args) > 2 else kwargs.get("start")
            end = args[3] if len(args) > 3 else kwargs.get("end")
            step = args[4] if len(args) > 4 else kwargs.get("step", 1)
            end = None if isinstance(end, int) and end >= _BIG else end
            start = None if start == 0 else start
            item = slice(start, end, None if step == 1 else step)
            if item == slice(None):
                return f(x, node)
        idx = _at_dim(item, dim)
        return f"{f(x, node)}[{r.index(idx, node)}]"
    if name == "index":
        idx = tuple(slice(None) if i is None else i for i in args[1])
        return f"{f(args[0], node)}[{r.index(idx, node)}]"
    if name == "embedding":
        weight, ids = args[0], args[1]
        return f"F.embedding({f(ids, node)}, {f(weight, node)})"
    if name == "layer_norm":
        return r.call("F.layer_norm", tuple(args[:5]), {}, node)
    if name in ("dropout", "feature_dropout"):
        x, p, train = args[0], args[1], args[2]
        if not train or p == 0:
            return f(x, node)
        r.uses_rng = True
        fn = "F.dropout" if name == "dropout" else "F.dropout1d"
        kw = {"training": _SelfTraining(), "rng": _NextKey(if_training=True)}
        return r.call(fn, (x, p), kw, node)
    if name == "to" or name == "_to_copy":
        dtype = kwargs.get("dtype")
        if dtype is None:
            dtype = next((a for a in args[1:] if _is_dtype(a)), None)
        return r.call("ops.to", (args[0],), {"dtype": dtype}, node) if dtype else f(args[0], node)
    if name in OPERATORS and not kwargs:
        return OPERATORS[name].format(*(f(a, node) for a in args))
    if name == "scaled_dot_product_attention":
        p = args[4] if len(args) > 4 else kwargs.pop("dropout_p", 0.0)
        if len(args) > 5:
            kwargs["is_causal"] = args[5]
        args = args[:4]
        if p:  # captured in train mode: the probability of torch's `p if self.training`
            r.uses_rng = True
            kwargs["dropout_p"] = Source(f"{p!r} if self.training else 0.0")
            kwargs["rng"] = _NextKey(if_training=True)
    if name == "clamp_min":
        return r.call("ops.clamp", (args[0],), {"min": args[1]}, node)
    if name == "clamp_max":
        return r.call("ops.clamp", (args[0],), {"max": args[1]}, node)
    spelling = RENAMED.get(name) or _table_spelling(name)
    if spelling is None:
        r.problem(node, f"operation aten.{name} (captured by torch.export)")
        return "None"
    return r.call(spelling, tuple(args), kwargs, node)


def _is_dtype(a: Any) -> bool:
    return type(a).__name__ == "dtype"


def _at_dim(item: Any, dim: int) -> tuple:
    """An index tuple selecting ``item`` along axis ``dim`` (negative counts from the end)."""
    if dim >= 0:
        return (slice(None),) * dim + (item,)
    return (Ellipsis, item) + (slice(None),) * (-dim - 1)


def _table_spelling(name: str) -> str | None:
    import torch

    fn = getattr(torch, name, None)
    spelling = table.lookup(fn) if fn is not None else None
    return spelling or table.lookup_method(name)
