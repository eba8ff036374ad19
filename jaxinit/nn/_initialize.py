"""``Module.init``: draw every declared variable, fast and reproducibly.

* JAX keys: variable ``name`` is drawn from ``fold_in(key, crc32(name))`` by its declaration's
  initializer, so a variable's initial value depends only on the key, its name and its
  declaration -- adding a layer at the end does not change the others.
* A :class:`jaxinit.TorchGenerator`: variables are drawn one after another in the order torch
  draws them -- each declaration's default at its construction, then each re-initialisation
  its constructor made (``init.kaiming_normal_(m.weight)``, ``m.bias.data.zero_()``), in the
  order made (:func:`jaxinit.nn._ctor_init.replay`) -- consuming the stream exactly as torch.

How a JAX-key init is made fast (the values are those of the plain per-variable call
``decl.init(fold_in(key, crc32(name)), shape, dtype)``, bit for bit; tests/nn/test_initialize.py):

* float32 variables drawn by a torch initializer whose randomness is one ``uniform`` or one
  ``normal`` draw (uniform, normal, kaiming_*, xavier_*; torch's defaults for Linear, Conv,
  Embedding) are drawn together, one compiled program per distribution for the whole model.
  Each variable takes whole rows of a ``(rows, _ROW)`` table; every row carries its variable's
  name hash, the counter of its first element, the variable's size and its two bounds (low and
  high, or mean and std, computed by the initializer itself in Python double). The program
  folds the name hash into the key, hashes each element's Threefry counter in jax.random's
  layout (both ``jax_threefry_partitionable`` modes) and converts the bits op for op as
  jax.random does. Its only static input is the number of rows (rounded up to 1/16), so
  compile time does not grow with depth or with the number of distinct shapes. On CPU the
  variables are zero-copy views of the table: no copy, peak memory = the parameters' bytes.
* ones/zeros/constant are filled on the host (no compile per shape).
* Everything else (other initializers or dtypes, other PRNG implementations, sharded
  variables, non-CPU backends) is drawn per variable by one jit per (initializer, shape,
  dtype), reused across variables.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import _threefry, init
from .._tree import unflatten
from ..generator import TorchGenerator
from ._binding import name_hash
from ._ctor_init import replay
from ._plan import Plan
from .parameter import _Declaration, _FromValue

# -- the per-variable path ---------------------------------------------------------------------


def _cache_key(init: Any) -> Hashable:
    """Hash initializers by value where possible (``partial(uniform, a=-b, b=b)`` built twice)."""
    if isinstance(init, functools.partial):
        try:
            key = (init.func, init.args, tuple(sorted(init.keywords.items())))
            hash(key)
            return key
        except TypeError:
            return init
    return init


_SAMPLERS: dict[Hashable, Callable] = {}


def _sampler(init: Callable, shape: tuple, dtype: np.dtype, sharding: Any = None) -> Callable:
    """The compiled ``(key, name_hash) -> array`` for one (initializer, shape, dtype)."""
    cache_key = (_cache_key(init), shape, dtype, sharding)
    try:
        return _SAMPLERS[cache_key]
    except KeyError:
        pass
    except TypeError:  # unhashable initializer or sharding: compile for this use only
        cache_key = None

    def sample(key, h):
        return init(jax.random.fold_in(key, h), shape, dtype)

    fn = jax.jit(sample, out_shardings=sharding)
    if cache_key is not None:
        _SAMPLERS[cache_key] = fn
    return fn


def place(value: Any, sharding: Any) -> jax.Array:
    """A host-built value onto ``sharding``; under ``jax.distributed`` (a sharding spanning
    processes) each process puts only the slices its own devices hold."""
    if sharding.is_fully_addressable:
        return jax.device_put(value, sharding)
    host = np.asarray(value)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def draw(decl: _Declaration, key: Any, name: str, sharding: Any = None) -> jax.Array:
    """The initial value of one declared variable under a JAX key (sharded: a compiled program
    whose outputs are the shards, so each device computes only its own; with the default
    ``jax_threefry_partitionable`` mode no device ever holds more than its shard)."""
    if isinstance(decl.init, _FromValue):
        value = decl.init(None, decl.shape, decl.dtype)
        return value if sharding is None else place(value, sharding)
    h = np.uint32(name_hash(name))
    return _sampler(decl.init, decl.shape, decl.dtype, sharding)(key, h)


# -- the batched path --------------------------------------------------------------------------

_ROW = 512  # elements per row of the table; 2 KiB of float32, so every variable is aligned
_FILLS = {init.ones, init.zeros, init.constant, init.empty}  # deterministic, filled on the host


@functools.cache
def _one_draw_initializers() -> frozenset:
    """Initializers whose randomness is exactly one ``_random.uniform`` / ``normal`` draw."""
    from .sparse import _embedding_init  # sparse imports module, which imports us

    return frozenset(
        {
            init.uniform,
            init.normal,
            init.kaiming_uniform,
            init.kaiming_normal,
            init.xavier_uniform,
            init.xavier_normal,
            _embedding_init,  # Embedding's default: init.normal (only without padding_idx)
        }
    )


_F32 = np.dtype(np.float32)


class _Drawn(Exception):
    """Raised by :class:`_Recorder` with the draw an initializer asked for."""

    def __init__(self, kind: str, p1: float, p2: float):
        super().__init__(kind)
        self.kind, self.p1, self.p2 = kind, p1, p2


class _Recorder(TorchGenerator):
    """Passed as the key to one of :func:`_one_draw_initializers`: every check and bound is computed
    by jaxinit.init itself, which then asks its generator for the one draw -- recorded here as
    ``("uniform", low, high)`` or ``("normal", mean, std)`` instead of drawn."""

    def __init__(self) -> None:  # no generator state: nothing is ever drawn from it
        pass

    def uniform_(self, shape, low=0.0, high=1.0, dtype=None):
        raise _Drawn("uniform", low, high)

    def normal_(self, shape, mean=0.0, std=1.0, dtype=None, **kwargs):
        raise _Drawn("normal", mean, std)


def _one_draw(decl: _Declaration) -> _Drawn | None:
    """The draw behind ``decl`` if the batched path can make it, else None."""
    fn = getattr(decl.init, "func", decl.init)
    if fn not in _one_draw_initializers() or decl.dtype != _F32 or not 0 < decl.size < 2**31:
        return None
    if getattr(decl.init, "keywords", {}).get("padding_idx") is not None:
        return None  # an Embedding's padding row is zeroed after the draw
    try:
        decl.init(_Recorder(), decl.shape, decl.dtype)
    except _Drawn as drawn:
        return drawn
    return None  # returned without drawing (e.g. an empty shape)


def _fill(decl: _Declaration) -> np.ndarray | None:
    """``decl``'s value built on the host if it is a constant fill, else None."""
    if getattr(decl.init, "func", decl.init) not in _FILLS:
        return None
    scalar = np.asarray(decl.init(None, (), decl.dtype))  # the initializer's own conversion
    return np.full(decl.shape, scalar, decl.dtype)


@functools.partial(jax.jit, static_argnames=("kind", "partitionable"))
def _draw_rows(key_data, name_hash, start, size, p1, p2, *, kind: str, partitionable: bool):
    """The ``(rows, _ROW)`` table: row ``r`` holds elements ``start[r] + j`` of the variable of
    ``size[r]`` elements named by ``name_hash[r]``, i.e. of
    ``_random.uniform(fold_in(key, name_hash), (size,), float32, p1, p2)`` or of
    ``_random.normal(...) * p2 + p1``, bit for bit."""
    # fold_in(key, h) is the Threefry hash of the counter (0, h) under the key
    k1, k2 = _threefry.threefry2x32(key_data[0], key_data[1], np.uint32(0), name_hash)
    k1, k2 = k1[:, None], k2[:, None]
    k = start[:, None] + lax.broadcasted_iota(np.uint32, (1, _ROW), 1)
    if partitionable:  # element k hashes the counter (0, k); bits y1 ^ y2
        y1, y2 = _threefry.threefry2x32(k1, k2, np.uint32(0), k)
        bits = y1 ^ y2
    else:  # n words, h = ceil(n / 2): k < h is y1 of (k, k + h), else y2 of (k - h, k)
        n = size[:, None]
        h = (n + np.uint32(1)) // np.uint32(2)
        first = k < h
        pad = (n % np.uint32(2) == np.uint32(1)) & (k == h - np.uint32(1))
        x1 = jnp.where(first, k, k - h)
        x2 = jnp.where(first, jnp.where(pad, np.uint32(0), k + h), k)
        y1, y2 = _threefry.threefry2x32(k1, k2, x1, x2)
        bits = jnp.where(first, y1, y2)
    a, b = p1[:, None], p2[:, None]
    if kind == "uniform":  # _random.uniform: values that round up to high become low
        x = _threefry.uniform_from_bits(bits, a, b, _F32)
        return jnp.where(x >= b, a, x)
    return _threefry.normal_from_bits(bits, _F32) * b + a  # init._normal_jit: z * std + mean


def _rows_bucket(rows: int) -> int:
    """``rows`` rounded up to a multiple of 2**(bit_length - 5): less than 1/16 more work, and
    few distinct compiled sizes across models (16 per power of two)."""
    step = 1 << max(0, rows.bit_length() - 5)
    return -(-rows // step) * step


def _draw_batched(key_data: jax.Array, draws: dict[str, tuple[_Declaration, _Drawn]], kind: str):
    """Every variable of ``draws`` (all of one ``kind``) from one call of :func:`_draw_rows`."""
    names = list(draws)
    sizes = np.array([draws[name][0].size for name in names], np.int64)
    counts = -(-sizes // _ROW)  # whole rows per variable
    first_row = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rows = int(counts.sum())
    padded = _rows_bucket(rows)

    def column(per_variable, dtype):  # one value per row (zero in the padding rows)
        out = np.zeros(padded, dtype)
        out[:rows] = np.repeat(np.array(per_variable, dtype), counts)
        return out

    h = column([name_hash(name) for name in names], np.uint32)
    size = column(sizes, np.uint32)
    p1 = column([draws[name][1].p1 for name in names], np.float32)
    p2 = column([draws[name][1].p2 for name in names], np.float32)
    start = np.zeros(padded, np.uint32)  # the counter of each row's first element
    start[:rows] = (np.arange(rows) - np.repeat(first_row, counts)) * _ROW
    table = _draw_rows(
        key_data,
        h,
        start,
        size,
        p1,
        p2,
        kind=kind,
        partitionable=bool(jax.config.jax_threefry_partitionable),
    )
    flat = np.asarray(table).reshape(-1)  # a view of the table on CPU: no copy
    values = {}
    for name, row in zip(names, first_row.tolist()):
        decl = draws[name][0]
        view = flat[row * _ROW : row * _ROW + decl.size].reshape(decl.shape)
        values[name] = jax.device_put(view, may_alias=True)  # zero-copy on CPU
    return values


def _initialize_jax(plan: Plan, key: Any, shardings: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    key_data = _threefry._threefry_key_data(key)
    batched = (
        key_data is not None
        and not isinstance(key_data, jax.core.Tracer)  # inside a user's jit: per variable
        and jax.default_backend() == "cpu"
    )
    draws: dict[str, dict[str, tuple[_Declaration, _Drawn]]] = {"uniform": {}, "normal": {}}
    for name, decl in plan.entries.items():
        if batched and name not in shardings:
            value = _fill(decl)
            if value is not None:
                values[name] = jax.device_put(value, may_alias=True)
                continue
            drawn = _one_draw(decl)
            if drawn is not None:
                draws[drawn.kind][name] = (decl, drawn)
                continue
        values[name] = draw(decl, key, name, shardings.get(name))
    for kind, group in draws.items():
        if group:
            values.update(_draw_batched(key_data, group, kind))
    return values


def is_torch_generator(key: Any) -> bool:
    return isinstance(key, TorchGenerator)


def initialize(plan: Plan, key: Any, shardings: dict[str, Any] | None = None) -> dict:
    """Nested variables for ``plan`` (canonical names only, tree order)."""
    shardings = shardings or {}
    values: dict[str, Any] = {}
    if is_torch_generator(key):
        values = replay(plan.entries, plan.modules.values(), key)
        for name, sharding in shardings.items():  # torch's stream is sequential: drawn whole,
            values[name] = place(values[name], sharding)  # then each process keeps its shards
    else:
        if isinstance(key, int):
            raise TypeError(
                "init takes a PRNG key, not an int: use net.init(jax.random.key(seed)) "
                "(or jaxinit.TorchGenerator(seed) for torch's exact initial values)"
            )
        values = _initialize_jax(plan, key, shardings)
    return unflatten({name: values[name] for name in plan.entries})
