"""``F.interpolate`` (and the deprecated ``F.upsample*``) as torch's: the same output sizes,
source coordinates and weights for every mode, ``align_corners``, ``scale_factor`` /
``recompute_scale_factor`` and ``antialias``.

Every mode but ``area`` is separable. Shapes are static, so per spatial dim the source indices
``(out, K)`` and weights ``(out, K)`` are computed in numpy with torch's float32 formulas
(``area_pixel_compute_scale``, ``area_pixel_compute_source_index``, nearest's ``floorf``), and
each dim is resampled with one gather and a K-term weighted sum: jit-friendly and exact.
``area`` is adaptive average pooling, as in torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .adaptive_pooling import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d

__all__ = ["interpolate", "upsample", "upsample_bilinear", "upsample_nearest"]

_f32 = np.float32


def _scales_value(scale: float | None, size: int, out: int) -> np.float32:
    """torch's ``compute_scales_value<float>``."""
    if scale is not None and scale > 0:
        return _f32(1.0 / scale)
    return _f32(size) / _f32(out)


def _area_scale(size: int, out: int, align_corners: bool, scale: float | None) -> np.float32:
    """torch's ``area_pixel_compute_scale<float>``."""
    if align_corners:
        return _f32(size - 1) / _f32(out - 1) if out > 1 else _f32(0)
    return _scales_value(scale, size, out)


def _source(scale: np.float32, out: int, align_corners: bool, cubic: bool) -> np.ndarray:
    """torch's ``area_pixel_compute_source_index`` for every output index, in float32."""
    i = np.arange(out, dtype=_f32)
    if align_corners:
        return scale * i
    src = scale * (i + _f32(0.5)) - _f32(0.5)
    return src if cubic else np.maximum(src, _f32(0))


def _cubic(t: np.ndarray, a: float) -> np.ndarray:
    """Weights of taps ``-1, 0, 1, 2`` at fraction ``t`` (torch's cubic convolution)."""
    a = _f32(a)

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    one = _f32(1)
    return np.stack([far(t + one), near(t), near(one - t), far(_f32(2) - t)], axis=-1)


def _nearest_table(size, out, scale, exact):
    if not exact and out == size:
        src = np.arange(out)
    elif not exact and out == 2 * size:
        src = np.arange(out) >> 1
    else:
        s = _scales_value(scale, size, out)
        if exact:
            src = np.floor((np.arange(out, dtype=np.float64) + 0.5) * np.float64(s)).astype(_f32)
        else:
            src = np.floor(np.arange(out, dtype=_f32) * s)
        src = np.minimum(src.astype(np.int64), size - 1)
    return src[:, None], np.ones((out, 1), _f32)


def _linear_table(size, out, scale, align_corners):
    src = _source(_area_scale(size, out, align_corners, scale), out, align_corners, False)
    i0 = np.minimum(np.floor(src).astype(np.int64), size - 1)
    lam = np.clip(src - i0.astype(_f32), 0, 1).astype(_f32)
    i1 = i0 + (i0 < size - 1)
    return np.stack([i0, i1], -1), np.stack([_f32(1) - lam, lam], -1)


def _cubic_table(size, out, scale, align_corners):
    src = _source(_area_scale(size, out, align_corners, scale), out, align_corners, True)
    i0 = np.minimum(np.floor(src).astype(np.int64), size - 1)
    lam = np.clip(src - i0.astype(_f32), 0, 1).astype(_f32)
    idx = np.clip(i0[:, None] + np.arange(-1, 3)[None, :], 0, size - 1)
    return idx, _cubic(lam, -0.75).astype(_f32)


def _aa_table(size, out, scale, align_corners, cubic):
    """torch's ``_compute_index_ranges_weights`` with antialias (separable, normalised)."""
    interp = 4 if cubic else 2
    s = _area_scale(size, out, align_corners, scale)
    support = _f32(interp * 0.5) * s if s >= 1 else _f32(interp * 0.5)
    invscale = _f32(1) / s if s >= 1 else _f32(1)
    width = int(math.ceil(support)) * 2 + 1
    idx = np.zeros((out, width), np.int64)
    wts = np.zeros((out, width), _f32)
    for i in range(out):
        center = s * _f32(i + 0.5)
        xmin = max(int(center - support + _f32(0.5)), 0)
        xsize = min(int(center + support + _f32(0.5)), size) - xmin
        x = np.abs((np.arange(xsize, dtype=_f32) + _f32(xmin) - center + _f32(0.5)) * invscale)
        if cubic:
            a = _f32(-0.5)
            w = np.where(
                x < 1,
                ((a + 2) * x - (a + 3)) * x * x + 1,
                np.where(x < 2, ((a * x - 5 * a) * x + 8 * a) * x - 4 * a, 0),
            ).astype(_f32)
        else:
            w = np.maximum(_f32(1) - x, _f32(0))
        total = w.sum(dtype=_f32)
        if total != 0:
            w = w / total
        idx[i, :xsize] = np.arange(xmin, xmin + xsize)
        idx[i, xsize:] = max(xmin, 0) if xsize else 0
        wts[i, :xsize] = w
    return np.clip(idx, 0, size - 1), wts


def _resample(x: jax.Array, axis: int, idx: np.ndarray, w: np.ndarray) -> jax.Array:
    """``y[..., o, ...] = sum_k w[o, k] * x[..., idx[o, k], ...]`` along ``axis``."""
    out, k = idx.shape
    g = jnp.take(x, idx.ravel(), axis=axis)
    if k == 1:
        return g
    g = g.reshape(*x.shape[:axis], out, k, *x.shape[axis + 1 :])
    shape = [1] * g.ndim
    shape[axis], shape[axis + 1] = out, k
    return jnp.sum(g * jnp.asarray(w.reshape(shape), x.dtype), axis=axis + 1)


def _is_integer(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def interpolate(
    input: jax.Array,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> jax.Array:
    """Resizes ``(N, C, *spatial)`` (1-3 spatial dims) to ``size``, or to
    ``floor(in * scale_factor)``, as torch's ``F.interpolate``.

    Modes: ``nearest`` (src ``floor(dst * in/out)``), ``nearest-exact`` (``floor((dst + .5) *
    in/out)``), ``linear``/``bilinear``/``trilinear`` (3-d/4-d/5-d input), ``bicubic`` (4-d;
    ``a = -0.75``, clamped taps), ``area`` (adaptive average). With ``align_corners`` the corner
    pixels' centres map onto each other (``src = dst * (in-1)/(out-1)``), else half-pixel
    centres. A given ``scale_factor`` is used in the coordinate map unless
    ``recompute_scale_factor``. ``antialias`` (bilinear/bicubic, 4-d) widens the kernel by the
    downscale factor and normalises it, as torch (and PIL).

    Example::

        y = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        y = F.interpolate(x, size=(224, 224), mode="bicubic", antialias=True)
    """
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear"
            )
    elif align_corners is None:
        align_corners = False
    dim = input.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        scales: list | None = None
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got "
                    f"input with spatial dimensions of {list(input.shape[2:])} and output size "
                    f"of {size}. Please provide input tensor in (N, C, d1, d2, ...,dK) format "
                    "and output size in (o1, o2, ...,oK) format."
                )
            if not all(_is_integer(v) for v in size):
                raise TypeError(
                    "expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                    f"Tuple[int, int, int], but got size with types {[type(v) for v in size]}"
                )
            outs = [int(v) for v in size]
        else:
            outs = [int(size)] * dim
    elif scale_factor is not None:
        outs = None
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, but "
                    f"got input with spatial dimensions of {list(input.shape[2:])} and "
                    f"scale_factor of shape {scale_factor}. Please provide input tensor in (N, "
                    "C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) format."
                )
            scales = [float(v) for v in scale_factor]
        else:
            scales = [float(scale_factor)] * dim
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and outs is None:
        recompute_scale_factor = True
    if recompute_scale_factor:
        outs = [int(input.shape[i + 2] * scales[i]) for i in range(dim)]
        scales = None
    if antialias and not (mode in ("bilinear", "bicubic") and input.ndim == 4):
        raise ValueError(
            "Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and "
            "requires a 4-D tensor as input"
        )
    needs = {"linear": 3, "bilinear": 4, "trilinear": 5}
    if mode in needs and input.ndim in (3, 4, 5) and input.ndim != needs[mode]:
        raise NotImplementedError(
            f"Got {input.ndim}D input, but {mode} mode needs {needs[mode]}D input"
        )
    if (
        input.ndim not in (3, 4, 5)
        or mode not in ("nearest", "nearest-exact", "area", "linear", "bilinear", "trilinear")
        and not (mode == "bicubic" and input.ndim == 4)
    ):
        raise NotImplementedError(
            "Input Error: Only 3D, 4D and 5D input Tensors supported"
            f" (got {input.ndim}D) for the modes: nearest | linear | bilinear | bicubic | "
            f"trilinear | lanczos | area | nearest-exact (got {mode})"
        )
    spatial = input.shape[2:]
    if outs is None:
        outs = [int(s * f) for s, f in zip(spatial, scales)]
    if mode == "area":
        pool = {3: adaptive_avg_pool1d, 4: adaptive_avg_pool2d, 5: adaptive_avg_pool3d}
        return pool[input.ndim](input, outs)
    if min(spatial) <= 0 or min(outs) <= 0:
        axes = "DHW"[3 - dim :]
        shown = " ".join(f"{a}: {v}," for a, v in zip(axes, spatial)).rstrip(",")
        shown_out = " ".join(f"{a}: {v}," for a, v in zip(axes, outs)).rstrip(",")
        raise RuntimeError(
            "Input and output sizes should be greater than 0, but got input "
            f"({shown}) and output ({shown_out})"
        )
    y = input
    compute = input.dtype if jnp.issubdtype(input.dtype, jnp.floating) else jnp.float32
    floating = mode not in ("nearest", "nearest-exact")
    if floating:
        y = y.astype(compute)
    for j in range(dim - 1, -1, -1):
        size_j, out_j = spatial[j], outs[j]
        scale_j = None if scales is None else scales[j]
        if mode in ("nearest", "nearest-exact"):
            idx, w = _nearest_table(size_j, out_j, scale_j, mode == "nearest-exact")
        elif antialias:
            idx, w = _aa_table(size_j, out_j, scale_j, align_corners, mode == "bicubic")
        elif mode == "bicubic":
            idx, w = _cubic_table(size_j, out_j, scale_j, align_corners)
        else:
            idx, w = _linear_table(size_j, out_j, scale_j, align_corners)
        y = _resample(y, 2 + j, idx, w)
    return y.astype(input.dtype) if floating else y


def upsample(
    input: jax.Array,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
) -> jax.Array:
    """Deprecated alias of :func:`interpolate` (torch's ``F.upsample``).

    Example::

        y = F.upsample(x, scale_factor=2)
    """
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: jax.Array, size=None, scale_factor=None) -> jax.Array:
    """Deprecated: ``interpolate(input, size, scale_factor, mode="nearest")``.

    Example::

        y = F.upsample_nearest(x, scale_factor=2)
    """
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: jax.Array, size=None, scale_factor=None) -> jax.Array:
    """Deprecated: ``interpolate(..., mode="bilinear", align_corners=True)``.

    Example::

        y = F.upsample_bilinear(x, scale_factor=2)
    """
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
