"""Normalization functions with torch's names, signatures and errors: ``batch_norm``,
``instance_norm``, ``layer_norm``, ``group_norm``, ``rms_norm``, ``normalize``,
``local_response_norm``.

Half-precision inputs are normalised in float32 and cast back, as torch's kernels do.

Running statistics: torch's ``batch_norm``/``instance_norm`` update ``running_mean`` and
``running_var`` *in place* when training. JAX arrays are immutable, so the public functions
return only the output; the layers (:class:`~jaxinit.nn.BatchNorm2d`, ...) compute the updated
statistics through the same code (``_batch_norm`` / ``_instance_norm`` here, which also return
them) and write them back to their buffers.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from ._utils import _wrap_dim

__all__ = [
    "batch_norm",
    "group_norm",
    "instance_norm",
    "layer_norm",
    "local_response_norm",
    "normalize",
    "rms_norm",
]


def _compute_dtype(x: jax.Array) -> Any:
    return jnp.float32 if jnp.dtype(x.dtype).itemsize < 4 else x.dtype


def _size_text(shape: Sequence[int]) -> str:
    return f"torch.Size({list(shape)})"


def _channel_vector(v: jax.Array | None, ndim: int, dtype: Any) -> jax.Array | None:
    """A per-channel vector shaped ``(1, C, 1, ...)`` against an ``ndim``-d input."""
    if v is None:
        return None
    return jnp.asarray(v).astype(dtype).reshape((1, -1) + (1,) * (ndim - 2))


def _scale_shift(y: jax.Array, weight: Any, bias: Any, ndim: int) -> jax.Array:
    w = _channel_vector(weight, ndim, y.dtype)
    b = _channel_vector(bias, ndim, y.dtype)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


def _running_update(
    running: jax.Array, batch: jax.Array, factor: Any
) -> jax.Array:
    """``(1 - f) * running + f * batch`` (torch's momentum convention)."""
    f = jnp.asarray(factor, batch.dtype)
    return (1 - f) * running.astype(batch.dtype) + f * batch


def _batch_norm(
    input: jax.Array,
    running_mean: jax.Array | None,
    running_var: jax.Array | None,
    weight: jax.Array | None,
    bias: jax.Array | None,
    training: bool,
    momentum: Any,
    eps: float,
) -> tuple[jax.Array, jax.Array | None, jax.Array | None]:
    """``batch_norm`` returning ``(y, new_running_mean, new_running_var)``; the new stats are
    ``None`` unless training with running stats. ``momentum`` may be a traced factor."""
    x = jnp.asarray(input)
    if training:
        if x.ndim < 2 or x.size // x.shape[1] <= 1:
            raise ValueError(
                "Expected more than 1 value per channel when training, got input size "
                f"{_size_text(x.shape)}"
            )
        if eps <= 0.0:
            raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    elif running_mean is None or running_var is None:
        raise RuntimeError(
            "running_mean and running_var must be defined in evaluation mode: pass them, "
            "or training=True"
        )
    if eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    compute = _compute_dtype(x)
    xc = x.astype(compute)
    axes = (0,) + tuple(range(2, x.ndim))
    new_mean = new_var = None
    if training:
        mean = jnp.mean(xc, axis=axes)
        var = jnp.mean(jnp.square(xc - _channel_vector(mean, x.ndim, compute)), axis=axes)
        if running_mean is not None and running_var is not None:
            n = x.size // x.shape[1]
            new_mean = _running_update(running_mean, mean, momentum)
            new_var = _running_update(running_var, var * (n / (n - 1)), momentum)
    else:
        mean = jnp.asarray(running_mean).astype(compute)
        var = jnp.asarray(running_var).astype(compute)
    inv = lax.rsqrt(var + jnp.asarray(eps, compute))
    y = (xc - _channel_vector(mean, x.ndim, compute)) * _channel_vector(inv, x.ndim, compute)
    return _scale_shift(y, weight, bias, x.ndim).astype(x.dtype), new_mean, new_var


def batch_norm(
    input: jax.Array,
    running_mean: jax.Array | None,
    running_var: jax.Array | None,
    weight: jax.Array | None = None,
    bias: jax.Array | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> jax.Array:
    """Per channel (dim 1) over the batch and spatial dims: ``y = (x - mean) / sqrt(var +
    eps) * weight + bias``, with the biased batch statistics when ``training``, else
    ``running_mean``/``running_var``.

    torch also updates the running statistics in place when training; JAX cannot, so only
    ``y`` is returned (the BatchNorm layers keep and update their running statistics).

    Example::

        y = F.batch_norm(x, None, None, training=True)   # x (N, C, ...) normalised per C
    """
    return _batch_norm(
        input, running_mean, running_var, weight, bias, training, momentum, eps
    )[0]


def _instance_norm(
    input: jax.Array,
    running_mean: jax.Array | None,
    running_var: jax.Array | None,
    weight: jax.Array | None,
    bias: jax.Array | None,
    use_input_stats: bool,
    momentum: float,
    eps: float,
) -> tuple[jax.Array, jax.Array | None, jax.Array | None]:
    """``instance_norm`` returning ``(y, new_running_mean, new_running_var)``."""
    x = jnp.asarray(input)
    if use_input_stats:
        spatial = 1
        for d in x.shape[2:]:
            spatial *= d
        if spatial == 1:
            raise ValueError(
                "Expected more than 1 spatial element when training, got input size "
                f"{_size_text(x.shape)}"
            )
    elif running_mean is None or running_var is None:
        raise RuntimeError(
            "Expected running_mean and running_var to be defined when use_input_stats is false"
        )
    compute = _compute_dtype(x)
    xc = x.astype(compute)
    axes = tuple(range(2, x.ndim))
    new_mean = new_var = None
    if use_input_stats:
        mean = jnp.mean(xc, axis=axes, keepdims=True)
        var = jnp.mean(jnp.square(xc - mean), axis=axes, keepdims=True)
        if running_mean is not None and running_var is not None:
            n = x.size // (x.shape[0] * x.shape[1])
            flat_mean = mean.reshape(x.shape[:2])
            flat_var = var.reshape(x.shape[:2]) * (n / (n - 1))
            new_mean = _running_update(running_mean, jnp.mean(flat_mean, axis=0), momentum)
            new_var = _running_update(running_var, jnp.mean(flat_var, axis=0), momentum)
    else:
        mean = _channel_vector(running_mean, x.ndim, compute)
        var = _channel_vector(running_var, x.ndim, compute)
    y = (xc - mean) * lax.rsqrt(var + jnp.asarray(eps, compute))
    return _scale_shift(y, weight, bias, x.ndim).astype(x.dtype), new_mean, new_var


def instance_norm(
    input: jax.Array,
    running_mean: jax.Array | None = None,
    running_var: jax.Array | None = None,
    weight: jax.Array | None = None,
    bias: jax.Array | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> jax.Array:
    """Per sample and channel over the spatial dims: ``y = (x - mean) / sqrt(var + eps) *
    weight + bias`` (biased statistics of each instance), or with ``running_mean`` /
    ``running_var`` when ``use_input_stats=False``. torch's in-place update of the running
    statistics is done by the InstanceNorm layers, not here.

    Example::

        y = F.instance_norm(jnp.ones((2, 3, 8, 8)) * jnp.arange(8.0))   # (2, 3, 8, 8)
    """
    return _instance_norm(
        input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps
    )[0]


def _shape_tuple(normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    try:
        return (operator.index(normalized_shape),)
    except TypeError:
        return tuple(int(d) for d in normalized_shape)


def _check_trailing(x: jax.Array, shape: tuple[int, ...], star: str = "*, ") -> None:
    k = len(shape)
    if x.ndim < k or tuple(x.shape[x.ndim - k :]) != shape:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[{star}{', '.join(map(str, shape))}], but got input of size{list(x.shape)}"
        )


def _trailing_affine(
    y: jax.Array, weight: Any, bias: Any, shape: tuple[int, ...], ndim: int
) -> jax.Array:
    lead = (1,) * (ndim - len(shape))  # explicit ranks: no implicit rank promotion
    if weight is not None:
        y = y * jnp.asarray(weight).astype(y.dtype).reshape(lead + shape)
    if bias is not None:
        y = y + jnp.asarray(bias).astype(y.dtype).reshape(lead + shape)
    return y


def layer_norm(
    input: jax.Array,
    normalized_shape: int | Sequence[int],
    weight: jax.Array | None = None,
    bias: jax.Array | None = None,
    eps: float = 1e-5,
) -> jax.Array:
    """Over the trailing ``normalized_shape`` dims: ``y = (x - mean) / sqrt(var + eps) *
    weight + bias`` with the biased variance.

    Example::

        y = F.layer_norm(jnp.ones((2, 5, 8)), (8,))    # (2, 5, 8)
    """
    x = jnp.asarray(input)
    shape = _shape_tuple(normalized_shape)
    _check_trailing(x, shape)
    compute = _compute_dtype(x)
    xc = x.astype(compute)
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    mean = jnp.mean(xc, axis=axes, keepdims=True)
    centred = xc - mean
    var = jnp.mean(jnp.square(centred), axis=axes, keepdims=True)
    y = centred * lax.rsqrt(var + jnp.asarray(eps, compute))
    return _trailing_affine(y, weight, bias, shape, x.ndim).astype(x.dtype)


def rms_norm(
    input: jax.Array,
    normalized_shape: int | Sequence[int],
    weight: jax.Array | None = None,
    eps: float | None = None,
) -> jax.Array:
    """Over the trailing ``normalized_shape`` dims: ``y = x / sqrt(mean(x^2) + eps) *
    weight``; ``eps=None`` is the machine epsilon of the computation dtype, as torch's kernel
    does (``finfo(input.dtype).eps``; float32's for float16/bfloat16 inputs, which are
    normalised in float32).

    Example::

        y = F.rms_norm(jnp.ones((2, 8)), (8,))    # ones
    """
    x = jnp.asarray(input)
    shape = _shape_tuple(normalized_shape)
    _check_trailing(x, shape, star="*")  # torch's rms_norm writes [*4], layer_norm [*, 4]
    compute = _compute_dtype(x)
    if eps is None:  # torch takes the eps of the computation dtype: float32's for half inputs
        eps = float(jnp.finfo(compute).eps)
    xc = x.astype(compute)
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    ms = jnp.mean(jnp.square(xc), axis=axes, keepdims=True)
    y = xc * lax.rsqrt(ms + jnp.asarray(eps, compute))
    return _trailing_affine(y, weight, None, shape, x.ndim).astype(x.dtype)


def group_norm(
    input: jax.Array,
    num_groups: int,
    weight: jax.Array | None = None,
    bias: jax.Array | None = None,
    eps: float = 1e-5,
) -> jax.Array:
    """Channels (dim 1) split into ``num_groups`` groups; each sample's group is normalised
    over its channels and spatial dims (biased variance), then per-channel ``weight`` and
    ``bias``.

    Example::

        y = F.group_norm(jnp.ones((2, 4, 5)), 2)   # (2, 4, 5)
    """
    x = jnp.asarray(input)
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise RuntimeError(
            "Expected number of channels in input to be divisible by num_groups, but got "
            f"input of shape {list(x.shape)} and num_groups={num_groups}"
        )
    compute = _compute_dtype(x)
    n, c = x.shape[:2]
    g = x.reshape((n, num_groups, -1)).astype(compute)
    mean = jnp.mean(g, axis=2, keepdims=True)
    centred = g - mean
    var = jnp.mean(jnp.square(centred), axis=2, keepdims=True)
    y = (centred * lax.rsqrt(var + jnp.asarray(eps, compute))).reshape(x.shape)
    return _scale_shift(y, weight, bias, x.ndim).astype(x.dtype)


def normalize(
    input: jax.Array, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: None = None
) -> jax.Array:
    """``x / max(||x||_p, eps)`` along ``dim``.

    Example::

        F.normalize(jnp.array([[3.0, 4.0]]))    # [[0.6, 0.8]]
    """
    if out is not None:
        raise TypeError("normalize(out=...) is not supported in JAX: use the returned array")
    x = jnp.asarray(input)
    d = _wrap_dim(dim, x.ndim)
    norm = _vector_norm(x, p, d)
    return x / jnp.maximum(norm, jnp.asarray(eps, norm.dtype))


def _vector_norm(x: jax.Array, p: float, dim: int) -> jax.Array:
    """torch's ``x.norm(p, dim, keepdim=True)`` (inf, -inf, 0 and general p)."""
    a = x * lax.stop_gradient(jnp.sign(x))  # |x| with torch's gradient sign(0) = 0
    if p == float("inf"):
        return jnp.max(a, axis=dim, keepdims=True)
    if p == float("-inf"):
        return jnp.min(a, axis=dim, keepdims=True)
    if p == 0:
        return jnp.sum((a != 0).astype(x.dtype), axis=dim, keepdims=True)
    if p == 2:
        return jnp.sqrt(jnp.sum(jnp.square(x), axis=dim, keepdims=True))
    if p == 1:
        return jnp.sum(a, axis=dim, keepdims=True)
    return jnp.sum(a**p, axis=dim, keepdims=True) ** (1.0 / p)


def local_response_norm(
    input: jax.Array, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> jax.Array:
    """Across channels (dim 1): ``y = x / (k + alpha * mean_window(x^2)) ** beta``, the window
    being ``size`` neighbouring channels (``size // 2`` before, ``(size - 1) // 2`` after,
    zero-padded; the mean always divides by ``size``), as torch.

    Example::

        y = F.local_response_norm(jnp.ones((1, 4, 3, 3)), size=2)
    """
    x = jnp.asarray(input)
    if x.ndim < 3:
        raise ValueError(
            "Expected 3D or higher dimensionality                          input "
            f"(got {x.ndim} dimensions)"
        )
    if x.size == 0:
        return x
    sq = jnp.square(x)
    c = x.shape[1]
    pad = [(0, 0)] * x.ndim
    pad[1] = (size // 2, (size - 1) // 2)
    padded = jnp.pad(sq, pad)
    window = sum(lax.slice_in_dim(padded, i, i + c, axis=1) for i in range(size))
    div = (window * (alpha / size) + k) ** beta
    return x / div
