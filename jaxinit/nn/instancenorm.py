"""``InstanceNorm1d/2d/3d`` over :func:`jaxinit.nn.functional.instance_norm`, as torch's
``nn/modules/instancenorm.py``.

Each sample's channel is normalised over its spatial dims. ``affine=False`` and
``track_running_stats=False`` by default (unlike BatchNorm). With ``track_running_stats``,
training updates ``running_mean``/``running_var`` with the batch average of the per-instance
statistics (``momentum=None`` counts as 0: no update, as torch), eval normalises with them, and
``num_batches_tracked`` is registered but never incremented (torch's behaviour). Unbatched
inputs (one rank less) are accepted.
"""

from __future__ import annotations

import warnings
from typing import Any

import jax

from .batchnorm import _NormBase
from .functional import normalization as F


class _InstanceNorm(_NormBase):
    _ranks: tuple[int, int]

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype, bias=bias)

    def forward(self, input: jax.Array) -> jax.Array:
        lo, hi = self._ranks
        if input.ndim not in (lo, hi):
            raise ValueError(f"expected {lo}D or {hi}D input (got {input.ndim}D input)")
        feature_dim = input.ndim - lo  # the channel dim: 0 unbatched, 1 batched
        if input.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(
                    f"expected input's size at dim={feature_dim} to match num_features "
                    f"({self.num_features}), but got: {input.shape[feature_dim]}."
                )
            warnings.warn(
                f"input's size at dim={feature_dim} does not match num_features. You can "
                "silence this warning by not passing in num_features, which is not used "
                "because affine=False",
                stacklevel=3,
            )
        x = input[None] if input.ndim == lo else input
        use_input_stats = self.training or not self.track_running_stats
        momentum = self.momentum if self.momentum is not None else 0.0  # torch: no update
        y, mean, var = F._instance_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            use_input_stats,
            momentum,
            self.eps,
        )
        if self.training and self.track_running_stats:
            self.running_mean = mean
            self.running_var = var
        return y[0] if input.ndim == lo else y

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of ``(N, C, L)`` or unbatched ``(C, L)`` inputs, as torch's
    ``nn.InstanceNorm1d(num_features, eps=1e-5, momentum=0.1, affine=False,
    track_running_stats=False, dtype=None, *, bias=True)``.

    Example::

        norm = nn.InstanceNorm1d(3)
        y = norm(jnp.arange(24.0).reshape(2, 3, 4))    # each (n, c) row: mean 0, var 1
    """

    _ranks = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of ``(N, C, H, W)`` or ``(C, H, W)`` inputs, as torch's
    ``nn.InstanceNorm2d``; see :class:`InstanceNorm1d`.

    Example::

        norm = nn.InstanceNorm2d(3, affine=True)
        v = norm.init(jax.random.key(0))               # weight ones(3), bias zeros(3)
        y = norm(v, jnp.ones((2, 3, 4, 4)))
    """

    _ranks = (3, 4)


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` inputs, as torch's
    ``nn.InstanceNorm3d``; see :class:`InstanceNorm1d`.

    Example::

        norm = nn.InstanceNorm3d(2, track_running_stats=True)
        v = norm.init(jax.random.key(0))
        y, v = norm(v, jnp.ones((2, 2, 3, 3, 3)), train=True)   # running stats updated
    """

    _ranks = (4, 5)
