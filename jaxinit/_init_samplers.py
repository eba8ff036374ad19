"""The draws behind :mod:`jaxinit.init`: with a JAX key, one jitted sampler per initializer
(:mod:`jaxinit._random`); with a :class:`jaxinit.generator.TorchGenerator`, torch's CPU
algorithm on the host. Private.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxinit import _random
from jaxinit._dtypes import sampling_dtype
from jaxinit._init_checks import Array, Key
from jaxinit.generator import TorchGenerator


def _numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def _is_generator(key: Key) -> bool:
    return isinstance(key, TorchGenerator)


def _norm_cdf(x: float) -> float:
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def _draw_uniform(key, shape, dt, low, high) -> Array:
    if _numel(shape) == 0:
        return jnp.zeros(shape, dt)
    if _is_generator(key):
        return jnp.asarray(key.uniform_(shape, low, high, dt), dt)
    return _uniform_jit(key, low, high, shape=shape, dtype=dt)


def _draw_normal(key, shape, dt, mean, std) -> Array:
    if _numel(shape) == 0:
        return jnp.zeros(shape, dt)
    if _is_generator(key):
        return jnp.asarray(key.normal_(shape, mean, std, dt), dt)
    return _normal_jit(key, mean, std, shape=shape, dtype=dt)


# Each JAX-key path runs inside one jit, so an eager call and a call traced into a user's jit
# compile the same computation and give the same bits (XLA fuses `z * std + mean` under jit).


@partial(jax.jit, static_argnames=("shape", "dtype"))
def _uniform_jit(key, low, high, *, shape, dtype):
    return _random.uniform(key, shape, dtype, low, high)


@partial(jax.jit, static_argnames=("shape", "dtype"))
def _normal_jit(key, mean, std, *, shape, dtype):
    z = _random.normal(key, shape, sampling_dtype(dtype))
    return (z * std + mean).astype(dtype)


# trunc_normal's hyper-parameters are static: the truncation's CDF values are computed in
# Python double and become constants (traced scalars would make eager and jit differ by XLA
# constant-folding transcendentals differently).
@partial(jax.jit, static_argnames=("shape", "dtype", "mean", "std", "a", "b"))
def _trunc_normal_jit(key, *, shape, dtype, mean, std, a, b):
    z = _random.truncated_normal(
        key, shape, sampling_dtype(dtype), (a - mean) / std, (b - mean) / std
    )
    # The clip only undoes rounding in z * std + mean; after the cast the values lie in
    # [a, b] rounded to the dtype, torch's [lo, hi].
    return jnp.clip(z * std + mean, a, b).astype(dtype)


@partial(jax.jit, static_argnames=("shape", "dtype"))
def _orthogonal_jit(key, gain, *, shape, dtype):
    rows = shape[0]
    flat = _random.normal(key, (rows, _numel(shape) // rows), sampling_dtype(dtype))
    return _orthogonalize(flat, gain, shape, dtype)


@partial(jax.jit, static_argnames=("shape", "dtype"))
def _orthogonalize_jit(flat, gain, *, shape, dtype):
    return _orthogonalize(flat.astype(sampling_dtype(dtype)), gain, shape, dtype)


def _orthogonalize(flat, gain, shape, dtype):
    rows, cols = flat.shape
    if rows < cols:
        flat = flat.T
    q, r = jnp.linalg.qr(flat)
    q = q * jnp.sign(jnp.diagonal(r))[None, :]  # uniform over the orthogonal group
    if rows < cols:
        q = q.T
    return q.reshape(shape).astype(dtype) * gain


@partial(jax.jit, static_argnames=("shape", "dtype"))
def _sparse_jit(key, std, num_zeros, *, shape, dtype):
    key_normal, key_perm = jax.random.split(key)
    w = _normal_jit(key_normal, 0.0, std, shape=shape, dtype=dtype)
    rows, cols = shape
    # Column c is zeroed on the rows perm_c[:num_zeros]: shuffle num_zeros marks into each column.
    marks = jnp.broadcast_to((jnp.arange(rows) < num_zeros)[:, None], shape)
    return jnp.where(_random.shuffle_columns(key_perm, marks), jnp.zeros((), dtype), w)


def _torch_trunc_normal(gen, shape, dt, mean, std, a, b, p) -> np.ndarray:
    """torch 2.12+'s ``trunc_normal_`` draw for draw, on a TorchGenerator (host numpy)."""
    if p > 0.3:
        lo, hi = dt.type(a), dt.type(b)  # the bounds rounded to the dtype, as torch
        x = gen.normal_(shape, mean, std, dt)
        while True:
            rejected = (x < lo) | (x > hi)
            if not rejected.any():
                return x
            x = np.where(rejected, gen.normal_(shape, mean, std, dt), x)

    mode = max(a, min(mean, b))
    log_peak = -0.5 * ((mode - mean) / std) ** 2
    mean_, std_, half_, peak_ = (dt.type(v) for v in (mean, std, -0.5, log_peak))

    def log_density(c):  # torch: c.sub_(mean).div_(std).pow_(2).mul_(-0.5).sub_(log_peak)
        c = (c - mean_) / std_
        return (c * c) * half_ - peak_

    def rejects(c):  # log(U) > log_density(c), compared in the dtype
        # torch's vectorised float32 log is within 1 ulp, not correctly rounded: on all 2**24
        # possible U, log rounded from float64 differs from it by 1 ulp for 7.5% of them
        # (np.log in float32: 21%). A decision flips only if log_density(c) equals one of
        # the two values exactly: about 1e-8 per comparison, never seen in the tests.
        with np.errstate(divide="ignore"):
            u = gen.uniform_(shape, 0.0, 1.0, dt)
            return np.log(u.astype(np.float64)).astype(dt) > log_density(c)

    x = gen.uniform_(shape, a, b, dt)
    pending = rejects(x)
    while pending.any():
        candidates = gen.uniform_(shape, a, b, dt)
        x = np.where(pending, candidates, x)
        pending = np.where(pending, rejects(candidates), pending)
    return x
