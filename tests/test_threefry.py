"""jaxinit._threefry must reproduce jax.random bit for bit: every value is compared as raw
bits against jax.random itself, in both jax_threefry_partitionable modes."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec

from jaxinit import _threefry

# Compiling jax.random's reference dominates the run time: shapes are shared between tests
# (jit caches are reused) and each test covers what it must, not every combination.
SHAPES = [(), (1,), (8,), (9,), (1025,), (3, 5), (1, 0, 3)]
LARGE = (1000, 1001)  # ~1e6 values


def assert_bitwise(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    uint = np.dtype(f"u{got.dtype.itemsize}")
    np.testing.assert_array_equal(got.view(uint), want.view(uint))


def keys():
    """Typed and raw keys, fresh, folded in and split."""
    base = jax.random.key(0)
    return {
        "key(0)": base,
        "key(2**31+5)": jax.random.key(2**31 + 5),
        "fold_in": jax.random.fold_in(base, 7),
        "split": jax.random.split(base, 3)[2],
        "PRNGKey(42)": jax.random.PRNGKey(42),
        "raw split": jax.random.split(jax.random.PRNGKey(1))[1],
    }


# -- the hash ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, count, want",
    [  # Random123 known-answer vectors for threefry2x32_20
        ((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
        ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
        ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
    ],
)
def test_threefry2x32_known_answers(key, count, want):
    k1, k2 = (np.uint32(k) for k in key)
    y = _threefry.threefry2x32(k1, k2, jnp.uint32(count[0]), jnp.uint32(count[1]))
    assert tuple(int(v) for v in y) == want


# -- shapes, both modes ----------------------------------------------------------------------


@pytest.mark.parametrize("shape", [*SHAPES, LARGE], ids=str)
def test_uniform_matches_jax(partitionable, shape):
    key = jax.random.key(123)
    assert_bitwise(
        _threefry.uniform(key, shape, jnp.float32, -0.05, 0.05),
        jax.random.uniform(key, shape, jnp.float32, -0.05, 0.05),
    )


@pytest.mark.parametrize("shape", [(), (9,), (3, 5), LARGE], ids=str)
def test_bits_and_normal_match_jax(partitionable, shape):
    key = jax.random.key(123)
    assert_bitwise(_threefry.bits(key, shape), jax.random.bits(key, shape, jnp.uint32))
    assert_bitwise(_threefry.normal(key, shape), jax.random.normal(key, shape, jnp.float32))


@pytest.mark.parametrize("dtype", [jnp.uint8, jnp.uint16])
@pytest.mark.parametrize("shape", [(5,), (3, 3)], ids=str)
def test_narrow_bits_match_jax(partitionable, dtype, shape):
    # The original layout packs 32 // bits values per word: 2 and 3 words of uint8,
    # 3 and 5 of uint16, so both the padded and the unpadded pairing are covered.
    key = jax.random.key(5)
    assert_bitwise(_threefry.bits(key, shape, dtype), jax.random.bits(key, shape, dtype))


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_half_floats_match_jax(partitionable, dtype):
    # jax.random draws 8 bits per bfloat16 and 16 per float16 (jaxinit itself samples half
    # types at float32, but this module mirrors jax.random for every float).
    key, shape = jax.random.key(9), (3, 5)
    assert_bitwise(
        _threefry.uniform(key, shape, dtype, -2.0, 3.0),
        jax.random.uniform(key, shape, dtype, -2.0, 3.0),
    )
    assert_bitwise(_threefry.normal(key, shape, dtype), jax.random.normal(key, shape, dtype))


def test_64_bit_types_match_jax(partitionable):
    with jax.enable_x64(True):
        key, shape = jax.random.key(11), (3, 5)
        assert_bitwise(_threefry.bits(key, shape, jnp.uint64), jax.random.bits(key, shape))
        assert_bitwise(
            _threefry.uniform(key, shape, jnp.float64, -0.05, 0.05),
            jax.random.uniform(key, shape, jnp.float64, -0.05, 0.05),
        )
        assert_bitwise(
            _threefry.normal(key, shape, jnp.float64), jax.random.normal(key, shape, jnp.float64)
        )


def test_float32_under_x64_matches_jax(partitionable):
    # Python-float bounds arrive as float64 and are rounded to float32 the same way.
    with jax.enable_x64(True):
        key = jax.random.key(11)
        assert_bitwise(
            _threefry.uniform(key, (3, 5), jnp.float32, -0.05, 0.05),
            jax.random.uniform(key, (3, 5), jnp.float32, -0.05, 0.05),
        )


def test_uniform_array_bounds_broadcast(partitionable):
    key = jax.random.key(3)
    lo = jnp.linspace(-2.0, 0.0, 5, dtype=jnp.float32)
    hi = jnp.array([[1.0], [4.0], [10.0]], jnp.float32)
    assert_bitwise(
        _threefry.uniform(key, (3, 5), jnp.float32, lo, hi),
        jax.random.uniform(key, (3, 5), jnp.float32, lo, hi),
    )


# -- keys, jit, vmap, sharding ---------------------------------------------------------------


SAMPLERS = {  # built once, so their jit caches serve every key
    "bits": (partial(_threefry.bits, shape=(3, 5)), partial(jax.random.bits, shape=(3, 5))),
    "uniform": (
        partial(_threefry.uniform, shape=(3, 5), minval=-1.0, maxval=1.0),
        partial(jax.random.uniform, shape=(3, 5), minval=-1.0, maxval=1.0),
    ),
    "normal": (partial(_threefry.normal, shape=(3, 5)), partial(jax.random.normal, shape=(3, 5))),
}
JITTED = {what: jax.jit(ours) for what, (ours, _) in SAMPLERS.items()}


@pytest.mark.parametrize("name", list(keys()))
def test_keys_eager_and_jit(partitionable, name):
    key = keys()[name]
    for what, (ours, theirs) in SAMPLERS.items():
        want = theirs(key)
        assert_bitwise(ours(key), want)
        assert_bitwise(JITTED[what](key), want)


@pytest.mark.parametrize("typed", [True, False], ids=["typed", "raw"])
def test_vmap_over_keys(partitionable, typed):
    keys = jax.random.split(jax.random.key(4) if typed else jax.random.PRNGKey(4), 6)
    got = jax.vmap(lambda k: _threefry.normal(k, (3, 5)))(keys)
    assert_bitwise(got, jax.vmap(lambda k: jax.random.normal(k, (3, 5)))(keys))


def test_sharded_output_matches_jax(partitionable):
    devices = np.array(jax.devices())
    sharding = NamedSharding(jax.sharding.Mesh(devices, ("x",)), PartitionSpec("x"))
    key, shape = jax.random.key(8), (len(devices) * 16, 5)
    got = jax.jit(lambda k: _threefry.normal(k, shape), out_shardings=sharding)(key)
    assert got.sharding == sharding
    assert_bitwise(got, jax.random.normal(key, shape, jnp.float32))


def test_fused_path_has_no_loop():
    # The point of the module: XLA sees straight-line code, not jax's rolled while loop.
    key = jax.random.key(0)
    for sampler in (_threefry.bits, _threefry.uniform, _threefry.normal):
        text = jax.jit(lambda k, f=sampler: f(k, (100,))).lower(key).as_text()
        assert "while" not in text and "threefry" not in text
    # ...and the check can fail: jax.random's own lowering has them.
    assert "while" in jax.jit(lambda k: jax.random.bits(k, (100,))).lower(key).as_text()


# -- fallbacks and errors --------------------------------------------------------------------


def test_other_prng_impls_fall_back_to_jax():
    key = jax.random.key(0, impl="rbg")
    assert_bitwise(_threefry.uniform(key, (10,)), jax.random.uniform(key, (10,), jnp.float32))
    assert_bitwise(_threefry.normal(key, (10,)), jax.random.normal(key, (10,), jnp.float32))
    assert_bitwise(_threefry.bits(key, (10,)), jax.random.bits(key, (10,), jnp.uint32))
    old = jax.config.jax_default_prng_impl
    jax.config.update("jax_default_prng_impl", "rbg")
    try:
        raw = jax.random.PRNGKey(0)  # uint32[4] under rbg
        assert raw.shape == (4,)
        assert_bitwise(_threefry.uniform(raw, (10,)), jax.random.uniform(raw, (10,)))
    finally:
        jax.config.update("jax_default_prng_impl", old)


def test_complex_normal_falls_back_to_jax():
    key = jax.random.key(2)
    assert_bitwise(
        _threefry.normal(key, (4,), jnp.complex64), jax.random.normal(key, (4,), jnp.complex64)
    )


@pytest.mark.parametrize(
    "mode, bit_width, size, fused",
    [
        (False, 32, 2**32 - 2, True),
        (False, 32, 2**32 - 1, False),  # jax switches to split keys at 2**32 - 1 words
        (False, 64, 2**31 - 1, True),
        (False, 64, 2**31, False),
        (False, 8, 4 * (2**32 - 2), True),
        (True, 32, 2**32 - 2, True),
        (True, 32, 2**32 - 1, False),
    ],
)
def test_sizes_beyond_uint32_counters_fall_back(mode, bit_width, size, fused):
    # _plan only does arithmetic on the size: nothing of this size is allocated.
    with jax.threefry_partitionable(mode):
        assert (_threefry._plan(jax.random.key(0), bit_width, (size,)) is not None) == fused


def test_errors_say_what_to_pass():
    key = jax.random.key(0)
    with pytest.raises(TypeError, match="floating dtype"):
        _threefry.uniform(key, (3,), jnp.int32)
    with pytest.raises(TypeError, match="unsigned integer dtype"):
        _threefry.bits(key, (3,), jnp.int32)
    with pytest.raises(ValueError, match="jax_enable_x64"):
        _threefry.normal(key, (3,), jnp.float64)
    with pytest.raises(ValueError, match="jax.vmap"):
        _threefry.normal(jax.random.split(key, 2), (3,))
    with pytest.raises(TypeError, match="jax.random.key"):
        _threefry.normal(jnp.zeros(2, jnp.int32), (3,))
    with pytest.raises(ValueError, match="negative dimension"):
        _threefry.uniform(key, (4, -1))
