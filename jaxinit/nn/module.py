"""``jaxinit.nn.Module``: torch's module tree as a static description, variables as a pytree.

A module holds hyper-parameters, submodules and *declarations* of its variables
(:class:`~jaxinit.nn.Parameter`, :class:`~jaxinit.nn.Buffer`), never arrays. Its variables
are a nested dict keyed exactly like torch's ``state_dict`` (``v['A']['1']['conv']['weight']``)::

    net = Net()
    variables = net.init(jax.random.key(0))        # every parameter and buffer
    y = net(variables, x)                           # eval semantics: pure, jit-able
    y, variables = net(variables, x, train=True)    # buffers (BatchNorm stats) updated
    params, buffers = net.split(variables)          # grad/optax see params only
    variables = net.merge(params, buffers)

``forward`` is written as in torch: ``self.weight`` is the bound array and ``self.conv(x)``
calls the bound submodule (see :mod:`jaxinit.nn._binding`).
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._dtypes import canonical_dtype
from .._keys import IncompatibleKeys
from .._tree import iter_flat, unflatten
from .._values import check_metadata, value_error
from . import _binding
from ._binding import Frame, bound, merge_updates
from ._initialize import draw, initialize
from ._plan import Plan, join, plan_of, structure_changed
from .parameter import Buffer, Parameter, _as_numpy, _is_array
from .tying import check_undeclared_ties

Variables = dict[str, Any]


def _check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
    if "." in name:
        raise KeyError(f'{kind} name can\'t contain "."')
    if name == "":
        raise KeyError(f'{kind} name can\'t be empty string ""')


def _shape_str(shape: tuple) -> str:
    return str(tuple(shape))


class Module:
    """Base class of every layer and model, the counterpart of ``torch.nn.Module``.

    Subclass it, call ``super().__init__()``, assign submodules and declarations in
    ``__init__`` and write ``forward``. Assignment order is naming order, as in torch.

    Example::

        class MLP(nn.Module):
            def __init__(self):
                super().__init__()
                self.hidden = nn.Linear(20, 256)
                self.output = nn.Linear(256, 10)

            def forward(self, x):
                return self.output(jax.nn.relu(self.hidden(x)))

        net = MLP()
        variables = net.init(jax.random.key(0))
        y = net(variables, jnp.ones((2, 20)))
    """

    _version: int = 1
    # Keys a torch checkpoint of an older version of this module may lack (BatchNorm).
    _legacy_optional: tuple[str, ...] = ()

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        structure_changed()

    # ----------------------------------------------------------------------------------
    # Registration (torch's __setattr__/__getattr__ rules)
    # ----------------------------------------------------------------------------------
    def _tables(self) -> tuple[dict, dict, dict]:
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(
                f"cannot assign to {type(self).__name__} before Module.__init__() call: "
                "call super().__init__() first in your __init__"
            )
        return d["_parameters"], d["_buffers"], d["_modules"]

    def __setattr__(self, name: str, value: Any) -> None:
        params, buffers, modules = self._tables()
        frame = _binding.current()
        if frame is not None and frame.owns(self) and (name in params or name in buffers):
            if name in params and frame.mode == "forward":
                raise AttributeError(
                    f"parameter {name!r} of {type(self).__name__} is read-only in forward; "
                    "change parameters with net.apply, net.map_parameters or net.set"
                )
            if params.get(name, buffers.get(name)) is None:
                raise AttributeError(f"{name!r} of {type(self).__name__} is None")
            frame.write(self, name, value)
            return
        if isinstance(value, Parameter):
            self.register_parameter(name, value)
        elif isinstance(value, Buffer):
            self.register_buffer(name, value)
        elif isinstance(value, Module):
            self.register_module(name, value)
        else:
            for table, what in ((params, "parameter"), (buffers, "buffer"), (modules, "module")):
                if name in table:
                    if value is not None:  # torch's rule: a slot takes its own kind or None
                        raise TypeError(
                            f"cannot assign '{type(value).__name__}' as {what} '{name}' "
                            f"(jaxinit.nn.{what.capitalize()} or None expected)"
                        )
                    table[name] = None
                    structure_changed()
                    return
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        if "_parameters" in d:
            for table in (d["_parameters"], d["_buffers"]):
                if name in table:
                    decl = table[name]
                    if decl is None:
                        return None
                    frame = _binding.current()
                    if frame is not None and frame.owns(self):
                        return frame.read(self, name)
                    return decl
            if name in d["_modules"]:
                return d["_modules"][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for table in self._tables():
            if name in table:
                del table[name]
                structure_changed()
                return
        object.__delattr__(self, name)

    def _forget(self, name: str) -> None:
        for table in self._tables():
            table.pop(name, None)
        if name in self.__dict__:
            object.__delattr__(self, name)

    def _register(self, kind: str, table: dict, name: str, value: Any) -> None:
        _check_name(kind, name)
        if name not in table and (
            name in self.__dict__ or any(name in t for t in self._tables())
        ):
            raise KeyError(f"attribute '{name}' already exists")
        if name not in table:  # re-assigning an existing name keeps its slot, as torch
            self._forget(name)
        table[name] = value
        structure_changed()

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Declare parameter ``name`` (torch's ``register_parameter``); ``None`` declares an
        absent parameter (e.g. ``bias=False``)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(jaxinit.nn.Parameter or None required)"
            )
        old = self._tables()[0].get(name)
        if param is not None and old is not None and old is not param:
            if (old.shape, old.dtype) != (param.shape, param.dtype):
                raise ValueError(
                    f"cannot tie parameter '{name}' of {type(self).__name__} "
                    f"(shape {old.shape}, {old.dtype.name}) to a parameter of shape "
                    f"{param.shape}, {param.dtype.name}: a tied parameter keeps one shape; "
                    "to use it transposed, read the other module's parameter in forward "
                    "(e.g. x @ self.embed.weight.T) instead of assigning it"
                )
        self._register("parameter", self._tables()[0], name, param)

    def register_buffer(
        self, name: str, buffer: Buffer | Any | None, persistent: bool | None = None
    ) -> None:
        """Declare buffer ``name``; a ``Buffer`` declaration or an initial array (its value
        becomes the buffer's initial value). ``persistent=False`` keeps it out of state_dict."""
        if buffer is not None and not isinstance(buffer, Buffer):
            if not _is_array(buffer):
                raise TypeError(
                    f"cannot assign '{type(buffer).__name__}' object to buffer '{name}' "
                    "(jaxinit.nn.Buffer, an array or None required)"
                )
            buffer = Buffer(buffer, persistent=True if persistent is None else persistent)
        elif buffer is not None and persistent is not None:
            buffer.persistent = persistent
        self._register("buffer", self._tables()[1], name, buffer)

    def register_module(self, name: str, module: Module | None) -> None:
        """Add a child module (torch's ``add_module``/``register_module``)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._register("module", self._tables()[2], name, module)

    add_module = register_module

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path ``target`` (``''`` is self), as torch."""
        mod: Module = self
        for item in target.split(".") if target else []:
            child = mod._tables()[2].get(item)
            if child is None:
                raise AttributeError(f"{type(mod).__name__} has no submodule `{item}`")
            mod = child
        return mod

    # ----------------------------------------------------------------------------------
    # Calling
    # ----------------------------------------------------------------------------------
    @property
    def training(self) -> bool:
        """True inside a ``train=True`` call, as torch's ``module.training``."""
        frame = _binding.current()
        return bool(frame is not None and frame.train)

    def next_key(self) -> jax.Array:
        """A fresh PRNG key inside ``forward`` (Dropout): derived from the call's ``key``, this
        module's path and a per-call counter."""
        frame = _binding.current()
        if frame is None or not frame.owns(self):
            raise RuntimeError("next_key() is only available inside a call of the model")
        return frame.next_key(self)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation, written as in torch; called by ``net(variables, *args)`` with the
        variables bound (``self.weight`` is the array, ``self.conv(x)`` the bound child)."""
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        frame = _binding.current()
        if frame is not None and (frame.owns(self) or not self._has_variables()):
            if frame.record is None or not frame.owns(self):
                return self.forward(*args, **kwargs)
            slot = len(frame.record)  # summary(): rows in call order, parents first
            frame.record.append(None)
            out = self.forward(*args, **kwargs)
            frame.record[slot] = (frame.plan.module_paths[id(self)], self, out)
            return out
        if not args or not isinstance(args[0], Mapping):
            if not self._has_variables():  # a parameterless module needs no variables
                return self._call({}, *args, **kwargs)
            raise TypeError(
                f"{type(self).__name__} must be called with its variables first: "
                "net(variables, x) where variables = net.init(key)"
            )
        return self._call(*args, **kwargs)

    def _has_variables(self) -> bool:
        return bool(plan_of(self).entries)

    def _call(
        self,
        variables: Mapping[str, Any],
        *args: Any,
        train: bool = False,
        key: Any = None,
        **kwargs: Any,
    ) -> Any:
        plan = plan_of(self)
        values = self._bind_values(plan, variables)
        frame = Frame(plan, values, "forward", train=train, key=key)
        with bound(frame):
            out = self.forward(*args, **kwargs)
        if not train:
            return out
        return out, merge_updates(variables, frame.updated)

    def _bind_values(self, plan: Plan, variables: Mapping[str, Any]) -> dict[str, Any]:
        flat = dict(iter_flat(variables))
        missing = [n for n in plan.entries if n not in flat]
        unexpected = [n for n in flat if n not in plan.entries]
        if missing or unexpected:
            raise ValueError(self._structure_message(plan, missing, unexpected))
        check_undeclared_ties(flat)
        return flat

    def _structure_message(self, plan: Plan, missing: list[str], unexpected: list[str]) -> str:
        lines = [f"variables do not match {type(self).__name__}:"]
        if missing:
            lines.append("missing: " + ", ".join(missing))
            if all(plan.is_buffer(m) for m in missing):
                lines.append(
                    "these are buffers: pass net.merge(params, buffers), not params alone"
                )
        for name in unexpected:
            canon = plan.canonical(name)
            if canon != name and canon in plan.entries:
                lines.append(
                    f"unexpected: {name} is a tied alias of {canon}; a tied variable is "
                    f"stored once, under its first name: drop {name!r}"
                )
            else:
                lines.append(f"unexpected: {name}")
        lines.append("build variables with net.init(key) or net.load_state_dict(...)")
        return "\n  ".join(lines)

    # ----------------------------------------------------------------------------------
    # Init
    # ----------------------------------------------------------------------------------
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
        return initialize(plan, key, shardings)

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
            frame.write(self, local, draw(frame.plan.entries[canon], key, canon))

    # ----------------------------------------------------------------------------------
    # Structure: modules
    # ----------------------------------------------------------------------------------
    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """Pre-order ``(name, module)`` pairs, the root named ``''``; a module reached twice
        is listed once (first name) unless ``remove_duplicate=False``."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._tables()[2].items():
            if child is None:
                continue
            yield from child.named_modules(memo, join(prefix, name), remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """Every distinct module, pre-order, self first (``named_modules`` without names)."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """``(name, child)`` for the direct children, a child reached twice listed once."""
        seen: set[int] = set()
        for name, child in self._tables()[2].items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        """The direct children, deduplicated (``named_children`` without names)."""
        for _, m in self.named_children():
            yield m

    # ----------------------------------------------------------------------------------
    # Variables by name
    # ----------------------------------------------------------------------------------
    def _named(
        self,
        variables: Mapping[str, Any] | None,
        kind: type,
        prefix: str,
        recurse: bool,
        remove_duplicate: bool,
    ) -> Iterator[tuple[str, Any]]:
        plan = plan_of(self)
        flat = None if variables is None else dict(iter_flat(variables))
        own = self._tables()[0] if kind is Parameter else self._tables()[1]
        seen: set[str] = set()
        for name, canon in plan.all_keys:
            decl = plan.entries[canon]
            if not isinstance(decl, kind):
                continue
            if not recurse and name not in own:
                continue
            if remove_duplicate:
                if canon in seen:
                    continue
                seen.add(canon)
            if flat is None:
                value = decl
            elif canon in flat:
                value = flat[canon]
            else:
                continue  # e.g. buffers asked of a params-only tree
            yield join(prefix, name), value

    def named_parameters(
        self,
        variables: Mapping[str, Any] | None = None,
        prefix: str = "",
        recurse: bool = True,
        remove_duplicate: bool = True,
    ) -> Iterator[tuple[str, Any]]:
        """``(name, array)`` for every parameter, in torch's order; tied ones once (first
        name) unless ``remove_duplicate=False``. Without ``variables``: ``(name, Parameter)``
        declarations (shape, dtype, init). Works on gradient trees too:
        ``net.named_parameters(grads)``."""
        return self._named(variables, Parameter, prefix, recurse, remove_duplicate)

    def parameters(self, variables: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every parameter array (or declaration, without ``variables``), tied ones once."""
        for _, v in self.named_parameters(variables):
            yield v

    def named_buffers(
        self,
        variables: Mapping[str, Any] | None = None,
        prefix: str = "",
        recurse: bool = True,
        remove_duplicate: bool = True,
    ) -> Iterator[tuple[str, Any]]:
        """``(name, array)`` for every buffer, non-persistent ones included, as torch."""
        return self._named(variables, Buffer, prefix, recurse, remove_duplicate)

    def buffers(self, variables: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every buffer array (or declaration, without ``variables``)."""
        for _, v in self.named_buffers(variables):
            yield v

    def state_dict(self, variables: Mapping[str, Any], prefix: str = "") -> OrderedDict:
        """torch's ``state_dict``: every key, tied aliases included (the same array object
        under each alias), parameters before buffers per module, non-persistent buffers left
        out."""
        plan = plan_of(self)
        flat = dict(iter_flat(variables))
        out = OrderedDict()
        for name, canon in plan.state_keys:
            out[prefix + name] = flat[canon]
        return out

    def load_state_dict(
        self,
        variables: Mapping[str, Any] | None,
        state_dict: Mapping[str, Any],
        strict: bool = True,
    ) -> tuple[Variables, IncompatibleKeys]:
        """Functional ``load_state_dict``: ``variables, result = net.load_state_dict(variables,
        state_dict)``.

        Values (numpy, jax or torch tensors) are cast to the current dtype, as torch's
        ``copy_``; every alias key of a tied parameter is read (the last one wins). Missing
        and unexpected keys are always collected and raise if ``strict``; size mismatches
        and non-array values raise even with ``strict=False``, in torch's message format.
        ``variables=None`` loads into a model with no values yet (then every key must be
        present). Nothing is returned unless everything succeeded.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        plan = plan_of(self)
        current = None if variables is None else dict(iter_flat(variables))
        metadata = check_metadata(getattr(state_dict, "_metadata", None))
        new: dict[str, Any] = {}
        missing: list[str] = []
        errors: list[str] = []
        for name, canon in plan.state_keys:
            if name not in state_dict:
                if not self._legacy_key_ok(plan, name, metadata):
                    missing.append(name)
                continue
            value = state_dict[name]
            if not _is_array(value):
                errors.append(
                    f'While copying the parameter named "{name}", expected an array from '
                    f"checkpoint but received {type(value)}"
                )
                continue
            value = _as_numpy(value)
            decl = plan.entries[canon]
            target = current[canon] if current is not None and canon in current else decl
            shape = tuple(target.shape)
            if shape == () and value.shape == (1,):
                value = value.reshape(())
            if value.shape != shape:
                errors.append(
                    f"size mismatch for {name}: copying a param with shape "
                    f"{_shape_str(value.shape)} from checkpoint, the shape in current model "
                    f"is {_shape_str(shape)}."
                )
                continue
            if (problem := value_error(name, value, target.dtype, shape)) is not None:
                errors.append(problem)
                continue
            new[canon] = value.astype(target.dtype) if value.dtype != target.dtype else value
        known = {name for name, _ in plan.state_keys}
        unexpected = [k for k in state_dict if k not in known]
        if (strict and (missing or unexpected)) or errors:
            lines = []
            if strict and missing:
                lines.append(
                    "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". "
                )
            if strict and unexpected:
                lines.append(
                    "Unexpected key(s) in state_dict: "
                    + ", ".join(f'"{k}"' for k in unexpected)
                    + ". "
                )
            lines.extend(errors)
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(lines)
            )
        values: dict[str, Any] = {}
        for canon in plan.entries:
            if canon in new:
                values[canon] = jnp.asarray(new[canon])
            elif current is not None and canon in current:
                values[canon] = current[canon]
            else:
                raise ValueError(
                    f"{canon!r} is missing from the state_dict and there are no current "
                    "variables to keep it from: pass variables=net.init(key) (or a state_dict "
                    "with every key)"
                )
        return unflatten(values), IncompatibleKeys(missing, unexpected)

    def _legacy_key_ok(self, plan: Plan, name: str, metadata: Any) -> bool:
        """torch's BatchNorm rule: a checkpoint without version-2 metadata may lack
        ``num_batches_tracked``; the current value is kept."""
        prefix, _, local = name.rpartition(".")
        module = plan.modules.get(plan.canonical(prefix) if prefix else "")
        if module is None or local not in type(module)._legacy_optional:
            return False
        version = None if metadata is None else metadata.get(prefix, {}).get("version")
        return version is None or version < type(module)._version

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
                raise KeyError(f"{name!r} is not a variable or module of {type(self).__name__}")
            node = node[part]
        return node

    def set(
        self, variables: Mapping[str, Any], name: str, value: Any, *, cast: bool = True
    ) -> Variables:
        """A new variables tree with ``name`` replaced (torch's ``p.data = value`` /
        ``copy_``): the shape must match; the value is cast to the current dtype unless
        ``cast=False``. Tied aliases resolve to the one stored array, so setting either name
        changes what every use sees. A module name takes a nested dict of its variables."""
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
        return merge_updates(variables, {canon: _coerce(name, current, value, cast)})

    def apply(
        self, variables: Mapping[str, Any], fn: Callable[..., Any], key: Any = None
    ) -> Variables:
        """torch's ``net.apply(fn)``, functionally: ``fn(module, key)`` is called for every
        distinct module, children first (post-order), with the module's variables bound --
        read ``m.weight``, assign ``m.weight = new`` -- and the new variables are returned.
        ``key`` (optional) is split per module by path.

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
        """
        plan = plan_of(self)
        flat = self._bind_values(plan, variables)
        frame = Frame(plan, flat, "apply")
        order = list(self._post_order())
        with bound(frame):
            for path, module in order:
                mkey = None if key is None else jax.random.fold_in(key, _path_hash(path))
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
        """
        plan = plan_of(self)
        updates = {}
        flat = dict(iter_flat(variables))
        for canon, decl in plan.entries.items():
            if canon not in flat or (isinstance(decl, Buffer) and not buffers):
                continue
            k = None if key is None else jax.random.fold_in(key, _path_hash(canon))
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

    # ----------------------------------------------------------------------------------
    # Printing
    # ----------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's ``repr`` parentheses (override it, as in torch)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, child in self._tables()[2].items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {child_repr}")
        extra = self.extra_repr()
        main = f"{type(self).__name__}("
        if extra and not lines:
            return main + extra + ")"
        if not lines:
            return main + ")"
        body = ([extra] if extra else []) + lines
        return main + "\n  " + "\n  ".join(body) + "\n)"


def _path_hash(path: str) -> np.uint32:
    return np.uint32(zlib.crc32(path.encode("utf-8")))


def _coerce(name: str, current: Any, value: Any, cast: bool) -> Any:
    """torch ``copy_`` semantics for replacing a variable: same shape, current dtype."""
    array = value if isinstance(value, jax.Array) else _as_numpy(value)  # tracers included
    shape = tuple(np.shape(array))
    if shape != tuple(current.shape):
        raise ValueError(
            f"size mismatch for {name}: the new value has shape {shape}, the shape in current "
            f"model is {tuple(current.shape)}"
        )
    if cast:
        return jnp.asarray(array, dtype=current.dtype)
    canonical_dtype(array.dtype, what=f"the new value of {name} has dtype")  # no silent f32
    return jnp.asarray(array)
