"""Placeholder until the distance family lands (integration replaces this file)."""

from __future__ import annotations

import jax.numpy as jnp


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    return jnp.linalg.norm(x1 - x2 + eps, ord=p, axis=-1, keepdims=keepdim)
