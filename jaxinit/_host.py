"""Host arrays onto the default device without a compile per shape.

``jnp.asarray(numpy_array)`` copies through a jitted ``stage`` program, compiled once per new
shape and dtype (10-40 ms each on CPU): loading a model's state_dict paid one compile per
distinct parameter shape, seconds for a real model. ``jax.device_put`` copies without
compiling, and one call places a whole list. Neutral module: no import of :mod:`jaxinit.nn`.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np


def device_arrays(values: Sequence[np.ndarray]) -> list[jax.Array]:
    """``[jnp.asarray(v) for v in values]`` for host (numpy) arrays: each copied once (a later
    change to ``v`` does not show), its dtype canonicalized as ``jnp.asarray`` does (float64
    becomes float32 unless x64 is on), uncommitted on the default device.

    Example::

        w, b = device_arrays([np.ones((3, 4), np.float32), np.zeros(3, np.float32)])
    """
    values = list(values)
    if not values:
        return []
    return list(jax.device_put(values, may_alias=False))
