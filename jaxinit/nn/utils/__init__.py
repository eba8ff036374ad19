"""``jaxinit.nn.utils``: counterparts of ``torch.nn.utils``."""

from . import rnn
from .fusion import fuse_conv_bn_eval, fuse_conv_bn_weights

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "rnn"]
