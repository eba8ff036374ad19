"""``net.init(key)`` is fast but its values must not change: every variable must equal, bit
for bit, ``decl.init(fold_in(key, crc32(name)), shape, dtype)`` computed one variable at a
time with plain ``jax.random`` (jaxinit's fused sampler switched off), in both
``jax_threefry_partitionable`` modes."""

import functools
import math
import types
import zlib
from contextlib import contextmanager, nullcontext
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxinit import _random, init, nn
from jaxinit._tree import flatten
from jaxinit.nn import _initialize
from jaxinit.nn._plan import plan_of


@contextmanager
def plain_jax_random():
    """jaxinit.init's primitives drawing with jax.random itself instead of jaxinit._threefry
    (jit caches cleared on the way in and out, so nothing compiled either way leaks)."""
    plain = types.SimpleNamespace(uniform=jax.random.uniform, normal=jax.random.normal)
    jax.clear_caches()
    try:
        with mock.patch.object(_random, "_threefry", plain):
            yield
    finally:
        jax.clear_caches()


def _draw_each(net, key) -> dict:
    """Each variable drawn on its own, as the straightforward implementation does it (inside
    ``plain_jax_random``)."""
    out = {}
    for name, decl in plan_of(net).entries.items():
        sub = jax.random.fold_in(key, np.uint32(zlib.crc32(name.encode())))
        out[name] = np.asarray(decl.init(sub, decl.shape, decl.dtype))
    return out


def assert_bitwise_equal(variables, want: dict):
    got = flatten(variables)
    assert set(got) == set(want)
    for name, ref in want.items():
        value = np.asarray(got[name])
        assert value.dtype == ref.dtype and value.shape == ref.shape, name
        assert value.tobytes() == ref.tobytes(), f"{name} differs from the per-variable draw"


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = nn.Linear(d, 4 * d)
        self.mlp_proj = nn.Linear(4 * d, d)


class TinyGPT(nn.Module):
    """GPT-2's structure and torch defaults at a small size (sizes not multiples of a row)."""

    def __init__(self, layers=2, d=40, vocab=1001, context=33):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(context, d)
        self.h = nn.ModuleList([Block(d) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)


class Mixed(nn.Module):
    """Conv/BN/Embedding and every kind of declaration, batched or not."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 5)
        self.bn = nn.BatchNorm2d(6)
        self.conv_nb = nn.Conv1d(4, 2, 3, bias=False)
        self.emb_pad = nn.Embedding(17, 5, padding_idx=3)  # per-variable path
        self.fc_bf16 = nn.Linear(7, 9, dtype=jnp.bfloat16)  # per-variable path
        self.scalar = nn.Parameter((), functools.partial(init.normal, mean=0.5, std=0.02))
        self.one = nn.Parameter((1,), functools.partial(init.uniform, a=-3.0, b=3.0))
        self.xu = nn.Parameter((513, 2), functools.partial(init.xavier_uniform, gain=1.7))
        self.xn = nn.Parameter((3, 700), init.xavier_normal)
        self.kn = nn.Parameter((8, 4, 3), functools.partial(init.kaiming_normal, mode="fan_out"))
        self.tn = nn.Parameter((11, 3), functools.partial(init.trunc_normal, std=0.02))
        self.const = nn.Buffer((4, 2), functools.partial(init.constant, val=-2.5))
        self.count = nn.Buffer((), init.zeros, jnp.int32)
        self.empty = nn.Parameter((0, 3), init.normal)
        self.fixed = nn.Parameter(np.arange(6.0, dtype=np.float32).reshape(2, 3))


# The tests' nets and keys; their references are drawn together (see ``references``).
CASES = {
    "gpt": (TinyGPT, 42),
    "mixed": (Mixed, 7),
    "gpt-1-layer": (functools.partial(TinyGPT, layers=1), 3),
    "jit": (functools.partial(TinyGPT, layers=1), 1),
    "sharded": (functools.partial(TinyGPT, layers=1), 5),
}  # one size of layer throughout: jax.random's reference samplers compile once per shape
BOTH_MODES = ("gpt", "mixed")  # drawn in both threefry modes; the others in the default one


@pytest.fixture(scope="module")
def references():
    """Every case's per-variable reference, ``{(case, mode): values}`` (mode None: the
    default), drawn in ONE ``plain_jax_random`` block: its jit-cache clears would otherwise
    make each test recompile jax.random's samplers and jaxinit's init for every shape, and
    shapes shared between cases are compiled once."""
    out = {}
    with plain_jax_random():
        for case, (make, seed) in CASES.items():
            for mode in (True, False) if case in BOTH_MODES else (None,):
                mode_ctx = nullcontext() if mode is None else jax.threefry_partitionable(mode)
                with mode_ctx:
                    out[case, mode] = _draw_each(make(), jax.random.key(seed))
    return out


def test_gpt_like_init_is_bitwise_the_per_variable_draw(partitionable, references):
    net, key = TinyGPT(), jax.random.key(42)
    assert_bitwise_equal(net.init(key), references["gpt", partitionable])


def test_conv_bn_embedding_and_mixed_declarations_unchanged(partitionable, references):
    net, key = Mixed(), jax.random.key(7)
    assert_bitwise_equal(net.init(key), references["mixed", partitionable])


def test_raw_prng_key_gives_the_same_values_as_the_typed_key(references):
    net = TinyGPT(layers=1)
    raw, typed = jax.random.PRNGKey(3), jax.random.key(3)
    want = references["gpt-1-layer", None]
    assert_bitwise_equal(net.init(raw), want)
    assert_bitwise_equal(net.init(typed), want)


def test_init_inside_jit_matches_eager(references):
    net, key = TinyGPT(layers=1), jax.random.key(1)
    assert_bitwise_equal(jax.jit(net.init)(key), references["jit", None])


def test_sharded_init_is_exact_and_each_device_holds_only_its_shard(references):
    if len(jax.devices()) < 8:
        pytest.skip("needs 8 devices (XLA_FLAGS=--xla_force_host_platform_device_count=8)")
    mesh = Mesh(np.array(jax.devices()[:8]).reshape(4, 2), ("data", "model"))
    net, key = TinyGPT(layers=1), jax.random.key(5)

    def layout(name, decl):  # Linear weights sharded, everything else batched as usual
        if name.startswith("h.") and name.endswith("weight") and ".ln_" not in name:
            return NamedSharding(mesh, P("model", "data"))
        return None

    variables = net.init(key, sharding=layout)
    assert_bitwise_equal(variables, references["sharded", None])
    w = variables["h"]["0"]["c_fc"]["weight"]  # (160, 40)
    assert w.sharding.spec == P("model", "data")
    assert {s.data.shape for s in w.addressable_shards} == {(80, 10)}


def test_compiles_per_distribution_not_per_shape():
    """Five Linear layers of five distinct shapes: at most one new compiled table program
    per distribution (uniform for weights and biases), whatever the number of shapes."""
    before = _initialize._draw_rows._cache_size()
    widths = [3, 50, 7, 130, 11, 2]
    net = nn.Sequential(*(nn.Linear(a, b) for a, b in zip(widths, widths[1:])))
    net.init(jax.random.key(0))
    assert _initialize._draw_rows._cache_size() - before <= 1


def test_batched_values_are_views_of_one_table_not_copies():
    """On CPU the batched variables alias the table (no copy): the peak-memory property."""
    if jax.default_backend() != "cpu":
        pytest.skip("zero-copy views are a CPU property")
    net = nn.Linear(600, 300)
    v = net.init(jax.random.key(0))
    w, b = v["weight"], v["bias"]
    rows = math.ceil(w.size / _initialize._ROW)
    assert b.unsafe_buffer_pointer() - w.unsafe_buffer_pointer() == rows * _initialize._ROW * 4


def test_rows_bucket_rounds_up_by_at_most_a_sixteenth():
    for rows in (1, 2, 15, 16, 17, 31, 33, 1000, 121_233):
        padded = _initialize._rows_bucket(rows)
        assert rows <= padded <= rows + max(1, rows / 16)
