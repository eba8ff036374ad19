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

from collections.abc import Mapping
from typing import Any

from .._keys import IncompatibleKeys
from ._calling import Calling
from ._plan import structure_changed
from ._registration import Registration
from ._statedict import StateDict
from ._traversal import Traversal
from ._variables import VariableOps
from ._view import BoundModule

__all__ = ["BoundModule", "IncompatibleKeys", "Module"]


class Module(Registration, Calling, VariableOps, Traversal, StateDict):
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

    # torch's flag for cooperative multiple inheritance: when True, Module.__init__ passes its
    # arguments on to the next class in the MRO (a mixin's __init__).
    call_super_init: bool = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not self.call_super_init and kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got an unexpected keyword argument "
                f"'{next(iter(kwargs))}'"
            )
        if not self.call_super_init and args:
            raise TypeError(
                f"{type(self).__name__}.__init__() takes 1 positional argument but "
                f"{len(args) + 1} were given"
            )
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_non_persistent_names", set())
        structure_changed()
        if self.call_super_init:
            super().__init__(*args, **kwargs)

    def bind(self, variables: Mapping[str, Any]) -> BoundModule:
        """A read-only view of this model with ``variables`` attached, for reading with torch's
        spelling: ``bound.A[1].conv.weight`` is the array, ``bound.A[1].state_dict()``,
        ``bound.A[0].named_parameters()`` and ``bound.A[1].conv(x)`` work. Nothing is copied;
        writing stays functional (``net.set``, ``net.apply``, ``net.load_state_dict``).

        Example::

            bound = net.bind(variables)
            w = bound.A[1].conv.weight               # the array stored at 'A.1.conv.weight'
            sd = bound.A[1].state_dict()             # {'conv.weight': ..., 'bn.weight': ...}
        """
        return BoundModule(self, variables)

    # ----------------------------------------------------------------------------------
    # Printing
    # ----------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's ``repr`` parentheses (override it, as in torch)."""
        return ""

    def __repr__(self) -> str:
        """torch's ``Module.__repr__``: ``Name(extra)`` or one line per extra_repr line and
        child, indented by two spaces."""
        extra_lines = self.extra_repr().split("\n") if self.extra_repr() else []
        child_lines = []
        for name, child in self._tables()[2].items():
            text = repr(child).split("\n")
            child_lines.append(f"({name}): " + "\n  ".join(text))
        lines = extra_lines + child_lines
        main = type(self).__name__ + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


# The mixins are one class to users, as torch's Module is: name their methods Module.<name> (so
# a generator prints as torch's `<generator object Module.modules ...>`, and tracebacks read so).
for _mixin in (Registration, Calling, VariableOps, Traversal, StateDict):
    for _name, _obj in vars(_mixin).items():
        if hasattr(_obj, "__code__"):  # plain functions (not properties or class attributes)
            _obj.__qualname__ = f"Module.{_name}"
