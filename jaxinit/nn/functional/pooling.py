"""Sliding-window pools as torch's ``F.max_pool{1,2,3}d``, ``F.avg_pool{1,2,3}d``,
``F.lp_pool{1,2,3}d`` and ``F.max_unpool{1,2,3}d``: same output sizes (``ceil_mode``
included), divisors, flat indices, tie-breaking and errors.

The output size along a dim of size ``L`` is torch's::

    out = floor((L + 2*padding - dilation*(kernel - 1) - 1 + (stride - 1 if ceil_mode else 0))
                / stride) + 1
    if ceil_mode and (out - 1) * stride >= L + padding: out -= 1   # no window starts in padding

Max pooling returns, like torch, the *first* maximum of a window in row-major order (the last
NaN if the window holds NaNs), and its gradient flows to that element only. Indices are flat
positions in each ``(N, C)`` plane, as torch's, in JAX's default integer dtype (int32 unless
x64 is enabled; torch's are int64).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._utils import _ntuple, _unbatch
from ._windows import lowest_value, window_max

_Size = int | Sequence[int]
_AXES = {1: "W", 2: "HW", 3: "THW"}

__all__ = [
    "max_pool1d_with_indices",
    "max_pool2d_with_indices",
    "max_pool3d_with_indices",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
]


def _sizes(name: str, value: _Size, n: int, fname: str) -> tuple[int, ...]:
    try:
        return _ntuple(value, n, name)
    except ValueError:
        if n == 1:
            raise RuntimeError(
                f"{fname}() {name} must be an int, list of ints or tuple of ints of size 1 but "
                f"got size {len(value)}"
            ) from None
        words = {2: "two", 3: "three"}[n]
        raise RuntimeError(
            f"{fname}: {name} must either be a single int, or a tuple of {words} ints"
        ) from None


def pool_arguments(
    fname: str,
    n: int,
    kernel_size: _Size,
    stride: _Size | None,
    padding: _Size,
    dilation: _Size,
    error: type[Exception] = RuntimeError,
) -> tuple[tuple[int, ...], ...]:
    """``(kernel, stride, padding, dilation)`` as n-tuples, checked with torch's messages."""
    k = _sizes("kernel_size", kernel_size, n, fname)
    s = k if stride is None or stride == [] else _sizes("stride", stride, n, fname)
    p = _sizes("padding", padding, n, fname)
    d = _sizes("dilation", dilation, n, fname)
    if n == 1 and fname == "max_pool1d":
        for name, v in (("kernel_size", k), ("stride", s), ("dilation", d)):
            if v[0] <= 0:
                raise error(f"max_pool1d() {name} must be greater than zero, but got {v[0]}")
        if p[0] < 0:
            raise error(f"max_pool1d() padding must be non-negative, but got {p[0]}")
        if p[0] > k[0] // 2:
            raise error(
                "max_pool1d() padding should be at most half of kernel size, but got "
                f"padding={p[0]} and kernel_size={k[0]}"
            )
        return k, s, p, d
    if any(v <= 0 for v in k + s):
        raise error("stride should not be zero")
    if any(v <= 0 for v in d):
        names = " ".join(f"dilation{a}: {v}" for a, v in zip(_AXES[n], d))
        raise error(f"dilation should be greater than zero, but got {names}")
    if any(v < 0 for v in p):
        raise error(f"pad must be non-negative, but got pad: {min(p)}")
    for ki, pi, di in zip(k, p, d):
        if pi > (di * (ki - 1) + 1) // 2:
            raise error(
                "pad should be at most half of effective kernel size, but got "
                f"pad={pi}, kernel_size={ki} and dilation={di}"
            )
    return k, s, p, d


def output_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """torch's ``pooling_output_shape`` along one dim."""
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _check_input(x: jax.Array, n: int, fname: str) -> None:
    if fname == "max_pool1d":
        if x.ndim not in (2, 3) or 0 in x.shape[-2:]:
            raise RuntimeError(
                "max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch "
                f"size for input, but got:{list(x.shape)}"
            )
        return
    if fname == "avg_pool1d" and x.ndim not in (2, 3):
        raise RuntimeError(
            f"Expected 2 to 3 dimensions, but got {x.ndim}-dimensional tensor for argument #1 "
            "'self' (while checking arguments for avg_pool1d)"
        )
    lo = max(n, 2)
    if x.ndim not in (n + 1, n + 2):
        if n == 2 and fname == "avg_pool2d":
            raise RuntimeError(
                "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for "
                f"input, but got:{list(x.shape)}"
            )
        raise RuntimeError(
            f"non-empty {lo + 1}D or {lo + 2}D (batch mode) tensor expected for input"
        )
    if 0 in x.shape[-n - 1 :]:
        raise RuntimeError(
            f"Expected {n + 1}D or {n + 2}D (batch mode) tensor with optional 0 dim batch size "
            f"for input, but got:{list(x.shape)}"
        )


def _geometry(x: jax.Array, k, s, p, d, ceil_mode: bool, fname: str = ""):
    """Output sizes and the lax padding (low: ``padding``; high: what ``ceil_mode`` needs)."""
    outs, pads = [], []
    for size, ki, si, pi, di in zip(x.shape[2:], k, s, p, d):
        out = output_size(size, ki, si, pi, di, ceil_mode)
        outs.append(out)
        pads.append((pi, max(pi, (out - 1) * si + di * (ki - 1) + 1 - size - pi)))
    if min(outs) < 1 and fname == "max_pool1d":
        raise RuntimeError(f"max_pool1d() Invalid computed output size: {outs[0]}")
    if min(outs) < 1:
        c, spatial = x.shape[1], "x".join(str(v) for v in x.shape[2:])
        got = "x".join(str(v) for v in outs)
        raise RuntimeError(
            f"Given input size: ({c}x{spatial}). Calculated output size: ({c}x{got}). "
            "Output size is too small"
        )
    return tuple(outs), tuple(pads)


def _max_pool(x, n, fname, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    k, s, p, d = pool_arguments(fname, n, kernel_size, stride, padding, dilation)
    _check_input(x, n, fname)
    x, unbatched = _unbatch(x, n)
    outs, pads = _geometry(x, k, s, p, d, ceil_mode, fname)
    if not return_indices and all(v == 1 for v in d):
        # reduce_window's gradient (select_and_scatter, `>=` keeps the earlier element) goes
        # to the first maximum of each window, as torch's.
        y = lax.reduce_window(
            x,
            lowest_value(x.dtype),
            lax.max,
            window_dimensions=(1, 1, *k),
            window_strides=(1, 1, *s),
            padding=((0, 0), (0, 0), *pads),
        )
        idx = None
    else:
        windows = []
        for size, out, ki, si, pi, di in zip(x.shape[2:], outs, k, s, p, d):
            start = np.arange(out) * si - pi
            pos = start[:, None] + np.arange(ki)[None, :] * di
            windows.append((pos, (pos >= 0) & (pos < size)))
        y, idx = window_max(x, windows, return_indices)
    if unbatched:
        y = y[0]
        idx = None if idx is None else idx[0]
    return (y, idx) if return_indices else y


def max_pool1d(
    input: jax.Array,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    dilation: _Size = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """Maximum over windows of a ``(N, C, L)`` or ``(C, L)`` input, implicit ``-inf``
    padding; with ``return_indices``, also torch's flat indices.

    Example::

        y, i = F.max_pool1d(x, 3, stride=2, padding=1, return_indices=True)
    """
    return _max_pool(
        input, 1, "max_pool1d", kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool2d(
    input: jax.Array,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    dilation: _Size = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """2-d :func:`max_pool1d` over ``(N, C, H, W)`` or ``(C, H, W)``; indices are
    ``h * W + w``.

    Example::

        y = F.max_pool2d(x, 3, stride=2, padding=1)  # ResNet's stem pool
    """
    return _max_pool(
        input, 2, "max_pool2d", kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool3d(
    input: jax.Array,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    dilation: _Size = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """3-d :func:`max_pool1d` over ``(N, C, D, H, W)`` or ``(C, D, H, W)``; indices are
    ``(t * H + h) * W + w``.

    Example::

        y = F.max_pool3d(x, 2)
    """
    return _max_pool(
        input, 3, "max_pool3d", kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def _avg_pool(
    x, n, fname, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
):
    k, s, p, d = pool_arguments(fname, n, kernel_size, stride, padding, 1)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    _check_input(x, n, fname)
    x, unbatched = _unbatch(x, n)
    outs, pads = _geometry(x, k, s, p, d, ceil_mode)
    total = lax.reduce_window(
        x,
        np.array(0, x.dtype),
        lax.add,
        window_dimensions=(1, 1, *k),
        window_strides=(1, 1, *s),
        padding=((0, 0), (0, 0), *pads),
    )
    if divisor_override is not None:
        divisor = np.full(outs, divisor_override)
    else:  # torch: the window clipped to the padded input, or to the input
        divisor = np.ones(outs)
        for axis, (size, out, ki, si, pi) in enumerate(zip(x.shape[2:], outs, k, s, p)):
            start = np.arange(out) * si - pi
            end = np.minimum(start + ki, size + pi)
            if not count_include_pad:
                start, end = np.maximum(start, 0), np.minimum(end, size)
            shape = [1] * n
            shape[axis] = out
            divisor = divisor * (end - start).reshape(shape)
    y = total / jnp.asarray(divisor, x.dtype)[None, None]
    return y[0] if unbatched else y


def avg_pool1d(
    input: jax.Array,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> jax.Array:
    """Mean over windows of ``(N, C, L)`` or ``(C, L)`` with implicit zero padding.

    Divisor for a window ``[start, start + k)``: with ``count_include_pad`` the window clipped
    to the padded input ``[-padding, L + padding)``, else clipped to ``[0, L)``.

    Example::

        y = F.avg_pool1d(x, 3, stride=2, padding=1, count_include_pad=False)
    """
    return _avg_pool(
        input, 1, "avg_pool1d", kernel_size, stride, padding, ceil_mode, count_include_pad, None
    )


def avg_pool2d(
    input: jax.Array,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> jax.Array:
    """2-d :func:`avg_pool1d`; ``divisor_override`` replaces every divisor.

    Example::

        y = F.avg_pool2d(x, 2)
    """
    return _avg_pool(
        input,
        2,
        "avg_pool2d",
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


def avg_pool3d(
    input: jax.Array,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> jax.Array:
    """3-d :func:`avg_pool2d` over ``(N, C, D, H, W)`` or ``(C, D, H, W)``.

    Example::

        y = F.avg_pool3d(x, (1, 2, 2))
    """
    return _avg_pool(
        input,
        3,
        "avg_pool3d",
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


def _lp_pool(x, n, norm_type, kernel_size, stride, ceil_mode):
    k = _ntuple(kernel_size, n, "kernel_size")
    max_pool, avg_pool = {
        1: (max_pool1d, avg_pool1d),
        2: (max_pool2d, avg_pool2d),
        3: (max_pool3d, avg_pool3d),
    }[n]
    if norm_type == float("inf"):
        return max_pool(jnp.abs(x), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -float("inf"):
        return -max_pool(-jnp.abs(x), kernel_size, stride, 0, 1, ceil_mode)
    out = avg_pool(x**norm_type, kernel_size, stride, 0, ceil_mode)
    return (jnp.sign(out) * jax.nn.relu(jnp.abs(out)) * int(np.prod(k))) ** (1.0 / norm_type)


def lp_pool1d(
    input: jax.Array,
    norm_type: float,
    kernel_size: int,
    stride: _Size | None = None,
    ceil_mode: bool = False,
) -> jax.Array:
    """Power-average pooling: ``(sum over window of x**p) ** (1/p)`` (no padding); ``p=inf``
    is max pooling of ``|x|``. Computed as torch: ``avg_pool(x**p) * k`` then ``** (1/p)``.

    Example::

        y = F.lp_pool1d(x, 2.0, 3, stride=2)
    """
    return _lp_pool(input, 1, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(
    input: jax.Array,
    norm_type: float,
    kernel_size: _Size,
    stride: _Size | None = None,
    ceil_mode: bool = False,
) -> jax.Array:
    """2-d :func:`lp_pool1d`.

    Example::

        y = F.lp_pool2d(x, 2.0, 2)
    """
    return _lp_pool(input, 2, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(
    input: jax.Array,
    norm_type: float,
    kernel_size: _Size,
    stride: _Size | None = None,
    ceil_mode: bool = False,
) -> jax.Array:
    """3-d :func:`lp_pool1d`.

    Example::

        y = F.lp_pool3d(x, 2.0, 2)
    """
    return _lp_pool(input, 3, norm_type, kernel_size, stride, ceil_mode)


def _unpool_output_size(in_spatial, k, s, p, output_size):
    default = [(size - 1) * si + ki - 2 * pi for size, ki, si, pi in zip(in_spatial, k, s, p)]
    if output_size is None:
        return default
    if len(output_size) == len(k) + 2:
        output_size = output_size[2:]
    if len(output_size) != len(k):
        raise ValueError(
            f"output_size should be a sequence containing {len(k)} or {len(k) + 2} elements, "
            f"but it has a length of '{len(output_size)}'"
        )
    output_size = output_size if isinstance(output_size, tuple) else list(output_size)
    for dim, (want, base, si) in enumerate(zip(output_size, default, s)):
        if not base - si < want < base + si:
            raise ValueError(
                f'invalid output_size "{output_size}" (dim {dim} must be between '
                f"{base - si} and {base + si})"
            )
    return list(output_size)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _scatter_planes(values: jax.Array, indices: jax.Array, size: int) -> jax.Array:
    n, c, q = values.shape
    out = jnp.zeros((n, c, size), values.dtype)
    rows = jnp.arange(n).reshape(n, 1, 1)
    cols = jnp.arange(c).reshape(1, c, 1)
    return out.at[rows, cols, indices].set(values, mode="drop")


def _scatter_fwd(values, indices, size):
    return _scatter_planes(values, indices, size), indices


def _scatter_bwd(size, indices, g):
    # torch's max_unpool backward: every input gathers its target's gradient
    return jnp.take_along_axis(g, indices, axis=2, mode="fill", fill_value=0), None


_scatter_planes.defvjp(_scatter_fwd, _scatter_bwd)


def _max_unpool(x, indices, n, kernel_size, stride, padding, output_size):
    k = _ntuple(kernel_size, n, "kernel_size")
    s = k if stride is None else _ntuple(stride, n, "stride")
    p = _ntuple(padding, n, "padding")
    nd = max(n, 2)
    if x.ndim + (n == 1) not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"Input to max_unpooling{nd}d should be a {nd + 1}d or {nd + 2}d Tensor, but got "
            f"a tensor with {x.ndim + (n == 1)} dimensions."
        )
    if indices.shape != x.shape:
        raise RuntimeError(
            f"Expected shape of indices to be same as that of the input tensor "
            f"({list(x.shape)}) but got indices tensor with shape: {list(indices.shape)}"
        )
    out = _unpool_output_size(x.shape[-n:], k, s, p, output_size)
    if any(v < 0 for v in out):
        raise ValueError(f"max_unpooling: output_size must be non-negative, got {out}")
    x, unbatched = _unbatch(x, n)
    indices = _unbatch(indices, n)[0]
    size = int(np.prod(out))
    if not isinstance(indices, jax.core.Tracer):
        flat = np.asarray(indices).ravel()
        bad = flat[(flat < 0) | (flat >= size)]
        if bad.size:  # torch reports the first one it meets
            wrong = bad[0]
            raise RuntimeError(
                f"Found an invalid max index: {wrong} (output volumes are of size "
                f"{'x'.join(str(v) for v in (out if n > 1 else (*out, 1)))})"
            )
    nb, c = x.shape[:2]
    y = _scatter_planes(x.reshape(nb, c, -1), indices.reshape(nb, c, -1).astype(jnp.int32), size)
    y = y.reshape(nb, c, *out)
    return y[0] if unbatched else y


def max_unpool1d(
    input: jax.Array,
    indices: jax.Array,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    output_size: Sequence[int] | None = None,
) -> jax.Array:
    """Inverse of :func:`max_pool1d`: zeros of size ``(L - 1)*stride - 2*padding + kernel``
    (or ``output_size``) with ``input`` written at ``indices``. Its gradient gathers, as
    torch's. Indices out of range raise when they are concrete (outside ``jit``).

    Example::

        y, i = F.max_pool1d(x, 2, return_indices=True)
        x_back = F.max_unpool1d(y, i, 2)
    """
    return _max_unpool(input, indices, 1, kernel_size, stride, padding, output_size)


def max_unpool2d(
    input: jax.Array,
    indices: jax.Array,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    output_size: Sequence[int] | None = None,
) -> jax.Array:
    """2-d :func:`max_unpool1d`.

    Example::

        x_back = F.max_unpool2d(y, i, 2, output_size=x.shape)
    """
    return _max_unpool(input, indices, 2, kernel_size, stride, padding, output_size)


def max_unpool3d(
    input: jax.Array,
    indices: jax.Array,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    output_size: Sequence[int] | None = None,
) -> jax.Array:
    """3-d :func:`max_unpool1d`.

    Example::

        x_back = F.max_unpool3d(y, i, 2)
    """
    return _max_unpool(input, indices, 3, kernel_size, stride, padding, output_size)


def max_pool1d_with_indices(
    input: jax.Array,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    dilation: _Size = 1,
    ceil_mode: bool = False,
    return_indices: bool = True,
):
    """torch's name for :func:`max_pool1d` returning ``(output, indices)``."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(
    input: jax.Array,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    dilation: _Size = 1,
    ceil_mode: bool = False,
    return_indices: bool = True,
):
    """torch's name for :func:`max_pool2d` returning ``(output, indices)``."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(
    input: jax.Array,
    kernel_size: _Size,
    stride: _Size | None = None,
    padding: _Size = 0,
    dilation: _Size = 1,
    ceil_mode: bool = False,
    return_indices: bool = True,
):
    """torch's name for :func:`max_pool3d` returning ``(output, indices)``."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)
