"""Activation functions with torch's names, signatures, defaults, boundary gradients and errors
(``torch.nn.functional.relu`` ... ``softmin``).

``inplace=`` is accepted everywhere torch has it and has no effect (JAX arrays are immutable):
the result is returned, so ``x = F.relu(x, inplace=True)`` ports as written. torch's in-place
spellings (``relu_``, ``elu_``, ...) are the same functions.

Piecewise functions select with ``jnp.where`` on torch's own comparison (``x > 0`` for
``relu``/``leaky_relu``/``elu``, ``min < x < max`` for ``hardtanh``), so the gradient at a
kink is torch's, and the unused branch is evaluated on a clamped input so it never produces an
``inf``/``NaN`` gradient.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import jax
import jax.numpy as jnp

from ._utils import _require_rng, _wrap_dim

__all__ = [
    "celu",
    "celu_",
    "elu",
    "elu_",
    "gelu",
    "glu",
    "gumbel_softmax",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "hardtanh_",
    "leaky_relu",
    "leaky_relu_",
    "log_softmax",
    "logsigmoid",
    "mish",
    "prelu",
    "relu",
    "relu6",
    "relu_",
    "rrelu",
    "rrelu_",
    "selu",
    "selu_",
    "sigmoid",
    "silu",
    "softmax",
    "softmin",
    "softplus",
    "softshrink",
    "softsign",
    "tanh",
    "tanhshrink",
    "threshold",
    "threshold_",
]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _zero(x: jax.Array) -> jax.Array:
    return jnp.zeros((), x.dtype)


def relu(input: jax.Array, inplace: bool = False) -> jax.Array:
    """``max(x, 0)``; gradient 0 at ``x = 0``, as torch.

    Example: ``F.relu(jnp.array([-1.0, 2.0]))`` is ``[0., 2.]``.
    """
    return jax.nn.relu(input)


def relu6(input: jax.Array, inplace: bool = False) -> jax.Array:
    """``min(max(x, 0), 6)`` (torch's ``hardtanh(x, 0, 6)``).

    Example: ``F.relu6(jnp.array([-1.0, 7.0]))`` is ``[0., 6.]``.
    """
    return hardtanh(input, 0.0, 6.0)


def leaky_relu(input: jax.Array, negative_slope: float = 0.01, inplace: bool = False) -> jax.Array:
    """``x if x > 0 else negative_slope * x``.

    Example: ``F.leaky_relu(jnp.array([-2.0]), 0.1)`` is ``[-0.2]``.
    """
    return jnp.where(input > 0, input, input * negative_slope)


def elu(input: jax.Array, alpha: float = 1.0, inplace: bool = False) -> jax.Array:
    """``x if x > 0 else alpha * (exp(x) - 1)``.

    Example: ``F.elu(jnp.array([-1.0]))`` is ``[exp(-1) - 1]``.
    """
    neg = jnp.where(input > 0, _zero(input), input)  # (minimum halves the tie's gradient)
    return jnp.where(input > 0, input, alpha * jnp.expm1(neg))


def selu(input: jax.Array, inplace: bool = False) -> jax.Array:
    """``scale * elu(x, alpha)`` with torch's constants ``alpha = 1.6732632423543772``,
    ``scale = 1.0507009873554805``.

    Example: ``F.selu(jnp.array([1.0]))`` is ``[1.0507]``.
    """
    return _SELU_SCALE * elu(input, _SELU_ALPHA)


def celu(input: jax.Array, alpha: float = 1.0, inplace: bool = False) -> jax.Array:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``; ``alpha = 0`` is torch's error.

    Example: ``F.celu(jnp.array([-1.0]), alpha=2.0)`` is ``[2 * (exp(-0.5) - 1)]``.
    """
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    neg = jnp.where(input > 0, _zero(input), input)  # (minimum halves the tie's gradient)
    return jnp.where(input > 0, input, alpha * jnp.expm1(neg / alpha))


def gelu(input: jax.Array, approximate: str = "none") -> jax.Array:
    """``x * Phi(x)`` with the exact normal CDF (``approximate='none'``, torch's default;
    ``jax.nn.gelu`` defaults to the tanh form), or ``0.5 x (1 + tanh(sqrt(2/pi) (x +
    0.044715 x^3)))`` with ``approximate='tanh'``.

    Example: ``F.gelu(jnp.array([1.0]))`` is ``[0.8413447]``.
    """
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    if approximate == "tanh":
        return _gelu_tanh(input)
    return jax.nn.gelu(input, approximate=False)


_GELU_BETA = math.sqrt(2.0) * 2.0 / math.sqrt(math.pi) * 0.5  # sqrt(2 / pi), torch's kBeta
_GELU_KAPPA = 0.044715


@jax.custom_jvp
def _gelu_tanh(x: jax.Array) -> jax.Array:
    inner = _GELU_BETA * (x + _GELU_KAPPA * (x * x * x))
    return x * jax.nn.sigmoid(2 * inner)  # 0.5 x (1 + tanh(inner)), without the cancellation


@_gelu_tanh.defjvp
def _gelu_tanh_jvp(primals: tuple, tangents: tuple) -> tuple:
    # 1 + tanh(z) = 2 sigmoid(2z) and 1 - tanh(z)^2 = 4 sigmoid(2z) sigmoid(-2z): no
    # cancellation for negative x, where XLA's float32 tanh would cost ~1e-3 relative.
    (x,), (dx,) = primals, tangents
    x_sq = x * x
    inner = _GELU_BETA * (x + _GELU_KAPPA * (x_sq * x))
    s_pos, s_neg = jax.nn.sigmoid(2 * inner), jax.nn.sigmoid(-2 * inner)
    d_inner = _GELU_BETA * (1 + 3 * _GELU_KAPPA * x_sq)
    grad = s_pos + 2 * x * s_pos * s_neg * d_inner
    return x * s_pos, grad * dx


def silu(input: jax.Array, inplace: bool = False) -> jax.Array:
    """``x * sigmoid(x)`` (swish).

    Example: ``F.silu(jnp.array([0.0]))`` is ``[0.]``.
    """
    return jax.nn.silu(input)


def mish(input: jax.Array, inplace: bool = False) -> jax.Array:
    """``x * tanh(softplus(x))``.

    Example: ``F.mish(jnp.array([0.0]))`` is ``[0.]``.
    """
    return input * jnp.tanh(jax.nn.softplus(input))


def hardsigmoid(input: jax.Array, inplace: bool = False) -> jax.Array:
    """``relu6(x + 3) / 6``; gradient ``1/6`` strictly inside ``(-3, 3)``, as torch.

    Example: ``F.hardsigmoid(jnp.array([0.0]))`` is ``[0.5]``.
    """
    inside = (input > -3) & (input < 3)
    outside = jnp.where(input >= 3, jnp.ones((), input.dtype), _zero(input))
    return jnp.where(inside, input / 6 + 0.5, outside)


def hardswish(input: jax.Array, inplace: bool = False) -> jax.Array:
    """``x * relu6(x + 3) / 6``; gradient ``(2x + 3) / 6`` strictly inside ``(-3, 3)``, 0 at
    and below -3 and 1 from 3 on, as torch.

    Example: ``F.hardswish(jnp.array([1.0]))`` is ``[0.6667]``.
    """
    mid = input * (input + 3) / 6
    return jnp.where(input <= -3, _zero(input), jnp.where(input < 3, mid, input))


def hardtanh(
    input: jax.Array, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> jax.Array:
    """``clip(x, min_val, max_val)``; gradient 1 strictly inside, 0 at and beyond the bounds.

    Example: ``F.hardtanh(jnp.array([-3.0, 0.5]))`` is ``[-1., 0.5]``.
    """
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    inside = (input > min_val) & (input < max_val)
    lo = jnp.full((), min_val, input.dtype)
    hi = jnp.full((), max_val, input.dtype)
    return jnp.where(inside, input, jnp.where(input <= min_val, lo, hi))


def softplus(input: jax.Array, beta: float = 1.0, threshold: float = 20.0) -> jax.Array:
    """``log(1 + exp(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``.

    Example: ``F.softplus(jnp.array([0.0]))`` is ``[log 2]``.
    """
    bx = input * beta
    return jnp.where(bx > threshold, input, jax.nn.softplus(bx) / beta)


def softsign(input: jax.Array) -> jax.Array:
    """``x / (1 + |x|)``.

    Example: ``F.softsign(jnp.array([1.0]))`` is ``[0.5]``.
    """
    return input / (1 + jnp.abs(input))


def _check_lambd(lambd: float, input: jax.Array) -> None:
    if lambd < 0:
        name = {"float32": "Float", "float64": "Double", "float16": "Half"}.get(
            jnp.dtype(input.dtype).name, "BFloat16"
        )
        bound = float(jnp.finfo(input.dtype).max)
        raise RuntimeError(
            f"lambda must be in range [0, {bound:.6g}] for input dtype {name}, but found {lambd:g}"
        )


def softshrink(input: jax.Array, lambd: float = 0.5) -> jax.Array:
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0.

    Example: ``F.softshrink(jnp.array([1.0, 0.2]))`` is ``[0.5, 0.]``.
    """
    _check_lambd(lambd, input)
    return jnp.where(
        input > lambd, input - lambd, jnp.where(input < -lambd, input + lambd, _zero(input))
    )


def hardshrink(input: jax.Array, lambd: float = 0.5) -> jax.Array:
    """``x`` where ``|x| > lambd``, else 0.

    Example: ``F.hardshrink(jnp.array([1.0, 0.2]))`` is ``[1., 0.]``.
    """
    return jnp.where((input > lambd) | (input < -lambd), input, _zero(input))


def tanhshrink(input: jax.Array) -> jax.Array:
    """``x - tanh(x)``.

    Example: ``F.tanhshrink(jnp.array([0.0]))`` is ``[0.]``.
    """
    return input - jnp.tanh(input)


def threshold(input: jax.Array, threshold: float, value: float, inplace: bool = False) -> jax.Array:
    """``x if x > threshold else value``.

    Example: ``F.threshold(jnp.array([0.5, 2.0]), 1.0, -1.0)`` is ``[-1., 2.]``.
    """
    return jnp.where(input > threshold, input, jnp.full((), value, input.dtype))


def glu(input: jax.Array, dim: int = -1) -> jax.Array:
    """``a * sigmoid(b)`` where ``a, b`` are the halves of ``input`` along ``dim``.

    Example: ``F.glu(jnp.ones((2, 4))).shape`` is ``(2, 2)``.
    """
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = _wrap_dim(dim, input.ndim)
    if input.shape[d] % 2:
        raise RuntimeError(
            f"Halving dimension must be even, but dimension {d} is size {input.shape[d]}"
        )
    a, b = jnp.split(input, 2, axis=d)
    return a * jax.nn.sigmoid(b)


def logsigmoid(input: jax.Array) -> jax.Array:
    """``log(sigmoid(x)) = -softplus(-x)``, computed stably.

    Example: ``F.logsigmoid(jnp.array([0.0]))`` is ``[-log 2]``.
    """
    return jax.nn.log_sigmoid(input)


def sigmoid(input: jax.Array) -> jax.Array:
    """``1 / (1 + exp(-x))``.

    Example: ``F.sigmoid(jnp.array([0.0]))`` is ``[0.5]``.
    """
    return jax.nn.sigmoid(input)


def tanh(input: jax.Array) -> jax.Array:
    """``tanh(x)``.

    Example: ``F.tanh(jnp.array([0.0]))`` is ``[0.]``.
    """
    return jnp.tanh(input)


def prelu(input: jax.Array, weight: jax.Array) -> jax.Array:
    """``x if x > 0 else weight * x`` with one slope, or one per channel (dim 1; a 1-d input
    has one channel), as torch.

    Example: ``F.prelu(jnp.array([[-1.0, -1.0]]), jnp.array([0.1, 0.2]))`` is
    ``[[-0.1, -0.2]]``.
    """
    weight = jnp.asarray(weight)
    if weight.ndim > 1:
        raise RuntimeError(
            f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.ndim}"
        )
    if weight.size != 1:
        if input.ndim == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        channels = input.shape[1] if input.ndim > 1 else 1
        if channels != weight.size:
            raise RuntimeError(
                "Mismatch of parameter numbers and input channel size. Found parameter "
                f"numbers = {weight.size} and channel size = {channels}."
            )
        w = weight.reshape((1, -1) + (1,) * (input.ndim - 2))
    else:
        w = weight.reshape((1,) * input.ndim)
    return jnp.where(input > 0, input, input * w.astype(input.dtype))


def rrelu(
    input: jax.Array,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
    *,
    rng: Any = None,
) -> jax.Array:
    """Randomized leaky ReLU: ``x if x >= 0 else a * x``.

    Training: ``a ~ U(lower, upper)`` drawn per element from ``rng`` (required). Eval: the
    fixed slope ``a = (lower + upper) / 2``.

    Example: ``F.rrelu(x, training=True, rng=jax.random.key(0))``.
    """
    if not training:
        return leaky_relu(input, (lower + upper) / 2)
    _require_rng(rng, "rrelu")
    a = jax.random.uniform(rng, input.shape, input.dtype, lower, upper)
    return jnp.where(input >= 0, input, input * a)


def _softmax_dim(name: str, dim: int | None, ndim: int, stacklevel: int) -> int:
    if dim is None:
        warnings.warn(
            f"Implicit dimension choice for {name} has been deprecated. Change the call to "
            "include dim=X as an argument.",
            stacklevel=stacklevel + 1,
        )
        dim = 0 if ndim in (0, 1, 3) else 1
    return _wrap_dim(dim, ndim)


def _prepare(input: jax.Array, dtype: Any) -> jax.Array:
    input = jnp.asarray(input)
    return input if dtype is None else input.astype(dtype)


def softmax(
    input: jax.Array, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> jax.Array:
    """``exp(x) / sum(exp(x))`` along ``dim``. ``dim=None`` is torch's deprecated implicit
    choice (dim 0 for 0-, 1- and 3-d inputs, else 1) and warns as torch; ``dtype`` casts the
    input first.

    Example: ``F.softmax(jnp.zeros((2, 4)), dim=-1)`` is ``0.25`` everywhere.
    """
    x = _prepare(input, dtype)
    d = _softmax_dim("softmax", dim, x.ndim, _stacklevel)
    return jax.nn.softmax(x, axis=d if x.ndim else None)


def softmin(
    input: jax.Array, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> jax.Array:
    """``softmax(-x)`` along ``dim``, with softmax's ``dim`` and ``dtype`` rules.

    Example: ``F.softmin(jnp.array([0.0, 1e9]), dim=0)`` is ``[1., 0.]``.
    """
    x = _prepare(input, dtype)
    d = _softmax_dim("softmin", dim, x.ndim, _stacklevel)
    return jax.nn.softmax(-x, axis=d if x.ndim else None)


def log_softmax(
    input: jax.Array, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> jax.Array:
    """``x - logsumexp(x)`` along ``dim``, with softmax's ``dim`` and ``dtype`` rules.

    Example: ``F.log_softmax(jnp.zeros(4), dim=0)`` is ``-log 4`` everywhere.
    """
    x = _prepare(input, dtype)
    d = _softmax_dim("log_softmax", dim, x.ndim, _stacklevel)
    return jax.nn.log_softmax(x, axis=d if x.ndim else None)


def gumbel_softmax(
    logits: jax.Array,
    tau: float = 1.0,
    hard: bool = False,
    eps: float = 1e-10,
    dim: int = -1,
    *,
    rng: jax.Array | None = None,
) -> jax.Array:
    """Samples from the Gumbel-softmax distribution: ``softmax((logits + g) / tau, dim)`` with
    ``g = -log(E)``, ``E ~ Exponential(1)`` drawn from ``rng``, as torch's. ``hard=True``
    returns the one-hot of the argmax in the forward pass with the soft sample's gradient
    (torch's straight-through ``y_hard - stop_gradient(y_soft) + y_soft``). ``eps`` is unused,
    as in torch.

    Example: ``F.gumbel_softmax(logits, tau=0.5, hard=True, rng=jax.random.key(0))``.
    """
    _require_rng(rng, "gumbel_softmax")
    logits = jnp.asarray(logits)
    gumbels = -jnp.log(jax.random.exponential(rng, logits.shape, logits.dtype))
    d = _wrap_dim(dim, logits.ndim)
    y_soft = jax.nn.softmax((logits + gumbels) / tau, axis=d)
    if not hard:
        return y_soft
    index = jnp.argmax(y_soft, axis=d, keepdims=True)
    positions = jax.lax.broadcasted_iota(index.dtype, y_soft.shape, d)
    y_hard = (positions == index).astype(y_soft.dtype)
    return y_hard - jax.lax.stop_gradient(y_soft) + y_soft


# torch's in-place spellings: the same functions (JAX arrays are immutable; use the result).
relu_ = relu
elu_ = elu
selu_ = selu
celu_ = celu
leaky_relu_ = leaky_relu
hardtanh_ = hardtanh
threshold_ = threshold
rrelu_ = rrelu
