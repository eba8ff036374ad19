"""``torch.nn.init`` as pure, keyed JAX functions.

Every initializer takes torch's arguments in torch's order after ``(key, shape)``, with
torch's name, formulas, defaults and errors, and ``dtype`` keyword-only::

    fn(key, shape, <torch's arguments>, *, dtype=jnp.float32) -> jax.Array
    init.normal(key, (3, 5), 0.0, 0.02)     # torch's nn.init.normal_(w, 0.0, 0.02)

The ``jax.nn.initializers`` convention ``fn(key, shape, dtype)`` -- how flax and equinox call
an initializer -- works too: a dtype (or a dtype's name) in third place is the dtype, and no
initializer takes one as torch's first argument, so the two never clash.

It returns a NEW array instead of filling a tensor in place, so with its hyper-parameters
bound by :func:`functools.partial` it is a drop-in ``kernel_init`` for flax or ``init`` for
equinox::

    >>> import math, functools, jax, flax.linen as nn
    >>> from jaxinit import init
    >>> # torch's nn.Linear(3, 5).weight, shape (out, in):
    >>> w = init.kaiming_uniform(jax.random.key(0), (5, 3), a=math.sqrt(5))
    >>> # the same numbers for a flax kernel, shape (in, out):
    >>> torch_default = functools.partial(
    ...     init.kaiming_uniform, a=math.sqrt(5), in_axis=-2, out_axis=-1)
    >>> dense = nn.Dense(5, kernel_init=torch_default)

Keys. ``key`` is a typed key (``jax.random.key``) or a raw one (``jax.random.PRNGKey``); the
deterministic initializers (constant, ones, zeros, eye, dirac) ignore it and accept ``None``.
A random initializer also accepts, in place of the key, a
:class:`jaxinit.generator.TorchGenerator`: it then replays torch's CPU algorithm and stream
draw for draw (eagerly, on the host), so that ``fn(TorchGenerator(s), ...)`` equals
``torch.nn.init.fn_(tensor, ..., generator=torch.Generator().manual_seed(s))`` bit for bit
(orthogonal: the same draws, QR equal up to rounding; sparse: see its docstring).

Layouts. Fans follow torch's layout by default: axis 0 is the output, axis 1 the input, the
other axes the receptive field (Linear ``(out, in)``, Conv ``(out, in/groups, *k)``,
ConvTranspose ``(in, out/groups, *k)``: its "fan_in" is ``out/groups * k``, as in torch;
equinox uses these layouts too). Kernels in other layouts name their axes:
flax ``Dense`` ``(in, out)`` and ``Conv`` ``(*k, in, out)`` take ``in_axis=-2, out_axis=-1``.

dtypes. float32 by default; bfloat16/float16 are drawn at float32 and cast (torch does the
same; ``jax.random`` in bf16 gives a few hundred distinct values); float64 needs JAX's x64 mode
(an error otherwise, never a silent float32). Random initializers need a float dtype
(TypeError otherwise); constant/ones/zeros/eye/dirac accept integer and bool dtypes, and
``constant`` converts like torch's ``fill_`` (2.7 -> 2, out of range -> error).

Hyper-parameters (bounds, std, gain, modes, axes) are Python numbers checked eagerly, so every
initializer works under ``jit`` (shape, dtype and hyper-parameters static) and ``vmap`` over
keys, and gives bitwise the same array eagerly and under ``jit``. Bounds are computed in Python
double in torch's order, e.g. ``bound = sqrt(3) * (gain / sqrt(fan))``.

Errors follow torch: the same exception class where torch raises ValueError, TypeError,
ZeroDivisionError or IndexError, and ValueError where torch raises a RuntimeError from ATen
(``a > b``, ``std < 0``, an infinite bound), with torch's wording followed by how to fix it.
"""

from __future__ import annotations

import math
import operator
import warnings
from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxinit._dtypes import DTypeLike, canonical_dtype
from jaxinit._init_checks import (
    Array,
    Key,
    Shape,
    _check_std,
    _check_uniform_bounds,
    _fill_value,
    _random_args,
    _shape,
    torch_positional,
)
from jaxinit._init_fans import (
    _kaiming_std,
    _xavier_std,
    calculate_correct_fan,
    calculate_fan_in_and_fan_out,
    calculate_gain,
)
from jaxinit._init_samplers import (
    _draw_normal,
    _draw_uniform,
    _is_generator,
    _norm_cdf,
    _numel,
    _orthogonal_jit,
    _orthogonalize_jit,
    _sparse_jit,
    _torch_trunc_normal,
    _trunc_normal_jit,
)

__all__ = [
    "calculate_gain",
    "calculate_fan_in_and_fan_out",
    "calculate_correct_fan",
    "uniform",
    "normal",
    "trunc_normal",
    "constant",
    "ones",
    "zeros",
    "empty",
    "eye",
    "dirac",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "orthogonal",
    "sparse",
]
# torch's underscore forms, for declarations: jaxinit/_init_inplace.py, served lazily below
_INPLACE = tuple(f"{name}_" for name in __all__[3:] if name != "empty")
__all__ += _INPLACE

# --------------------------------------------------------------------------------------------
# Plain distributions


@torch_positional
def uniform(
    key: Key, shape: Shape, a: float = 0.0, b: float = 1.0, *, dtype: DTypeLike = jnp.float32
) -> Array:
    """Values drawn from the uniform distribution U(a, b), i.e. in ``[a, b)``.

    ``a == b`` fills ``a``. Errors (as torch's, raised as ValueError): ``a > b``, a bound that
    is infinite/NaN or outside the dtype, ``b - a`` overflowing the dtype.

    Example::

        >>> w = uniform(jax.random.key(0), (3, 5), a=-0.1, b=0.1)
    """
    shape, dt = _random_args(key, shape, dtype, "uniform")
    _check_uniform_bounds(a, b, dt)
    return _draw_uniform(key, shape, dt, a, b)


@torch_positional
def normal(
    key: Key,
    shape: Shape,
    mean: float = 0.0,
    std: float = 1.0,
    *,
    dtype: DTypeLike = jnp.float32,
) -> Array:
    """Values drawn from the normal distribution N(mean, std**2).

    ``std == 0`` fills ``mean``; ``std < 0`` (or NaN) raises ValueError, as torch refuses it.

    Example::

        >>> w = normal(jax.random.key(0), (3, 5), std=0.02)
    """
    shape, dt = _random_args(key, shape, dtype, "normal")
    _check_std(std)
    return _draw_normal(key, shape, dt, mean, std)


@torch_positional
def trunc_normal(
    key: Key,
    shape: Shape,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    *,
    dtype: DTypeLike = jnp.float32,
) -> Array:
    """Values drawn from N(mean, std**2) truncated to ``[a, b]``.

    ``a`` and ``b`` are ABSOLUTE values, not multiples of ``std``: with ``std=0.02`` the
    defaults ``a=-2, b=2`` truncate nothing (flax's/jax's ``truncated_normal`` differ here).

    With a JAX key the values come from the inverse CDF (one draw per value, jit-able, exact
    also for far bounds and for intervals deep in a tail). With a ``TorchGenerator`` it is
    torch 2.12+'s algorithm: with ``p = Phi(beta) - Phi(alpha) > 0.3`` a normal draw whose
    out-of-range values are replaced from full-size redraws, otherwise uniform proposals on
    ``[a, b)`` accepted by comparing the log-density in the tensor dtype.

    As torch: warns ``mean is more than 2 std from [a, b]``; ``std == 0`` raises
    ZeroDivisionError; when ``p <= 0.3`` (torch's uniform-proposal path) ``a > b`` or an
    infinite bound raises ValueError; a negative std is used as ``|std|`` there.
    ``a == b`` fills ``a``.

    Example::

        >>> w = trunc_normal(jax.random.key(0), (768, 768), std=0.02)  # ViT's init
    """
    shape, dt = _random_args(key, shape, dtype, "trunc_normal")
    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
            "The distribution of values may be incorrect.",
            stacklevel=2,
        )
    if std == 0:
        raise ZeroDivisionError(
            "float division by zero: trunc_normal needs std != 0 (torch computes (b - mean) / "
            "std); for a constant use constant(key, shape, val=mean)"
        )
    p = _norm_cdf((b - mean) / std) - _norm_cdf((a - mean) / std)
    if p > 0.3:
        _check_std(std)  # only reachable with std < 0 when a > b
    else:
        _check_uniform_bounds(a, b, dt)
    if _numel(shape) == 0:
        return jnp.zeros(shape, dt)
    if _is_generator(key):
        return jnp.asarray(_torch_trunc_normal(key, shape, dt, mean, std, a, b, p), dt)
    return _trunc_normal_jit(
        key, shape=shape, dtype=dt, mean=float(mean), std=float(abs(std)), a=float(a), b=float(b)
    )


# --------------------------------------------------------------------------------------------
# Deterministic initializers (key ignored)


@torch_positional
def constant(key: Key, shape: Shape, val: Any, *, dtype: DTypeLike = jnp.float32) -> Array:
    """An array filled with ``val``. ``key`` is ignored (may be None).

    Integer and bool dtypes work and convert like torch's ``fill_``: a float in the dtype's
    range is truncated toward zero (2.7 -> 2, -2.7 -> -2), a value out of range raises
    ValueError (an int down to ``-max`` wraps into an unsigned type: -1 -> 255 for uint8, as
    torch). ``val`` may also be a JAX array (then only cast).

    Example::

        >>> constant(None, (2,), val=0.5)
        Array([0.5, 0.5], dtype=float32)
        >>> constant(None, (2,), jnp.int32, val=-2.7)
        Array([-2, -2], dtype=int32)
    """
    shape = _shape(shape, "constant")
    dt = canonical_dtype(dtype)
    return jnp.full(shape, _fill_value(val, dt), dt)


@torch_positional
def ones(key: Key, shape: Shape, *, dtype: DTypeLike = jnp.float32) -> Array:
    """An array of ones. ``key`` is ignored (may be None).

    Example::

        >>> ones(None, (3,))
        Array([1., 1., 1.], dtype=float32)
    """
    return jnp.ones(_shape(shape, "ones"), canonical_dtype(dtype))


@torch_positional
def zeros(key: Key, shape: Shape, *, dtype: DTypeLike = jnp.float32) -> Array:
    """An array of zeros. ``key`` is ignored (may be None).

    Example::

        >>> zeros(None, (3,), jnp.int32)
        Array([0, 0, 0], dtype=int32)
    """
    return jnp.zeros(_shape(shape, "zeros"), canonical_dtype(dtype))


@torch_positional
def empty(key: Key, shape: Shape, *, dtype: DTypeLike = jnp.float32) -> Array:
    """torch's ``torch.empty``, for a declaration re-initialised right after: zeros (JAX has no
    uninitialised memory), and it draws nothing, so a ``TorchGenerator`` stream is untouched
    (torch's ``nn.MultiheadAttention`` declares ``in_proj_weight`` this way). ``key`` is ignored.

    Example::

        >>> w = nn.Parameter((3, 4), init=empty)     # torch.nn.Parameter(torch.empty(3, 4))
        >>> empty(None, (2,))
        Array([0., 0.], dtype=float32)
    """
    return jnp.zeros(_shape(shape, "empty"), canonical_dtype(dtype))


@torch_positional
def eye(key: Key, shape: Shape, *, dtype: DTypeLike = jnp.float32) -> Array:
    """The identity matrix for a 2-D shape: 1 where ``i == j``, else 0; non-square is fine.

    Preserves the identity of the inputs of a Linear layer. ``key`` is ignored.

    Example::

        >>> eye(None, (2, 4))
        Array([[1., 0., 0., 0.],
               [0., 1., 0., 0.]], dtype=float32)
    """
    shape = _shape(shape, "eye")
    if len(shape) != 2:
        raise ValueError(
            f"Only tensors with 2 dimensions are supported (got shape {shape}); eye builds a "
            "2-D (rows, cols) matrix: for a conv kernel use dirac"
        )
    return jnp.eye(shape[0], shape[1], dtype=canonical_dtype(dtype))


@torch_positional
def dirac(key: Key, shape: Shape, groups: int = 1, *, dtype: DTypeLike = jnp.float32) -> Array:
    """The Dirac delta for a conv kernel ``(out, in/groups, *k)`` with 1, 2 or 3 spatial dims.

    Preserves the identity of the inputs of a Conv layer: with ``out_per = out // groups``, for
    every group ``g`` and ``d < min(out_per, shape[1])``,
    ``W[g*out_per + d, d, k1//2, k2//2, ...] = 1`` and every other entry is 0. The centre is
    ``size // 2``, so for an even kernel it is right of centre, as in torch. ``key`` is ignored.

    Example::

        >>> w = dirac(None, (4, 2, 3, 3), groups=2)   # two groups of 2 output channels
        >>> w[:, :, 1, 1]
        Array([[1., 0.],
               [0., 1.],
               [1., 0.],
               [0., 1.]], dtype=float32)
    """
    shape = _shape(shape, "dirac")
    dt = canonical_dtype(dtype)
    if len(shape) not in (3, 4, 5):
        raise ValueError(
            f"Only tensors with 3, 4, or 5 dimensions are supported (got shape {shape}); dirac "
            "is for conv kernels (out, in/groups, *kernel): for a 2-D matrix use eye"
        )
    groups = operator.index(groups)
    if groups == 0:
        raise ZeroDivisionError("integer modulo by zero: groups must be a positive integer")
    if groups < 0:
        raise ValueError(f"groups must be a positive integer, got {groups}")
    if shape[0] % groups != 0:
        raise ValueError(
            f"dim 0 must be divisible by groups (dim 0 is {shape[0]}, groups={groups}); pass "
            "the conv's groups and a kernel of shape (out, in/groups, *kernel)"
        )
    out_per = shape[0] // groups
    min_dim = min(out_per, shape[1])
    w = np.zeros(shape, dt)  # built on the host: a constant under jit, no compile eagerly
    if min_dim > 0:
        for axis, size in enumerate(shape[2:], start=2):
            if size == 0:
                raise IndexError(
                    f"index 0 is out of bounds for dimension {axis} with size 0: dirac needs "
                    f"every kernel size to be at least 1 (got shape {shape})"
                )
        d = np.tile(np.arange(min_dim), groups)
        out = np.repeat(np.arange(groups) * out_per, min_dim) + d
        w[(out, d, *(size // 2 for size in shape[2:]))] = 1
    return jnp.asarray(w)


# --------------------------------------------------------------------------------------------
# Fan-based initializers


@torch_positional
def xavier_uniform(
    key: Key,
    shape: Shape,
    gain: float = 1.0,
    *,
    dtype: DTypeLike = jnp.float32,
    in_axis: int = 1,
    out_axis: int = 0,
) -> Array:
    """Glorot/Xavier uniform: U(-bound, bound) with ``bound = gain * sqrt(6 / (fan_in + fan_out))``.

    Computed as torch does, ``std = gain * sqrt(2 / (fan_in + fan_out))`` then
    ``bound = sqrt(3) * std``. ``fan_in + fan_out == 0`` raises ZeroDivisionError, as torch.
    Axes as in :func:`calculate_fan_in_and_fan_out`.

    Example::

        >>> w = xavier_uniform(jax.random.key(0), (5, 3), gain=calculate_gain("relu"))
    """
    shape, dt = _random_args(key, shape, dtype, "xavier_uniform")
    bound = math.sqrt(3.0) * _xavier_std(shape, gain, in_axis, out_axis)
    _check_uniform_bounds(-bound, bound, dt)
    return _draw_uniform(key, shape, dt, -bound, bound)


@torch_positional
def xavier_normal(
    key: Key,
    shape: Shape,
    gain: float = 1.0,
    *,
    dtype: DTypeLike = jnp.float32,
    in_axis: int = 1,
    out_axis: int = 0,
) -> Array:
    """Glorot/Xavier normal: N(0, std**2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    Errors and empty shapes as :func:`xavier_uniform`.

    Example::

        >>> w = xavier_normal(jax.random.key(0), (5, 3))
    """
    shape, dt = _random_args(key, shape, dtype, "xavier_normal")
    std = _xavier_std(shape, gain, in_axis, out_axis)
    _check_std(std)
    return _draw_normal(key, shape, dt, 0.0, std)


@torch_positional
def kaiming_uniform(
    key: Key,
    shape: Shape,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    *,
    dtype: DTypeLike = jnp.float32,
    in_axis: int = 1,
    out_axis: int = 0,
) -> Array:
    """He/Kaiming uniform: U(-bound, bound) with ``bound = gain * sqrt(3 / fan)``.

    ``fan = calculate_correct_fan(shape, mode)``, ``gain = calculate_gain(nonlinearity, a)``,
    computed as torch does: ``std = gain / sqrt(fan)`` then ``bound = sqrt(3) * std``.
    The defaults give gain sqrt(2); ``a=math.sqrt(5)`` is torch's Linear/Conv default, i.e.
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)). A shape with a zero in it warns
    ``Initializing zero-element tensors is a no-op`` and returns an empty array before any
    other check, as torch. Axes as in :func:`calculate_fan_in_and_fan_out`.

    Example::

        >>> w = kaiming_uniform(jax.random.key(0), (5, 3), a=math.sqrt(5))  # nn.Linear(3, 5)
    """
    shape, dt = _random_args(key, shape, dtype, "kaiming_uniform")
    if 0 in shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return jnp.zeros(shape, dt)
    bound = math.sqrt(3.0) * _kaiming_std(shape, a, mode, nonlinearity, in_axis, out_axis)
    _check_uniform_bounds(-bound, bound, dt)
    return _draw_uniform(key, shape, dt, -bound, bound)


@torch_positional
def kaiming_normal(
    key: Key,
    shape: Shape,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    *,
    dtype: DTypeLike = jnp.float32,
    in_axis: int = 1,
    out_axis: int = 0,
) -> Array:
    """He/Kaiming normal: N(0, std**2) with ``std = gain / sqrt(fan)``, not truncated.

    Arguments, warning and errors as :func:`kaiming_uniform`.

    Example::

        >>> key = jax.random.key(0)
        >>> w = kaiming_normal(key, (64, 3, 7, 7), mode="fan_out", nonlinearity="relu")
    """
    shape, dt = _random_args(key, shape, dtype, "kaiming_normal")
    if 0 in shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return jnp.zeros(shape, dt)
    std = _kaiming_std(shape, a, mode, nonlinearity, in_axis, out_axis)
    return _draw_normal(key, shape, dt, 0.0, std)


# --------------------------------------------------------------------------------------------
# Structured random initializers


@torch_positional
def orthogonal(key: Key, shape: Shape, gain: float = 1, *, dtype: DTypeLike = jnp.float32) -> Array:
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2013), as torch builds it.

    ``rows = shape[0]``, ``cols = numel // rows``; a fresh ``(rows, cols)`` standard normal
    matrix ``A`` (transposed if ``rows < cols``) is factored ``A = QR``, ``Q`` gets the signs
    of ``diag(R)`` column-wise, is transposed back and reshaped to ``shape``, and ``gain`` is
    applied last. So ``W W^T = gain**2 I`` if ``rows <= cols``, else ``W^T W = gain**2 I``
    (W flattened to ``(rows, cols)``). Half types are factored at float32 and cast (torch
    has no half QR). Empty shapes give an empty array.

    Example::

        >>> w = orthogonal(jax.random.key(0), (3, 5), gain=2.0)   # w @ w.T == 4 * I
    """
    shape, dt = _random_args(key, shape, dtype, "orthogonal")
    if len(shape) < 2:
        raise ValueError(
            f"Only tensors with 2 or more dimensions are supported (got shape {shape}); "
            "orthogonal needs a matrix (trailing dims are flattened into columns)"
        )
    if _numel(shape) == 0:
        return jnp.zeros(shape, dt)
    rows = shape[0]
    cols = _numel(shape) // rows
    if _is_generator(key):
        flat = jnp.asarray(key.normal_((rows, cols), 0.0, 1.0, dt), dt)
        return _orthogonalize_jit(flat, gain, shape=shape, dtype=dt)
    return _orthogonal_jit(key, gain, shape=shape, dtype=dt)


@torch_positional
def sparse(
    key: Key,
    shape: Shape,
    sparsity: float,
    std: float = 0.01,
    *,
    dtype: DTypeLike = jnp.float32,
) -> Array:
    """A 2-D sparse matrix (Martens 2010): N(0, std**2) with zeros forced in every column.

    Each column ``c`` gets ``perm[:num_zeros]`` rows set to 0, where
    ``num_zeros = ceil(sparsity * rows)`` and ``perm`` is a fresh random permutation of the
    rows (torch's ``randperm``), column by column. So every column has exactly
    ``min(num_zeros, rows)`` forced zeros, with Python slicing for odd values
    (``sparsity >= 1`` zeroes all, ``-0.5`` with 4 rows zeroes ``perm[:-2]``, i.e. 2).

    With a ``TorchGenerator`` the permutations come from the same generator, after the normal
    draw. torch itself takes them from its *global* generator (``generator=`` only reaches the
    normal draw), so this matches ``torch.manual_seed(s); nn.init.sparse_(w, sparsity, std)``
    with no ``generator=`` argument: there the global generator is both streams.

    Example::

        >>> w = sparse(jax.random.key(0), (10, 4), sparsity=0.3)   # 3 zeros per column
    """
    shape, dt = _random_args(key, shape, dtype, "sparse")
    if len(shape) != 2:
        raise ValueError(
            f"Only tensors with 2 dimensions are supported (got shape {shape}); sparse builds "
            "a (rows, cols) matrix"
        )
    rows, cols = shape
    num_zeros = math.ceil(sparsity * rows)
    _check_std(std)
    # How many rows perm[:num_zeros] selects (Python slicing: -2 with 4 rows selects 2).
    zeros_per_column = len(range(rows)[:num_zeros])
    if _numel(shape) == 0:
        return jnp.zeros(shape, dt)
    if _is_generator(key):
        w = np.array(key.normal_(shape, 0.0, std, dt))
        for c in range(cols):
            w[key.randperm(rows)[:zeros_per_column], c] = 0
        return jnp.asarray(w, dt)
    return _sparse_jit(key, std, zeros_per_column, shape=shape, dtype=dt)


# --------------------------------------------------------------------------------------------
# torch's underscore forms


def __getattr__(name: str) -> Any:
    """``init.kaiming_normal_`` etc.: torch's in-place forms, which re-initialise a
    declaration (``m.weight`` in a module's ``__init__``); see :mod:`jaxinit._init_inplace`."""
    if name in _INPLACE:
        from jaxinit import _init_inplace

        value = getattr(_init_inplace, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'jaxinit.init' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
