"""torch's constructor-time init code, run on declarations.

Inside ``__init__`` torch code re-initialises the tensors it just created:
``nn.init.kaiming_normal_(m.weight, mode="fan_out")``, ``m.weight.data.normal_(0, 0.02)``,
``m.bias.data.zero_()``, ``m.weight.data[padding_idx].zero_()``, usually from a
``for m in self.modules()`` loop or ``self.apply(self._init_weights)``. In jaxinit the same
calls act on the :class:`~jaxinit.nn.Parameter` / :class:`~jaxinit.nn.Buffer` declarations:

* a *re-initialisation event* replaces the declaration's initializer (``decl.init``) and is
  appended to its history with a number from the global sequence shared with declaration
  creation (``parameter._creation_counter``);
* a *patch* (``decl[idx].zero_()``, ``.fill_``, ``.mul_``...) changes part of the current value:
  the new initializer is :class:`_Patched`, i.e. draw the previous one, then apply the patch.

``net.init(TorchGenerator(s))`` replays every history in sequence order (torch's order: each
default draw at construction, then each event as it happened), so the generator is consumed
exactly as torch's, intermediate draws included. With a JAX key only ``decl.init``, the last
initializer, is drawn, once.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import init as _init
from .._host import device_arrays
from .._init_inplace import _checked

_PATCH_SALT = 0x7A7C4  # fold_in(key, salt + n): the key of a random patch under a JAX key


class _Patched:
    """Initializer ``op(base(key, shape, dtype), subkey)``: a patch applied to the value that
    ``base`` draws. Under a TorchGenerator replay only ``op`` runs, on the current value, with
    the generator as its key (so a random patch draws from torch's stream in order)."""

    def __init__(self, base: Callable, op: Callable, text: str, depth: int):
        self.base, self.op, self.text, self.depth = base, op, text, depth

    def __call__(self, key: Any, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        value = jnp.asarray(self.base(key, shape, dtype), dtype)
        return self.apply(value, self._subkey(key))

    def apply(self, value: Any, key: Any) -> Any:
        """The patch applied to ``value`` (``key``: a JAX key or the replaying generator). A
        numpy ``value`` (the replay) is patched with numpy, whose arithmetic is correctly
        rounded as torch's (XLA's CPU division is not), a JAX one with jax.numpy."""
        xp = np if isinstance(value, np.ndarray) else jnp
        return xp.asarray(self.op(value, key), value.dtype)

    def _subkey(self, key: Any) -> Any:
        if key is None or _init._is_generator(key):
            return key
        return jax.random.fold_in(key, _PATCH_SALT + self.depth)

    def __repr__(self) -> str:
        return f"{_describe_init(self.base)}.{self.text}"


class _Sliced:
    """Initializer of a declaration made from part of another (``nn.Parameter(w[:n])``,
    nanoGPT's ``crop_block_size``): ``source``'s initializer drawn at the source's full shape,
    then ``[index]`` -- with a JAX key the same key gives the uncropped values, cropped. Under a
    TorchGenerator replay the part is cut from the source's replayed value (torch draws
    nothing when it slices)."""

    def __init__(self, source: Any, index: Any):
        self.source, self.base, self.index = source, source.init, index

    def __call__(self, key: Any, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        full = jnp.asarray(self.base(key, self.source.shape, dtype), dtype)
        return full[self.index].reshape(shape)

    def __repr__(self) -> str:
        return f"{_describe_init(self.base)}[{self.index!r}]"


def _describe_init(fn: Any) -> str:
    from .parameter import _describe

    return _describe(fn)


def _no_generator(generator: Any, what: str) -> None:
    if generator is not None:
        raise ValueError(
            f"{what}(generator=...) on a declaration: its draws come from the key given to "
            "net.init -- drop generator= (net.init(jaxinit.TorchGenerator(seed)) replays "
            "torch's stream)"
        )


def _index_shape(shape: tuple[int, ...], index: Any) -> tuple[int, ...]:
    """The shape of ``x[index]`` for an ``x`` of ``shape`` (numpy's indexing rules and errors,
    no memory: a broadcast scalar)."""
    return np.broadcast_to(np.empty((), np.bool_), shape)[index].shape


class _TensorMethods:
    """torch's in-place tensor methods on a declaration, each recorded as an event."""

    __slots__ = ()

    # provided by _Declaration
    shape: tuple[int, ...]
    dtype: np.dtype
    init: Callable

    def _reinit(self, fn: Callable) -> Any:  # pragma: no cover - defined by _Declaration
        raise NotImplementedError

    @property
    def data(self) -> Any:
        """The declaration itself, so torch's ``m.weight.data.normal_(0, 0.02)`` runs."""
        return self

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Any:
        """torch's ``Tensor.normal_(mean=0, std=1)``: re-initialise with ``init.normal``."""
        _no_generator(generator, "normal_")
        return self._reinit(_checked(functools.partial(_init.normal, mean=mean, std=std), self))

    def uniform_(self, *args: float, generator: Any = None, **kwargs: float) -> Any:
        """torch's ``Tensor.uniform_(from=0, to=1)``: re-initialise with ``init.uniform``
        (``from`` is a Python keyword: pass the bounds positionally or as
        ``**{"from": a, "to": b}``, as in torch)."""
        _no_generator(generator, "uniform_")
        low, high = _from_to(args, kwargs)
        return self._reinit(_checked(functools.partial(_init.uniform, a=low, b=high), self))

    def zero_(self) -> Any:
        """torch's ``Tensor.zero_()``: re-initialise with ``init.zeros`` (draws nothing)."""
        return self._reinit(_init.zeros)

    def fill_(self, value: Any) -> Any:
        """torch's ``Tensor.fill_(value)``: re-initialise with ``init.constant(val=value)``."""
        return self._reinit(_checked(functools.partial(_init.constant, val=value), self))

    def copy_(self, src: Any, non_blocking: bool = False) -> Any:
        """torch's ``Tensor.copy_(src)`` from an array (numpy, jax or torch): the declaration's
        value becomes ``src`` broadcast to its shape and cast to its dtype. Copying another
        declaration is refused: tie it (``b.weight = a.weight``) or copy arrays in
        ``net.apply``."""
        from .parameter import _as_numpy, _Declaration, _FromValue, _is_array

        if isinstance(src, _Declaration) or not _is_array(src):
            raise TypeError(
                f"copy_ takes an array (numpy, jax or torch), got {type(src).__name__}: to "
                "share a declaration tie it (b.weight = a.weight); to copy values between "
                "variables use net.apply(variables, fn) or net.set"
            )
        value = np.broadcast_to(_as_numpy(src), self.shape)  # torch's broadcasting rule
        return self._reinit(_FromValue(np.array(value)))

    def __getitem__(self, index: Any) -> _View:
        """A view of part of the declaration, for ``weight.data[padding_idx].zero_()``."""
        _index_shape(self.shape, index)  # IndexError now, as torch
        return _View(self, index)

    def _patch(self, op: Callable, text: str) -> Any:
        depth = self.init.depth + 1 if isinstance(self.init, _Patched) else 0
        return self._reinit(_Patched(self.init, op, text, depth))

    def mul_(self, other: float) -> Any:
        """torch's ``Tensor.mul_(scalar)``: scale the current value (a patch, draws nothing)."""
        _scalar(other, "mul_")
        return self._patch(lambda v, k: v * _scalar_of(v, other), f"mul_({other!r})")

    def div_(self, other: float) -> Any:
        """torch's ``Tensor.div_(scalar)`` (a patch, draws nothing)."""
        _scalar(other, "div_")
        return self._patch(lambda v, k: v / _scalar_of(v, other), f"div_({other!r})")

    def add_(self, other: float, *, alpha: float = 1) -> Any:
        """torch's ``Tensor.add_(scalar, alpha=1)`` (a patch, draws nothing)."""
        _scalar(other, "add_")
        return self._patch(lambda v, k: v + _scalar_of(v, other * alpha), f"add_({other!r})")

    def clamp_(self, min: float | None = None, max: float | None = None) -> Any:  # noqa: A002
        """torch's ``Tensor.clamp_(min, max)`` (a patch, draws nothing)."""
        if min is None and max is None:
            raise ValueError("clamp_: At least one of 'min' or 'max' must not be None")
        return self._patch(lambda v, k: _xp(v).clip(v, min, max), f"clamp_({min!r}, {max!r})")


def _xp(value: Any) -> Any:
    return np if isinstance(value, np.ndarray) else jnp


def _scalar_of(value: Any, scalar: Any) -> Any:
    """``scalar`` in ``value``'s dtype, as torch converts a Python number for an in-place op."""
    return _xp(value).asarray(scalar, value.dtype)


def _set_part(value: Any, index: Any, part: Any) -> Any:
    """``value`` with ``value[index] = part`` (a copy)."""
    if isinstance(value, np.ndarray):
        value = value.copy()
        value[index] = np.asarray(part, value.dtype)
        return value
    return value.at[index].set(jnp.asarray(part, value.dtype))


def _scalar(value: Any, what: str) -> None:
    if not isinstance(value, (int, float, np.number)) or isinstance(value, bool):
        raise TypeError(
            f"{what} on a declaration takes a Python number, got {type(value).__name__}; "
            "to combine arrays, change variables with net.apply(variables, fn)"
        )


def _from_to(args: tuple, kwargs: dict) -> tuple[float, float]:
    names = ("from", "to")
    if len(args) > 2:
        raise TypeError(f"uniform_() takes at most 2 positional arguments ({len(args)} given)")
    values = dict(zip(names, args))
    for name, value in kwargs.items():
        if name not in names:
            raise TypeError(f"uniform_() got an unexpected keyword argument '{name}'")
        if name in values:
            raise TypeError(f"uniform_() got multiple values for argument '{name}'")
        values[name] = value
    return values.get("from", 0.0), values.get("to", 1.0)


class _View:
    """``decl[index]``: ``zero_``, ``fill_``, ``normal_``, ``uniform_`` on part of a declaration,
    recorded as patches (torch's ``weight.data[padding_idx].zero_()``)."""

    __slots__ = ("decl", "index", "shape")

    def __init__(self, decl: Any, index: Any):
        self.decl, self.index = decl, index
        self.shape = _index_shape(decl.shape, index)

    @property
    def data(self) -> _View:
        return self

    def _set(self, make: Callable, text: str) -> Any:
        index = self.index
        self.decl._patch(lambda v, k: _set_part(v, index, make(k, v.dtype)), f"[{index!r}].{text}")
        return self

    def _init(self, fn: Callable, text: str) -> _View:
        """That part re-drawn by ``fn(key, part_shape, dtype)`` (any :mod:`jaxinit.init`
        function, its arguments checked): the underscore initializers on a view."""
        shape = self.shape
        return self._set(lambda k, dt: fn(k, shape, dt), text)

    def zero_(self) -> _View:
        """``decl[index].zero_()``: zeros in that part (draws nothing)."""
        shape = self.shape
        return self._set(lambda k, dt: jnp.zeros(shape, dt), "zero_()")

    def fill_(self, value: Any) -> _View:
        """``decl[index].fill_(value)`` (draws nothing)."""
        _init.constant(None, (), self.decl.dtype, val=value)
        shape = self.shape
        return self._set(lambda k, dt: _init.constant(None, shape, dt, val=value), "fill_()")

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> _View:
        """``decl[index].normal_(mean, std)``: a draw of that part's shape."""
        _no_generator(generator, "normal_")
        fn = _checked(functools.partial(_init.normal, mean=mean, std=std), self)
        shape = self.shape
        return self._set(lambda k, dt: fn(k, shape, dt), f"normal_({mean!r}, {std!r})")

    def uniform_(self, *args: float, generator: Any = None, **kwargs: float) -> _View:
        """``decl[index].uniform_(from, to)``: a draw of that part's shape."""
        _no_generator(generator, "uniform_")
        low, high = _from_to(args, kwargs)
        fn = _checked(functools.partial(_init.uniform, a=low, b=high), self)
        shape = self.shape
        return self._set(lambda k, dt: fn(k, shape, dt), f"uniform_({low!r}, {high!r})")

    @property
    def dtype(self) -> np.dtype:
        return self.decl.dtype

    def _initializer(self) -> Callable:
        """The initializer of a new declaration made from this part (``nn.Parameter(view)``):
        a fixed value stays a fixed value (so a non-persistent buffer stays one), anything
        else is drawn whole and cut (:class:`_Sliced`)."""
        from .parameter import _FromValue

        base = self.decl.init
        if isinstance(base, _FromValue):
            return _FromValue(np.asarray(base.value).reshape(self.decl.shape)[self.index])
        return _Sliced(self.decl, self.index)


def apply_torch_form(module: Any, fn: Callable[[Any], Any]) -> Any:
    """torch's ``module.apply(fn)``: ``fn(m)`` for every module, children first (each
    parent's ``children()`` deduplicated, as torch), then ``module``; returns ``module``.
    Outside a call the modules' variables are their declarations, so constructor code
    (``self.apply(self._init_weights)``) re-initialises them."""
    for child in module.children():
        apply_torch_form(child, fn)
    fn(module)
    return module


def record_orphan(module: Any, decl: Any) -> None:
    """Remember a declaration that ``module`` let go of (replaced by a tie, set to None or
    deleted): torch drew it at construction, so a replay must draw it too."""
    if decl is not None:
        module.__dict__.setdefault("_orphans", []).append(decl)


def replay(entries: dict[str, Any], modules: Iterable[Any], key: Any) -> dict[str, jax.Array]:
    """Every declaration's history replayed on ``key`` (a TorchGenerator) in sequence order:
    each default draw and each re-initialisation consumes the stream as torch's did -- also
    those of declarations the modules let go of (:func:`record_orphan`), whose values are
    dropped. Returns the values of ``entries``."""
    stored = {id(decl) for decl in entries.values()}
    decls = dict(entries)
    names = {id(decl): name for name, decl in entries.items()}
    for module in modules:
        for decl in module.__dict__.get("_orphans", ()):
            if id(decl) not in stored:
                stored.add(id(decl))
                decls[f"<orphan {id(decl)}>"] = decl
                names[id(decl)] = f"<orphan {id(decl)}>"
    events = sorted(
        ((seq, name, fn) for name, decl in decls.items() for seq, fn in decl._history),
        key=operator.itemgetter(0),
    )
    values: dict[str, Any] = {}
    done: dict[int, str] = {}  # sequence number -> the declaration that ran it
    for seq, name, fn in events:
        decl = decls[name]
        src = done.setdefault(seq, name)
        if src != name:  # a deep copy (copy.deepcopy, torch's _get_clones) of one tensor:
            values[name] = values[src].copy()  # torch drew once, before copying
            continue
        if isinstance(fn, _Patched) and name in values:
            values[name] = fn.apply(values[name], key)
        elif isinstance(fn, _Sliced) and names.get(id(fn.source)) in values:
            values[name] = np.array(values[names[id(fn.source)]][fn.index], decl.dtype)
        else:
            values[name] = np.asarray(fn(key, decl.shape, decl.dtype), dtype=decl.dtype)
    return dict(zip(entries, device_arrays([values[name] for name in entries])))
