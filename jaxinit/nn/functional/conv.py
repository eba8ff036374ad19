"""torch's ``F.conv1d/2d/3d`` and ``F.conv_transpose1d/2d/3d``: channels-first inputs, torch's
weight layouts, padding rules, unbatched inputs and error messages.

All six call :func:`jaxinit.nn.functional._conv_impl.conv_general_dilated` (lax's signature),
looked up on that module at call time: the single convolution entry point of the package.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from . import _conv_impl

_SPECS = {
    1: ("NCH", "OIH", "NCH"),
    2: ("NCHW", "OIHW", "NCHW"),
    3: ("NCDHW", "OIDHW", "NCDHW"),
}
_AXES = {1: ("width",), 2: ("height", "width"), 3: ("depth", "height", "width")}

IntOrSeq = int | Sequence[int]


def _conv_arg(value: Any, n: int, name: str) -> tuple[int, ...]:
    """torch's ``expand_param_if_needed``: an int or 1-list repeated ``n`` times, or ``n`` ints."""
    try:
        return (operator.index(value),) * n
    except TypeError:
        pass
    try:
        out = tuple(operator.index(v) for v in value)
    except TypeError:
        raise TypeError(f"{name} must be an int or a sequence of {n} ints, got {value!r}") from None
    if len(out) == 1:
        return out * n
    if len(out) != n:
        raise RuntimeError(
            f"expected {name} to be a single integer value or a list of {n} values to match the "
            f"convolution dimensions, but got {name}={list(out)}"
        )
    return out


def _is_batched(input: jax.Array, n: int, name: str) -> bool:
    """torch's input rank check: ``n + 1`` dims (unbatched) or ``n + 2`` (batched)."""
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(
            f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {name}, but got "
            f"input of size: {list(input.shape)}"
        )
    return input.ndim == n + 2


def same_padding(
    kernel_size: Sequence[int], dilation: Sequence[int]
) -> tuple[tuple[int, int], ...]:
    """``padding='same'`` as (low, high) pairs: ``d * (k - 1)`` in total per dim, the odd one on
    the high side (torch's rule for even effective kernels)."""
    totals = [d * (k - 1) for d, k in zip(dilation, kernel_size)]
    return tuple((t // 2, t - t // 2) for t in totals)


def _sizes(values: Sequence[int], n: int = 0) -> str:
    """``a x b``; ``n == 1``: torch's transposed 1-d messages, a 2-d one of height 1: ``1 x L``."""
    return " x ".join(map(str, ((1,) if n == 1 else ()) + tuple(values)))


def _check_common(
    stride: tuple[int, ...], padding: tuple[int, ...], dilation: tuple[int, ...], groups: int
) -> None:
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")


def _check_weight(weight: jax.Array, n: int, groups: int, name: str) -> None:
    if weight.ndim != n + 2:
        raise RuntimeError(
            f"{name}: expected a {n + 2}-D weight (channels, channels, *kernel_size), but got "
            f"weight of size {list(weight.shape)}"
        )
    if weight.shape[0] % groups != 0:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
            f"but got weight of size [{list(weight.shape)}] instead"
        )


def _check_bias_and_dtypes(
    input: jax.Array, weight: jax.Array, bias: jax.Array | None, channels: int, given: str
) -> None:
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != channels):
        raise RuntimeError(
            f"Given {given}weight of size {list(weight.shape)}, expected bias to be 1-dimensional "
            f"with {channels} elements, but got bias of size {list(bias.shape)} instead"
        )
    for other, what in ((weight, "weight"), (bias, "bias")):
        if other is not None and other.dtype != input.dtype:
            raise TypeError(
                f"Input type ({input.dtype}) and {what} type ({other.dtype}) should be the same: "
                f"cast the input, e.g. x.astype({other.dtype.name!r})"
            )


def _add_bias(y: jax.Array, bias: jax.Array | None, n: int) -> jax.Array:
    return y if bias is None else y + bias.reshape((1, -1) + (1,) * n)


def _conv(
    input: jax.Array,
    weight: jax.Array,
    bias: jax.Array | None,
    stride: IntOrSeq,
    padding: str | IntOrSeq,
    dilation: IntOrSeq,
    groups: int,
    n: int,
) -> jax.Array:
    name = f"conv{n}d"
    input, weight = jnp.asarray(input), jnp.asarray(weight)
    bias = None if bias is None else jnp.asarray(bias)
    batched = _is_batched(input, n, name)
    stride = _conv_arg(stride, n, "stride")
    dilation = _conv_arg(dilation, n, "dilation")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise RuntimeError(f"Invalid padding string: {padding!r}")
        if padding == "same" and any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        _check_common(stride, (), dilation, groups)
    else:
        padding = _conv_arg(padding, n, "padding")
        _check_common(stride, padding, dilation, groups)
    _check_weight(weight, n, groups, name)
    x = input if batched else input[None]
    if x.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected "
            f"input{list(x.shape)} to have {weight.shape[1] * groups} channels, but got "
            f"{x.shape[1]} channels instead"
        )
    _check_bias_and_dtypes(x, weight, bias, weight.shape[0], "")
    kernel = weight.shape[2:]
    if padding == "same":
        pads = same_padding(kernel, dilation)
    elif padding == "valid":
        pads = ((0, 0),) * n
    else:
        pads = tuple((p, p) for p in padding)
    padded = [s + lo + hi for s, (lo, hi) in zip(x.shape[2:], pads)]
    effective = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    if any(p < e for p, e in zip(padded, effective)):
        raise RuntimeError(
            f"Calculated padded input size per channel: ({_sizes(padded)}). Kernel size: "
            f"({_sizes(effective)}). Kernel size can't be greater than actual input size"
        )
    y = _conv_impl.conv_general_dilated(x, weight, stride, pads, None, dilation, _SPECS[n], groups)
    y = _add_bias(y, bias, n)
    return y if batched else y[0]


def _conv_transpose(
    input: jax.Array,
    weight: jax.Array,
    bias: jax.Array | None,
    stride: IntOrSeq,
    padding: IntOrSeq,
    output_padding: IntOrSeq,
    groups: int,
    dilation: IntOrSeq,
    n: int,
) -> jax.Array:
    name = f"conv_transpose{n}d"
    input, weight = jnp.asarray(input), jnp.asarray(weight)
    bias = None if bias is None else jnp.asarray(bias)
    batched = _is_batched(input, n, name)
    if isinstance(padding, str):
        raise TypeError(f"{name}(): argument 'padding' must be tuple of ints, not str")
    stride = _conv_arg(stride, n, "stride")
    padding = _conv_arg(padding, n, "padding")
    output_padding = _conv_arg(output_padding, n, "output_padding")
    dilation = _conv_arg(dilation, n, "dilation")
    _check_common(stride, padding, dilation, groups)
    if any(p < 0 for p in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        axes = ("height",) * (n == 1) + _AXES[n]
        pad1 = (0,) * (n == 1)
        one = (1,) * (n == 1)
        parts = [
            f"{label}_{axis}: {v}"
            for label, values in (
                ("output_padding", pad1 + output_padding),
                ("stride", one + stride),
                ("dilation", one + dilation),
            )
            for axis, v in zip(axes, values)
        ]
        raise RuntimeError(
            "output padding must be smaller than either stride or dilation, but got "
            + " ".join(parts)
        )
    _check_weight(weight, n, groups, name)
    x = input if batched else input[None]
    if x.shape[1] != weight.shape[0]:
        raise RuntimeError(
            f"Given transposed=1, weight of size {list(weight.shape)}, expected "
            f"input{list(x.shape)} to have {weight.shape[0]} channels, but got "
            f"{x.shape[1]} channels instead"
        )
    out_channels = weight.shape[1] * groups
    _check_bias_and_dtypes(x, weight, bias, out_channels, "transposed=1, ")
    kernel = weight.shape[2:]
    sizes = [
        (i - 1) * s - 2 * p + d * (k - 1) + op + 1
        for i, s, p, d, k, op in zip(x.shape[2:], stride, padding, dilation, kernel, output_padding)
    ]
    if any(s <= 0 for s in sizes):
        raise RuntimeError(
            f"Given input size per channel: ({_sizes(x.shape[2:], n)}). Calculated output size "
            f"per channel: ({_sizes(sizes, n)}). Output size is too small"
        )
    # The gradient of a convolution with respect to its input: a stride-1 convolution of the
    # input dilated by `stride`, padded by d*(k-1) - p (+ output_padding on the high side), with
    # the kernel flipped and its in/out axes swapped within each group.
    cin, cout_g = weight.shape[:2]
    w = weight.reshape((groups, cin // groups, cout_g, *kernel))
    w = jnp.swapaxes(w, 1, 2).reshape((out_channels, cin // groups, *kernel))
    w = jnp.flip(w, axis=tuple(range(2, n + 2)))
    lows = [d * (k - 1) - p for d, k, p in zip(dilation, kernel, padding)]
    highs = [lo + op for lo, op in zip(lows, output_padding)]
    pads = tuple((max(lo, 0), max(hi, 0)) for lo, hi in zip(lows, highs))
    y = _conv_impl.conv_general_dilated(x, w, (1,) * n, pads, stride, dilation, _SPECS[n], groups)
    if any(lo < 0 or hi < 0 for lo, hi in zip(lows, highs)):  # padding > d*(k-1): crop
        crop = tuple(
            slice(max(-lo, 0), y.shape[2 + i] - max(-hi, 0))
            for i, (lo, hi) in enumerate(zip(lows, highs))
        )
        y = y[(slice(None), slice(None), *crop)]
    y = _add_bias(y, bias, n)
    return y if batched else y[0]


def conv1d(
    input: jax.Array,
    weight: jax.Array,
    bias: jax.Array | None = None,
    stride: IntOrSeq = 1,
    padding: str | IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    groups: int = 1,
) -> jax.Array:
    """torch's ``F.conv1d``: ``out[n, o, l] = bias[o] + sum_{c, k} weight[o, c, k] *
    x_pad[n, g(o) * C_in/groups + c, stride * l + dilation * k]``.

    ``input (N, C_in, L)`` or unbatched ``(C_in, L)``; ``weight (C_out, C_in // groups, k)``;
    ``padding`` an int, a 1-tuple, ``'valid'`` or ``'same'`` (stride 1 only; the odd element of
    an even effective kernel on the right). ``L_out = (L + 2p - d(k-1) - 1) // stride + 1``.

    Example::

        y = F.conv1d(jnp.ones((2, 4, 10)), jnp.ones((8, 4, 3)), padding=1)   # (2, 8, 10)
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(
    input: jax.Array,
    weight: jax.Array,
    bias: jax.Array | None = None,
    stride: IntOrSeq = 1,
    padding: str | IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    groups: int = 1,
) -> jax.Array:
    """torch's ``F.conv2d``: ``out[n, o, h, w] = bias[o] + sum_{c, i, j} weight[o, c, i, j] *
    x_pad[n, g(o) * C_in/groups + c, s_h h + d_h i, s_w w + d_w j]``.

    ``input (N, C_in, H, W)`` or unbatched ``(C_in, H, W)``; ``weight (C_out, C_in // groups,
    kH, kW)``; ``stride``/``padding``/``dilation`` ints or pairs, ``padding`` also ``'valid'`` or
    ``'same'``. ``H_out = (H + 2p_h - d_h(kH-1) - 1) // s_h + 1`` (likewise ``W_out``).

    Example::

        y = F.conv2d(jnp.ones((1, 3, 32, 32)), jnp.ones((6, 3, 5, 5)), stride=2)  # (1, 6, 14, 14)
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2)


def conv3d(
    input: jax.Array,
    weight: jax.Array,
    bias: jax.Array | None = None,
    stride: IntOrSeq = 1,
    padding: str | IntOrSeq = 0,
    dilation: IntOrSeq = 1,
    groups: int = 1,
) -> jax.Array:
    """torch's ``F.conv3d`` over ``(N, C_in, D, H, W)`` (or unbatched ``(C_in, D, H, W)``) with
    ``weight (C_out, C_in // groups, kD, kH, kW)``; the formula of :func:`conv2d` with a depth
    axis. ``D_out = (D + 2p_d - d_d(kD-1) - 1) // s_d + 1`` (likewise H, W).

    Example::

        y = F.conv3d(jnp.ones((1, 2, 5, 6, 7)), jnp.ones((4, 2, 3, 3, 3)), padding="same")
        # (1, 4, 5, 6, 7)
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3)


def conv_transpose1d(
    input: jax.Array,
    weight: jax.Array,
    bias: jax.Array | None = None,
    stride: IntOrSeq = 1,
    padding: IntOrSeq = 0,
    output_padding: IntOrSeq = 0,
    groups: int = 1,
    dilation: IntOrSeq = 1,
) -> jax.Array:
    """torch's ``F.conv_transpose1d``, the gradient of :func:`conv1d` with respect to its input:
    ``out[n, g*C_out/groups + o, s*l + d*k - p] += weight[c, o, k] * x[n, c, l]`` for the
    input channels ``c`` of group ``g``, plus ``bias``.

    ``input (N, C_in, L)`` or ``(C_in, L)``; ``weight (C_in, C_out // groups, k)``;
    ``L_out = (L - 1) * stride - 2p + d(k-1) + output_padding + 1``; ``output_padding`` must be
    smaller than ``stride`` or ``dilation``.

    Example::

        y = F.conv_transpose1d(jnp.ones((2, 4, 5)), jnp.ones((4, 3, 3)), stride=2)  # (2, 3, 11)
    """
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 1
    )


def conv_transpose2d(
    input: jax.Array,
    weight: jax.Array,
    bias: jax.Array | None = None,
    stride: IntOrSeq = 1,
    padding: IntOrSeq = 0,
    output_padding: IntOrSeq = 0,
    groups: int = 1,
    dilation: IntOrSeq = 1,
) -> jax.Array:
    """torch's ``F.conv_transpose2d`` (the input-gradient of :func:`conv2d`):
    ``out[n, g*C_out/groups + o, s_h h + d_h i - p_h, s_w w + d_w j - p_w] +=
    weight[c, o, i, j] * x[n, c, h, w]``, plus ``bias``.

    ``weight (C_in, C_out // groups, kH, kW)``; ``H_out = (H - 1) s_h - 2 p_h + d_h (kH - 1) +
    output_padding_h + 1`` (likewise ``W_out``).

    Example::

        y = F.conv_transpose2d(jnp.ones((1, 4, 5, 5)), jnp.ones((4, 2, 3, 3)), stride=2,
                               padding=1, output_padding=1)   # (1, 2, 10, 10)
    """
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 2
    )


def conv_transpose3d(
    input: jax.Array,
    weight: jax.Array,
    bias: jax.Array | None = None,
    stride: IntOrSeq = 1,
    padding: IntOrSeq = 0,
    output_padding: IntOrSeq = 0,
    groups: int = 1,
    dilation: IntOrSeq = 1,
) -> jax.Array:
    """torch's ``F.conv_transpose3d``: :func:`conv_transpose2d` with a depth axis,
    ``weight (C_in, C_out // groups, kD, kH, kW)``.

    Example::

        y = F.conv_transpose3d(jnp.ones((1, 2, 3, 3, 3)), jnp.ones((2, 4, 2, 2, 2)), stride=2)
        # (1, 4, 6, 6, 6)
    """
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 3
    )
