"""``compare`` and ``assert_matches_torch``: a jaxinit port against its torch reference."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import jax
import numpy as np

from . import _run
from .hparams import compare_hparams
from .report import CompareReport, Row, StateDictDiff, ValueRow

# float16/bfloat16 rows: rtol and atol at least _LOW_RTOL machine epsilons (elementwise, a
# value that cancels to near 0 -- BatchNorm's x - mean -- keeps a few ulps of its inputs' scale).
_LOW_RTOL = 4


def tolerances(dtype: Any, rtol: float, atol: float) -> tuple[float, float]:
    """The tolerances for arrays of ``dtype``: as given for float32 and wider; raised to at
    least ``4 * eps`` (rtol and atol) for float16 and bfloat16 (eps 2**-10 and 2**-7); zero
    for integers and booleans (exact).

    Example: ``tolerances(jnp.bfloat16, 1e-5, 1e-6) == (0.03125, 0.03125)``.
    """
    dt = np.dtype(dtype)
    if dt.kind in "biu":
        return 0.0, 0.0
    if dt.kind == "f" and dt.itemsize == 2 or dt.name == "bfloat16":
        eps = float(jax.numpy.finfo(dt).eps)
        return max(rtol, _LOW_RTOL * eps), max(atol, _LOW_RTOL * eps)
    return rtol, atol


def _excess(t: np.ndarray, j: np.ndarray, rtol: float, atol: float) -> tuple:
    """``(d, allowed, |t|)`` per element, in float64, with the dtype's tolerances: ``d`` is
    ``|t - j|`` (0 where both are NaN, inf where one is), ``allowed = atol + rtol * |t|``;
    equal infinities agree."""
    low = t.dtype if t.dtype.itemsize <= j.dtype.itemsize else j.dtype
    rtol, atol = tolerances(low, rtol, atol)
    a, b = t.astype(np.float64), j.astype(np.float64)
    same = (np.isnan(a) & np.isnan(b)) | (a == b)
    with np.errstate(invalid="ignore"):
        d = np.where(same, 0.0, np.abs(a - b))
    d = np.where(np.isnan(d), np.inf, d)
    ref = np.where(np.isfinite(a), np.abs(a), 0.0)
    return d, atol + rtol * ref, ref


def diff(t: np.ndarray, j: np.ndarray, rtol: float, atol: float) -> tuple[float, float, bool]:
    """``(max_abs, max_rel, ok)`` for torch's array ``t`` and the port's ``j`` of one shape,
    by ``torch.testing.assert_close``'s elementwise rule: ``ok`` when every element has
    ``|t - j| <= atol + rtol * |t|`` (the tolerances of the lower-precision dtype), so a small
    value that is wrong is caught however large the rest of the output; ``max_abs = max
    |t - j|``, ``max_rel = max |t - j| / |t|`` (inf where ``t`` is 0 and ``j`` is not). NaNs
    agree only with NaNs at the same place. :func:`worst` names the element that fails most.

    Example: ``diff(np.array([100.0, 1e-3]), np.array([100.0, 1.5e-3]), 1e-5, 1e-6)[2]`` is
    False (50% off on the small value).
    """
    d, allowed, ref = _excess(t, j, rtol, atol)
    if not d.size:
        return 0.0, 0.0, True
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(d == 0, 0.0, d / ref)
    return float(d.max()), float(rel.max()), bool(np.all(d <= allowed))


def worst(t: np.ndarray, j: np.ndarray, rtol: float, atol: float) -> str:
    """The element furthest outside ``atol + rtol * |t|`` (largest ``|t - j| / allowed``),
    e.g. ``'at (0, 3): torch 0.1234, jaxinit 0.1241'``; ``''`` for empty arrays."""
    d, allowed, _ = _excess(t, j, rtol, atol)
    if not d.size:
        return ""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d == 0, 0.0, d / allowed)
    index = np.unravel_index(int(np.argmax(np.where(np.isnan(ratio), np.inf, ratio))), d.shape)
    where = "(" + ", ".join(str(int(i)) for i in index) + ")"
    return f"at {where}: torch {t[index].item():.7g}, jaxinit {j[index].item():.7g}"


def _same_kind(t: np.dtype, j: np.dtype) -> bool:
    """int64 held as int32 (JAX without x64) is no difference; anything else is."""
    return t == j or (t.kind in "iu" and j.kind in "iu")


def _row(name: str, call: int, t: tuple | None, j: tuple | None, rtol: float, atol: float) -> Row:
    def shapes(ls):
        s = [tuple(a.shape) for a in ls]
        return s[0] if len(s) == 1 else s

    def dtypes(ls):
        s = [np.dtype(a.dtype).name for a in ls]
        return s[0] if len(s) == 1 else s

    if t is None or j is None:
        side, other = ("jaxinit", "torch") if t is None else ("torch", "jaxinit")
        (_, ty, ls) = j if t is None else t
        return Row(
            name,
            call,
            None if t is None else ty,
            None if j is None else ty,
            None if t is None else shapes(ls),
            None if j is None else shapes(ls),
            None if t is None else dtypes(ls),
            None if j is None else dtypes(ls),
            None,
            None,
            None,
            f"{side} only: no {other} counterpart",
        )
    (_, t_type, tl), (_, j_type, jl) = t, j
    base = dict(
        name=name,
        call=call,
        torch_type=t_type,
        jaxinit_type=j_type,
        torch_shape=shapes(tl),
        jaxinit_shape=shapes(jl),
        torch_dtype=dtypes(tl),
        jaxinit_dtype=dtypes(jl),
    )
    if len(tl) != len(jl):
        return Row(
            **base,
            max_abs=None,
            max_rel=None,
            ok=False,
            note=f"structure differs (torch {len(tl)} arrays, jaxinit {len(jl)})",
        )
    for a, b in zip(tl, jl, strict=True):
        if a.shape != b.shape:
            return Row(
                **base,
                max_abs=None,
                max_rel=None,
                ok=False,
                note=f"output shape differs (torch {tuple(a.shape)}, jaxinit {tuple(b.shape)})"
                if len(tl) > 1
                else "shape differs",
            )
        if not _same_kind(a.dtype, b.dtype):
            return Row(
                **base,
                max_abs=None,
                max_rel=None,
                ok=False,
                note=f"output dtype differs (torch {a.dtype.name}, jaxinit {b.dtype.name})"
                if len(tl) > 1
                else "dtype differs",
            )
    results = [diff(a, b, rtol, atol) for a, b in zip(tl, jl, strict=True)]
    bad = next((k for k, r in enumerate(results) if not r[2]), None)
    note = ""
    if bad is not None:
        note = worst(tl[bad], jl[bad], rtol, atol)
        note = f"output {bad} {note}" if len(tl) > 1 else note
    return Row(
        **base,
        max_abs=max((r[0] for r in results), default=0.0),
        max_rel=max((r[1] for r in results), default=0.0),
        ok=all(r[2] for r in results),
        worst=note,
    )


def match_rows(t_rows: list, j_rows: list, rtol: float, atol: float) -> list[Row]:
    """Rows matched by (name, k-th call of that name), in torch's completion order; a row
    with no counterpart stands after the last matched row that preceded it on its side."""

    def keyed(rows):
        counts: dict[str, int] = {}
        out = []
        for r in rows:
            k = counts.get(r[0], 0)
            counts[r[0]] = k + 1
            out.append(((r[0], k), r))
        return out

    tk, jk = keyed(t_rows), keyed(j_rows)
    j_by_key = dict(jk)
    t_pos = {key: i for i, (key, _) in enumerate(tk)}
    placed: list[tuple[tuple[float, int], Row]] = []
    for i, (key, r) in enumerate(tk):
        placed.append(((i, 0), _row(key[0], key[1], r, j_by_key.get(key), rtol, atol)))
    last = -1
    for n, (key, r) in enumerate(jk):
        if key in t_pos:
            last = t_pos[key]
        else:
            placed.append(((last, n + 1), _row(key[0], key[1], None, r, rtol, atol)))
    placed.sort(key=lambda p: p[0])
    return [row for _, row in placed]


def _named_values(t: dict, j: dict, rtol: float, atol: float) -> list[ValueRow]:
    out = []
    for name, a in t.items():
        b = j.get(name)
        if b is None:
            out.append(ValueRow(name, None, None, False, "missing in the port"))
        elif a.shape != b.shape:
            out.append(
                ValueRow(name, None, None, False, f"shape torch {a.shape}, jaxinit {b.shape}")
            )
        else:
            max_abs, max_rel, ok = diff(a, b, rtol, atol)
            out.append(ValueRow(name, max_abs, max_rel, ok, "" if ok else worst(a, b, rtol, atol)))
    return out


def compare_state_dicts(torch_sd: dict, port_sd: dict) -> StateDictDiff:
    """Keys, shapes and dtypes of two state_dicts (values never looked at)."""
    shapes, dtypes = [], []
    for k, t in torch_sd.items():
        if k in port_sd:
            j = port_sd[k]
            if tuple(t.shape) != tuple(j.shape):
                shapes.append((k, tuple(t.shape), tuple(j.shape)))
            elif not _same_kind(_run.numpy_dtype(t), np.dtype(j.dtype)):
                dtypes.append((k, str(t.dtype).removeprefix("torch."), np.dtype(j.dtype).name))
    return StateDictDiff(
        missing=[k for k in torch_sd if k not in port_sd],
        unexpected=[k for k in port_sd if k not in torch_sd],
        shapes=shapes,
        dtypes=dtypes,
        num_keys=len(torch_sd),
    )


def _load(net: Any, torch_sd: dict, key: Any) -> tuple[Any, list[str]]:
    """The port's variables from torch's state_dict; keys the port lacks or shapes that do
    not fit are left at ``net.init(key)``'s values (and noted)."""
    plan_keys = dict(net.state_dict(jax.eval_shape(net.init, key)))
    usable = {
        k: v
        for k, v in torch_sd.items()
        if k in plan_keys and tuple(v.shape) == tuple(plan_keys[k].shape)
    }
    notes = []
    base = None
    if len(usable) < len(plan_keys):
        base = net.init(key)
        left = [k for k in plan_keys if k not in usable]
        notes.append(
            "not loaded from torch (kept from net.init(jax.random.key(0))): " + ", ".join(left)
        )
    variables, _ = net.load_state_dict(base, usable, strict=False)
    return variables, notes


# torch layers that draw random numbers in training beyond torch.nn's Dropout family
_RANDOM_LAYERS = ("StochasticDepth", "DropPath", "DropBlock", "RReLU", "GaussianNoise")


def _random_modules(tm: Any) -> list[str]:
    """torch modules that draw random numbers in a training call (other than the Dropout
    family, which :func:`_dropout_modules` refuses up front)."""
    out = []
    for name, m in tm.named_modules():
        kind = type(m).__name__
        if "Dropout" not in kind and any(r in kind for r in _RANDOM_LAYERS):
            p = getattr(m, "p", None)
            if not (isinstance(p, (int, float)) and p == 0):
                out.append(f"{name or '(model)'} ({kind})")
    return out


def _dropout_modules(tm: Any) -> list[str]:
    out = []
    for name, m in tm.named_modules():
        p = getattr(m, "p", None) if "Dropout" in type(m).__name__ else None
        p = getattr(m, "dropout", None) if p is None else p
        if isinstance(p, float) and p > 0:
            out.append(f"{name or '(model)'} ({type(m).__name__}, p={p})")
    return out


def compare(
    torch_module: Any,
    net: Any,
    *inputs: Any,
    variables: Any = None,
    train: bool = False,
    grads: bool = False,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    loss: Callable | tuple[Callable, Callable] | None = None,
) -> CompareReport:
    """Run ``torch_module`` and its jaxinit port ``net`` on the same ``inputs`` and compare
    them submodule by submodule.

    * Hyper-parameters first (:func:`jaxinit.testing.hparams.compare_hparams`), then the
      state_dicts' keys, shapes and dtypes, then every submodule call's output, matched by
      dotted name (the k-th call of a name with the k-th call). ``inputs`` are numpy, jax or
      torch arrays (or other values, passed as they are).
    * ``variables=None`` loads ``torch_module.state_dict()`` into the port; pass variables to
      compare a port's own (then torch's weights must be the same values).
    * ``train=True`` runs both in training mode and compares every buffer after the call
      (BatchNorm/InstanceNorm running statistics) by name. Dropout masks differ between
      frameworks, so a model with dropout (p > 0) is compared in eval only: ``train=True``
      raises a ValueError naming the dropout modules.
    * ``grads=True`` compares, by parameter name, the gradient of a scalar loss: the sum of
      all floating outputs (in float32) by default, or ``loss``: one callable
      ``loss(output, xp)`` that receives the array namespace (``torch`` or ``jax.numpy``),
      e.g. ``loss=lambda out, xp: xp.mean(out ** 2)``, or a pair ``(torch_loss, jax_loss)``
      of one-argument callables.
    * A row is ok when every element has ``|port - torch| <= atol + rtol * |torch|``
      (``torch.testing.assert_close``'s elementwise rule, :func:`diff`); a failing row names
      its worst element. The defaults suit a few float32 layers with small activations (a
      GPT-2 at init, whose exact-vs-tanh GELU differs by ~1e-6); through deep models the
      summation order's differences grow: pass e.g. ``rtol=1e-4, atol=1e-5`` for a ResNet.
      float16 and bfloat16 rows use at least ``4 * eps`` of their dtype for both
      (:func:`tolerances`). Both sides run float32 matmuls exactly (TF32 off in torch,
      ``highest`` precision in JAX). Output values that are not arrays (Hugging Face's cache
      objects) are not compared, and the report lists them.
    * In ``train`` mode, layers that draw random numbers (torchvision's StochasticDepth, or
      any port module that called ``self.next_key()``) cannot match torch's draws: the
      report says so next to a mismatch.

    The torch module is not modified: in ``train`` or ``grads`` mode a deep copy runs, in
    eval its modules' ``training`` flags are restored afterwards.

    Example::

        report = jaxinit.testing.compare(torch_net, net, x)
        print(report)                   # the table; report.first_mismatch names the layer
    """
    torch = _run.import_torch()
    hparams = compare_hparams(torch_module, net)
    torch_sd = dict(torch_module.state_dict())
    key = jax.random.key(0)
    notes: list[str] = []
    if variables is None:
        variables, notes = _load(net, torch_sd, key)
    port_sd = dict(net.state_dict(variables))
    sd_diff = compare_state_dicts(torch_sd, port_sd)
    if train:
        dropouts = _dropout_modules(torch_module)
        if dropouts:
            raise ValueError(
                "train=True would compare random dropout masks, which torch and JAX draw "
                "differently: compare in eval (train=False), or build both models with "
                "dropout 0 for the train-mode check. Dropout in: " + ", ".join(dropouts)
            )
    t_loss, j_loss = _split_loss(loss, torch)
    tm = copy.deepcopy(torch_module) if (train or grads) else torch_module
    flags = {id(m): (m, m.training) for m in tm.modules()}
    tm.train(train)
    device = next((p.device for p in tm.parameters()), torch.device("cpu"))
    try:
        t_res = _run.run_torch(
            tm, tuple(_run.to_torch(x, device) for x in inputs), grads=grads, loss=t_loss
        )
    finally:
        for m, flag in flags.values():
            m.training = flag
    j_res = _run.run_jax(
        net,
        variables,
        tuple(_run.to_jax(x) for x in inputs),
        train=train,
        grads=grads,
        loss=j_loss,
        key=key,
    )
    rows = match_rows(t_res["rows"], j_res["rows"], rtol, atol)
    error = j_res.get("error")
    if error is not None:
        rows = [
            r if r.jaxinit_type is not None else replace(r, note="not reached: the port raised")
            for r in rows
        ]
    skipped = t_res["skipped"] + j_res.get("skipped", [])
    if skipped:
        notes.append("not compared (not arrays): " + "; ".join(dict.fromkeys(skipped)))
    random = _random_modules(torch_module) + j_res.get("keyed", []) if train else []
    report = CompareReport(
        rows=rows,
        hparam_mismatches=hparams,
        state_dict=sd_diff,
        train=train,
        rtol=rtol,
        atol=atol,
        notes=notes,
        error=error,
        random_layers=list(dict.fromkeys(random)),
    )
    if error is not None:
        return report
    if train:
        report.buffers = _named_values(t_res["buffers"], j_res["buffers"], rtol, atol)
    if grads:
        report.grads = _named_values(t_res["grads"], j_res["grads"], rtol, atol)
    return report


def _split_loss(loss: Any, torch: Any) -> tuple[Callable | None, Callable | None]:
    if loss is None:
        return None, None
    if isinstance(loss, tuple):
        if len(loss) != 2 or not all(callable(f) for f in loss):
            raise TypeError(
                "loss= takes one callable loss(output, xp) or a pair "
                "(torch_loss, jax_loss) of one-argument callables"
            )
        return loss
    if not callable(loss):
        raise TypeError(f"loss= must be callable, got {type(loss).__name__}")
    return (lambda out: loss(out, torch)), (lambda out: loss(out, jax.numpy))


def assert_matches_torch(torch_module: Any, net: Any, *inputs: Any, **kwargs: Any) -> CompareReport:
    """:func:`compare` for tests: returns the report when it is ok, else raises an
    AssertionError whose message is the report's table.

    Example::

        jaxinit.testing.assert_matches_torch(torch_net, net, x, grads=True)
    """
    report = compare(torch_module, net, *inputs, **kwargs)
    if not report.ok:
        raise AssertionError("\n" + str(report))
    return report
