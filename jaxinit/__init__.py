"""jaxinit: PyTorch's parameter management -- names, torch.nn.init, default init, ties,
state_dict, checkpoints -- as pure JAX functions.

Cheap to import: torch is never imported, and flax (serialization) only when first used.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import devices, init, nn
from .generator import TorchGenerator

__version__ = "0.1.0"

# Public names served lazily from the modules that import heavier dependencies.
_LAZY = {
    "save": "jaxinit.serialization",
    "load": "jaxinit.serialization",
    "CheckpointError": "jaxinit.serialization",
    "save_sharded": "jaxinit.serialization.sharded",
    "load_sharded": "jaxinit.serialization.sharded",
    "interop": "jaxinit.interop",
    "testing": "jaxinit.testing",
    "optim": "jaxinit.optim",
    "porting": "jaxinit.porting",
}

__all__ = [
    "CheckpointError",
    "TorchGenerator",
    "devices",
    "init",
    "interop",
    "load",
    "load_sharded",
    "nn",
    "optim",
    "porting",
    "save",
    "save_sharded",
    "testing",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jaxinit' has no attribute {name!r}")
    imported = importlib.import_module(module)
    value = imported if module == f"jaxinit.{name}" else getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
