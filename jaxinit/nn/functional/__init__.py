"""``jaxinit.nn.functional``: torch's ``torch.nn.functional`` with torch's names, signatures,
defaults and errors, as pure JAX functions (``from jaxinit.nn import functional as F``).

Each operation is implemented once, here; the layers of :mod:`jaxinit.nn` call these
functions, so a module and its functional form can never disagree. Submodules follow the
layer families (``activation``, ``conv``, ``pooling``, ...); every public name is re-exported
below explicitly.
"""

from __future__ import annotations

from ._conv_impl import conv_backend, get_conv_backend, set_conv_backend
from .conv import (
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
)
from .fold import fold, unfold

__all__: list[str] = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_backend",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "fold",
    "get_conv_backend",
    "set_conv_backend",
    "unfold",
]
