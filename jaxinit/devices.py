"""Devices, torch-style: ``try_gpu``, ``try_all_gpus``, moving a variables tree, asking where it
lives, and sharding helpers for initialising a model straight onto a mesh."""

from __future__ import annotations

from typing import Any

import jax


def _gpus() -> list[jax.Device]:
    try:
        return list(jax.devices("gpu"))
    except RuntimeError:  # no GPU backend on this machine
        return []


def try_gpu(i: int = 0) -> jax.Device:
    """GPU ``i`` if it exists, else the CPU (the d2l helper of seed 003).

    Example::

        x = jax.device_put(jnp.ones((2, 3)), try_gpu())
    """
    gpus = _gpus()
    return gpus[i] if i < len(gpus) else jax.devices("cpu")[0]


def try_all_gpus() -> list[jax.Device]:
    """Every GPU, or ``[cpu]`` when there is none."""
    return _gpus() or [jax.devices("cpu")[0]]


def to_device(tree: Any, device: jax.Device | jax.sharding.Sharding) -> Any:
    """``net.to(device)`` for a variables tree: every leaf placed on ``device`` (or laid out by
    a ``Sharding``). Returns a new tree; ties stay ties (the tree stores them once).

    Example::

        variables = to_device(variables, try_gpu())
    """
    return jax.device_put(tree, device)


def devices_of(tree: Any) -> set[jax.Device]:
    """Where a variables tree lives: the set of devices holding any of its arrays (torch's
    ``net[0].weight.data.device``, for a whole tree)."""
    out: set[jax.Device] = set()
    for leaf in jax.tree.leaves(tree):
        if isinstance(leaf, jax.Array):
            out |= set(leaf.devices())
    return out
