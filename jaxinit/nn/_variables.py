"""Functional variable operations: ``init``, ``get``, ``set``, ``apply``, ``map_parameters``,
``split``, ``merge`` -- each returns a new variables tree."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._dtypes import canonical_dtype
from .._tree import iter_flat, unflatten
from . import _binding
from ._binding import Frame, bound, merge_updates
from ._ctor_init import apply_torch_form
from ._derived import declared_value
from ._initialize import draw, initialize, is_torch_generator
from ._plan import join, plan_of
from .parameter import Buffer, _as_numpy

Variables = dict[str, Any]


class VariableOps:
    """Mixin of :class:`~jaxinit.nn.Module`: the functional counterparts of torch's in-place
    parameter edits."""

    def init(self, key: Any, *, sharding: Any = None) -> Variables:
        """Draw every parameter and buffer: ``variables = net.init(key)``.

        ``key`` is a JAX PRNG key (each variable gets ``fold_in(key, crc32(name))``, so values
        depend only on the key and the variable's name and declaration) or a
        :class:`jaxinit.TorchGenerator` (values bitwise equal to torch's after
        ``torch.manual_seed``, drawn in torch's construction order). Tied variables are
        stored once, under their first name. ``sharding``: a ``jax.sharding.Sharding`` for every
        variable, or a callable ``(name, declaration) -> Sharding | None``; each device then
        materialises only its own shard.
        """
        plan = plan_of(self)
        shardings = None
        if sharding is not None:
            if callable(sharding) and not isinstance(sharding, jax.sharding.Sharding):
                shardings = {n: sharding(n, d) for n, d in plan.entries.items()}
            else:
                shardings = {n: sharding for n in plan.entries}
            shardings = {n: s for n, s in shardings.items() if s is not None}
        values = initialize(plan, key, shardings)
        for module in self.modules():  # apply(fn) after this is a trap: apply warns
            module.__dict__["_variables_drawn"] = True
        if not plan.derived:
            return values
        return unflatten({n: v for n, v in iter_flat(values) if n not in plan.derived})

    def reset_parameters(self, key: Any) -> None:
        """Redraw this module's own variables from their declarations, inside
        :meth:`apply` (torch's ``m.reset_parameters()``): ``fn = lambda m, key:
        m.reset_parameters(key)``."""
        frame = _binding.current()
        if frame is None or frame.mode != "apply" or not frame.owns(self):
            raise RuntimeError(
                "reset_parameters(key) works inside net.apply(variables, fn, key); to draw "
                "fresh variables for a whole model use net.init(key)"
            )
        for local, canon in frame.plan.slots[id(self)].items():
            decl = frame.plan.entries[canon]
            if is_torch_generator(key):
                value = decl.init(key, decl.shape, decl.dtype)
            else:
                value = draw(decl, key, canon)
            frame.write(self, local, value)

    def get(self, variables: Mapping[str, Any], name: str) -> Any:
        """The array (or module subtree) at dotted ``name``, tied aliases resolved:
        ``net.get(variables, 'A.1.conv.weight')``; ``''`` is the whole tree."""
        if name == "":
            return variables
        plan = plan_of(self)
        canon = plan.canonical(name)
        node: Any = variables
        for part in canon.split("."):
            if not isinstance(node, Mapping) or part not in node:
                if canon in plan.derived:
                    return declared_value(plan.derived[canon], canon)
                raise KeyError(f"{name!r} is not a variable or module of {type(self).__name__}")
            node = node[part]
        return node

    def set(
        self, variables: Mapping[str, Any], name: str, value: Any, *, cast: bool = True
    ) -> Variables:
        """A new variables tree with ``name`` replaced (torch's ``p.data = value`` /
        ``copy_``): the shape must match; the value is cast to the current dtype unless
        ``cast=False``. Tied aliases resolve to the one stored array, so setting either name
        changes what every use sees. A module name takes a nested dict of its variables.
        After model surgery on the module (nanoGPT's ``crop_block_size``) a value of the new
        declared shape is accepted too, so held variables follow the module::

            net.crop_block_size(64)
            variables = net.set(variables, "transformer.wpe.weight", wpe[:64])
        """
        plan = plan_of(self)
        canon = plan.canonical(name)
        current = self.get(variables, canon)
        if isinstance(current, Mapping):
            if not isinstance(value, Mapping):
                raise TypeError(f"{name!r} is a module: pass a dict of its variables")
            updates = {}
            for sub, v in iter_flat(value):
                updates[join(canon, sub)] = _coerce(
                    join(name, sub), self.get(variables, join(canon, sub)), v, cast
                )
            return merge_updates(variables, updates)
        declared = plan.entries[canon].shape if canon in plan.entries else None
        return merge_updates(variables, {canon: _coerce(name, current, value, cast, declared)})

    def apply(
        self, variables: Mapping[str, Any], fn: Callable[..., Any] | None = None, key: Any = None
    ) -> Variables:
        """torch's ``net.apply(fn)``, functionally: ``fn(module, key)`` is called for every
        distinct module, children first (post-order), with the module's variables bound --
        read ``m.weight``, assign ``m.weight = new`` -- and the new variables are returned.
        ``key`` (optional): a JAX key, split per module by path, or a
        :class:`jaxinit.TorchGenerator`, handed to every call in turn so the draws follow
        torch's one stream in torch's order (``torch.manual_seed(s); net.apply(fn)``).

        Example (seed 002's ``initialize_weights``)::

            def initialize_weights(m, key):
                if isinstance(m, nn.Conv2d):
                    m.weight = init.xavier_normal(key, m.weight.shape)
                    if m.bias is not None:
                        m.bias = jnp.zeros_like(m.bias)
                elif isinstance(m, nn.Linear):
                    m.weight = init.normal(key, m.weight.shape, std=0.01)
                    m.bias = jnp.zeros_like(m.bias)

            variables = net.apply(variables, initialize_weights, key)

        torch's form ``self.apply(fn)`` -- one callable, no variables -- runs ``fn(m)`` over
        the declarations and returns ``self``, for constructor code such as Hugging Face's
        ``self.apply(self._init_weights)`` (see :mod:`jaxinit.nn._ctor_init`). Called after
        ``net.init`` drew variables (DCGAN's ``netG.apply(weights_init)``), it changes only
        what the *next* ``net.init`` draws, not the variables already held, so it warns
        (``UserWarning``) naming the functional form.
        """
        if (
            fn is None
            and key is None
            and callable(variables)
            and not isinstance(variables, Mapping)
        ):
            if self.__dict__.get("_variables_drawn"):
                _warn_declarations_only(self, variables)
            return apply_torch_form(self, variables)
        plan = plan_of(self)
        flat = self._bind_values(plan, variables)
        frame = Frame(plan, flat, "apply")
        order = list(self._post_order())
        with bound(frame):
            for path, module in order:
                mkey = _sub_key(key, path)
                fn(module, mkey)
        return merge_updates(variables, frame.updated)

    def _post_order(self, prefix: str = "", memo: set | None = None):
        memo = set() if memo is None else memo
        for name, child in self.named_children():
            if id(child) in memo:
                continue
            memo.add(id(child))
            yield from child._post_order(join(prefix, name), memo)
        yield prefix, self

    def map_parameters(
        self,
        variables: Mapping[str, Any],
        fn: Callable[[str, Any, Any], Any],
        key: Any = None,
        *,
        buffers: bool = False,
    ) -> Variables:
        """New variables with ``fn(name, value, key)`` applied to every parameter (and buffer
        if ``buffers``), tied ones once; rules by name read naturally::

            def rule(name, w, key):
                if "weight" in name:
                    return init.normal(key, w.shape, std=0.01)
                if "bias" in name:
                    return w + 1
                return w

            variables = net.map_parameters(variables, rule, key)

        Results are shape-checked and cast to the parameter's dtype (torch's ``copy_``).
        ``key``: a JAX key (folded per name) or a :class:`jaxinit.TorchGenerator` (handed on
        in ``named_parameters`` order, consuming torch's stream as a loop over
        ``net.named_parameters()`` would).
        """
        plan = plan_of(self)
        updates = {}
        flat = dict(iter_flat(variables))
        for canon, decl in plan.entries.items():
            if canon not in flat or (isinstance(decl, Buffer) and not buffers):
                continue
            k = _sub_key(key, canon)
            out = fn(canon, flat[canon], k)
            if out is not flat[canon]:
                updates[canon] = _coerce(canon, flat[canon], out, True)
        return merge_updates(variables, updates)

    def split(self, variables: Mapping[str, Any]) -> tuple[Variables, Variables]:
        """``params, buffers = net.split(variables)``: two nested dicts of the same layout,
        so ``jax.grad`` and optax see parameters only. :meth:`merge` puts them back."""
        plan = plan_of(self)
        params, bufs = {}, {}
        for name, value in iter_flat(variables):
            (bufs if plan.is_buffer(name) else params)[name] = value
        return unflatten(params), unflatten(bufs)

    def merge(self, params: Mapping[str, Any], buffers: Mapping[str, Any]) -> Variables:
        """The inverse of :meth:`split`, in the model's order."""
        flat = dict(iter_flat(params))
        flat.update(iter_flat(buffers))
        plan = plan_of(self)
        ordered = {n: flat.pop(n) for n in plan.entries if n in flat}
        ordered.update(flat)
        return unflatten(ordered)


def _sub_key(key: Any, path: str) -> Any:
    """A JAX key is split per module/variable by path; a TorchGenerator is handed on as it
    is, so draws consume torch's one global stream in torch's order (replaying ``apply``)."""
    if key is None or is_torch_generator(key):
        return key
    return jax.random.fold_in(key, _path_hash(path))


def _path_hash(path: str) -> np.uint32:
    return np.uint32(zlib.crc32(path.encode("utf-8")))


def _coerce(name: str, current: Any, value: Any, cast: bool, declared: Any = None) -> Any:
    """torch ``copy_`` semantics for replacing a variable: same shape (or the declared one,
    after model surgery), current dtype."""
    array = value if isinstance(value, jax.Array) else _as_numpy(value)  # tracers included
    shape = tuple(np.shape(array))
    if shape != tuple(current.shape) and shape != declared:
        raise ValueError(
            f"size mismatch for {name}: the new value has shape {shape}, the shape in current "
            f"model is {tuple(current.shape)}"
        )
    if cast:
        return jnp.asarray(array, dtype=current.dtype)
    canonical_dtype(array.dtype, what=f"the new value of {name} has dtype")  # no silent f32
    return jnp.asarray(array)


def _warn_declarations_only(module: Any, fn: Any) -> None:
    """torch's ``net.apply(fn)`` after ``net.init``: say that the variables held stay as they
    are, and how to re-initialise them."""
    import warnings

    name = getattr(fn, "__name__", "fn")
    warnings.warn(
        f"{type(module).__name__}.apply({name}) with one argument re-initialises the "
        "declarations only: it changes what the next net.init(key) draws, not the variables "
        "net.init already returned. To re-initialise those, use the functional form, "
        f"variables = net.apply(variables, fn, key), with fn(m, key) assigning new arrays "
        "(m.weight = init.normal(key, m.weight.shape, 0.0, 0.02)); or call net.init(key) "
        "again after this apply",
        UserWarning,
        stacklevel=3,
    )
