"""Declarations of a module's variables: :class:`Parameter` and :class:`Buffer`.

A declaration holds what torch's ``nn.Parameter`` / ``register_buffer`` would hold *about* a
tensor -- its shape, dtype and how it is initialised -- but never the array itself. Arrays live
in the variables tree that ``Module.init`` returns. Assigning the same declaration to two
modules (``b.weight = a.weight``) ties them: the array is stored once and both uses read it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._dtypes import canonical_dtype
from ._ctor_init import _TensorMethods

Initializer = Callable[..., jax.Array]
"""``init(key, shape, dtype) -> array``: every function of :mod:`jaxinit.init` qualifies."""

# Every declaration gets a sequence number when it is created, and so does every later
# re-initialisation of it (``init.kaiming_normal_(m.weight)``, ``m.bias.data.zero_()``). torch
# draws a parameter's initial values when the parameter is constructed and again at each
# re-initialisation, so this is torch's draw order, which the torch-exact generator replays (it
# can differ from the naming order, e.g. a shared layer built first).
_creation_counter = itertools.count()


def _is_array(value: Any) -> bool:
    return isinstance(value, (np.ndarray, jax.Array, np.generic)) or (
        hasattr(value, "__array__") and hasattr(value, "shape") and hasattr(value, "dtype")
    )


def _as_numpy(value: Any) -> np.ndarray:
    """numpy view of an array-like; a torch tensor goes through the interop's bit-exact
    conversion (bfloat16, float8 included) -- torch is only touched when one is passed."""
    if type(value).__module__.startswith("torch"):
        from ..interop.torch import tensor_to_numpy

        return tensor_to_numpy(value)
    return np.asarray(value)


def _default_dtype(value: np.ndarray) -> np.dtype:
    """jnp's canonical dtype for an array-like (float64 -> float32 unless x64 is on)."""
    return np.dtype(jax.dtypes.canonicalize_dtype(value.dtype))


class _FromValue:
    """Initializer that returns a fixed array (a declaration built from a value)."""

    def __init__(self, value: np.ndarray):
        self.value = value

    def __call__(self, key: Any, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        return jnp.asarray(self.value, dtype=dtype).reshape(shape)

    def __repr__(self) -> str:
        return "value"


def _describe(init: Any) -> str:
    func = getattr(init, "func", None)
    if func is not None:  # functools.partial
        kw = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v!r}"
            for k, v in init.keywords.items()
        )
        return f"{getattr(func, '__name__', func)}({kw})"
    return getattr(init, "__name__", repr(init))


class _Declaration(_TensorMethods):
    __slots__ = ("shape", "dtype", "init", "_seq", "_history")
    kind = "variable"

    def __init__(
        self,
        shape: Sequence[int] | Any,
        init: Initializer | None = None,
        dtype: Any = None,
    ):
        if _is_array(shape):  # nn.Parameter(array): the value is the initial value
            value = _as_numpy(shape)
            if init is not None:
                raise TypeError(
                    f"{type(self).__name__}(value) takes its initial value from the array; "
                    "pass either a value or a shape with init=, not both"
                )
            dtype = _default_dtype(value) if dtype is None else dtype
            shape, init = value.shape, _FromValue(value)
        elif init is None:
            raise TypeError(
                f"{type(self).__name__}{tuple(shape)!r} needs an initializer: pass init=, "
                "e.g. init=jaxinit.init.zeros or functools.partial(jaxinit.init.normal, std=0.01)"
            )
        try:
            self.shape = tuple(int(d) for d in shape)
        except TypeError:
            raise TypeError(
                f"{type(self).__name__} shape must be a sequence of ints, got {shape!r}"
            ) from None
        if any(d < 0 for d in self.shape):
            raise ValueError(f"{type(self).__name__} shape {self.shape} has a negative dimension")
        self.dtype = canonical_dtype(jnp.float32 if dtype is None else dtype)
        self.init = init
        self._seq = next(_creation_counter)
        # (sequence number, initializer) of the declaration and of each re-initialisation
        self._history: list[tuple[int, Initializer]] = [(self._seq, init)]

    def _reinit(self, init: Initializer) -> _Declaration:
        """Record a re-initialisation event: ``init`` becomes the initializer (the one a JAX
        key draws); a TorchGenerator replays every event in sequence order. Returns self."""
        self._history.append((next(_creation_counter), init))
        self.init = init
        return self

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def dim(self) -> int:
        """Number of dimensions, as torch's ``Tensor.dim()`` (nanoGPT's ``p.dim() >= 2``)."""
        return len(self.shape)

    @property
    def requires_grad(self) -> bool:
        """torch's ``requires_grad``: True for a :class:`Parameter`, False for a buffer."""
        return isinstance(self, Parameter)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def numel(self) -> int:
        """Number of elements, as torch's ``Tensor.numel()``."""
        return self.size

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype.name}, "
            f"init={_describe(self.init)})"
        )


class Parameter(_Declaration):
    """A trainable variable of a module: ``Parameter(shape, init, dtype=float32)``.

    ``init(key, shape, dtype)`` draws the initial value; any :mod:`jaxinit.init` function
    (with hyper-parameters bound by ``functools.partial``) qualifies. ``Parameter(array)``
    takes the array as the initial value, like ``nn.Parameter(torch.randn(3, 4))``; float64
    arrays become float32 unless x64 is enabled or ``dtype`` says otherwise. ``Parameter()``
    with no data is torch's empty parameter (shape ``(0,)``, float32).

    Example::

        class MyLinear(nn.Module):
            def __init__(self, in_units, units):
                super().__init__()
                self.weight = nn.Parameter((in_units, units), init=jaxinit.init.normal)
                self.bias = nn.Parameter((units,), init=jaxinit.init.normal)

            def forward(self, x):
                return jax.nn.relu(x @ self.weight + self.bias)
    """

    __slots__ = ()
    kind = "parameter"

    def __init__(
        self,
        shape: Sequence[int] | Any = None,
        init: Initializer | None = None,
        dtype: Any = None,
    ):
        if shape is None and init is None:  # nn.Parameter(): torch's empty parameter
            shape = np.empty((0,), dtype=np.float32 if dtype is None else dtype)
        super().__init__(shape, init, dtype)


class Buffer(_Declaration):
    """A non-trainable variable (running statistics, counters): ``Buffer(shape, init, dtype,
    persistent=True)``. Non-persistent buffers live in the variables but not in ``state_dict``.

    Inside ``forward`` a buffer is updated by assigning to it (``self.running_mean = new``);
    the updated value comes back from ``net(variables, x, train=True)``.
    """

    __slots__ = ("persistent",)
    kind = "buffer"

    def __init__(
        self,
        shape: Sequence[int] | Any,
        init: Initializer | None = None,
        dtype: Any = None,
        *,
        persistent: bool = True,
    ):
        super().__init__(shape, init, dtype)
        self.persistent = persistent
