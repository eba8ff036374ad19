"""``BatchNorm1d``, ``BatchNorm2d`` and ``BatchNorm3d`` over
:func:`jaxinit.nn.functional.batch_norm`, with torch's exact training and eval semantics.

Per channel, over the batch and spatial dims (``n`` values)::

    mean_B = sum(x) / n
    var_B  = sum((x - mean_B)**2) / n        biased: normalises the batch
    var_U  = var_B * n / (n - 1)             unbiased: goes into running_var
    y      = (x - mean) / sqrt(var + eps) * weight + bias

* ``train=True`` with ``track_running_stats``: ``num_batches_tracked += 1`` first, then with
  ``f = momentum`` (or ``1 / num_batches_tracked`` if ``momentum is None``: a cumulative
  average) ``running_mean = (1 - f) * running_mean + f * mean_B`` and
  ``running_var = (1 - f) * running_var + f * var_U``; the batch stats normalise.
* eval: the running stats normalise; nothing changes.
* ``track_running_stats=False``: no buffers; batch stats in train *and* eval.

torch's ``momentum=0.1`` weights the new batch by 0.1 (Flax/Keras ``momentum=0.9``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from .. import init
from .functional import normalization as F
from .module import Module
from .normalization import register_affine
from .parameter import Buffer


class _NormBase(Module):
    """torch's ``_NormBase``, shared by BatchNorm and InstanceNorm: the affine parameters and
    the running statistics, declared in torch's order (weight, bias, running_mean, running_var,
    num_batches_tracked)."""

    _version = 2
    # A checkpoint saved before torch added num_batches_tracked (version < 2) may lack it.
    _legacy_optional = ("num_batches_tracked",)

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        shape = (num_features,)
        register_affine(self, shape, affine, bias, dtype)
        if track_running_stats:
            self.running_mean = Buffer(shape, init.zeros, dtype)
            self.running_var = Buffer(shape, init.ones, dtype)
            # torch's counter is int64; JAX has int64 only in x64 mode, else int32 (exact up
            # to 2**31 - 1 training steps). Decided here, at construction.
            count_dtype = jnp.int64 if jax.config.jax_enable_x64 else jnp.int32
            self.num_batches_tracked = Buffer((), init.zeros, count_dtype)
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)


class _BatchNorm(_NormBase):
    """Shared by :class:`BatchNorm1d`, :class:`BatchNorm2d` and :class:`BatchNorm3d` (they
    differ in input ranks)."""

    _ranks: tuple[int, ...]
    _rank_text: str

    def _check_input(self, x: jax.Array) -> None:
        if x.ndim not in self._ranks:
            raise ValueError(f"expected {self._rank_text} input (got {x.ndim}D input)")
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}) expects {self.num_features} "
                f"channels at dim 1, but got input of shape {tuple(x.shape)}"
            )

    def forward(self, input: jax.Array) -> jax.Array:
        self._check_input(input)
        use_batch_stats = self.training or not self.track_running_stats
        update = self.training and self.track_running_stats
        factor: Any = self.momentum
        if update:
            # num_batches_tracked += 1 first; momentum=None is the cumulative average 1/count.
            count = self.num_batches_tracked + 1
            self.num_batches_tracked = count
            if self.momentum is None:
                factor = 1.0 / count.astype(jnp.result_type(float))  # float64 under x64
        y, mean, var = F._batch_norm(
            input,
            self.running_mean if update or not use_batch_stats else None,
            self.running_var if update or not use_batch_stats else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )
        if update:
            self.running_mean = mean
            self.running_var = var
        return y

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over ``(N, C)`` or ``(N, C, L)`` inputs, as torch's
    ``nn.BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True,
    track_running_stats=True, dtype=None, *, bias=True)``.

    Statistics per channel ``C`` over ``N`` (and ``L``); formulas in the module docstring.
    Variables: ``weight`` = ones, ``bias`` = zeros (if ``affine``); buffers ``running_mean`` =
    zeros, ``running_var`` = ones, ``num_batches_tracked`` = 0 (a 0-d int64 under x64, else
    int32) if ``track_running_stats``.

    Example::

        bn = nn.BatchNorm1d(3)
        v = bn.init(jax.random.key(0))
        y, v = bn(v, x, train=True)     # batch stats; running stats updated, count + 1
        y = bn(v, x)                    # eval: running stats
    """

    _ranks = (2, 3)
    _rank_text = "2D or 3D"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over ``(N, C, H, W)`` inputs, as torch's
    ``nn.BatchNorm2d(num_features, eps=1e-5, momentum=0.1, affine=True,
    track_running_stats=True, dtype=None, *, bias=True)``.

    Statistics per channel over ``N, H, W`` (``n = N*H*W``): normalisation with the biased
    batch variance, ``running_var`` updated with the unbiased one; see the module docstring.

    Example::

        bn = nn.BatchNorm2d(2)
        v = bn.init(jax.random.key(0))
        y, v = bn(v, jnp.ones((4, 2, 8, 8)), train=True)
        v["num_batches_tracked"]        # 1
    """

    _ranks = (4,)
    _rank_text = "4D"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation over ``(N, C, D, H, W)`` inputs, as torch's
    ``nn.BatchNorm3d(num_features, eps=1e-5, momentum=0.1, affine=True,
    track_running_stats=True, dtype=None, *, bias=True)``; statistics per channel over
    ``N, D, H, W``, see the module docstring.

    Example::

        bn = nn.BatchNorm3d(2)
        v = bn.init(jax.random.key(0))
        y, v = bn(v, jnp.ones((2, 2, 3, 4, 4)), train=True)
    """

    _ranks = (5,)
    _rank_text = "5D"
