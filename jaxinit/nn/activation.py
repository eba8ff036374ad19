"""Activation layers with torch's names, constructor arguments, stored attributes and reprs
(torch's ``nn/modules/activation.py``). Each ``forward`` calls :mod:`jaxinit.nn.functional`.

``inplace=`` is accepted and stored (and shown in the repr where torch shows it); it has no
effect, JAX arrays being immutable.
"""

from __future__ import annotations

import functools
from typing import Any

import jax

from .. import init
from . import functional as F
from .module import Module
from .parameter import Parameter


def _inplace_only(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


def _inplace_suffix(inplace: bool) -> str:
    return ", inplace=True" if inplace else ""


class ReLU(Module):
    """``max(x, 0)``, as ``torch.nn.ReLU(inplace=False)``.

    Example: ``nn.ReLU()(jnp.array([-1.0, 2.0]))`` is ``[0., 2.]``.
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        return F.relu(input)

    def extra_repr(self) -> str:
        return _inplace_only(self.inplace)


class Hardtanh(Module):
    """``clip(x, min_val, max_val)``, as ``torch.nn.Hardtanh(min_val=-1.0, max_val=1.0,
    inplace=False)``.

    Example: ``nn.Hardtanh(-2.0, 2.0)(jnp.array([3.0]))`` is ``[2.]``.
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if not max_val > min_val:
            raise ValueError(f"max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_suffix(self.inplace)}"


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``, as ``torch.nn.ReLU6(inplace=False)`` (a ``Hardtanh(0.0, 6.0)``).

    Example: ``nn.ReLU6()(jnp.array([7.0]))`` is ``[6.]``.
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace_only(self.inplace)


class LeakyReLU(Module):
    """``x if x > 0 else negative_slope * x``, as ``torch.nn.LeakyReLU(0.01, inplace=False)``.

    Example: ``nn.LeakyReLU(0.1)(jnp.array([-2.0]))`` is ``[-0.2]``.
    """

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}{_inplace_suffix(self.inplace)}"


class ELU(Module):
    """``x if x > 0 else alpha * (exp(x) - 1)``, as ``torch.nn.ELU(alpha=1.0, inplace=False)``.

    Example: ``nn.ELU()(jnp.array([-1.0]))`` is ``[-0.6321]``.
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_suffix(self.inplace)}"


class CELU(Module):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``, as ``torch.nn.CELU(alpha=1.0,
    inplace=False)``.

    Example: ``nn.CELU(2.0)(jnp.array([-2.0]))`` is ``[2 * (exp(-1) - 1)]``.
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        return F.celu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_suffix(self.inplace)}"


class _InplaceActivation(Module):
    """An activation whose only argument is ``inplace`` (repr ``inplace=True`` when set)."""

    _fn: Any

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        return type(self)._fn(input)

    def extra_repr(self) -> str:
        return _inplace_only(self.inplace)


class SELU(_InplaceActivation):
    """``scale * elu(x, alpha)`` with torch's fixed constants, as ``torch.nn.SELU()``.

    Example: ``nn.SELU()(jnp.array([1.0]))`` is ``[1.0507]``.
    """

    _fn = staticmethod(F.selu)


class SiLU(_InplaceActivation):
    """``x * sigmoid(x)``, as ``torch.nn.SiLU(inplace=False)``.

    Example: ``nn.SiLU()(jnp.array([0.0]))`` is ``[0.]``.
    """

    _fn = staticmethod(F.silu)


class Mish(_InplaceActivation):
    """``x * tanh(softplus(x))``, as ``torch.nn.Mish(inplace=False)``.

    Example: ``nn.Mish()(jnp.array([0.0]))`` is ``[0.]``.
    """

    _fn = staticmethod(F.mish)


class Hardswish(_InplaceActivation):
    """``x * relu6(x + 3) / 6``, as ``torch.nn.Hardswish(inplace=False)`` (torch's repr does
    not show ``inplace``).

    Example: ``nn.Hardswish()(jnp.array([1.0]))`` is ``[0.6667]``.
    """

    _fn = staticmethod(F.hardswish)

    def extra_repr(self) -> str:
        return ""


class Hardsigmoid(_InplaceActivation):
    """``relu6(x + 3) / 6``, as ``torch.nn.Hardsigmoid(inplace=False)`` (torch's repr does not
    show ``inplace``).

    Example: ``nn.Hardsigmoid()(jnp.array([0.0]))`` is ``[0.5]``.
    """

    _fn = staticmethod(F.hardsigmoid)

    def extra_repr(self) -> str:
        return ""


class GELU(Module):
    """``x * Phi(x)``, exact by default (``approximate='none'``) or the tanh approximation
    (``approximate='tanh'``), as ``torch.nn.GELU``. Note ``jax.nn.gelu`` approximates by
    default.

    Example: ``nn.GELU()(jnp.array([1.0]))`` is ``[0.8413447]``.
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: jax.Array) -> jax.Array:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class _Stateless(Module):
    """An activation with no arguments (torch accepts and ignores any)."""

    _fn: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: jax.Array) -> jax.Array:
        return type(self)._fn(input)


class Sigmoid(_Stateless):
    """``1 / (1 + exp(-x))``, as ``torch.nn.Sigmoid()``.

    Example: ``nn.Sigmoid()(jnp.array([0.0]))`` is ``[0.5]``.
    """

    _fn = staticmethod(F.sigmoid)


class Tanh(_Stateless):
    """``tanh(x)``, as ``torch.nn.Tanh()``.

    Example: ``nn.Tanh()(jnp.array([0.0]))`` is ``[0.]``.
    """

    _fn = staticmethod(F.tanh)


class Softsign(_Stateless):
    """``x / (1 + |x|)``, as ``torch.nn.Softsign()``.

    Example: ``nn.Softsign()(jnp.array([1.0]))`` is ``[0.5]``.
    """

    _fn = staticmethod(F.softsign)


class Tanhshrink(_Stateless):
    """``x - tanh(x)``, as ``torch.nn.Tanhshrink()``.

    Example: ``nn.Tanhshrink()(jnp.array([0.0]))`` is ``[0.]``.
    """

    _fn = staticmethod(F.tanhshrink)


class LogSigmoid(_Stateless):
    """``log(sigmoid(x))``, as ``torch.nn.LogSigmoid()``.

    Example: ``nn.LogSigmoid()(jnp.array([0.0]))`` is ``[-0.6931]``.
    """

    _fn = staticmethod(F.logsigmoid)


class Softplus(Module):
    """``log(1 + exp(beta x)) / beta`` (linear where ``beta x > threshold``), as
    ``torch.nn.Softplus(beta=1.0, threshold=20.0)``.

    Example: ``nn.Softplus()(jnp.array([0.0]))`` is ``[0.6931]``.
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: jax.Array) -> jax.Array:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softshrink(Module):
    """``x -+ lambd`` outside ``[-lambd, lambd]``, else 0, as ``torch.nn.Softshrink(0.5)``.

    Example: ``nn.Softshrink()(jnp.array([1.0]))`` is ``[0.5]``.
    """

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: jax.Array) -> jax.Array:
        return F.softshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)


class Hardshrink(Module):
    """``x`` outside ``[-lambd, lambd]``, else 0, as ``torch.nn.Hardshrink(0.5)``.

    Example: ``nn.Hardshrink()(jnp.array([1.0, 0.2]))`` is ``[1., 0.]``.
    """

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: jax.Array) -> jax.Array:
        return F.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Threshold(Module):
    """``x if x > threshold else value``, as ``torch.nn.Threshold(threshold, value,
    inplace=False)``.

    Example: ``nn.Threshold(1.0, -1.0)(jnp.array([0.5, 2.0]))`` is ``[-1., 2.]``.
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        return F.threshold(input, self.threshold, self.value)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}{_inplace_suffix(self.inplace)}"


class GLU(Module):
    """``a * sigmoid(b)`` for the two halves of the input along ``dim``, as
    ``torch.nn.GLU(dim=-1)``.

    Example: ``nn.GLU()(jnp.ones((2, 4))).shape`` is ``(2, 2)``.
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: jax.Array) -> jax.Array:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class PReLU(Module):
    """``x if x > 0 else weight * x`` with a learned slope, one shared (``num_parameters=1``)
    or one per channel (dim 1), as ``torch.nn.PReLU(num_parameters=1, init=0.25, dtype=None)``.

    Variables: ``weight (num_parameters,)`` filled with ``init`` (no randomness). torch
    stores the constructor's ``init`` as ``self.init``; here that name is the module's
    :meth:`~jaxinit.nn.Module.init` method, so the value is kept as ``init_value``.

    Example::

        act = nn.PReLU(3)
        v = act.init(jax.random.key(0))     # {'weight': [0.25, 0.25, 0.25]}
        y = act(v, jnp.ones((2, 3, 4)))
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype: Any = None) -> None:
        super().__init__()
        self.num_parameters = num_parameters
        self.init_value = init
        fill = functools.partial(_init.constant, val=init)
        self.weight = Parameter((num_parameters,), fill, dtype)

    def forward(self, input: jax.Array) -> jax.Array:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


_init = init  # PReLU's constructor argument `init` shadows the module inside __init__


class RReLU(Module):
    """Randomized leaky ReLU, as ``torch.nn.RReLU(lower=1/8, upper=1/3, inplace=False)``:
    in training each negative element gets a slope ``~ U(lower, upper)`` (keyed by
    ``self.next_key()``: pass ``key=`` to the training call); in eval the slope is
    ``(lower + upper) / 2``.

    Example: ``y, _ = nn.RReLU()({}, x, train=True, key=jax.random.key(0))``.
    """

    def __init__(
        self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False
    ) -> None:
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input: jax.Array) -> jax.Array:
        training = self.training
        rng = self.next_key() if training else None
        return F.rrelu(input, self.lower, self.upper, training, rng=rng)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}{_inplace_suffix(self.inplace)}"


class _SoftmaxBase(Module):
    _fn: Any

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: jax.Array) -> jax.Array:
        return type(self)._fn(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """Softmax along ``dim``, as ``torch.nn.Softmax(dim=None)`` (``None``: torch's deprecated
    implicit choice, dim 0 for 0-, 1- and 3-d inputs, else 1, with its warning).

    Example: ``nn.Softmax(dim=-1)(jnp.zeros((2, 4)))`` is ``0.25`` everywhere.
    """

    _fn = staticmethod(F.softmax)


class Softmin(_SoftmaxBase):
    """``softmax(-x)`` along ``dim``, as ``torch.nn.Softmin(dim=None)``.

    Example: ``nn.Softmin(dim=0)(jnp.array([0.0, 1e9]))`` is ``[1., 0.]``.
    """

    _fn = staticmethod(F.softmin)


class LogSoftmax(_SoftmaxBase):
    """``log(softmax(x))`` along ``dim``, as ``torch.nn.LogSoftmax(dim=None)``.

    Example: ``nn.LogSoftmax(dim=0)(jnp.zeros(4))`` is ``-log 4`` everywhere.
    """

    _fn = staticmethod(F.log_softmax)


class Softmax2d(_Stateless):
    """Softmax over the channels (dim -3) of a ``(N, C, H, W)`` or ``(C, H, W)`` input, as
    ``torch.nn.Softmax2d()``.

    Example: ``nn.Softmax2d()(jnp.zeros((1, 4, 2, 2)))`` is ``0.25`` everywhere.
    """

    def forward(self, input: jax.Array) -> jax.Array:
        if input.ndim not in (3, 4):
            raise ValueError(
                f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D instead"
            )
        return F.softmax(input, -3, _stacklevel=5)
