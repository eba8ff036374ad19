"""Running each side with every submodule call recorded, and turning outputs into host arrays.

torch: a forward hook on every distinct submodule records ``(name, type, output)`` when the
call returns; the name is the module's first name in ``named_modules(remove_duplicate=False)``.
jaxinit: the binding frame's ``record`` (the mechanism :func:`jaxinit.nn.summary` uses) gives
``(path, module, output)`` for every call of a module of the tree; paths are first names too.
Both lists come out in completion order (children before their parent).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxinit._host import device_arrays
from jaxinit._tree import iter_flat
from jaxinit.interop.torch import _dtypes, numpy_to_tensor, tensor_to_numpy
from jaxinit.nn._binding import Frame, bound, merge_updates
from jaxinit.nn._plan import plan_of


def import_torch() -> Any:
    try:
        import torch
    except ImportError as err:  # pragma: no cover - the suite has torch
        raise ImportError('jaxinit.testing needs PyTorch: pip install "jaxinit[torch]"') from err
    return torch


def is_torch_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def host(x: Any) -> np.ndarray:
    """A numpy copy of a torch tensor, jax array or numpy array (bfloat16 kept)."""
    if is_torch_tensor(x):
        return tensor_to_numpy(x.detach().cpu().clone())
    return np.array(x)


def numpy_dtype(tensor: Any) -> np.dtype:
    """The numpy dtype of a torch tensor (ml_dtypes for bfloat16 and float8)."""
    return _dtypes(import_torch())[tensor.dtype]


def is_array(x: Any) -> bool:
    return is_torch_tensor(x) or isinstance(x, (np.ndarray, jax.Array, np.generic))


def leaves(obj: Any) -> list[Any]:
    """The arrays of an output, in one order for both frameworks: tuples, lists and
    NamedTuples in order, dicts by sorted key (as ``jax.tree``), packed sequences as padded
    data and lengths; other values skipped."""
    if is_array(obj):
        return [obj]
    if type(obj).__name__ == "PackedSequence":
        return _packed(obj)
    if isinstance(obj, dict):
        return [leaf for k in sorted(obj, key=str) for leaf in leaves(obj[k])]
    if isinstance(obj, (tuple, list)):
        return [leaf for item in obj for leaf in leaves(item)]
    if hasattr(obj, "_fields"):  # a NamedTuple-like that is not a tuple
        return [leaf for f in obj._fields for leaf in leaves(getattr(obj, f))]
    return []


def not_compared(obj: Any, where: str) -> list[str]:
    """The values of an output that :func:`leaves` skips, as ``'where[path]: Type'`` (``None``
    is not listed): Hugging Face's cache objects, strings, Python numbers."""
    if obj is None or is_array(obj) or type(obj).__name__ == "PackedSequence":
        return []
    if isinstance(obj, dict):
        items = [(f"[{k!r}]", obj[k]) for k in sorted(obj, key=str)]
    elif isinstance(obj, (tuple, list)):
        items = [(f"[{i}]", v) for i, v in enumerate(obj)]
    elif hasattr(obj, "_fields"):
        items = [(f".{f}", getattr(obj, f)) for f in obj._fields]
    else:
        return [f"{where}: {type(obj).__name__}"]
    return [line for path, v in items for line in not_compared(v, where + path)]


def _packed(seq: Any) -> list[Any]:
    """A packed sequence as ``[padded (T, B, *) with zeros past each length, lengths]``, for
    torch's (packed by time step) and jaxinit's (kept padded) alike. ``T`` is torch's longest
    length and jaxinit's padded length: pad batches to their longest sequence."""
    if hasattr(seq, "batch_sizes"):  # torch
        padded, lengths = import_torch().nn.utils.rnn.pad_packed_sequence(seq)
        return [padded, lengths]
    data = seq.time_major()
    steps = jnp.arange(data.shape[0]).reshape(-1, 1)
    mask = (steps < seq.lengths.reshape(1, -1)).reshape(data.shape[:2] + (1,) * (data.ndim - 2))
    return [jnp.where(mask, data, jnp.zeros((), data.dtype)), seq.lengths]


def to_torch(x: Any, device: Any) -> Any:
    if is_torch_tensor(x):
        return x.to(device)
    if isinstance(x, (np.ndarray, jax.Array)):
        return numpy_to_tensor(np.asarray(x)).to(device)
    return x


def to_jax(x: Any) -> Any:
    if is_torch_tensor(x):
        x = host(x)
    if isinstance(x, np.ndarray):
        return device_arrays([x])[0]
    return x


@contextlib.contextmanager
def exact_torch_matmuls(torch: Any) -> Iterator[None]:
    """TF32 off for the run (a GPU default that rounds float32 matmuls to 10 bits)."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def run_torch(tm: Any, inputs: tuple, *, grads: bool, loss: Callable | None) -> dict:
    """Call ``tm`` with hooks; returns rows, the output, buffers and gradients by name."""
    torch = import_torch()
    names: dict[int, str] = {}
    for name, m in tm.named_modules(remove_duplicate=False):
        names.setdefault(id(m), name)
    rows: list[tuple[str, str, list[np.ndarray]]] = []
    skipped: list[str] = []

    def hook(module: Any, args: Any, out: Any) -> None:
        rows.append((names[id(module)], type(module).__name__, [host(t) for t in leaves(out)]))
        skipped.extend(not_compared(out, f"torch {names[id(module)] or '(model)'} output"))

    seen: set[int] = set()
    handles = []
    for m in tm.modules():
        if id(m) not in seen:
            seen.add(id(m))
            handles.append(m.register_forward_hook(hook))
    try:
        with exact_torch_matmuls(torch), torch.set_grad_enabled(grads):
            out = tm(*inputs)
            if grads:
                value = loss(out) if loss is not None else default_loss_torch(out)
                value.backward()
    finally:
        for h in handles:
            h.remove()
    result = {
        "rows": rows,
        "buffers": {n: host(b) for n, b in tm.named_buffers()},
        "skipped": skipped,
    }
    if grads:
        result["grads"] = {
            n: host(p.grad) if p.grad is not None else np.zeros(tuple(p.shape), host(p).dtype)
            for n, p in tm.named_parameters()
        }
    return result


def default_loss_torch(out: Any) -> Any:
    ls = [t for t in leaves(out) if t.is_floating_point()]
    return sum(t.float().sum() for t in ls)


def default_loss_jax(out: Any) -> Any:
    ls = [t for t in leaves(out) if jnp.issubdtype(t.dtype, jnp.floating)]
    return sum(jnp.sum(t.astype(jnp.float32)) for t in ls)


class _CompletionOrder(list):
    """The frame's record list, also noting the order in which calls return (the frame
    writes each call's slot when it returns)."""

    def __init__(self) -> None:
        super().__init__()
        self.done: list[tuple[str, Any, Any]] = []

    def __setitem__(self, index: Any, value: Any) -> None:
        super().__setitem__(index, value)
        self.done.append(value)


def _forward(net: Any, variables: Any, inputs: tuple, train: bool, key: Any) -> tuple:
    """One recorded call: ``(meta, arrays, output, updated)`` where ``meta`` is
    ``([(path, type name)], not-compared output values, paths that called next_key)`` and
    ``arrays`` the output arrays of each call, in completion order."""
    plan = plan_of(net)
    record = _CompletionOrder()
    frame = Frame(
        plan, net._bind_values(plan, variables), "forward", train=train, key=key, record=record
    )
    try:
        with bound(frame):
            out = net.forward(*inputs)
    finally:
        meta = [(path, type(m).__name__) for path, m, _ in record.done]
        arrays = [[a for a in leaves(o) if isinstance(a, jax.Array)] for _, _, o in record.done]
    skipped = [
        s for p, _, o in record.done for s in not_compared(o, f"jaxinit {p or '(model)'} output")
    ]
    skipped += not_compared(out, "jaxinit (model) output")
    keyed = [f"{p or '(model)'} (next_key)" for p in frame._key_counts]
    return (meta, skipped, keyed), arrays, out, merge_updates(variables, frame.updated)


def _rows(meta: list, arrays: list) -> list:
    return [(path, ty, [host(a) for a in ls]) for (path, ty), ls in zip(meta, arrays, strict=True)]


def run_jax(
    net: Any,
    variables: Any,
    inputs: tuple,
    *,
    train: bool,
    grads: bool,
    loss: Callable | None,
    key: Any,
) -> dict:
    """Call ``net`` in a recording frame; returns rows, updated buffers and gradients.

    The call is jitted (array inputs traced, other inputs closed over); a forward that
    cannot be traced (Python control flow on values) runs eagerly instead, and so does a
    failing one, to report the rows it completed before the error.
    """
    dynamic = [i for i, x in enumerate(inputs) if isinstance(x, jax.Array)]

    def with_arrays(arrays: list) -> tuple:
        full = list(inputs)
        for i, a in zip(dynamic, arrays, strict=True):
            full[i] = a
        return tuple(full)

    meta_box: list = []
    params, bufs = net.split(variables)

    def traced(p: Any, arrays: list) -> tuple:
        """The recorded call, and the scalar loss on its output when gradients are asked
        for: one trace gives the rows and (under ``value_and_grad``) the gradients."""
        meta, outs, out, updated = _forward(
            net, net.merge(p, bufs), with_arrays(arrays), train, key
        )
        meta_box.append(meta)
        value = 0.0
        if grads:
            value = loss(out) if loss is not None else default_loss_jax(out)
        return value, (outs, leaves(out), updated)

    args = (params, [inputs[i] for i in dynamic])
    fn = jax.value_and_grad(traced, has_aux=True) if grads else traced
    with jax.default_matmul_precision("highest"):
        try:
            result = jax.jit(fn)(*args)
        except Exception:  # noqa: BLE001 -- untraceable or failing: run eagerly below
            try:
                result = fn(*args)
            except Exception as err:  # noqa: BLE001 -- a port that fails is reported with
                # the rows it completed (the planted mistake usually comes before the crash)
                text = str(err).strip()
                message = text.splitlines()[0] if text else ""
                rows = _rows(*_completed(net, variables, inputs, train, key))
                return {
                    "rows": rows,
                    "buffers": {},
                    "grads": {},
                    "error": f"{type(err).__name__}: {message}",
                }
        if grads:
            (_, (outs, out, updated)), g = result
        else:
            _, (outs, out, updated) = result
        meta, skipped, keyed = meta_box[-1]
        rows = _rows(meta, outs)
        rows.append(("", type(net).__name__, [host(a) for a in out]))
        found = {
            "rows": rows,
            "buffers": {n: host(b) for n, b in net.named_buffers(updated)},
            "skipped": skipped,
            "keyed": keyed,
        }
        if grads:
            found["grads"] = {n: host(a) for n, a in iter_flat(g)}
    return found


def _completed(net: Any, variables: Any, inputs: tuple, train: bool, key: Any) -> tuple:
    """The calls a failing forward completed: ``(meta, arrays)``."""
    plan = plan_of(net)
    record = _CompletionOrder()
    frame = Frame(
        plan, net._bind_values(plan, variables), "forward", train=train, key=key, record=record
    )
    try:
        with bound(frame):
            net.forward(*inputs)
    except Exception:  # noqa: BLE001, S110 -- the error was reported by the caller
        pass
    meta = [(path, type(m).__name__) for path, m, _ in record.done]
    return meta, [[a for a in leaves(o) if isinstance(a, jax.Array)] for _, _, o in record.done]
