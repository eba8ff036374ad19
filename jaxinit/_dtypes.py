"""dtype rules shared by every sampler in jaxinit.

Two rules, both differences from ``jax.random``:

* a 64-bit dtype asked for while ``jax_enable_x64`` is off is an error, never a silent
  32-bit array;
* half-precision floats (bfloat16, float16) are sampled at float32 precision and then cast,
  as torch does, instead of sampling in the narrow type (which collapses a normal to a
  handful of distinct values).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

DTypeLike = Any

X64_HINT = (
    "64-bit types need JAX's x64 mode: call jax.config.update('jax_enable_x64', True) at "
    "start-up (or set JAX_ENABLE_X64=1), or use `with jax.enable_x64(True):`"
)


def x64_enabled() -> bool:
    return bool(jax.config.jax_enable_x64)


def canonical_dtype(dtype: DTypeLike, *, what: str = "dtype") -> np.dtype:
    """Return ``dtype`` as a numpy dtype, refusing 64-bit types while x64 mode is off."""
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"{what} {dtype!r} is not a dtype; pass e.g. jnp.float32") from err
    is_64_bit = (dt.kind in "fiu" and dt.itemsize == 8) or (dt.kind == "c" and dt.itemsize == 16)
    if is_64_bit and not x64_enabled():
        raise ValueError(f"{what} {dt.name} requested while jax_enable_x64 is off. {X64_HINT}.")
    return dt


def canonical_float_dtype(dtype: DTypeLike, *, what: str = "dtype") -> np.dtype:
    """Like :func:`canonical_dtype`, and the dtype must be a floating type."""
    dt = canonical_dtype(dtype, what=what)
    if not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(
            f"{what} {dt.name} is not a floating dtype: random initializers fill float "
            "tensors only (torch raises NotImplementedError for integer tensors too)"
        )
    return dt


def sampling_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype random values are drawn in: float32 for narrower floats, else ``dtype``."""
    if jnp.issubdtype(dtype, jnp.floating) and np.dtype(dtype).itemsize < 4:
        return np.dtype(np.float32)
    return np.dtype(dtype)
