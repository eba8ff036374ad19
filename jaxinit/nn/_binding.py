"""Binding variables to a module tree for the length of one call.

``net(variables, x)`` is pure: it opens a *frame* that maps every module of the tree to its own
variables, runs ``forward`` (where ``self.weight`` reads the bound array and ``self.conv(x)``
calls a bound submodule), collects the buffer updates, and closes the frame. Nothing outlives
the call, so it traces under ``jit``/``grad``/``vmap`` like any function of its arguments.
"""

from __future__ import annotations

import contextvars
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp

from ..generator import TorchGenerator
from ._nokey import NoKey
from ._plan import Plan

_FRAME: contextvars.ContextVar[Frame | None] = contextvars.ContextVar("jaxinit_frame", default=None)


@dataclass
class Frame:
    plan: Plan
    values: dict[str, Any]  # canonical name -> array; updated in place by assignments
    mode: str  # "forward", "apply" or "view" (a method called through net.bind(variables))
    train: bool = False
    key: Any = None
    updated: dict[str, Any] = field(default_factory=dict)
    record: list | None = None  # (path, module, output) for summary()
    _key_counts: dict[str, int] = field(default_factory=dict)

    def owns(self, module: Any) -> bool:
        return id(module) in self.plan.slots

    def read(self, module: Any, name: str) -> Any:
        return self.values[self.plan.slots[id(module)][name]]

    def write(self, module: Any, name: str, value: Any) -> None:
        canon = self.plan.slots[id(module)][name]
        old = self.values[canon]
        new = jnp.asarray(value)
        if new.shape != old.shape:
            raise ValueError(
                f"cannot assign an array of shape {new.shape} to {canon!r} of shape {old.shape}"
            )
        new = new.astype(old.dtype)
        self.values[canon] = new
        self.updated[canon] = new

    def next_key(self, module: Any) -> jax.Array | NoKey:
        if self.key is None and not self.train:  # eval: a placeholder every rng= consumer
            return NoKey(type(module).__name__)  # takes; jax.random refuses it, clearly
        if self.key is None:
            what = type(module).__name__
            raise ValueError(
                f"{what} needs randomness in this call: pass a PRNG key, e.g. "
                "net(variables, x, train=True, rng=jax.random.key(0))"
            )
        if isinstance(self.key, TorchGenerator):
            raise TypeError(
                f"{type(module).__name__} draws with jax.random in forward, so the call's rng "
                "must be a JAX PRNG key (rng=jax.random.key(0)); a TorchGenerator replays "
                "torch's initialisation draws (net.init, net.apply, init.*), not forward's"
            )
        path = self.plan.module_paths[id(module)]
        n = self._key_counts.get(path, 0)
        self._key_counts[path] = n + 1
        key = jax.random.fold_in(self.key, name_hash(path))
        return jax.random.fold_in(key, n)


def current() -> Frame | None:
    return _FRAME.get()


@contextmanager
def bound(frame: Frame) -> Iterator[Frame]:
    token = _FRAME.set(frame)
    try:
        yield frame
    finally:
        _FRAME.reset(token)


def name_hash(name: str) -> int:
    """A stable 32-bit hash of a dotted name: the per-variable key is fold_in(key, hash)."""
    return zlib.crc32(name.encode("utf-8"))


def merge_updates(tree: Mapping[str, Any], updates: Mapping[str, Any]) -> dict[str, Any]:
    """Copy-on-write update of a nested dict by dotted names."""
    out = dict(tree)
    grouped: dict[str, dict[str, Any]] = {}
    for name, value in updates.items():
        head, _, rest = name.partition(".")
        if rest:
            grouped.setdefault(head, {})[rest] = value
        else:
            out[head] = value
    for head, sub in grouped.items():
        out[head] = merge_updates(tree.get(head, {}), sub)
    return out
