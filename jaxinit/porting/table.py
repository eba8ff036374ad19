"""The one table of torch operations a port translates, and how each is spelled in jaxinit.

Every function call, tensor method and operator that ``torch.fx`` records in a ``forward`` is
looked up here (``jaxinit.porting.to_source`` writes the spelling, ``docs/gen_porting.py``
lists the table in docs/porting-coverage.md):

* ``torch.nn.functional.<name>`` -> ``F.<name>`` for every function ``jaxinit.nn.functional``
  has (same signature, so arguments pass through unchanged);
* ``torch.<name>`` and the tensor method ``x.<name>(...)`` -> ``ops.<name>(x, ...)`` for every
  function of :mod:`jaxinit.porting.ops` (torch's semantics on ``jax.numpy``), and the in-place
  method ``x.<name>_(...)`` -> the same function, its result taking ``x``'s place;
* Python operators (``+``, ``@``, ``x[i]``, ``+=``) -> the same operator;
* :data:`EXTRA_FUNCTIONS` and :data:`EXTRA_METHODS`: torch spellings that name another
  jaxinit function (``torch.softmax`` -> ``F.softmax``); :data:`SKIPPED`: calls with no effect
  on values (``torch._assert``).

Keys are torch's public dotted names; :func:`lookup` resolves them to torch's objects once
(torch is imported only then).
"""

from __future__ import annotations

import functools
import importlib
import operator
import sys
from typing import Any

from jaxinit.nn import functional as _F

from . import ops as _ops

# operators: the function FX records -> a format of its operand strings
OPERATORS: dict[Any, str] = {
    operator.add: "{0} + {1}",
    operator.sub: "{0} - {1}",
    operator.mul: "{0} * {1}",
    operator.truediv: "{0} / {1}",
    operator.floordiv: "{0} // {1}",
    operator.mod: "{0} % {1}",
    operator.pow: "{0} ** {1}",
    operator.matmul: "{0} @ {1}",
    operator.neg: "-{0}",
    operator.pos: "+{0}",
    operator.invert: "~{0}",
    operator.and_: "{0} & {1}",
    operator.or_: "{0} | {1}",
    operator.xor: "{0} ^ {1}",
    operator.eq: "{0} == {1}",
    operator.ne: "{0} != {1}",
    operator.lt: "{0} < {1}",
    operator.le: "{0} <= {1}",
    operator.gt: "{0} > {1}",
    operator.ge: "{0} >= {1}",
    operator.not_: "not {0}",
    operator.iadd: "{0} + {1}",
    operator.isub: "{0} - {1}",
    operator.imul: "{0} * {1}",
    operator.itruediv: "{0} / {1}",
    operator.ifloordiv: "{0} // {1}",
}
INPLACE_OPERATORS = (
    operator.iadd,
    operator.isub,
    operator.imul,
    operator.itruediv,
    operator.ifloordiv,
)

# torch spellings of another jaxinit function
EXTRA_FUNCTIONS: dict[str, str] = {
    "torch.softmax": "F.softmax",
    "torch.log_softmax": "F.log_softmax",
    "torch.nn.functional.relu6": "F.relu6",
    "torch.sigmoid": "ops.sigmoid",
    "torch.tanh": "ops.tanh",
    "torch.nn.functional.sigmoid": "ops.sigmoid",
    "torch.nn.functional.tanh": "ops.tanh",
    "torch.dropout": "F.dropout",
    "torch.layer_norm": "F.layer_norm",
    "torch.conv2d": "F.conv2d",
    "torch.nn.functional.scaled_dot_product_attention": "F.scaled_dot_product_attention",
    "torch.nn.utils.rnn.pack_padded_sequence": "rnn_utils.pack_padded_sequence",
    "torch.nn.utils.rnn.pad_packed_sequence": "rnn_utils.pad_packed_sequence",
    "torch.nn.utils.rnn.pad_sequence": "rnn_utils.pad_sequence",
    "torchvision.ops.stochastic_depth.stochastic_depth": "ops.stochastic_depth",
    "torchvision.ops.stochastic_depth": "ops.stochastic_depth",
    **{
        f"torchvision.models.swin_transformer.{name}": f"vision_ops.{name.lstrip('_')}"
        for name in (
            "_patch_merging_pad",
            "_get_relative_position_bias",
            "shifted_window_attention",
        )
    },
}
EXTRA_METHODS: dict[str, str] = {
    "softmax": "F.softmax",
    "log_softmax": "F.log_softmax",
}
SKIPPED: tuple[str, ...] = ("torch._assert", "torch._assert_async")

# functions that draw random numbers get rng=self.next_key() when the call draws: every group
# of (argument, position, torch's default) has a true value (training, and a probability > 0)
_TRAINING2, _P1 = ("training", 2, True), ("p", 1, 0.5)
RANDOM: dict[str, tuple[tuple[tuple[str, int, Any], ...], ...]] = {
    "F.dropout": ((_TRAINING2,), (_P1,)),
    "F.dropout1d": ((_TRAINING2,), (_P1,)),
    "F.dropout2d": ((_TRAINING2,), (_P1,)),
    "F.dropout3d": ((_TRAINING2,), (_P1,)),
    "F.alpha_dropout": ((("training", 2, False),), (_P1,)),
    "F.feature_alpha_dropout": ((("training", 2, False),), (_P1,)),
    "ops.stochastic_depth": ((("training", 3, True),), (("p", 1, 0.0),)),
    "F.scaled_dot_product_attention": ((("dropout_p", 4, 0.0),),),
    "vision_ops.shifted_window_attention": (
        (("training", 12, True),),
        (("attention_dropout", 7, 0.0), ("dropout", 8, 0.0)),
    ),
}
# attributes of a tensor that read the same on a JAX array
ATTRIBUTES: tuple[str, ...] = ("shape", "dtype", "ndim", "T", "mT", "device", "is_cuda")


def _public(module: Any) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return [n for n in names if callable(getattr(module, n, None))]


def functional_names() -> list[str]:
    """``torch.nn.functional`` names that ``jaxinit.nn.functional`` has."""
    return sorted(n for n in _public(_F) if not n[0].isupper())


def ops_names() -> list[str]:
    """Functions of :mod:`jaxinit.porting.ops` (torch functions and tensor methods)."""
    return sorted(
        n
        for n, v in vars(_ops).items()
        if callable(v)
        and not n.startswith("_")
        and getattr(v, "__module__", "") == _ops.__name__
        and not isinstance(v, type)
    )


# functions of ops that torch has only as tensor methods
METHOD_ONLY = (
    "view",
    "view_as",
    "reshape_as",
    "size",
    "dim",
    "contiguous",
    "expand",
    "expand_as",
    "repeat",
    "type_as",
    "float",
    "half",
    "double",
    "long",
    "int",
    "bool",
    "to",
    "new_zeros",
    "new_ones",
    "new_full",
)


def function_table() -> dict[str, str]:
    """torch's dotted function name -> its jaxinit spelling (``F.x``, ``ops.x``)."""
    table = {f"torch.nn.functional.{n}": f"F.{n}" for n in functional_names()}
    table.update({f"torch.{n}": f"ops.{n}" for n in ops_names() if n not in METHOD_ONLY})
    table.update(EXTRA_FUNCTIONS)
    return table


def method_table() -> dict[str, str]:
    """Tensor method name -> its jaxinit spelling (called with the tensor first)."""
    table = {n: f"ops.{n}" for n in ops_names()}
    table.update(EXTRA_METHODS)
    return table


def _resolve(dotted: str) -> Any:
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for p in parts[cut:]:
                obj = getattr(obj, p)
        except AttributeError:
            return None
        return obj
    return None


@functools.cache
def _by_object() -> dict[int, tuple[Any, str]]:
    """id(torch function) -> (the function, its spelling); resolved once, torch imported."""
    out: dict[int, tuple[Any, str]] = {}
    for name in SKIPPED:
        obj = _resolve(name)
        if obj is not None:
            out[id(obj)] = (obj, "")
    for name, spelling in function_table().items():
        if name.startswith("torchvision.") and "torchvision" not in sys.modules:
            continue
        obj = _resolve(name)
        if obj is not None and id(obj) not in out:
            out[id(obj)] = (obj, spelling)
    return out


def lookup(fn: Any) -> str | None:
    """The jaxinit spelling of the torch function ``fn``: ``'F.relu'``, ``'ops.cat'``,
    ``''`` for a call to drop (``torch._assert``), None when there is none.

    Example: ``lookup(torch.flatten) == 'ops.flatten'``.
    """
    hit = _by_object().get(id(fn))
    return hit[1] if hit is not None and hit[0] is fn else None


def lookup_method(name: str) -> str | None:
    """The spelling of tensor method ``name`` (``'view'`` -> ``'ops.view'``), or None; an
    in-place name (``'relu_'``) gives its out-of-place function."""
    table = method_table()
    if name in table:
        return table[name]
    if name.endswith("_") and not name.endswith("__"):
        return table.get(name[:-1])
    return None
