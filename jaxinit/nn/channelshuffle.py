"""``ChannelShuffle`` as torch's (see :func:`jaxinit.nn.functional.channel_shuffle`)."""

from __future__ import annotations

import jax

from . import functional as F
from .module import Module


class ChannelShuffle(Module):
    """Interleaves ``groups`` channel groups of ``(N, C, *)``, as in ShuffleNet.

    Example::

        nn.ChannelShuffle(2)   # ChannelShuffle(groups=2)
    """

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, input: jax.Array) -> jax.Array:
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
