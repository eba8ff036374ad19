"""Import torchvision beside the CPU torch build.

torchvision's C extension does not load beside the CPU torch wheel, and its import then fails
registering fake kernels for ``torchvision::nms`` and ``torchvision::qnms``. Its models need
none of its C ops: declaring those two schemas first is enough. transformers imports
torchvision when it is installed, so ``tests/torch/conftest.py`` declares them for every
torch cross-check.
"""

import functools

import torch


@functools.cache
def declare_torchvision_ops() -> None:
    """Declare the op schemas torchvision's import registers fake kernels for (once)."""
    if hasattr(torch.ops.torchvision, "nms"):  # the C extension did load
        return
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    declare_torchvision_ops.lib = lib  # the definitions live as long as the library object


def import_torchvision():
    """Return the ``torchvision`` module, declaring the op schemas its import expects."""
    declare_torchvision_ops()
    import torchvision

    return torchvision
