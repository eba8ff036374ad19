"""Registration: torch's ``__setattr__``/``__getattr__``/``register_*`` rules for a module.

The rules, as ``torch.nn.Module.__setattr__`` applies them (torch 2.13):

* a :class:`Parameter` assigned to any name removes whatever the name held (a plain attribute, a
  buffer, a submodule) and registers it; a *fresh* Parameter over an existing one is a
  replacement of any shape. Only the same Parameter object reachable by two names is a tie;
* a name that holds a parameter takes only a Parameter or ``None``;
* a :class:`Module` assigned to any name removes a plain attribute, parameter or buffer of that
  name; a name that holds a submodule takes only a Module or ``None``;
* a :class:`Buffer`, or an array assigned to a name that holds a buffer, (re)registers the
  buffer -- an array keeps the slot's persistence, a Buffer brings its own -- and ``None``
  empties the slot;
* ``register_parameter``/``register_buffer``/``register_module`` refuse a name that exists as
  anything else (``KeyError: "attribute 'x' already exists"``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _binding
from ._ctor_init import _View, record_orphan
from ._derived import declared_value
from ._plan import structure_changed
from .parameter import Buffer, Parameter, _FromValue, _is_array

if TYPE_CHECKING:
    from .module import Module


def _check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
    if "." in name:
        if kind == "module":
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        raise KeyError(f'{kind} name can\'t contain "."')
    if name == "":
        raise KeyError(f'{kind} name can\'t be empty string ""')


def _typename(value: Any) -> str:
    return type(value).__name__


class Registration:
    """Mixin of :class:`~jaxinit.nn.Module`: declaring parameters, buffers and submodules."""

    def _tables(self) -> tuple[dict, dict, dict]:
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(
                f"cannot assign to {type(self).__name__} before Module.__init__() call: "
                "call super().__init__() first in your __init__"
            )
        return d["_parameters"], d["_buffers"], d["_modules"]

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if "_parameters" not in d:
            if isinstance(value, (Parameter, Buffer, Registration)):
                what = {Parameter: "parameters", Buffer: "buffer"}.get(type(value), "module")
                raise AttributeError(
                    f"cannot assign {what} before Module.__init__() call: call "
                    "super().__init__() first in your __init__"
                )
            object.__setattr__(self, name, value)
            return
        params, buffers, modules = d["_parameters"], d["_buffers"], d["_modules"]
        frame = _binding.current()
        if frame is not None and frame.owns(self) and (name in params or name in buffers):
            self._write_bound(frame, params, buffers, name, value)
            return
        if isinstance(value, Parameter):
            self._remove(name, keep=params)
            self.register_parameter(name, value)
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as parameter '{name}' "
                    "(jaxinit.nn.Parameter or None expected)"
                )
            self.register_parameter(name, None)
        elif isinstance(value, Registration):
            self._remove(name, keep=modules)
            self.register_module(name, value)
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as child module '{name}' "
                    "(jaxinit.nn.Module or None expected)"
                )
            modules[name] = None
            structure_changed()
        elif isinstance(value, Buffer) or name in buffers:
            if isinstance(value, _View):  # self.bias = self.bias[:, :, :n, :n] (surgery)
                value = Buffer(value, persistent=self._persistence(name))
            if value is not None and not isinstance(value, Buffer) and not _is_array(value):
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as buffer '{name}' "
                    "(jaxinit.nn.Buffer, an array or None expected)"
                )
            old = buffers.get(name)
            persistent = (
                value.persistent
                if isinstance(value, Buffer)
                else getattr(old, "persistent", self._persistence(name))
            )
            try:
                self.register_buffer(name, value, persistent)
            except TypeError:  # torch's hack: a subclass's register_buffer(name, value)
                if not persistent:
                    raise
                self.register_buffer(name, value)
        else:
            object.__setattr__(self, name, value)

    def _persistence(self, name: str) -> bool:
        return name not in self.__dict__["_non_persistent_names"]

    def _write_bound(self, frame: Any, params: dict, buffers: dict, name: str, value: Any):
        if frame.mode == "view":
            raise AttributeError(
                f"cannot assign {name!r} of {type(self).__name__} through a bound view (it is "
                "read-only): change variables with net.set, net.apply or net.load_state_dict, "
                "or call net(variables, x, train=True) for buffer updates"
            )
        if name in params and frame.mode == "forward":
            raise AttributeError(
                f"parameter {name!r} of {type(self).__name__} is read-only in forward; "
                "change parameters with net.apply, net.map_parameters or net.set"
            )
        if params.get(name, buffers.get(name)) is None:
            raise AttributeError(f"{name!r} of {type(self).__name__} is None")
        frame.write(self, name, value)

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
        params, buffers, modules = self._tables()
        for table in (params, buffers, modules):
            if name in table:
                record_orphan(self, table[name] if table is not modules else None)
                del table[name]
                self.__dict__["_non_persistent_names"].discard(name)
                structure_changed()
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        """Attributes, methods, parameters, buffers and submodules, as torch's ``__dir__``."""
        keys = set(super().__dir__())
        for table in self._tables():
            keys.update(table)
        keys = {k for k in keys if not k[:1].isdigit()}
        return sorted(keys)

    def _remove(self, name: str, keep: dict) -> None:
        """torch's ``remove_from``: drop ``name`` from the plain attributes and the other
        tables before it is registered in ``keep``."""
        if name in self.__dict__:
            object.__delattr__(self, name)
        params, buffers, modules = self._tables()
        for table in (params, buffers, modules):
            if table is not keep and name in table:
                record_orphan(self, table[name] if table is not modules else None)
                del table[name]
                structure_changed()
        self.__dict__["_non_persistent_names"].discard(name)

    def _register(self, kind: str, table: dict, name: str, value: Any) -> None:
        _check_name(kind, name)
        if name not in table and self._name_taken(name):
            raise KeyError(f"attribute '{name}' already exists")
        if kind != "module" and table.get(name) is not value:
            record_orphan(self, table.get(name))  # torch drew it: a TorchGenerator replays it
        table[name] = value  # re-assigning an existing name keeps its slot, as torch
        structure_changed()

    def _name_taken(self, name: str) -> bool:
        """torch's ``hasattr(self, name)``: a plain attribute, a class attribute (method,
        property) or an entry of another table."""
        return (
            name in self.__dict__
            or hasattr(type(self), name)
            or any(name in t for t in self._tables())
        )

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Declare parameter ``name`` (torch's ``register_parameter``); ``None`` declares an
        absent parameter (e.g. ``bias=False``). A fresh Parameter over an existing one
        replaces it (any shape); the same Parameter object under two names is a tie.

        Example::

            self.register_parameter("scale", nn.Parameter(jnp.ones(3)))
        """
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_name("parameter", name)
        if param is not None and not isinstance(param, Parameter):
            if name not in self._tables()[0] and self._name_taken(name):
                raise KeyError(f"attribute '{name}' already exists")
            raise TypeError(
                f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                "(jaxinit.nn.Parameter or None required)"
            )
        self._register("parameter", self._tables()[0], name, param)

    def register_buffer(
        self, name: str, buffer: Buffer | Any | None, persistent: bool = True
    ) -> None:
        """Declare buffer ``name``: a ``Buffer`` declaration or an initial array (its value
        becomes the buffer's initial value), or ``None``. ``persistent=False`` keeps it out of
        ``state_dict``; its value then always comes from the declaration.

        Example::

            self.register_buffer("mask", jnp.tril(jnp.ones((8, 8))), persistent=False)
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_name("buffer", name)
        if name not in self._tables()[1] and self._name_taken(name):
            raise KeyError(f"attribute '{name}' already exists")
        if buffer is not None and not isinstance(buffer, Buffer):
            if not _is_array(buffer):
                raise TypeError(
                    f"cannot assign '{_typename(buffer)}' object to buffer '{name}' "
                    "(jaxinit.nn.Buffer, an array or None required)"
                )
            buffer = Buffer(buffer, persistent=persistent)
        elif buffer is not None:
            buffer.persistent = persistent
        if buffer is not None and not persistent and not isinstance(buffer.init, _FromValue):
            declared_value(buffer, name)  # its value must follow from the declaration
        nonpersistent = self.__dict__["_non_persistent_names"]
        if persistent:
            nonpersistent.discard(name)
        else:
            nonpersistent.add(name)
        self._register("buffer", self._tables()[1], name, buffer)

    def register_module(self, name: str, module: Module | None) -> None:
        """Add a child module (torch's ``add_module``/``register_module``).

        Example::

            self.register_module("head", nn.Linear(8, 2))
        """
        if module is not None and not isinstance(module, Registration):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {_typename(name)}")
        if name not in self._tables()[2] and self._name_taken(name):
            raise KeyError(f"attribute '{name}' already exists")
        _check_name("module", name)
        self._tables()[2][name] = module
        structure_changed()

    add_module = register_module

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path ``target`` (``''`` is self), as torch.

        Example: ``net.get_submodule("A.1.conv")``."""
        mod: Any = self
        for item in target.split(".") if target else []:
            if not hasattr(mod, item):
                raise AttributeError(f"{type(mod).__name__} has no attribute `{item}`")
            mod = getattr(mod, item)
            if not isinstance(mod, Registration):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return mod

    def set_submodule(self, target: str, module: Module, strict: bool = False) -> None:
        """Replace (or, unless ``strict``, add) the submodule at dotted ``target``, as torch.

        Example: ``net.set_submodule("A.1.conv", nn.Conv2d(1, 1, 3))``."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        *path, last = target.split(".")
        if not isinstance(module, Registration):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent = self.get_submodule(".".join(path))
        if strict and not hasattr(parent, last):
            raise AttributeError(f"{type(parent).__name__} has no attribute `{last}`")
        if hasattr(parent, last) and not isinstance(getattr(parent, last), Registration):
            raise AttributeError(f"`{last}` is not an nn.Module")
        setattr(parent, last, module)

    def get_parameter(self, target: str) -> Any:
        """The parameter at dotted ``target`` (its declaration; on a bound view, its array),
        as torch. Example: ``net.get_parameter("A.1.conv.weight")``."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(f"{type(mod).__name__} has no attribute `{name}`")
        if mod._tables()[0].get(name) is None:
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return getattr(mod, name)

    def get_buffer(self, target: str) -> Any:
        """The buffer at dotted ``target`` (its declaration; on a bound view, its array), as
        torch. Example: ``net.get_buffer("bn.running_mean")``."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(f"{type(mod).__name__} has no attribute `{name}`")
        if name not in mod._tables()[1]:
            raise AttributeError(f"`{name}` is not a buffer")
        return getattr(mod, name)
