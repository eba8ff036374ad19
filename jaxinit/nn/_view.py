"""A read-only view of a model with its variables attached: ``bound = net.bind(variables)``.

torch code reads a model by attribute: ``net.A[1].conv.weight``, ``net.A[1].state_dict()``,
``net.A[0].named_parameters()``, ``net.A[1].conv(x)``. A :class:`BoundModule` gives that
spelling over a functional model: every module reached through the view carries the variables,
parameters and buffers read as arrays, and the torch methods that read variables work without
the ``variables`` argument. Nothing is copied: the view resolves each declaration to the array
stored for it. Writing stays functional -- assignment on a view raises and names ``net.set`` /
``net.apply`` / ``net.load_state_dict``, which return new variables.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Iterator, Mapping
from typing import Any

from .._tree import unflatten
from ._binding import Frame, bound
from ._plan import plan_of
from ._registration import Registration
from .parameter import _Declaration

# Methods that take the variables as their first argument: the view passes its own.
_READS = frozenset(
    {"state_dict", "named_parameters", "parameters", "named_buffers", "buffers", "get", "split"}
)
# Methods that would write: refused with the functional spelling.
_WRITES = frozenset(
    {
        "set",
        "apply",
        "map_parameters",
        "load_state_dict",
        "init",
        "reset_parameters",
        "register_parameter",
        "register_buffer",
        "register_module",
        "add_module",
        "set_submodule",
        "merge",
    }
)


def _read_only(what: str) -> AttributeError:
    return AttributeError(
        f"a bound view is read-only ({what}): jaxinit changes variables functionally -- "
        "variables = net.set(variables, 'name', value), net.apply(variables, fn, key), "
        "net.map_parameters(...) or net.load_state_dict(variables, sd) return new variables; "
        "bind those again to read them"
    )


class BoundModule:
    """``net.bind(variables)``: ``net`` as torch would read it, its variables attached.

    Attribute access follows the module tree: a parameter or buffer reads as its array
    (``None`` if declared absent), a submodule as a bound view, containers index and iterate
    into bound views, ``isinstance(view, nn.Conv2d)`` sees the module's class, and
    ``state_dict()``, ``named_parameters()``, ``parameters()``, ``named_buffers()``,
    ``buffers()``, ``get(name)``, ``get_parameter(name)``, ``get_buffer(name)`` and calling
    (``view(x)``, eval mode unless ``train=True``) use the attached variables. Hyper-parameters
    (``view.stride``) read through. Any other method or property reached through the view
    (nanoGPT's ``generate``) runs with the variables bound, as an eval call with no ``rng``:
    ``self(...)``, ``self.child(...)`` and ``self.weight`` inside it read the attached
    variables, and assigning a variable there raises (the view is read-only).
    ``view.unbind()`` returns ``(module, variables)``.

    Example::

        bound = net.bind(variables)
        bound.A[1].conv.weight.shape         # (2, 1, 1, 1)
        list(bound.A[1].state_dict())        # ['conv.weight', 'bn.weight', ...]
        y = bound.A[1].conv(x)               # the conv with its stored weight
        out = gpt.bind(variables).generate(idx, 8, key=k)  # a method calling self(...)
    """

    __slots__ = ("_module", "_by_decl")

    def __init__(self, module: Any, variables: Mapping[str, Any] | None, _by_decl=None):
        object.__setattr__(self, "_module", module)
        if _by_decl is None:
            plan = plan_of(module)
            flat = module._bind_values(plan, variables)  # checks names; fills derived buffers
            _by_decl = {id(decl): flat[name] for name, decl in plan.entries.items()}
        object.__setattr__(self, "_by_decl", _by_decl)

    # -- reading ---------------------------------------------------------------------------
    @property
    def __class__(self):  # noqa: D105 - isinstance(view, nn.Conv2d) as torch code expects
        return type(self._module)

    def _value(self, decl: Any, name: str) -> Any:
        if decl is None:
            return None
        try:
            return self._by_decl[id(decl)]
        except KeyError:
            raise AttributeError(
                f"{name!r} of {type(self._module).__name__} is not part of the bound model "
                "(a module added after bind?): bind the variables of the model that holds it"
            ) from None

    def _wrap(self, x: Any) -> Any:
        if isinstance(x, BoundModule):
            return x
        if isinstance(x, Registration):
            return BoundModule(x, None, self._by_decl)
        if isinstance(x, _Declaration):  # e.g. ParameterList items: the stored array
            return self._value(x, "a declaration")
        if isinstance(x, tuple) and not hasattr(x, "_fields"):
            return tuple(self._wrap(v) for v in x)
        if isinstance(x, list):
            return [self._wrap(v) for v in x]
        if isinstance(x, (types.GeneratorType, Iterator)) or type(x).__name__ in (
            "dict_values",
            "dict_items",
        ):
            return (self._wrap(v) for v in x)
        return x

    def variables(self) -> dict[str, Any]:
        """This module's own variables tree (canonical names relative to it), no copies."""
        plan = plan_of(self._module)
        return unflatten({name: self._value(decl, name) for name, decl in plan.entries.items()})

    def unbind(self) -> tuple[Any, dict[str, Any]]:
        """``module, variables = view.unbind()``: the module and its variables tree."""
        return self._module, self.variables()

    def __getattr__(self, name: str) -> Any:
        module = self._module
        if name.startswith("__") or name in ("_module", "_by_decl"):
            raise AttributeError(name)
        params, buffers, modules = module._tables()
        for table in (params, buffers):
            if name in table:
                return self._value(table[name], name)
        if name in modules:
            return self._wrap(modules[name])
        if name in _WRITES:
            raise _read_only(f"{name}() needs the variables it changes")
        if name in _READS:
            method = getattr(module, name)
            return lambda *args, **kwargs: self._wrap(method(self.variables(), *args, **kwargs))
        if name in ("get_parameter", "get_buffer", "get_submodule"):
            return lambda target: self._lookup(name, target)
        if isinstance(inspect.getattr_static(module, name, None), property):
            with bound(self._frame()):  # a property may read self.weight
                attr = getattr(module, name)
        else:  # a plain attribute or a method: nothing runs yet, no frame to build
            attr = getattr(module, name)
        if isinstance(attr, types.MethodType):
            return self._bound_method(attr)
        return self._wrap(attr)

    def _frame(self) -> Frame:
        """An eval frame (no ``rng``) binding this module's variables, for its methods."""
        plan = plan_of(self._module)
        values = {name: self._value(decl, name) for name, decl in plan.entries.items()}
        return Frame(plan, values, "view")

    def _bound_method(self, method: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            with bound(self._frame()):
                return self._wrap(method(*args, **kwargs))

        call.__name__ = getattr(method, "__name__", "method")
        call.__doc__ = getattr(method, "__doc__", None)
        return call

    def _lookup(self, method: str, target: str) -> Any:
        module_path, _, last = target.rpartition(".")
        if method == "get_submodule":
            return self._wrap(self._module.get_submodule(target))
        getattr(self._module, method)(target)  # torch's checks and messages
        owner = self._module.get_submodule(module_path)
        table = owner._tables()[0 if method == "get_parameter" else 1]
        return self._value(table[last], target)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._module(self.variables(), *args, **kwargs)

    def __getitem__(self, idx: Any) -> Any:
        return self._wrap(self._module[idx])

    def __iter__(self) -> Iterator[Any]:
        return (self._wrap(v) for v in self._module)

    def __len__(self) -> int:
        return len(self._module)

    def __contains__(self, item: Any) -> bool:
        return item in self._module

    def __dir__(self) -> list[str]:
        return dir(self._module)

    def __repr__(self) -> str:
        return repr(self._module)

    # -- writing is functional -------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        raise _read_only(f"cannot assign {name!r}")

    def __delattr__(self, name: str) -> None:
        raise _read_only(f"cannot delete {name!r}")

    def __setitem__(self, idx: Any, value: Any) -> None:
        raise _read_only(f"cannot assign item {idx!r}")

    def __delitem__(self, idx: Any) -> None:
        raise _read_only(f"cannot delete item {idx!r}")
