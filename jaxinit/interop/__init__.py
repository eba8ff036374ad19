"""Checkpoints from and to other frameworks: PyTorch (``.pt``) and safetensors.

``jaxinit.interop.torch`` needs ``pip install "jaxinit[torch]"`` (importing the module is always
fine; its functions say what to install when called without torch); ``jaxinit.interop.
safetensors`` reads and writes the format itself, without the safetensors package.
"""

from jaxinit.interop.safetensors import load_safetensors, save_safetensors
from jaxinit.interop.torch import from_torch, load_pt, save_pt, to_torch

__all__ = ["from_torch", "load_pt", "load_safetensors", "save_pt", "save_safetensors", "to_torch"]
