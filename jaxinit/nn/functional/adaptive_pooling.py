"""Adaptive pools as torch's ``F.adaptive_avg_pool{1,2,3}d`` and
``F.adaptive_max_pool{1,2,3}d``: any input size to a fixed output size.

Output cell ``i`` of a dim of size ``L`` pooled to ``out`` covers input
``[floor(i*L/out), ceil((i+1)*L/out))`` (windows of unequal size, possibly overlapping, when
``out`` does not divide ``L``). Sizes are static, so the windows are numpy tables: the average is
one small matmul per dim (a reshape-mean when ``out`` divides ``L``), the maximum a gather per
dim (first maximum in row-major order, as torch, with its flat indices).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._windows import window_max

_OutSize = int | None | Sequence[int | None]

__all__ = [
    "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d_with_indices",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
]


def _bounds(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def _output_sizes(fname: str, x: jax.Array, output_size: _OutSize, n: int) -> tuple[int, ...]:
    if n == 1:
        if output_size is None:
            raise TypeError(
                f"{fname}(): argument 'output_size' (position 2) must be tuple of ints, not "
                "NoneType"
            )
        sizes = (output_size,) if isinstance(output_size, int) else tuple(output_size)
        if len(sizes) != 1:
            raise RuntimeError(
                f"{fname}() argument 'output_size' should contain one int (got {len(sizes)})"
            )
    else:
        if output_size is None:
            raise TypeError("object of type 'NoneType' has no len()")
        sizes = (output_size,) * n if isinstance(output_size, int) else tuple(output_size)
        if len(sizes) >= x.ndim:
            raise ValueError(f"Input dimension should be at least {len(sizes) + 1}")
        if len(sizes) != n:
            if "max" in fname:
                raise RuntimeError(f"{fname}(): internal error: output_size.size() must be {n}")
            raise RuntimeError(f"{fname}: output_size must be {n}")
    sizes = tuple(s if s is not None else x.shape[-n + i] for i, s in enumerate(sizes))
    if any(s < 0 for s in sizes):
        name = fname.replace("1d", "2d")
        shown = {1: "{{1, {}}}", 2: "{{{}, {}}}", 3: "{{{}, {},{}}}"}[n].format(*sizes)
        raise RuntimeError(
            f"{name}: elements of output_size must be greater than or equal to 0 but "
            f"received {shown}"
        )
    return sizes


def _check_input(fname: str, x: jax.Array, n: int, allow_empty: bool) -> None:
    if x.ndim not in (n + 1, n + 2):
        if n == 1:
            raise RuntimeError(
                f"Expected 2 to 3 dimensions, but got {x.ndim}-dimensional tensor for argument "
                f"#1 'self' (while checking arguments for {fname})"
            )
        sep = ": " if "max" in fname else " "
        raise RuntimeError(
            f"{fname}(): Expected {n + 1}D or {n + 2}D tensor, but got{sep}{list(x.shape)}"
        )
    first = x.ndim - n if allow_empty else x.ndim - n - 1  # avg 1d/2d allow empty channels
    for dim in range(first, x.ndim):
        if dim > 0 and x.shape[dim] == 0:
            raise RuntimeError(
                f"{fname}(): Expected input to have non-zero size for non-batch dimensions, "
                f"but input has sizes {list(x.shape)} with dimension {dim} being empty"
            )


def _averaging_matrix(size: int, out: int) -> np.ndarray:
    """``(out, size)``: row ``i`` averages its adaptive window."""
    m = np.zeros((out, size))
    for i, (start, end) in enumerate(zip(*_bounds(size, out))):
        m[i, start:end] = 1.0 / (end - start)
    return m


def _adaptive_avg(fname: str, x: jax.Array, output_size: _OutSize, n: int) -> jax.Array:
    _check_input(fname, x, n, allow_empty=n < 3)
    outs = _output_sizes(fname, x, output_size, n)
    spatial = x.shape[-n:]
    if all(o and size % o == 0 for o, size in zip(outs, spatial)):  # equal windows
        shape = [d for o, size in zip(outs, spatial) for d in (o, size // o)]
        y = x.reshape(*x.shape[:-n], *shape)
        return jnp.mean(y, axis=tuple(range(x.ndim - n + 1, x.ndim + n, 2)))
    compute = jnp.float32 if jnp.dtype(x.dtype).itemsize < 4 else x.dtype
    y = x.astype(compute)
    for j, (size, o) in enumerate(zip(spatial, outs)):
        axis = x.ndim - n + j
        m = jnp.asarray(_averaging_matrix(size, o), compute)
        y = jnp.moveaxis(
            jnp.tensordot(y, m, axes=((axis,), (1,)), precision=lax.Precision.HIGHEST),
            -1,
            axis,
        )
    return y.astype(x.dtype)


def adaptive_avg_pool1d(input: jax.Array, output_size: int | Sequence[int]) -> jax.Array:
    """Mean over adaptive windows of ``(N, C, L)`` or ``(C, L)`` to length ``output_size``.

    Example::

        y = F.adaptive_avg_pool1d(x, 5)
    """
    return _adaptive_avg("adaptive_avg_pool1d", input, output_size, 1)


def adaptive_avg_pool2d(input: jax.Array, output_size: _OutSize) -> jax.Array:
    """2-d :func:`adaptive_avg_pool1d`; a ``None`` in ``output_size`` keeps that dim.

    Example::

        y = F.adaptive_avg_pool2d(x, (1, 1))  # global average pool
    """
    return _adaptive_avg("adaptive_avg_pool2d", input, output_size, 2)


def adaptive_avg_pool3d(input: jax.Array, output_size: _OutSize) -> jax.Array:
    """3-d :func:`adaptive_avg_pool2d`.

    Example::

        y = F.adaptive_avg_pool3d(x, (1, 7, 7))
    """
    return _adaptive_avg("adaptive_avg_pool3d", input, output_size, 3)


def _adaptive_max(fname, x, output_size, n, return_indices):
    _check_input(fname, x, n, allow_empty=False)
    outs = _output_sizes(fname, x, output_size, n)
    unbatched = x.ndim == n + 1
    if unbatched:
        x = x[None]
    windows = []
    for size, o in zip(x.shape[2:], outs):
        start, end = _bounds(size, o)
        k = int((end - start).max()) if o else 1
        pos = start[:, None] + np.arange(k)[None, :]
        windows.append((pos, pos < end[:, None]))
    if 0 in outs:
        y = jnp.zeros((*x.shape[:2], *outs), x.dtype)
        idx = jnp.zeros(y.shape, jnp.int32)
    else:
        y, idx = window_max(x, windows, return_indices)
    if unbatched:
        y, idx = y[0], None if idx is None else idx[0]
    return (y, idx) if return_indices else y


def adaptive_max_pool1d(
    input: jax.Array, output_size: int | Sequence[int], return_indices: bool = False
):
    """Maximum over adaptive windows of ``(N, C, L)`` or ``(C, L)``; with ``return_indices``
    also torch's flat indices.

    Example::

        y, i = F.adaptive_max_pool1d(x, 4, return_indices=True)
    """
    return _adaptive_max("adaptive_max_pool1d", input, output_size, 1, return_indices)


def adaptive_max_pool2d(input: jax.Array, output_size: _OutSize, return_indices: bool = False):
    """2-d :func:`adaptive_max_pool1d`; a ``None`` in ``output_size`` keeps that dim.

    Example::

        y = F.adaptive_max_pool2d(x, 1)  # global max pool
    """
    return _adaptive_max("adaptive_max_pool2d", input, output_size, 2, return_indices)


def adaptive_max_pool3d(input: jax.Array, output_size: _OutSize, return_indices: bool = False):
    """3-d :func:`adaptive_max_pool1d`.

    Example::

        y = F.adaptive_max_pool3d(x, (2, 3, 3))
    """
    return _adaptive_max("adaptive_max_pool3d", input, output_size, 3, return_indices)


def adaptive_max_pool1d_with_indices(
    input: jax.Array, output_size: _OutSize, return_indices: bool = True
):
    """torch's name for :func:`adaptive_max_pool1d` returning ``(output, indices)``."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(
    input: jax.Array, output_size: _OutSize, return_indices: bool = True
):
    """torch's name for :func:`adaptive_max_pool2d` returning ``(output, indices)``."""
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(
    input: jax.Array, output_size: _OutSize, return_indices: bool = True
):
    """torch's name for :func:`adaptive_max_pool3d` returning ``(output, indices)``."""
    return adaptive_max_pool3d(input, output_size, True)
