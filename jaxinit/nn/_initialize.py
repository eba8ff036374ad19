"""``Module.init``: draw every declared variable, fast and reproducibly.

* JAX keys: variable ``name`` is drawn from ``fold_in(key, crc32(name))``, so a variable's
  initial value depends only on the key, its name and its declaration -- adding a layer at the
  end does not change the others. One compiled sampler per distinct (initializer, shape, dtype),
  reused for every variable that shares them: compile cost does not grow with depth, and there
  is no forward pass at init.
* A :class:`jaxinit.TorchGenerator`: variables are drawn one after another in the order torch
  constructs them (declaration order), consuming the stream exactly as torch does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Any

import jax
import numpy as np

from .._tree import unflatten
from ._binding import name_hash
from ._plan import Plan
from .parameter import _Declaration, _FromValue


def _cache_key(init: Any) -> Hashable:
    """Hash initializers by value where possible (``partial(uniform, a=-b, b=b)`` built twice)."""
    if isinstance(init, functools.partial):
        try:
            key = (init.func, init.args, tuple(sorted(init.keywords.items())))
            hash(key)
            return key
        except TypeError:
            return init
    return init


_SAMPLERS: dict[Hashable, Callable] = {}


def _sampler(init: Callable, shape: tuple, dtype: np.dtype, sharding: Any = None) -> Callable:
    """The compiled ``(key, name_hash) -> array`` for one (initializer, shape, dtype)."""
    cache_key = (_cache_key(init), shape, dtype, sharding)
    try:
        return _SAMPLERS[cache_key]
    except KeyError:
        pass
    except TypeError:  # unhashable initializer or sharding: compile for this use only
        cache_key = None

    def sample(key, h):
        return init(jax.random.fold_in(key, h), shape, dtype)

    fn = jax.jit(sample, out_shardings=sharding)
    if cache_key is not None:
        _SAMPLERS[cache_key] = fn
    return fn


def draw(decl: _Declaration, key: Any, name: str, sharding: Any = None) -> jax.Array:
    """The initial value of one declared variable under a JAX key."""
    if isinstance(decl.init, _FromValue):
        value = decl.init(None, decl.shape, decl.dtype)
        return value if sharding is None else jax.device_put(value, sharding)
    h = np.uint32(name_hash(name))
    return _sampler(decl.init, decl.shape, decl.dtype, sharding)(key, h)


def is_torch_generator(key: Any) -> bool:
    try:
        from ..generator import TorchGenerator
    except ImportError:  # pragma: no cover - the generator ships with jaxinit
        return False
    return isinstance(key, TorchGenerator)


def initialize(plan: Plan, key: Any, shardings: dict[str, Any] | None = None) -> dict:
    """Nested variables for ``plan`` (canonical names only, tree order)."""
    shardings = shardings or {}
    values: dict[str, Any] = {}
    if is_torch_generator(key):
        import jax.numpy as jnp

        for name, decl in sorted(plan.entries.items(), key=lambda item: item[1]._seq):
            value = jnp.asarray(decl.init(key, decl.shape, decl.dtype), dtype=decl.dtype)
            if name in shardings:
                value = jax.device_put(value, shardings[name])
            values[name] = value
    else:
        if isinstance(key, int):
            raise TypeError(
                "init takes a PRNG key, not an int: use net.init(jax.random.key(seed)) "
                "(or jaxinit.TorchGenerator(seed) for torch's exact initial values)"
            )
        for name, decl in plan.entries.items():
            values[name] = draw(decl, key, name, shardings.get(name))
    return unflatten({name: values[name] for name in plan.entries})
