"""``F.grid_sample`` and ``F.affine_grid`` as torch's (4-d and 5-d; ``bilinear``, ``nearest``
and, 4-d, ``bicubic``; ``zeros``/``border``/``reflection`` padding; ``align_corners``).

A grid value ``g`` in ``[-1, 1]`` along a dim of size ``L`` maps to the pixel coordinate
``(g + 1)/2 * (L - 1)`` with ``align_corners``, else ``((g + 1) * L - 1)/2``; ``border`` clips
that coordinate to ``[0, L-1]``, ``reflection`` reflects it about the edges (pixel centres
with ``align_corners``, pixel borders without) then clips; ``zeros`` reads 0 outside. The
taps are gathered from the flattened planes, so gradients reach both the input and the grid
(through the interpolation weights and the clip/reflection, as torch's).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["affine_grid", "grid_sample"]

_DEFAULT_WARNING = (
    "Default grid_sample and affine_grid behavior has changed to align_corners=False since "
    "1.3.0. Please specify align_corners=True if the old behavior is desired. See the "
    "documentation of grid_sample for details."
)


def _unnormalize(g: jax.Array, size: int, align_corners: bool) -> jax.Array:
    if align_corners:
        return (g + 1) / 2 * (size - 1)
    return ((g + 1) * size - 1) / 2


def _reflect(c: jax.Array, twice_low: int, twice_high: int) -> jax.Array:
    """torch's ``reflect_coordinates``."""
    if twice_low == twice_high:
        return jnp.zeros_like(c)
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    c = jnp.abs(c - low)
    extra = jnp.fmod(c, span)
    flips = jnp.floor(c / span)
    return jnp.where(jnp.fmod(flips, 2) == 0, extra + low, span - extra + low)


def _pad_coordinate(c: jax.Array, size: int, padding_mode: str, align_corners: bool):
    """torch's ``compute_coordinates``: border clip or reflection (then clip)."""
    if padding_mode == "border":
        return jnp.clip(c, 0, size - 1)
    if padding_mode == "reflection":
        if align_corners:
            c = _reflect(c, 0, 2 * (size - 1))
        else:
            c = _reflect(c, -1, 2 * size - 1)
        return jnp.clip(c, 0, size - 1)
    return c


def _cubic_weights(t: jax.Array) -> list[jax.Array]:
    a = -0.75

    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def grid_sample(
    input: jax.Array,
    grid: jax.Array,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = None,
) -> jax.Array:
    """Samples ``input (N, C, [D,] H, W)`` at ``grid (N, [D_o,] H_o, W_o, 2|3)`` (last dim
    ``(x, y[, z])`` in ``[-1, 1]``), giving ``(N, C, [D_o,] H_o, W_o)``.

    Example::

        theta = jnp.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
        grid = F.affine_grid(theta, (1, 3, 8, 8), align_corners=False)
        y = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    """
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(
            "nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or "
            f"'bicubic', but got: '{mode}'"
        )
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(
            "nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
            f"'reflection', but got: '{padding_mode}'"
        )
    if align_corners is None:
        warnings.warn(_DEFAULT_WARNING, stacklevel=2)
        align_corners = False
    if input.ndim not in (4, 5) or grid.ndim != input.ndim:
        raise RuntimeError(
            "grid_sampler(): expected 4D or 5D input and grid with same number of dimensions, "
            f"but got input with sizes {list(input.shape)} and grid with sizes "
            f"{list(grid.shape)}"
        )
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(
            "grid_sampler(): expected grid and input to have same batch size, but got input "
            f"with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}"
        )
    n_sp = input.ndim - 2
    if grid.shape[-1] != n_sp:
        raise RuntimeError(
            f"grid_sampler(): expected grid to have size {n_sp} in last dimension, but got grid "
            f"with sizes {list(grid.shape)}"
        )
    if mode == "bicubic" and n_sp != 2:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input.")
    n, c = input.shape[:2]
    sizes = input.shape[2:]
    out_shape = grid.shape[1:-1]
    g = grid.reshape(n, -1, n_sp).astype(input.dtype)
    # spatial dim j (D, H, W order) reads grid component n_sp - 1 - j (x is W)
    coords = [_unnormalize(g[:, :, n_sp - 1 - j], sizes[j], align_corners) for j in range(n_sp)]
    flat = input.reshape(n, c, -1)
    strides = [int(np.prod(sizes[j + 1 :])) for j in range(n_sp)]

    def tap(index: list[jax.Array], weight: jax.Array) -> jax.Array:
        inside = _all([(i >= 0) & (i < s) for i, s in zip(index, sizes)])
        pos = sum(jnp.clip(i, 0, s - 1) * st for i, s, st in zip(index, sizes, strides))
        q = pos.shape[1]
        vals = jnp.take_along_axis(
            flat, jnp.broadcast_to(pos[:, None, :].astype(jnp.int32), (n, c, q)), axis=2
        )
        w = jnp.where(inside, weight, jnp.zeros_like(weight))
        return vals * w[:, None, :]

    if mode == "bicubic":
        fl = [jnp.floor(x) for x in coords]
        ws = [_cubic_weights(x - f) for x, f in zip(coords, fl)]
        out = 0
        for offs in itertools.product(range(4), repeat=n_sp):
            index = []
            for j, o in enumerate(offs):
                cj = _pad_coordinate(fl[j] - 1 + o, sizes[j], padding_mode, align_corners)
                index.append(lax.stop_gradient(cj).astype(jnp.int32))
            weight = _prod([ws[j][o] for j, o in enumerate(offs)])
            out = out + tap(index, weight)
    else:
        coords = [_pad_coordinate(x, s, padding_mode, align_corners) for x, s in zip(coords, sizes)]
        if mode == "nearest":
            index = [jnp.round(x).astype(jnp.int32) for x in coords]
            out = tap(index, jnp.ones_like(coords[0]))
        else:
            fl = [jnp.floor(x) for x in coords]
            frac = [x - f for x, f in zip(coords, fl)]
            out = 0
            for offs in itertools.product((0, 1), repeat=n_sp):
                index = [(f + o).astype(jnp.int32) for f, o in zip(fl, offs)]
                weight = _prod([fr if o else 1 - fr for fr, o in zip(frac, offs)])
                out = out + tap(index, weight)
    return out.reshape(n, c, *out_shape)


def _all(items):
    out = items[0]
    for x in items[1:]:
        out = out & x
    return out


def _prod(items):
    out = items[0]
    for x in items[1:]:
        out = out * x
    return out


def _linspace(steps: int, align_corners: bool) -> np.ndarray:
    if steps <= 1:
        return np.zeros((max(steps, 1),))
    r = np.linspace(-1.0, 1.0, steps)
    return r if align_corners else r * (steps - 1) / steps


def affine_grid(
    theta: jax.Array, size: Sequence[int], align_corners: bool | None = None
) -> jax.Array:
    """The sampling grid of a batch of affine maps: ``theta (N, 2, 3)`` and ``size (N, C, H,
    W)`` give ``(N, H, W, 2)`` with ``grid[n, h, w] = theta[n] @ (x_w, y_h, 1)``, where
    ``x, y`` are the pixel centres in ``[-1, 1]`` (``align_corners``: the corner pixels'
    centres at +-1). ``theta (N, 3, 4)`` with a 5-d size gives ``(N, D, H, W, 3)``.

    Example::

        grid = F.affine_grid(jnp.eye(2, 3)[None], (1, 3, 4, 4), align_corners=False)
    """
    if align_corners is None:
        warnings.warn(_DEFAULT_WARNING, stacklevel=2)
        align_corners = False
    if not jnp.issubdtype(theta.dtype, jnp.floating):
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    if len(size) == 4:
        if theta.ndim != 3 or theta.shape[-2] != 2 or theta.shape[-1] != 3:
            raise ValueError(
                f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {size}. "
                f"Got {tuple(theta.shape)}."
            )
        spatial = size[-2:]
    elif len(size) == 5:
        if theta.ndim != 3 or theta.shape[-2] != 3 or theta.shape[-1] != 4:
            raise ValueError(
                f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {size}. "
                f"Got {tuple(theta.shape)}."
            )
        spatial = size[-3:]
    else:
        raise NotImplementedError(
            "affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
            f"respectively. Got size {size}."
        )
    if align_corners and min(spatial) == 1:
        warnings.warn(
            "Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
            "align_corners=True. This is not an intended use case of affine_grid. See the "
            "documentation of affine_grid for details.",
            stacklevel=2,
        )
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    spatial = list(spatial)
    axes = [_linspace(s, align_corners) for s in spatial[::-1]]  # x (W) first
    mesh = np.meshgrid(*axes[::-1], indexing="ij")[::-1]  # (x, y[, z]) over (D,) H, W
    base = np.stack([*mesh, np.ones_like(mesh[0])], axis=-1).astype(np.float32)
    base = jnp.asarray(base, theta.dtype)
    return jnp.einsum("...k,nik->n...i", base, theta, precision=lax.Precision.HIGHEST)
