"""jaxinit.init without torch: jit/vmap/bitwise, keys, dtypes, zero sizes, warnings, errors,
and a TorchGenerator in place of the key. Gains and fans: tests/test_init_fans.py; values and
axes (flax layers): tests/test_init_values.py.
"""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinit import init
from jaxinit.generator import TorchGenerator
from tests._init_cases import ALL, DETERMINISTIC, KEY, RANDOM, RAW_KEY, quiet


def all_initializers(key, dtype=jnp.float32):
    """Every case at once: one jit or vmap over this is one compile, not one per case."""
    return {name: quiet(fn, key, shape, dtype) for name, (fn, shape) in ALL.items()}


jit_all = jax.jit(all_initializers, static_argnames="dtype")


def bits(x):
    x = np.asarray(x)
    return x.view(f"u{x.dtype.itemsize}") if x.dtype.kind == "f" else x


# ---------------------------------------------------------------------------------------------
# jit, vmap, keys


def test_eager_equals_jit_bitwise():
    jitted = jit_all(KEY)
    for name, (fn, shape) in ALL.items():
        eager = quiet(fn, KEY, shape)
        assert eager.shape == shape and eager.dtype == jnp.float32, name
        np.testing.assert_array_equal(bits(eager), bits(jitted[name]), err_msg=name)


def test_typed_and_raw_keys_give_the_same_values():
    typed, raw, other = jit_all(KEY), jit_all(RAW_KEY), jit_all(jax.random.key(1))
    for name in RANDOM:
        np.testing.assert_array_equal(typed[name], raw[name], err_msg=name)
        assert not np.array_equal(typed[name], other[name]), name


def test_vmap_over_keys():
    keys = jax.random.split(KEY, 3)
    batched = jax.jit(jax.vmap(all_initializers))(keys)
    singles = [jit_all(k) for k in keys]
    for name, (_, shape) in ALL.items():
        assert batched[name].shape == (3, *shape), name
        for i in range(3):  # bitwise, like eager vs jit
            np.testing.assert_array_equal(bits(batched[name][i]), bits(singles[i][name]), name)
        if name in RANDOM:
            assert not np.array_equal(batched[name][0], batched[name][1]), name


@pytest.mark.parametrize("name", RANDOM)
def test_random_initializers_need_a_key(name):
    fn, shape = RANDOM[name]
    with pytest.raises(TypeError, match="needs a key, got None"):
        fn(None, shape)
    with pytest.raises(TypeError, match=r"needs a key, got 0: pass jax.random.key\(seed\)"):
        fn(0, shape)


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_deterministic_initializers_ignore_the_key(name):
    fn, shape = DETERMINISTIC[name]
    np.testing.assert_array_equal(fn(None, shape), fn(KEY, shape))


# ---------------------------------------------------------------------------------------------
# dtypes


def test_bfloat16_is_the_float32_draw_cast():
    f32 = jit_all(KEY)
    bf16 = jit_all(KEY, jnp.bfloat16)
    for name, (_, shape) in ALL.items():
        x = np.asarray(bf16[name])
        assert x.dtype == jnp.bfloat16 and x.shape == shape, name
        expected = np.asarray(f32[name]).astype(jnp.bfloat16)
        if name.startswith("orthogonal"):  # gain is applied after the cast, as torch does
            np.testing.assert_allclose(x.astype(np.float32), expected.astype(np.float32), 2**-7)
        else:
            np.testing.assert_array_equal(x, expected, err_msg=name)


@pytest.mark.parametrize("name", ["normal", "kaiming_uniform"])
def test_float16_is_the_float32_draw_cast(name):
    fn, shape = RANDOM[name]
    x = np.asarray(fn(KEY, shape, jnp.float16))
    np.testing.assert_array_equal(x, np.asarray(fn(KEY, shape)).astype(np.float16))


def test_bfloat16_is_sampled_at_float32_then_cast():
    # jax.random.normal in bfloat16 directly gives about 128 distinct values.
    x = init.normal(KEY, (1024, 1024), jnp.bfloat16)
    assert len(np.unique(np.asarray(x, np.float32))) > 2000
    x = init.kaiming_normal(KEY, (1024, 1024), jnp.bfloat16)
    assert len(np.unique(np.asarray(x, np.float32))) > 2000


@pytest.mark.parametrize("dtype, high", [(jnp.bfloat16, 1.0078125), (jnp.float16, 1.0009765625)])
def test_half_uniform_wraps_high_to_low(dtype, high):
    # high is the next representable value after 1.0: every float32 draw rounds to 1.0 or to
    # high, and torch turns a value that reached `high` into `low`.
    x = init.uniform(KEY, (1024, 1024), dtype, a=1.0, b=high)
    np.testing.assert_array_equal(np.asarray(x, np.float32), 1.0)


@pytest.mark.parametrize("name", ALL)
def test_float64_without_x64_is_an_error(name):
    fn, shape = ALL[name]
    with pytest.raises(ValueError, match="jax_enable_x64"):
        quiet(fn, KEY, shape, jnp.float64)


def test_float64_with_x64():
    with jax.enable_x64(True):
        values = jax.tree.map(np.asarray, jit_all(KEY, jnp.float64))
    for name, (fn, shape) in ALL.items():
        x = values[name]
        assert x.dtype == np.float64 and x.shape == shape, name
        assert np.isfinite(x).all(), name
        if name in RANDOM:  # drawn at 64-bit precision, not a float32 draw cast up
            assert (x != x.astype(np.float32)).any(), name
        else:
            np.testing.assert_array_equal(x, fn(None, shape), err_msg=name)


@pytest.mark.parametrize("name", RANDOM)
@pytest.mark.parametrize("dtype", [jnp.int32, jnp.uint8, jnp.bool_])
def test_random_initializers_refuse_integer_dtypes(name, dtype):
    fn, shape = RANDOM[name]
    with pytest.raises(TypeError, match="not a floating dtype"):
        fn(KEY, shape, dtype)


@pytest.mark.parametrize("name", DETERMINISTIC)
@pytest.mark.parametrize("dtype", [jnp.int32, jnp.uint8, jnp.int8, jnp.bool_])
def test_deterministic_initializers_take_integer_dtypes(name, dtype):
    fn, shape = DETERMINISTIC[name]
    x = fn(None, shape, dtype)
    assert x.dtype == dtype
    np.testing.assert_array_equal(x, np.asarray(fn(None, shape)).astype(dtype))  # 0.25 -> 0


@pytest.mark.parametrize(
    "val, dtype, expected",
    [
        (2.7, jnp.int32, 2),
        (-2.7, jnp.int32, -2),
        (-128.9, jnp.int32, -128),
        (127.0, jnp.int8, 127),
        (-(2**31), jnp.int32, -(2**31)),
        (-1, jnp.uint8, 255),
        (-255, jnp.uint8, 1),
        (0.5, jnp.bool_, True),
        (0, jnp.bool_, False),
        (math.inf, jnp.float32, math.inf),
        (1e-50, jnp.float32, 0.0),
        (0.1, jnp.bfloat16, 0.10009765625),
    ],
)
def test_constant_converts_like_torch_fill(val, dtype, expected):
    x = init.constant(None, (3,), dtype, val=val)
    assert x.dtype == dtype
    np.testing.assert_array_equal(np.asarray(x, np.float64), expected)


@pytest.mark.parametrize(
    "val, dtype",
    [
        (2**31, jnp.int32),
        (300, jnp.uint8),
        (-256, jnp.uint8),
        (math.nan, jnp.int32),
        (-0.5, jnp.uint8),
        (-1.0, jnp.uint8),
        (127.9, jnp.int8),
        (-128.5, jnp.int8),
        (1e39, jnp.float32),
        (1e39, jnp.bfloat16),
        (7e4, jnp.float16),
    ],
)
def test_constant_overflow_is_an_error(val, dtype):
    with pytest.raises(ValueError, match="without overflow"):
        init.constant(None, (3,), dtype, val=val)


def test_constant_accepts_an_array_and_works_under_jit():
    f = jax.jit(lambda v: init.constant(None, (2, 2), val=v))
    np.testing.assert_array_equal(f(jnp.float32(1.5)), np.full((2, 2), 1.5))


# ---------------------------------------------------------------------------------------------
# Zero-size shapes (torch-semantics A.4) and warnings


@pytest.mark.parametrize("shape", [(0, 5), (0, 0), (0,)])
@pytest.mark.parametrize("name", ["uniform", "normal", "trunc_normal", "constant", "ones", "zeros"])
def test_zero_size_is_a_no_op(name, shape):
    fn, _ = ALL[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fn(KEY, shape).shape == shape


@pytest.mark.parametrize("name", ["xavier_uniform", "xavier_normal"])
def test_xavier_zero_size(name):
    fn, _ = RANDOM[name]
    assert fn(KEY, (0, 5)).shape == (0, 5)
    for shape in [(0, 0), (2, 3, 0)]:
        with pytest.raises(ZeroDivisionError, match="float division by zero"):
            fn(KEY, shape)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        fn(KEY, (0,))


@pytest.mark.parametrize("name", ["kaiming_uniform", "kaiming_normal"])
@pytest.mark.parametrize("shape", [(0, 5), (0, 0), (0,), (4, 0, 3)])
def test_kaiming_zero_size_warns_before_any_check(name, shape):
    fn = getattr(init, name)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        x = fn(KEY, shape, mode="bad", nonlinearity="gelu")
    assert x.shape == shape


def test_kaiming_zero_d_is_a_fan_error():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.kaiming_uniform(KEY, ())


def test_structured_zero_sizes():
    assert init.eye(None, (0, 3)).shape == (0, 3)
    assert init.dirac(None, (0, 3, 3)).shape == (0, 3, 3)
    assert init.dirac(None, (2, 0, 0)).shape == (2, 0, 0)
    for shape in [(0, 5), (0, 0), (3, 0, 2)]:
        assert init.orthogonal(KEY, shape).shape == shape
    for shape in [(0, 3), (3, 0)]:
        assert init.sparse(KEY, shape, sparsity=0.5).shape == shape
    with pytest.raises(IndexError, match="index 0 is out of bounds for dimension 2 with size 0"):
        init.dirac(None, (2, 3, 0))
    with pytest.raises(IndexError, match="dimension 3 with size 0"):
        init.dirac(None, (2, 3, 4, 0))


def test_trunc_normal_mean_warning():
    with pytest.warns(UserWarning, match=r"mean is more than 2 std from \[a, b\]"):
        init.trunc_normal(KEY, (3,), mean=5.0, a=-2.0, b=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        init.trunc_normal(KEY, (3,), mean=3.9, a=-2.0, b=2.0)


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (
            lambda: init.uniform(KEY, (3,), a=1.0, b=0.0),
            ValueError,
            r"\[from, to\) range, but found from=1 > to=0",
        ),
        (lambda: init.uniform(KEY, (0,), a=1.0, b=0.0), ValueError, "from=1 > to=0"),
        (lambda: init.uniform(KEY, (3,), a=-math.inf), ValueError, "from is out of bounds"),
        (lambda: init.uniform(KEY, (3,), b=math.nan), ValueError, "to is out of bounds"),
        (lambda: init.uniform(KEY, (3,), b=1e39), ValueError, "to is out of bounds for float32"),
        (lambda: init.uniform(KEY, (3,), jnp.float16, b=7e4), ValueError, "out of bounds"),
        (lambda: init.uniform(KEY, (3,), a=-3e38, b=3e38), ValueError, "to-from to exceed"),
        (
            lambda: init.normal(KEY, (3,), std=-1.0),
            ValueError,
            "normal expects std >= 0.0, but found std -1",
        ),
        (lambda: init.normal(KEY, (0,), std=math.nan), ValueError, "found std nan"),
        (lambda: init.xavier_normal(KEY, (3, 4), gain=-1.0), ValueError, "std >= 0.0"),
        (lambda: init.xavier_uniform(KEY, (3, 4), gain=-1.0), ValueError, "from=0.9.* > to="),
        (lambda: init.sparse(KEY, (3, 4), sparsity=0.1, std=-1.0), ValueError, "std >= 0.0"),
        (
            lambda: init.trunc_normal(KEY, (3,), std=0.0),
            ZeroDivisionError,
            "float division by zero",
        ),
        (lambda: init.trunc_normal(KEY, (3,), a=2.0, b=-2.0), ValueError, "from=2 > to=-2"),
        (
            lambda: quiet(init.trunc_normal, KEY, (3,), a=5.0, b=math.inf),
            ValueError,
            "to is out of bounds",
        ),
        (
            lambda: init.kaiming_uniform(KEY, (3, 4), mode="fan_avg"),
            ValueError,
            "Mode fan_avg not supported",
        ),
        (
            lambda: init.kaiming_normal(KEY, (3,), mode="FAN_OUT"),
            ValueError,
            "fewer than 2 dimensions",
        ),
        (
            lambda: init.kaiming_uniform(KEY, (3, 4), a=True),
            ValueError,
            "negative_slope True not a valid number",
        ),
        (
            lambda: init.kaiming_uniform(KEY, (3, 4), nonlinearity="gelu"),
            ValueError,
            "Unsupported nonlinearity gelu",
        ),
        (lambda: init.kaiming_uniform(KEY, (3, 4), in_axis=5), ValueError, "in_axis=5"),
        (lambda: init.eye(None, (2, 2, 2)), ValueError, "Only tensors with 2 dimensions"),
        (lambda: init.eye(None, (2,)), ValueError, "Only tensors with 2 dimensions"),
        (lambda: init.dirac(None, (4, 3)), ValueError, "Only tensors with 3, 4, or 5 dim"),
        (lambda: init.dirac(None, (4, 3, 3, 3, 3, 3)), ValueError, "3, 4, or 5"),
        (
            lambda: init.dirac(None, (4, 3, 3), groups=3),
            ValueError,
            "dim 0 must be divisible by groups",
        ),
        (
            lambda: init.dirac(None, (4, 3, 3), groups=0),
            ZeroDivisionError,
            "integer modulo by zero",
        ),
        (lambda: init.dirac(None, (4, 3, 3), groups=-1), ValueError, "positive integer"),
        (lambda: init.orthogonal(KEY, (3,)), ValueError, "2 or more dimensions"),
        (lambda: init.sparse(KEY, (3,), sparsity=0.1), ValueError, "Only tensors with 2 dim"),
        (lambda: init.sparse(KEY, (3, 4, 5), sparsity=0.1), ValueError, "2 dimensions"),
        (lambda: init.uniform(KEY, (3, -1)), ValueError, "negative dimension"),
        (lambda: init.uniform(KEY, "ab"), TypeError, "sequence of ints"),
        (lambda: init.uniform(KEY, (3,), "nope"), TypeError, "not a dtype"),
    ],
)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_error_messages_say_how_to_fix():
    with pytest.raises(ValueError, match="pass a <= b"):
        init.uniform(KEY, (3,), a=1.0, b=0.0)
    with pytest.raises(ValueError, match="use uniform/normal/zeros for biases"):
        init.xavier_uniform(KEY, (3,))
    with pytest.raises(ValueError, match="for a conv kernel use dirac"):
        init.eye(None, (2, 2, 2))


# ---------------------------------------------------------------------------------------------
# TorchGenerator in place of the key (the exactness tests are the generator's own)


@pytest.mark.parametrize("name", RANDOM)
def test_a_torch_generator_is_accepted(name):
    fn, shape = RANDOM[name]
    g = TorchGenerator(0)
    x = quiet(fn, g, shape)
    assert x.shape == shape and x.dtype == jnp.float32
    assert bool(jnp.isfinite(x).all())
    assert not np.array_equal(x, quiet(fn, g, shape))  # the generator's state moved on


@pytest.mark.parametrize(
    "fn,args,kwargs",
    [
        (init.uniform, (-0.5, 0.5), {"a": -0.5, "b": 0.5}),
        (init.normal, (0.0, 0.02), {"mean": 0.0, "std": 0.02}),
        (init.trunc_normal, (1.0, 0.5, 0.0, 2.0), {"mean": 1.0, "std": 0.5, "a": 0.0, "b": 2.0}),
        (init.constant, (0.5,), {"val": 0.5}),
        (init.xavier_uniform, (2.0,), {"gain": 2.0}),
        (
            init.kaiming_normal,
            (0.1, "fan_out", "relu"),
            {"a": 0.1, "mode": "fan_out", "nonlinearity": "relu"},
        ),
        (init.orthogonal, (3.0,), {"gain": 3.0}),
        (init.sparse, (0.5, 0.1), {"sparsity": 0.5, "std": 0.1}),
        (init.dirac, (2,), {"groups": 2}),
    ],
)
def test_positional_arguments_follow_torchs_order(fn, args, kwargs):
    shape = (4, 2, 3) if fn is init.dirac else (4, 6)
    want = fn(KEY, shape, **kwargs)
    np.testing.assert_array_equal(fn(KEY, shape, *args), want)
    # the jax.nn.initializers call (flax, equinox): a dtype in third place is the dtype
    got = fn(KEY, shape, jnp.bfloat16, **kwargs)
    assert got.dtype == jnp.bfloat16
    np.testing.assert_array_equal(got, fn(KEY, shape, **kwargs, dtype=jnp.bfloat16))


def test_positional_dtype_takes_nothing_more_positionally():
    assert init.zeros(None, (2,), np.dtype("int32")).dtype == jnp.int32
    assert init.ones(None, (2,), "float16").dtype == jnp.float16
    with pytest.raises(TypeError, match="takes nothing more positionally"):
        init.normal(KEY, (2,), jnp.float32, 0.02)
    with pytest.raises(TypeError, match="takes nothing more positionally"):
        init.normal(KEY, (2,), jnp.float32, dtype=jnp.float32)
