"""``jaxinit.nn.functional``: torch's ``torch.nn.functional`` with torch's names, signatures,
defaults and errors, as pure JAX functions (``from jaxinit.nn import functional as F``).

Each operation is implemented once, here; the layers of :mod:`jaxinit.nn` call these
functions, so a module and its functional form can never disagree. Submodules follow the
layer families (``activation``, ``conv``, ``pooling``, ...); every public name is re-exported
below explicitly.
"""

from __future__ import annotations

from .adaptive_pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
)
from .padding import pad
from .pixelshuffle import channel_shuffle, pixel_shuffle, pixel_unshuffle
from .pooling import (
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    lp_pool1d,
    lp_pool2d,
    lp_pool3d,
    max_pool1d,
    max_pool2d,
    max_pool3d,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
)
from .upsampling import interpolate, upsample, upsample_bilinear, upsample_nearest
from .vision import affine_grid, grid_sample

__all__: list[str] = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "affine_grid",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "channel_shuffle",
    "grid_sample",
    "interpolate",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
    "pad",
    "pixel_shuffle",
    "pixel_unshuffle",
    "upsample",
    "upsample_bilinear",
    "upsample_nearest",
]
