"""Folding an eval-mode BatchNorm into the convolution before it, as
``torch.nn.utils.fusion``."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
from jax import lax

from ..batchnorm import _BatchNorm
from ..conv import _ConvNd
from ..linear import default_bias_init
from ..parameter import Parameter

ConvT = TypeVar("ConvT", bound=_ConvNd)


def fuse_conv_bn_weights(
    conv_w: jax.Array,
    conv_b: jax.Array | None,
    bn_rm: jax.Array,
    bn_rv: jax.Array,
    bn_eps: float,
    bn_w: jax.Array | None,
    bn_b: jax.Array | None,
    transpose: bool = False,
) -> tuple[jax.Array, jax.Array]:
    """The weight and bias of one convolution equal to ``bn(conv(x))`` with ``bn`` in eval:

    ``w' = w * (bn_w / sqrt(bn_rv + eps))`` per output channel (dim 0, or dim 1 if
    ``transpose``, for ConvTranspose weights) and ``b' = (b - bn_rm) / sqrt(bn_rv + eps) * bn_w
    + bn_b``. A missing ``conv_b``/``bn_b`` counts as zeros, a missing ``bn_w`` as ones. The
    results keep the conv weight's dtype (and the bias's, if there was one), as torch.

    Example::

        w, b = fuse_conv_bn_weights(cv["weight"], None, bv["running_mean"],
                                    bv["running_var"], 1e-5, bv["weight"], bv["bias"])
    """
    conv_w = jnp.asarray(conv_w)
    bias_dtype = conv_w.dtype if conv_b is None else jnp.asarray(conv_b).dtype
    # Computed in the wider of the two dtypes (torch's type promotion), then cast back.
    ct = jnp.promote_types(conv_w.dtype, jnp.asarray(bn_rm).dtype)
    bn_rm, bn_rv = jnp.asarray(bn_rm, ct), jnp.asarray(bn_rv, ct)
    conv_b = jnp.zeros_like(bn_rm) if conv_b is None else jnp.asarray(conv_b, ct)
    bn_w = jnp.ones_like(bn_rm) if bn_w is None else jnp.asarray(bn_w, ct)
    bn_b = jnp.zeros_like(bn_rm) if bn_b is None else jnp.asarray(bn_b, ct)
    var_rsqrt = lax.rsqrt(bn_rv + jnp.asarray(bn_eps, ct))
    shape = (1, -1) if transpose else (-1, 1)
    shape += (1,) * (conv_w.ndim - 2)
    fused_w = conv_w.astype(ct) * (bn_w * var_rsqrt).reshape(shape)
    fused_b = (conv_b - bn_rm) * var_rsqrt * bn_w + bn_b
    return fused_w.astype(conv_w.dtype), fused_b.astype(bias_dtype)


def fuse_conv_bn_eval(
    conv: ConvT,
    bn: _BatchNorm,
    conv_variables: Mapping[str, Any],
    bn_variables: Mapping[str, Any],
    transpose: bool = False,
) -> tuple[ConvT, dict[str, jax.Array]]:
    """A new convolution, with a bias, whose output equals ``bn(conv(x))`` in eval mode:
    ``fused_conv, fused_variables = fuse_conv_bn_eval(conv, bn, conv_vars, bn_vars)``
    (torch's ``fuse_conv_bn_eval``; the weights come from :func:`fuse_conv_bn_weights`).

    ``conv`` is copied (``conv`` itself is unchanged); if it had ``bias=False`` the copy gets
    a bias. ``bn`` must track running statistics. Training-mode BatchNorm (batch statistics)
    cannot be folded: use the fused conv for inference only.

    Example (seed 000's ``forward_fuse``)::

        fused, fv = fuse_conv_bn_eval(m.conv, m.bn, variables["conv"], variables["bn"])
        y = act(fused(fv, x))           # == act(m.bn(bv, m.conv(cv, x)))
    """
    if not isinstance(conv, _ConvNd):
        raise TypeError(f"fuse_conv_bn_eval needs a Conv1d/Conv2d, got {type(conv).__name__}")
    if not isinstance(bn, _BatchNorm):
        raise TypeError(f"fuse_conv_bn_eval needs a BatchNorm, got {type(bn).__name__}")
    if not bn.track_running_stats:
        raise ValueError(
            "bn.running_mean and bn.running_var must not be None: a BatchNorm built with "
            "track_running_stats=False normalises with batch statistics and cannot be fused"
        )
    fused_conv = copy.deepcopy(conv)
    if fused_conv.bias is None:
        fan_in = fused_conv.weight.size // fused_conv.weight.shape[0]
        fused_conv.bias = Parameter(
            (conv.out_channels,), default_bias_init(fan_in), fused_conv.weight.dtype
        )
    weight, bias = fuse_conv_bn_weights(
        conv_variables["weight"],
        conv_variables.get("bias"),
        bn_variables["running_mean"],
        bn_variables["running_var"],
        bn.eps,
        bn_variables.get("weight"),
        bn_variables.get("bias"),
        transpose,
    )
    return fused_conv, {"weight": weight, "bias": bias}
