"""The random primitives behind :mod:`jaxinit.init`.

Every random number that ``jaxinit.init`` draws from a JAX key comes from the few functions
here, so a faster sampler (bitwise equal to ``jax.random``) can replace their insides
without touching the initializers. The contract of each primitive:

* pure and traceable: the same key, shape, dtype and bounds give the same bits eagerly,
  under ``jit`` and under ``vmap`` (the callers put the ``jit`` boundary around them);
* the result has ``dtype``; bfloat16/float16 are drawn at float32 and then cast
  (:func:`jaxinit._dtypes.sampling_dtype`), as torch does;
* ``key`` is a typed key (``jax.random.key``) or a raw ``uint32[2]`` key
  (``jax.random.PRNGKey``); shape is a tuple and dtype a numpy dtype, both already checked.

The randomness of a :class:`jaxinit.generator.TorchGenerator` does not come through here:
it reproduces torch's own CPU stream on the host.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import log_ndtr, ndtri

from jaxinit import _threefry
from jaxinit._dtypes import sampling_dtype

Array = jax.Array

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def uniform(key, shape: tuple[int, ...], dtype: np.dtype, low: float, high: float) -> Array:
    """U[low, high): ``jax.random.uniform`` (bitwise, via :mod:`jaxinit._threefry`) at the
    sampling dtype, cast to ``dtype``.

    A value that rounds up to ``high`` (in float32 arithmetic or in the cast to a half
    type) becomes ``low``, torch's rule, so the result always lies in [low, high).
    ``low == high`` fills ``low``.
    """
    x = _threefry.uniform(key, _flat(shape), sampling_dtype(dtype), low, high).astype(dtype)
    return jnp.where(x >= high, jnp.asarray(low, dtype), x).reshape(shape)


def normal(key, shape: tuple[int, ...], dtype: np.dtype) -> Array:
    """Standard normal N(0, 1): ``jax.random.normal`` (bitwise, via :mod:`jaxinit._threefry`) at
    the sampling dtype, cast to ``dtype``."""
    return _threefry.normal(key, _flat(shape), sampling_dtype(dtype)).astype(dtype).reshape(shape)


def truncated_normal(
    key, shape: tuple[int, ...], dtype: np.dtype, lower: float, upper: float
) -> Array:
    """Standard normal conditioned on [lower, upper] (``lower <= upper``, infinities allowed).

    Inverse CDF, no rejection loop (so it is jit- and vmap-friendly and takes one draw per
    value): ``z = Phi^-1(u)`` with ``u`` uniform on the open interval
    ``(Phi(lower), Phi(upper))``. The work is done where float CDF values keep their relative
    precision: an interval whose midpoint is above 0 is mirrored into the lower half-line,
    sampled there and negated. Far bounds are exact: ``[-100, 100]`` is a plain normal (no
    atom at the bounds, since ``u`` never reaches an end), and an interval deep in a tail
    (``[20, 21]``), where ``u`` would underflow, inverts ``log Phi`` instead.

    ``lower`` and ``upper`` are Python floats: the CDF values are computed in Python double
    (constants of the compiled program, so eager and jit calls give the same bits).
    """
    sdt = sampling_dtype(dtype)
    finfo = np.finfo(sdt)
    flip = lower + upper > 0
    if flip:
        lower, upper = -upper, -lower
    log_hi = _log_ndtr(upper)
    r = math.exp(_log_ndtr(lower) - log_hi)  # Phi(lower) / Phi(upper), in [0, 1]
    # v is uniform on (0, 1): the uniform grid k * eps shifted by half a step (exact), so it is
    # symmetric and never 0 or 1. u = Phi(upper) * w with w in (r, 1].
    v = uniform(key, _flat(shape), sdt, 0.0, 1.0) + finfo.eps / 2
    w = r + v * (1.0 - r)
    if log_hi + 2 * math.log(finfo.eps) > math.log(finfo.tiny):
        z = ndtri(math.exp(log_hi) * w)  # u stays a normal float, at full precision
    else:
        z = _ndtri_of_log(log_hi + jnp.log(w))  # deep in a tail: u would underflow
    z = jnp.clip(z, lower, upper)
    return (-z if flip else z).astype(dtype).reshape(shape)


def shuffle_columns(key, x: Array) -> Array:
    """Each column of the 2-D ``x`` permuted independently at random.

    Shuffling the column ``[1]*k + [0]*(rows-k)`` marks the rows ``perm[:k]`` of a fresh
    random permutation ``perm``, i.e. what one ``torch.randperm(rows)`` per column selects.
    """
    return jax.random.permutation(key, x, axis=0, independent=True)


def _flat(shape: tuple[int, ...]) -> tuple[int]:
    """Draw flat, then reshape: the same values as drawing ``shape`` (jax.random counts over
    the flattened shape, in both jax_threefry_partitionable modes), but XLA compiles a 1-D
    draw several times faster than an N-D one (0.4 s vs 3.9 s for a batched (64, 4, 3, 3))."""
    return (math.prod(shape),)


def _log_ndtr(x: float) -> float:
    """log Phi(x) in Python double, accurate in the far lower tail (no underflow to -inf)."""
    if x == -math.inf:
        return -math.inf
    if x > -30.0:
        return math.log(0.5 * math.erfc(-x / math.sqrt(2.0)))
    # Asymptotic series Phi(x) = phi(x)/|x| * (1 - 1/x^2 + 3/x^4 - 15/x^6 + 105/x^8 - ...),
    # relative error < 1e-12 for x <= -30.
    y = 1.0 / (x * x)
    series = 1.0 - y * (1.0 - y * (3.0 - y * (15.0 - y * 105.0)))
    return -0.5 * x * x - math.log(-x) - _LOG_SQRT_2PI + math.log(series)


def _ndtri_of_log(log_p: Array, iterations: int = 3) -> Array:
    """Phi^-1(exp(log_p)) for log_p far below the float range of p (x < about -10).

    Starts from the asymptotic solution of log Phi(x) = log_p and takes Newton steps
    on log Phi (its derivative is phi(x) / Phi(x)); 2 steps already reach float32 precision.
    """
    t = -2.0 * log_p - 2.0 * _LOG_SQRT_2PI
    x = -jnp.sqrt(t - jnp.log(t))
    for _ in range(iterations):
        log_cdf = log_ndtr(x)
        x = x - (log_cdf - log_p) * jnp.exp(log_cdf + 0.5 * x * x + _LOG_SQRT_2PI)
    return x
