"""Host (numpy) arrays onto the default device, many at once and without a compile per shape.

``jnp.asarray(numpy_array)`` copies through a jitted ``stage`` program, compiled once per new
shape and dtype (10-40 ms each on CPU): loading a model's state_dict paid one compile per
distinct parameter shape, seconds for a real model. ``jax.device_put`` places without
compiling, and one call places a whole list. Shared by ``load_state_dict``, constructor init,
the optimizers' ``load_state_dict``, ``testing.compare`` and the checkpoint readers
(:mod:`jaxinit.serialization.place`). Neutral module: no import of :mod:`jaxinit.nn`.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np

try:  # one array onto one device without jax.device_put's per-array Python (~4x cheaper)
    from jax._src.core import ShapedArray as _ShapedArray
    from jax._src.interpreters.pxla import batched_device_put as _put_on_device
except ImportError:  # another jax: the public path below is used for every array
    _put_on_device = None


def device_arrays(values: Sequence[np.ndarray], *, copy: bool = True) -> list[jax.Array]:
    """``[jnp.asarray(v) for v in values]`` for host arrays, uncommitted on the default device,
    dtypes canonicalized as ``jnp.asarray`` does (float64 becomes float32 unless x64 is on).

    ``copy=True``: each array copied, so a later change to ``v`` does not show (the caller's
    arrays). ``copy=False``: buffers the caller owns and will not touch again (a checkpoint
    reader's) may be adopted uncopied (jax's CPU client does so for 64-byte aligned buffers),
    and many arrays skip ``jax.device_put``'s per-array Python.

    Example::

        w, b = device_arrays([np.ones((3, 4), np.float32), np.zeros(3, np.float32)])
    """
    values = list(values)
    if not values:
        return []
    if copy:
        # jax.device_put(numpy_array, may_alias=False) still adopts a 64-byte aligned buffer
        # on CPU (its numpy path ignores the copy semantics), so the copy is made here: one
        # array at a time, so that no second copy of a whole state_dict is alive at once
        # (the device adopts the fresh copy, or copies it and frees it at once)
        return [jax.device_put(np.array(v, copy=True)) for v in values]
    first = jax.device_put(values[:1])  # settles the device and the committed flag
    if _put_on_device is None or len(values) < 64 or len(first[0].devices()) != 1:
        return first + jax.device_put(values[1:])
    (device,) = first[0].devices()
    sharding, committed = first[0].sharding, first[0].committed
    try:
        return first + [
            _put_on_device(_ShapedArray(h.shape, h.dtype), sharding, [h], [device], committed)
            for h in values[1:]
        ]
    except (TypeError, AttributeError):  # jax's internals changed: the public path
        return first + jax.device_put(values[1:])
