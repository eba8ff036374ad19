"""Import torchvision beside the CPU torch build.

torchvision's C extension does not load beside the CPU torch wheel, and its import then fails
registering fake kernels for ``torchvision::nms`` and ``torchvision::qnms``. Its models need
none of its C ops: declaring those two schemas first is enough.
"""

import functools

import torch


@functools.cache
def import_torchvision():
    """Return the ``torchvision`` module, declaring the op schemas its import expects."""
    if not hasattr(torch.ops.torchvision, "nms"):
        lib = torch.library.Library("torchvision", "DEF")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        import_torchvision._lib = lib  # keep the definitions alive
    import torchvision

    return torchvision
