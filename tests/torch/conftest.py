"""The torch cross-checks: torchvision's op schemas are declared before anything imports it
(transformers does, when torchvision is installed); see ``_torchvision.py``."""

from _torchvision import declare_torchvision_ops

declare_torchvision_ops()
