"""Checkpoints from and to other frameworks: PyTorch (``.pt``) and safetensors.

Both are optional: ``jaxinit.interop.torch`` needs ``pip install "jaxinit[torch]"`` and
``jaxinit.interop.safetensors`` needs ``pip install "jaxinit[safetensors]"``; importing these
modules is always fine, the functions say what to install when called without it.
"""

from jaxinit.interop.safetensors import load_safetensors, save_safetensors
from jaxinit.interop.torch import from_torch, load_pt, save_pt, to_torch

__all__ = ["from_torch", "load_pt", "load_safetensors", "save_pt", "save_safetensors", "to_torch"]
