"""Module trees compared name by name, and hyper-parameters field by field.

jaxinit layers store their hyper-parameters under torch's attribute names with torch's stored
types (``Conv2d.padding == (1, 1)``, ``BatchNorm2d.eps``, ``GELU.approximate``), so a port and
its torch reference can be compared without running either: every field of :data:`FIELDS`
present on both modules of the same name is compared after :func:`normalize`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .report import HParamMismatch

# torch's hyper-parameter attribute names (``inplace`` is left out on purpose: it changes
# nothing a port computes).
FIELDS: tuple[str, ...] = (
    # sizes
    "in_features",
    "out_features",
    "in_channels",
    "out_channels",
    "num_features",
    "num_embeddings",
    "embedding_dim",
    "input_size",
    "hidden_size",
    "proj_size",
    "embed_dim",
    "kdim",
    "vdim",
    "num_heads",
    "num_layers",
    "num_groups",
    "num_channels",
    "normalized_shape",
    "output_size",
    # convolution and pooling
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "output_padding",
    "padding_mode",
    "ceil_mode",
    "count_include_pad",
    "divisor_override",
    "return_indices",
    # normalization
    "eps",
    "momentum",
    "affine",
    "track_running_stats",
    "elementwise_affine",
    # presence of a bias (or torch's bias flag on recurrent layers)
    "bias",
    "add_bias_kv",
    "add_zero_attn",
    # activations
    "approximate",
    "negative_slope",
    "alpha",
    "beta",
    "threshold",
    "lambd",
    "min_val",
    "max_val",
    "dim",
    "activation",
    "nonlinearity",
    # dropout (a float; a Dropout child is compared as a module of its own)
    "p",
    "dropout",
    # embeddings
    "padding_idx",
    "max_norm",
    "norm_type",
    "scale_grad_by_freq",
    "sparse",
    # recurrent and attention layers
    "batch_first",
    "bidirectional",
    "norm_first",
    # reshaping and resampling
    "start_dim",
    "end_dim",
    "scale_factor",
    "mode",
    "align_corners",
    "upscale_factor",
)

_MISSING = object()


def _is_module(value: Any) -> bool:
    from jaxinit.nn import Module

    if isinstance(value, Module):
        return True
    return any(
        c.__name__ == "Module" and c.__module__.startswith("torch") for c in type(value).__mro__
    )


def normalize(field: str, value: Any) -> Any:
    """A comparable form of a hyper-parameter value, the same for torch and jaxinit.

    Sequences (``torch.Size``, lists) become tuples; a parameter, tensor or declaration
    stored under ``bias`` becomes ``True`` (present) and ``None`` ``False``; a function
    (``activation=F.gelu``) becomes its ``__name__``. Returns ``_MISSING`` for values that are
    not hyper-parameters (modules: they are compared as modules of their own).

    Example: ``normalize('stride', torch.Size([2, 2])) == (2, 2)``.
    """
    if value is _MISSING or _is_module(value):
        return _MISSING
    if field in ("bias", "add_bias_kv") and not isinstance(value, bool):
        return value is not None
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return tuple(normalize(field, v) for v in value)
    if callable(value) and not isinstance(value, type):
        return getattr(value, "__name__", type(value).__name__)
    if hasattr(value, "shape") and hasattr(value, "dtype"):  # an array where a field is
        return _MISSING
    return value


def _get(module: Any, field: str) -> Any:
    try:
        return getattr(module, field)
    except Exception:  # noqa: BLE001 -- a property that fails is no hyper-parameter
        return _MISSING


def _named(modules: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, m in modules:
        out.setdefault(name, m)
    return out


def compare_hparams(torch_module: Any, net: Any) -> list[HParamMismatch]:
    """Every difference between the two module trees, by dotted name, in torch's order.

    Entries are a module present on one side only (``field='module'``), a different layer
    type below the root (``field='type'``: reported, not compared further), and each field of
    :data:`FIELDS` present on both modules whose normalized values differ.

    Example: ``[m.describe() for m in compare_hparams(tm, net)]`` ->
    ``["layer1.0.conv1: padding differs (torch (1, 1), jaxinit (0, 0))"]``.
    """
    t_mods = _named(torch_module.named_modules(remove_duplicate=False))
    j_mods = _named(net.named_modules(remove_duplicate=False))
    out: list[HParamMismatch] = []
    for name, tm in t_mods.items():
        jm = j_mods.get(name)
        if jm is None:
            out.append(HParamMismatch(name, "module", type(tm).__name__, None))
            continue
        t_type, j_type = type(tm).__name__, type(jm).__name__
        if t_type != j_type and name:  # the models themselves may be named as one likes
            out.append(HParamMismatch(name, "type", t_type, j_type))
            continue
        for field in FIELDS:
            tv = normalize(field, _get(tm, field))
            jv = normalize(field, _get(jm, field))
            if tv is _MISSING or jv is _MISSING:
                continue
            if not _equal(tv, jv):
                out.append(HParamMismatch(name, field, tv, jv))
    for name, jm in j_mods.items():
        if name not in t_mods:
            out.append(HParamMismatch(name, "module", None, type(jm).__name__))
    return out


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) != isinstance(b, bool):  # True == 1, but bias=True is no size
        return False
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 -- incomparable values differ
        return False
