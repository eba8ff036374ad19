"""torch's tensor functions and methods with torch's semantics, for code a port generates.

``jaxinit.porting.to_source`` writes ``ops.view(x, n, -1)`` where torch code says
``x.view(n, -1)``, and ``ops.cat([a, b], 1)`` for ``torch.cat([a, b], 1)``: each function here
takes torch's arguments (``dim=``, ``keepdim=``, sizes as varargs or one tuple) and returns
what torch returns, built on ``jax.numpy``. Layers and ``torch.nn.functional`` need no entry:
they are ``jaxinit.nn`` and ``jaxinit.nn.functional``. Nothing here imports torch.

Example::

    from jaxinit.porting import ops
    ops.transpose(jnp.ones((2, 3, 4)), 1, 2).shape      # (2, 4, 3), as torch
"""

from __future__ import annotations

import builtins as _builtins
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

# torch's dtypes by torch's names; int64/float64 are JAX's canonical dtype (int32/float32
# unless jax_enable_x64 is on), as ``jnp.asarray`` would give.
float32, float16, bfloat16 = jnp.float32, jnp.float16, jnp.bfloat16
float64 = jax.dtypes.canonicalize_dtype(jnp.float64)
int64 = jax.dtypes.canonicalize_dtype(jnp.int64)
int32, int16, int8, uint8, bool_ = jnp.int32, jnp.int16, jnp.int8, jnp.uint8, jnp.bool_

_MinMax = namedtuple("_MinMax", ["values", "indices"])


def _sizes(sizes: tuple) -> tuple:
    """torch's ``f(*sizes)`` or ``f(sizes)``."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        return tuple(sizes[0])
    return tuple(sizes)


def _dims(x: Array, dim: Any) -> Any:
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        return tuple(d % _builtins.max(x.ndim, 1) for d in dim)
    return dim % _builtins.max(x.ndim, 1)


# ------------------------------------------------------------------------------------ shapes


def size(x: Array, dim: int | None = None) -> Any:
    """``x.size()`` (the shape tuple) or ``x.size(dim)``; static under jit."""
    return tuple(x.shape) if dim is None else x.shape[dim]


def dim(x: Array) -> int:
    """``x.dim()``: the number of axes."""
    return x.ndim


def numel(x: Array) -> int:
    """``x.numel()``: the number of elements."""
    return _builtins.int(np.prod(x.shape))


def view(x: Array, *shape: Any) -> Array:
    """``x.view(*shape)`` (one ``-1`` allowed); a dtype argument reinterprets the bits."""
    if len(shape) == 1 and not isinstance(shape[0], (_builtins.int, tuple, list)):
        return jax.lax.bitcast_convert_type(x, shape[0])
    return jnp.reshape(x, _sizes(shape))


def reshape(x: Array, *shape: Any) -> Array:
    """``torch.reshape(x, shape)`` / ``x.reshape(*shape)``."""
    return jnp.reshape(x, _sizes(shape))


def view_as(x: Array, other: Array) -> Array:
    """``x.view_as(other)``."""
    return jnp.reshape(x, other.shape)


reshape_as = view_as


def flatten(x: Array, start_dim: int = 0, end_dim: int = -1) -> Array:
    """``torch.flatten``: axes ``start_dim..end_dim`` merged into one."""
    if x.ndim == 0:
        return jnp.reshape(x, (1,))
    s, e = start_dim % x.ndim, end_dim % x.ndim
    return jnp.reshape(x, (*x.shape[:s], -1, *x.shape[e + 1 :]))


def unflatten(x: Array, dim: int, sizes: Sequence[int]) -> Array:
    """``x.unflatten(dim, sizes)``: axis ``dim`` split into ``sizes`` (one -1 allowed)."""
    d = dim % x.ndim
    return jnp.reshape(x, (*x.shape[:d], *sizes, *x.shape[d + 1 :]))


def transpose(x: Array, dim0: int, dim1: int) -> Array:
    """``torch.transpose(x, dim0, dim1)``: two axes swapped (not numpy's full reversal)."""
    return jnp.swapaxes(x, dim0, dim1)


swapaxes = transpose


def t(x: Array) -> Array:
    """``x.t()``: a matrix transposed (a vector unchanged)."""
    return x if x.ndim < 2 else jnp.swapaxes(x, 0, 1)


def permute(x: Array, *dims: Any) -> Array:
    """``x.permute(*dims)``."""
    return jnp.transpose(x, _sizes(dims))


def contiguous(x: Array, memory_format: Any = None) -> Array:
    """``x.contiguous()``: the array itself (JAX arrays have no strides)."""
    return x


def clone(x: Array, memory_format: Any = None) -> Array:
    """``x.clone()``: the array itself (JAX arrays are immutable)."""
    return x


def detach(x: Array) -> Array:
    """``x.detach()``: ``jax.lax.stop_gradient``."""
    return jax.lax.stop_gradient(x)


def unsqueeze(x: Array, dim: int) -> Array:
    """``x.unsqueeze(dim)`` (negative ``dim`` counts from ``x.ndim + 1``)."""
    return jnp.expand_dims(x, dim % (x.ndim + 1))


def squeeze(x: Array, dim: Any = None) -> Array:
    """``x.squeeze(dim)``: only axes of size 1 go (torch keeps others silently)."""
    if dim is None:
        return jnp.squeeze(x)
    dims = (dim,) if isinstance(dim, _builtins.int) else tuple(dim)
    dims = tuple(d % x.ndim for d in dims if x.shape[d] == 1)
    return jnp.squeeze(x, dims) if dims else x


def expand(x: Array, *sizes: Any) -> Array:
    """``x.expand(*sizes)``: ``-1`` keeps an axis; new leading axes allowed."""
    sizes = _sizes(sizes)
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return jnp.broadcast_to(x, shape)


def expand_as(x: Array, other: Array) -> Array:
    """``x.expand_as(other)``."""
    return jnp.broadcast_to(x, other.shape)


def repeat(x: Array, *sizes: Any) -> Array:
    """``x.repeat(*sizes)``: tile (numpy's ``tile``, not ``repeat``)."""
    return jnp.tile(x, _sizes(sizes))


def repeat_interleave(x: Array, repeats: Any, dim: int | None = None) -> Array:
    """``torch.repeat_interleave``: each element repeated ``repeats`` times."""
    return jnp.repeat(x, repeats, axis=dim)


def narrow(x: Array, dim: int, start: int, length: int) -> Array:
    """``x.narrow(dim, start, length)``."""
    return jax.lax.slice_in_dim(x, start, start + length, axis=dim % x.ndim)


def cat(tensors: Sequence[Array], dim: int = 0) -> Array:
    """``torch.cat``."""
    return jnp.concatenate(list(tensors), axis=dim)


concat = concatenate = cat


def stack(tensors: Sequence[Array], dim: int = 0) -> Array:
    """``torch.stack``."""
    return jnp.stack(list(tensors), axis=dim)


def chunk(x: Array, chunks: int, dim: int = 0) -> tuple[Array, ...]:
    """``torch.chunk``: pieces of ``ceil(n / chunks)`` along ``dim`` (the last may be
    smaller, and there may be fewer than ``chunks``)."""
    n = x.shape[dim]
    step = -(-n // chunks)
    return split(x, step, dim)


def split(x: Array, split_size_or_sections: Any, dim: int = 0) -> tuple[Array, ...]:
    """``torch.split``: pieces of one size (the last may be smaller) or of listed sizes."""
    n = x.shape[dim]
    if isinstance(split_size_or_sections, _builtins.int):
        s = split_size_or_sections
        bounds = list(range(s, n, s))
    else:
        bounds = list(np.cumsum(split_size_or_sections)[:-1])
    return tuple(jnp.split(x, bounds, axis=dim))


def unbind(x: Array, dim: int = 0) -> tuple[Array, ...]:
    """``torch.unbind``: the slices along ``dim``."""
    return tuple(jnp.moveaxis(x, dim, 0))


def roll(x: Array, shifts: Any, dims: Any = None) -> Array:
    """``torch.roll``."""
    return jnp.roll(x, shifts, axis=dims)


def flip(x: Array, dims: Any) -> Array:
    """``torch.flip``."""
    return jnp.flip(x, axis=tuple(dims) if isinstance(dims, (list, tuple)) else dims)


# -------------------------------------------------------------------------- values, masks


def masked_fill(x: Array, mask: Array, value: Any) -> Array:
    """``x.masked_fill(mask, value)``: ``value`` where ``mask`` is true."""
    return jnp.where(mask, jnp.asarray(value, x.dtype), x)


def where(condition: Array, input: Any = None, other: Any = None) -> Any:
    """``torch.where(condition, input, other)``."""
    return jnp.where(condition, input, other)


def triu(x: Array, diagonal: int = 0) -> Array:
    """``torch.triu``."""
    return jnp.triu(x, diagonal)


def tril(x: Array, diagonal: int = 0) -> Array:
    """``torch.tril``."""
    return jnp.tril(x, diagonal)


def gather(x: Array, dim: int, index: Array) -> Array:
    """``torch.gather``."""
    return jnp.take_along_axis(x, index, axis=dim)


def index_select(x: Array, dim: int, index: Array) -> Array:
    """``torch.index_select``."""
    return jnp.take(x, index, axis=dim)


def clamp(x: Array, min: Any = None, max: Any = None) -> Array:  # noqa: A002 -- torch's names
    """``torch.clamp``."""
    return jnp.clip(x, min, max)


clip = clamp


# ---------------------------------------------------------------------------- arithmetic


def add(x: Any, other: Any, alpha: Any = 1) -> Array:
    """``torch.add(x, other, alpha=alpha)``: ``x + alpha * other``."""
    return x + other if alpha == 1 else x + alpha * other


def sub(x: Any, other: Any, alpha: Any = 1) -> Array:
    """``torch.sub``: ``x - alpha * other``."""
    return x - other if alpha == 1 else x - alpha * other


def mul(x: Any, other: Any) -> Array:
    """``torch.mul``."""
    return x * other


def div(x: Any, other: Any, rounding_mode: str | None = None) -> Array:
    """``torch.div``: true division, or ``'trunc'`` / ``'floor'`` rounding."""
    if rounding_mode == "floor":
        return jnp.floor_divide(x, other)
    q = x / other
    return jnp.trunc(q).astype(jnp.result_type(x)) if rounding_mode == "trunc" else q


def pow(x: Any, exponent: Any) -> Array:  # noqa: A001 -- torch's name
    """``torch.pow``."""
    return x**exponent


def matmul(x: Array, other: Array) -> Array:
    """``torch.matmul``."""
    return jnp.matmul(x, other)


mm = bmm = matmul


def baddbmm(x: Array, b1: Array, b2: Array, beta: Any = 1, alpha: Any = 1) -> Array:
    """``torch.baddbmm``: ``beta * x + alpha * b1 @ b2``."""
    return beta * x + alpha * jnp.matmul(b1, b2)


def addmm(x: Array, m1: Array, m2: Array, beta: Any = 1, alpha: Any = 1) -> Array:
    """``torch.addmm``: ``beta * x + alpha * m1 @ m2``."""
    return beta * x + alpha * jnp.matmul(m1, m2)


def einsum(equation: str, *operands: Any) -> Array:
    """``torch.einsum`` (operands as varargs or one list)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return jnp.einsum(equation, *operands)


def _unary(fn: Any, name: str) -> Any:
    def op(x: Array) -> Array:
        return fn(x)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``torch.{name}``: elementwise ``jnp.{getattr(fn, '__name__', name)}``."
    return op


exp = _unary(jnp.exp, "exp")
log = _unary(jnp.log, "log")
sqrt = _unary(jnp.sqrt, "sqrt")
rsqrt = _unary(jax.lax.rsqrt, "rsqrt")
abs = _unary(jnp.abs, "abs")  # noqa: A001 -- torch's name
neg = _unary(jnp.negative, "neg")
sin = _unary(jnp.sin, "sin")
cos = _unary(jnp.cos, "cos")
tanh = _unary(jnp.tanh, "tanh")
sigmoid = _unary(jax.nn.sigmoid, "sigmoid")
erf = _unary(jax.scipy.special.erf, "erf")
reciprocal = _unary(jnp.reciprocal, "reciprocal")
floor = _unary(jnp.floor, "floor")
ceil = _unary(jnp.ceil, "ceil")
logical_not = _unary(jnp.logical_not, "logical_not")


def relu(x: Array) -> Array:
    """``torch.relu``."""
    return jnp.maximum(x, 0)


# ---------------------------------------------------------------------------- reductions


def _reduce(fn: Any, name: str) -> Any:
    def op(x: Array, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Array:
        if dtype is not None:
            x = x.astype(dtype)
        return fn(x, axis=_dims(x, dim), keepdims=keepdim)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``torch.{name}(x, dim=None, keepdim=False)``."
    return op


sum = _reduce(jnp.sum, "sum")  # noqa: A001 -- torch's name
mean = _reduce(jnp.mean, "mean")
prod = _reduce(jnp.prod, "prod")
amax = _reduce(jnp.max, "amax")
amin = _reduce(jnp.min, "amin")
logsumexp = _reduce(jax.scipy.special.logsumexp, "logsumexp")


def any(x: Array, dim: Any = None, keepdim: bool = False) -> Array:  # noqa: A001
    """``torch.any``."""
    return jnp.any(x, axis=_dims(x, dim), keepdims=keepdim)


def all(x: Array, dim: Any = None, keepdim: bool = False) -> Array:  # noqa: A001
    """``torch.all``."""
    return jnp.all(x, axis=_dims(x, dim), keepdims=keepdim)


def _correction(unbiased: Any, correction: Any) -> int:
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(
    x: Array,
    dim: Any = None,
    unbiased: Any = None,
    keepdim: bool = False,
    *,
    correction: Any = None,
) -> Array:
    """``torch.var`` (Bessel-corrected by default, as torch)."""
    return jnp.var(x, axis=_dims(x, dim), ddof=_correction(unbiased, correction), keepdims=keepdim)


def std(
    x: Array,
    dim: Any = None,
    unbiased: Any = None,
    keepdim: bool = False,
    *,
    correction: Any = None,
) -> Array:
    """``torch.std`` (Bessel-corrected by default, as torch)."""
    return jnp.std(x, axis=_dims(x, dim), ddof=_correction(unbiased, correction), keepdims=keepdim)


def _minmax(reduce: Any, arg: Any, pair: Any, name: str) -> Any:
    def op(x: Array, dim: Any = None, keepdim: bool = False) -> Any:
        if dim is None:
            return reduce(x)
        if not isinstance(dim, _builtins.int):  # torch.max(a, b): elementwise
            return pair(x, dim)
        return _MinMax(reduce(x, axis=dim, keepdims=keepdim), arg(x, axis=dim, keepdims=keepdim))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = (
        f"``torch.{name}``: of all elements; ``(values, indices)`` along ``dim``; "
        "elementwise with a second array."
    )
    return op


max = _minmax(jnp.max, jnp.argmax, jnp.maximum, "max")  # noqa: A001 -- torch's name
min = _minmax(jnp.min, jnp.argmin, jnp.minimum, "min")  # noqa: A001 -- torch's name


def argmax(x: Array, dim: Any = None, keepdim: bool = False) -> Array:
    """``torch.argmax``."""
    return jnp.argmax(x, axis=dim, keepdims=keepdim)


def cumsum(x: Array, dim: int, dtype: Any = None) -> Array:
    """``torch.cumsum``."""
    return jnp.cumsum(x, axis=dim, dtype=dtype)


def diff(x: Array, n: int = 1, dim: int = -1, prepend: Any = None, append: Any = None) -> Array:
    """``torch.diff``: ``x[i + 1] - x[i]`` along ``dim``, ``n`` times."""
    return jnp.diff(x, n=n, axis=dim, prepend=prepend, append=append)


# ------------------------------------------------------------------ dtypes and creation


def to(x: Array, *args: Any, dtype: Any = None, **kwargs: Any) -> Array:
    """``x.to(dtype)`` / ``x.to(device, dtype)`` / ``x.to(other)``: only the dtype acts."""
    for a in args:
        if hasattr(a, "shape") and hasattr(a, "dtype"):
            dtype = a.dtype
        elif a is not None and not isinstance(a, str):
            try:
                dtype = jnp.dtype(a)
            except TypeError:
                pass  # a device
    return x if dtype is None else x.astype(dtype)


def type_as(x: Array, other: Array) -> Array:
    """``x.type_as(other)``."""
    return x.astype(other.dtype)


def _cast(dtype: Any, name: str) -> Any:
    def op(x: Array, memory_format: Any = None) -> Array:
        return x.astype(dtype)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``x.{name}()``: cast to {np.dtype(dtype).name}."
    return op


float = _cast(jnp.float32, "float")  # noqa: A001 -- torch's name
half = _cast(jnp.float16, "half")
double = _cast(float64, "double")
long = _cast(int64, "long")
int = _cast(jnp.int32, "int")  # noqa: A001 -- torch's name
bool = _cast(jnp.bool_, "bool")  # noqa: A001 -- torch's name


def _dtype(dtype: Any, default: Any) -> Any:
    return default if dtype is None else dtype


def arange(
    start: Any,
    end: Any = None,
    step: Any = 1,
    *,
    dtype: Any = None,
    device: Any = None,
    **kwargs: Any,
) -> Array:
    """``torch.arange`` (integers give int64, i.e. JAX's canonical integer)."""
    if end is None:
        start, end = 0, start
    ints = _builtins.all(isinstance(v, (np.integer, _builtins.int)) for v in (start, end, step))
    return jnp.arange(start, end, step, dtype=_dtype(dtype, int64 if ints else jnp.float32))


def zeros(*size: Any, dtype: Any = None, device: Any = None, **kwargs: Any) -> Array:
    """``torch.zeros``."""
    return jnp.zeros(_sizes(size), _dtype(dtype, jnp.float32))


def ones(*size: Any, dtype: Any = None, device: Any = None, **kwargs: Any) -> Array:
    """``torch.ones``."""
    return jnp.ones(_sizes(size), _dtype(dtype, jnp.float32))


def full(
    size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None, **kwargs: Any
) -> Array:
    """``torch.full``."""
    return jnp.full(tuple(size), fill_value, _dtype(dtype, jnp.float32))


def zeros_like(x: Array, *, dtype: Any = None, **kwargs: Any) -> Array:
    """``torch.zeros_like``."""
    return jnp.zeros_like(x, dtype=dtype)


def ones_like(x: Array, *, dtype: Any = None, **kwargs: Any) -> Array:
    """``torch.ones_like``."""
    return jnp.ones_like(x, dtype=dtype)


def full_like(x: Array, fill_value: Any, *, dtype: Any = None, **kwargs: Any) -> Array:
    """``torch.full_like``."""
    return jnp.full_like(x, fill_value, dtype=dtype)


def new_zeros(x: Array, *size: Any, dtype: Any = None, **kwargs: Any) -> Array:
    """``x.new_zeros(size)``: ``x``'s dtype unless given."""
    return jnp.zeros(_sizes(size), _dtype(dtype, x.dtype))


def new_ones(x: Array, *size: Any, dtype: Any = None, **kwargs: Any) -> Array:
    """``x.new_ones(size)``."""
    return jnp.ones(_sizes(size), _dtype(dtype, x.dtype))


def new_full(x: Array, size: Any, fill_value: Any, *, dtype: Any = None, **kwargs: Any) -> Array:
    """``x.new_full(size, fill_value)``."""
    return jnp.full(tuple(size), fill_value, _dtype(dtype, x.dtype))


def tensor(data: Any, *, dtype: Any = None, device: Any = None, **kwargs: Any) -> Array:
    """``torch.tensor(data)``."""
    return jnp.asarray(data, dtype=dtype)


# --------------------------------------------------------------------- random (keyed)


def stochastic_depth(
    input: Array, p: float, mode: str, training: bool = True, *, rng: Any = None
) -> Array:
    """torchvision's ``stochastic_depth``: in training, drop the whole input (``'batch'``)
    or each row (``'row'``) with probability ``p`` and scale survivors by ``1 / (1 - p)``.

    Example: ``ops.stochastic_depth(x, 0.1, "row", True, rng=key)``.
    """
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
    if mode not in ("batch", "row"):
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    if not training or p == 0.0:
        return input
    if rng is None:
        raise ValueError("stochastic_depth in training needs rng= (a PRNG key)")
    shape = (input.shape[0],) + (1,) * (input.ndim - 1) if mode == "row" else (1,) * input.ndim
    keep = jax.random.bernoulli(rng, 1.0 - p, shape)
    scale = 1.0 / (1.0 - p) if p < 1.0 else 0.0
    return jnp.where(keep, input * jnp.asarray(scale, input.dtype), jnp.zeros((), input.dtype))
