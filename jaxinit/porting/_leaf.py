"""A torch layer that jaxinit has, as the jaxinit constructor call with its hyper-parameters.

jaxinit's layers take torch's constructor arguments and store them under torch's attribute
names, so each argument of the jaxinit constructor is read from the torch module's attribute
of the same name (a parameter stored under ``bias`` means ``bias=True``); the few arguments
torch keeps elsewhere are in :data:`_ELSEWHERE`. ``jaxinit.testing.compare`` checks the
result field by field (:mod:`jaxinit.testing.hparams`).
"""

from __future__ import annotations

import inspect
from typing import Any

import jaxinit.nn as jnn

CONTAINERS = ("Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict")

# jaxinit argument -> how to read it from a torch module of that class
_ELSEWHERE: dict[tuple[str, str], Any] = {
    ("MultiheadAttention", "bias"): lambda m: m.in_proj_bias is not None,
    ("MultiheadAttention", "add_bias_kv"): lambda m: m.bias_k is not None,
    ("TransformerEncoderLayer", "bias"): lambda m: m.linear1.bias is not None,
    ("TransformerDecoderLayer", "bias"): lambda m: m.linear1.bias is not None,
    ("TransformerEncoderLayer", "nhead"): lambda m: m.self_attn.num_heads,
    ("TransformerDecoderLayer", "nhead"): lambda m: m.self_attn.num_heads,
    ("TransformerEncoderLayer", "dim_feedforward"): lambda m: m.linear1.out_features,
    ("TransformerDecoderLayer", "dim_feedforward"): lambda m: m.linear1.out_features,
    ("TransformerEncoderLayer", "d_model"): lambda m: m.linear1.in_features,
    ("TransformerDecoderLayer", "d_model"): lambda m: m.linear1.in_features,
    ("TransformerEncoderLayer", "dropout"): lambda m: m.dropout.p,
    ("TransformerDecoderLayer", "dropout"): lambda m: m.dropout.p,
    ("TransformerEncoderLayer", "layer_norm_eps"): lambda m: m.norm1.eps,
    ("TransformerDecoderLayer", "layer_norm_eps"): lambda m: m.norm1.eps,
}
_SKIP = {
    "self",
    "device",
    "dtype",
    "_weight",
    "_freeze",
    "encoder_layer",
    "decoder_layer",
    "custom_encoder",
    "custom_decoder",
    "mode",
}


def jaxinit_class(torch_module: Any) -> type | None:
    """The jaxinit layer class of a torch.nn layer (by torch's class name), or None for
    anything else (a user class, a torch.nn class jaxinit lacks)."""
    cls = type(torch_module)
    if not cls.__module__.startswith("torch.nn."):
        return None
    found = getattr(jnn, cls.__name__, None)
    return found if isinstance(found, type) and issubclass(found, jnn.Module) else None


def jaxinit_base(torch_cls: type) -> type | None:
    """The jaxinit class of the nearest torch.nn base class of a user class
    (``torchvision``'s ``LayerNorm2d(nn.LayerNorm)`` -> ``jaxinit.nn.LayerNorm``)."""
    for base in torch_cls.__mro__[1:]:
        if base.__module__.startswith("torch.nn.") and base.__name__ != "Module":
            found = getattr(jnn, base.__name__, None)
            if isinstance(found, type):
                return found
    return None


def _value(m: Any, cls_name: str, name: str) -> Any:
    getter = _ELSEWHERE.get((cls_name, name))
    if getter is not None:
        return getter(m)
    if name in m.__dict__ or hasattr(type(m), name):
        v = getattr(m, name)
    elif name in getattr(m, "_parameters", {}) or name in getattr(m, "_buffers", {}):
        v = getattr(m, name)
    else:
        raise AttributeError(name)
    if name == "bias" and not isinstance(v, bool):
        return v is not None
    if type(v).__name__ == "Size":
        return tuple(v)
    return v


def _is_default(v: Any, default: Any) -> bool:
    if default is inspect.Parameter.empty:
        return False
    if isinstance(v, tuple) and not isinstance(default, tuple):
        return all(x == default and type(x) is type(default) for x in v)
    try:
        return type(v) is type(default) and bool(v == default)
    except Exception:  # noqa: BLE001
        return False


def _signature(jcls: type) -> inspect.Signature:
    """The first ``__init__`` up the MRO with named parameters (``LSTM(*args, **kwargs)``
    passes them to ``RNNBase``)."""
    for c in jcls.__mro__:
        if "__init__" in vars(c):
            sig = inspect.signature(c.__init__)
            if any(
                p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
                for p in sig.parameters.values()
            ):
                return sig
    return inspect.signature(jcls.__init__)


def constructor_args(torch_module: Any, jcls: type) -> tuple[list[Any], dict[str, Any], list[str]]:
    """``(positional, keyword, missing)`` arguments of ``jcls`` for ``torch_module``:
    required arguments positionally, the others by keyword where they differ from the
    default; ``missing`` names required arguments torch does not store."""
    import torch

    sig = _signature(jcls)
    pos, kw, missing = [], {}, []
    for p in sig.parameters.values():
        if p.name in _SKIP or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        try:
            v = _value(torch_module, jcls.__name__, p.name)
        except AttributeError:
            if p.default is inspect.Parameter.empty:
                missing.append(p.name)
            continue
        if isinstance(v, (torch.Tensor, torch.nn.Module)):
            continue
        if p.default is inspect.Parameter.empty and p.kind != p.KEYWORD_ONLY and not kw:
            pos.append(v)
        elif not _is_default(v, p.default):
            kw[p.name] = v
    if "dtype" in sig.parameters:
        dtypes = {t.dtype for t in torch_module.parameters(recurse=False)}
        if dtypes and dtypes != {torch.float32}:
            kw["dtype"] = next(iter(dtypes))
    return pos, kw, missing
