"""Registration: torch's ``__setattr__``/``__getattr__``/``register_*`` rules for a module."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _binding
from ._plan import structure_changed
from .parameter import Buffer, Parameter, _is_array

if TYPE_CHECKING:
    from .module import Module


def _check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
    if "." in name:
        raise KeyError(f'{kind} name can\'t contain "."')
    if name == "":
        raise KeyError(f'{kind} name can\'t be empty string ""')


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
        elif isinstance(value, Registration):
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
        if module is not None and not isinstance(module, Registration):
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

