"""Argument checks shared by :mod:`jaxinit.init`'s initializers: shapes, keys, uniform bounds,
std, and the conversion of a fill value as torch's ``fill_`` does it. Private.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxinit._dtypes import DTypeLike, canonical_float_dtype

Array = jax.Array
Shape = Sequence[int]
# A JAX PRNG key (typed or raw uint32[2]) or a TorchGenerator (the random initializers); the
# deterministic ones ignore it.
Key = Any


def _shape(shape: Shape, fn: str) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(
            f"{fn}: shape must be a sequence of ints such as (out, in), got {shape!r}"
        ) from None
    if any(d < 0 for d in dims):
        raise ValueError(f"{fn}: shape {dims} has a negative dimension; sizes must be >= 0")
    return dims


def _random_args(key: Key, shape: Shape, dtype: DTypeLike, fn: str):
    if key is None or isinstance(key, (int, np.integer)):
        raise TypeError(
            f"{fn} is random and needs a key, got {key!r}: pass jax.random.key(seed) (or "
            "jax.random.PRNGKey(seed)), or a jaxinit.generator.TorchGenerator for torch's exact "
            "stream"
        )
    return _shape(shape, fn), canonical_float_dtype(dtype)


def _check_uniform_bounds(a: float, b: float, dt: np.dtype) -> None:
    """torch's check_uniform_bounds (ATen RuntimeErrors, raised here as ValueError)."""
    finfo = jnp.finfo(dt)
    lowest, highest = float(finfo.min), float(finfo.max)
    for name, value in (("from", a), ("to", b)):
        if not lowest <= value <= highest:
            raise ValueError(
                f"{name} is out of bounds for {dt.name} (got {value}); uniform bounds must be "
                f"finite values that {dt.name} can hold"
            )
    if a > b:
        raise ValueError(
            f"uniform_ expects to return a [from, to) range, but found from={a:g} > to={b:g}; "
            "pass a <= b"
        )
    if b - a > highest:
        raise ValueError(
            f"uniform_ expects to-from <= std::numeric_limits<{dt.name}>::max(), but found "
            f"to={b:g} and from={a:g} which result in to-from to exceed the limit; narrow the "
            "range"
        )


def _check_std(std: float) -> None:
    if not std >= 0.0:  # also refuses NaN
        raise ValueError(
            f"normal expects std >= 0.0, but found std {std:g}; pass a non-negative std"
        )


def _fill_value(val: Any, dt: np.dtype) -> Any:
    """``val`` converted as torch's ``fill_`` converts a Python scalar."""
    if not isinstance(val, (bool, int, float, np.bool_, np.integer, np.floating)):
        return val  # an array: jnp.full casts it
    if dt == np.bool_:
        return bool(val)
    if jnp.issubdtype(dt, jnp.integer):
        # torch's c10 overflow check: a float must lie in [min, max] (then it is truncated
        # toward zero); an int may also lie in [-max, 0) for an unsigned type, and wraps.
        info = jnp.iinfo(dt)
        highest = int(info.max)
        signed = jnp.issubdtype(dt, jnp.signedinteger)
        if isinstance(val, (float, np.floating)):
            lowest = int(info.min) if signed else 0
            ok = lowest <= float(val) <= highest  # False for NaN
        else:
            lowest = int(info.min) if signed else -highest
            ok = lowest <= int(val) <= highest
        if not ok:
            raise ValueError(
                f"value cannot be converted to type {dt.name} without overflow (got {val}); "
                f"pass a value in [{lowest}, {highest}] or a wider dtype"
            )
        v = math.trunc(float(val)) if isinstance(val, (float, np.floating)) else int(val)
        return np.asarray(v if signed else v % (highest + 1), dt)
    if jnp.issubdtype(dt, jnp.floating):
        v = float(val)
        if math.isfinite(v) and abs(v) > float(jnp.finfo(dt).max):
            raise ValueError(
                f"value cannot be converted to type {dt.name} without overflow (got {val}); "
                "pass a smaller value or a wider dtype"
            )
        return np.asarray(v, dt)
    return val


def _is_dtype_like(value: Any) -> bool:
    """A dtype (``jnp.float32``, ``np.dtype('bfloat16')``, ``bool``) or a string (a dtype's
    name: no initializer takes a string as torch's first argument), never a number: what tells
    a positional dtype from torch's first positional argument."""
    if isinstance(value, (bool, int, float, complex, np.number, np.ndarray, jax.Array)):
        return False
    return isinstance(value, (np.dtype, type, str))


def torch_positional(fn: Any) -> Any:
    """Make ``fn(key, shape, <torch's positional arguments>, *, dtype=...)`` also take the
    ``jax.nn.initializers`` convention ``fn(key, shape, dtype)`` that flax and equinox call
    with: a dtype-like third positional argument (never a number, so never torch's ``mean``,
    ``a``, ``gain`` or ``val``) is the dtype. ``init.normal(key, shape, 0.0, 0.02)`` is torch's
    ``normal_(w, 0.0, 0.02)``; ``init.normal(key, shape, jnp.bfloat16)`` is flax's call."""
    import functools

    @functools.wraps(fn)
    def wrapper(key: Key, shape: Shape, *args: Any, **kwargs: Any) -> Any:
        if args and _is_dtype_like(args[0]):
            if len(args) > 1 or "dtype" in kwargs:
                raise TypeError(
                    f"{fn.__name__}(key, shape, dtype, ...): a dtype in third place is the "
                    "jax.nn.initializers call (key, shape, dtype) and takes nothing more "
                    "positionally; pass torch's arguments first, e.g. "
                    f"{fn.__name__}(key, shape, 0.0, 0.02, dtype=jnp.bfloat16) for normal"
                )
            kwargs["dtype"], args = args[0], ()
        return fn(key, shape, *args, **kwargs)

    return wrapper
