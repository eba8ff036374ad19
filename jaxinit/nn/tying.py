"""Tying: one variable, several names.

A tie is declared in the model, the way torch users already do it:

* reuse a module object (``shared = nn.Linear(8, 8); nn.Sequential(..., shared, ..., shared)``);
* assign one module's declaration to another (``net.decoder.weight = net.embed.weight``).

Either way the variable is stored once, under its first name (the name ``named_parameters``
gives it); every other name is an *alias* that ``state_dict``, ``load_state_dict``, ``get`` and
``set`` resolve to it. Because every use reads the same leaf, ``jax.grad`` sums their
gradients and an optimizer step moves them together: they cannot drift apart.

What is *not* a tie is the same array object placed at two names of a variables tree: those are
two leaves to JAX, with two gradients. :func:`check_undeclared_ties` rejects that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jax

from ._plan import plan_of

if TYPE_CHECKING:
    from .module import Module


class UndeclaredTieError(ValueError):
    """The same array object sits at two names of a variables tree without a declared tie."""


def tied_names(net: Module) -> dict[str, str]:
    """Every alias name of a tied variable -> the name it is stored under.

    Example::

        shared = nn.Linear(8, 8)
        net = nn.Sequential(shared, nn.ReLU(), shared)
        tied_names(net)   # {'2.weight': '0.weight', '2.bias': '0.bias'}
    """
    return dict(plan_of(net).aliases)


def check_undeclared_ties(flat: Mapping[str, Any]) -> None:
    """Reject one concrete array object at two names: its uses would get two gradients and
    drift apart after the first optimizer step."""
    seen: dict[int, str] = {}
    for name, value in flat.items():
        if not isinstance(value, jax.Array) or isinstance(value, jax.core.Tracer):
            continue
        other = seen.setdefault(id(value), name)
        if other != name:
            raise UndeclaredTieError(
                f"the same array object is stored at {other!r} and {name!r}, but the model "
                "does not tie them: each would get its own gradient and the two would drift "
                "apart at the first optimizer step. To share it, declare the tie in the model "
                f"(assign one module's Parameter to the other, e.g. `net.b.weight = "
                f"net.a.weight`, or reuse the same module object); to keep them independent, "
                "store a copy (jnp.array(x, copy=True))"
            )
