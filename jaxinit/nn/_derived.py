"""Non-persistent buffers: values that come from their declarations.

A buffer registered with ``persistent=False`` (a causal mask, position ids, rotary
frequencies) is not part of a checkpoint in torch, so it cannot be part of what a checkpoint
restores here either. Its value is fixed by its declaration -- the array given to
``register_buffer`` or a constant fill -- so ``init`` leaves it out of the variables and every
consumer (a call, ``state_dict``, ``named_buffers``, ``load_state_dict``, a bound view) uses
the declared value when the tree has none. A tree that does hold one (a forward that updated
it with ``train=True``) is used as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp

from ._initialize import _fill
from ._plan import Plan
from .parameter import _Declaration, _FromValue


def declared_value(decl: _Declaration, name: str) -> Any:
    """The value a non-persistent buffer's declaration fixes (an array, or a constant fill)."""
    if isinstance(decl.init, _FromValue):
        return decl.init(None, decl.shape, decl.dtype)
    value = _fill(decl)
    if value is None:
        raise ValueError(
            f"non-persistent buffer {name!r} takes its value from its declaration, but it is "
            f"declared with a random initializer ({decl!r}): register it with an array "
            "(self.register_buffer(name, array, persistent=False)) or a constant init "
            "(init.zeros, init.ones, init.constant)"
        )
    return jnp.asarray(value)


def fill_derived(plan: Plan, flat: Mapping[str, Any]) -> dict[str, Any]:
    """``flat`` (canonical name -> value) with every absent non-persistent buffer filled in from
    its declaration, in the plan's order."""
    out = dict(flat)
    for name, decl in plan.derived.items():
        if name not in out:
            out[name] = declared_value(decl, name)
    return out
