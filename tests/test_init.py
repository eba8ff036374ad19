"""jaxinit.init without torch: jit/vmap/bitwise, keys, dtypes, zero sizes, warnings, errors,
axes, flax layers, and the distributions' moments against their closed forms.

Statistical checks use fixed keys, so they are deterministic; their false-failure rates for a
random key: a threshold of 6 standard errors fails with probability <= 2e-9 (two-sided normal
tail), about 50 such checks (mean and std) give <= 1e-7 for the file; "the sample reaches
within 0.1% of a uniform bound" fails with probability (1 - 0.001)^n <= e^-25 for n >= 25600.
"""

import math
import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinit import init
from jaxinit.generator import TorchGenerator

KEY = jax.random.key(0)
RAW_KEY = jax.random.PRNGKey(0)
SQRT5 = math.sqrt(5)

# name -> (initializer with its hyper-parameters bound, a shape it accepts). Shapes repeat on
# purpose: every new (shape, dtype) costs an XLA compile, the bulk of this file's run time.
RANDOM = {
    "uniform": (partial(init.uniform, a=-0.5, b=2.0), (4, 6)),
    "normal": (partial(init.normal, mean=1.0, std=0.5), (4, 6)),
    "trunc_normal": (partial(init.trunc_normal, std=0.02), (4, 6)),
    "trunc_normal_deep": (partial(init.trunc_normal, mean=-20.0, a=0.0, b=1.0), (4, 6)),
    "xavier_uniform": (partial(init.xavier_uniform, gain=2.0), (4, 6)),
    "xavier_normal": (init.xavier_normal, (4, 6)),
    "kaiming_uniform": (partial(init.kaiming_uniform, a=SQRT5), (4, 2, 3)),
    "kaiming_normal": (partial(init.kaiming_normal, mode="fan_out", nonlinearity="relu"), (4, 6)),
    "orthogonal": (partial(init.orthogonal, gain=2.0), (4, 2, 3)),
    "orthogonal_tall": (init.orthogonal, (6, 4)),
    "sparse": (partial(init.sparse, sparsity=0.3), (4, 6)),
}
DETERMINISTIC = {
    "constant": (partial(init.constant, val=0.25), (4, 6)),
    "ones": (init.ones, (4, 6)),
    "zeros": (init.zeros, (4, 6)),
    "eye": (init.eye, (4, 6)),
    "dirac": (partial(init.dirac, groups=2), (4, 2, 3)),
}
ALL = {**RANDOM, **DETERMINISTIC}


def quiet(fn, *args, **kwargs):
    """Call fn with warnings silenced (trunc_normal_deep warns, as torch does)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


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
# Gains and fans


def test_calculate_gain_table():
    for name in [
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
        "sigmoid",
    ]:
        gain = init.calculate_gain(name)
        assert gain == 1 and type(gain) is int
    assert init.calculate_gain("tanh") == 5.0 / 3
    assert init.calculate_gain("relu") == math.sqrt(2.0)
    assert init.calculate_gain("relu", "junk") == math.sqrt(2.0)  # param ignored
    assert init.calculate_gain("selu") == 0.75
    assert init.calculate_gain("leaky_relu") == math.sqrt(2.0 / (1 + 0.01**2))
    assert init.calculate_gain("leaky_relu") != math.sqrt(2.0)
    assert init.calculate_gain("leaky_relu", 0) == math.sqrt(2.0)
    assert init.calculate_gain("leaky_relu", -1) == 1.0
    assert init.calculate_gain("leaky_relu", np.float64(0.2)) == math.sqrt(2.0 / 1.04)
    assert init.calculate_gain("leaky_relu", SQRT5) == 0.5773502691896257


@pytest.mark.parametrize(
    "param", [True, False, "0.2", np.float32(0.2), np.int64(1), jnp.float32(0.2)]
)
def test_calculate_gain_refuses_bad_slopes(param):
    with pytest.raises(ValueError, match="negative_slope .* not a valid number"):
        init.calculate_gain("leaky_relu", param)


@pytest.mark.parametrize("name", ["gelu", "Linear", "identity", None])
def test_calculate_gain_unknown_nonlinearity(name):
    with pytest.raises(ValueError, match=f"Unsupported nonlinearity {name}"):
        init.calculate_gain(name)


@pytest.mark.parametrize(
    "shape, axes, expected",
    [
        ((5, 3), {}, (3, 5)),  # seed: Linear(3, 5)
        ((10, 2, 3, 5), {}, (30, 150)),  # seed: Conv2d(2, 10, (3, 5))
        ((3, 5, 2, 10), {"in_axis": -2, "out_axis": -1}, (30, 150)),  # the same, flax HWIO
        ((3, 5), {"in_axis": 0, "out_axis": 1}, (3, 5)),  # flax Dense (in, out)
        ((0, 4), {}, (4, 0)),
        ((8, 4, 3, 3), {}, (36, 72)),
        ((2, 3, 4, 5, 6), {"in_axis": 2, "out_axis": -1}, (4 * 2 * 3 * 5, 6 * 2 * 3 * 5)),
    ],
)
def test_fans(shape, axes, expected):
    assert init.calculate_fan_in_and_fan_out(shape, **axes) == expected
    assert init.calculate_fan_in_and_fan_out(jnp.zeros(shape), **axes) == expected
    assert init.calculate_correct_fan(shape, "fan_in", **axes) == expected[0]
    assert init.calculate_correct_fan(shape, "FAN_OUT", **axes) == expected[1]


@pytest.mark.parametrize("shape", [(), (3,), (0,)])
def test_fans_need_two_dimensions(shape):
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.calculate_fan_in_and_fan_out(shape)


def test_fan_mode_is_checked_before_dimensions():
    with pytest.raises(ValueError, match=r"Mode bad not supported, please use one of \['fan_in'"):
        init.calculate_correct_fan((3,), "BAD")
    with pytest.raises(TypeError, match="mode must be the string"):
        init.calculate_correct_fan((3, 4), 3)


@pytest.mark.parametrize("axes", [{"in_axis": 2}, {"out_axis": -3}, {"in_axis": 0}])
def test_fan_axes_are_checked(axes):
    with pytest.raises(ValueError, match="in_axis|out_axis"):
        init.calculate_fan_in_and_fan_out((3, 4), **axes)


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
# Values: structure of the deterministic ones


def test_eye_non_square():
    np.testing.assert_array_equal(init.eye(None, (2, 4)), np.eye(2, 4))
    np.testing.assert_array_equal(init.eye(None, (4, 2)), np.eye(4, 2))


@pytest.mark.parametrize(
    "shape, groups", [((4, 3, 3), 1), ((6, 2, 4, 4), 2), ((4, 4, 2, 3, 5), 4), ((2, 5, 3), 1)]
)
def test_dirac_structure(shape, groups):
    w = np.asarray(init.dirac(None, shape, groups=groups))
    out_per = shape[0] // groups
    expected = np.zeros(shape, np.float32)
    for g in range(groups):
        for d in range(min(out_per, shape[1])):
            expected[(g * out_per + d, d, *(s // 2 for s in shape[2:]))] = 1
    np.testing.assert_array_equal(w, expected)


# ---------------------------------------------------------------------------------------------
# Values: distributions (closed forms; 6-SE thresholds, see the module docstring)

N = 200_000


def check_moments(x, mean, std, kurtosis):
    """Sample mean/std within 6 standard errors of the closed form."""
    x = np.asarray(x, np.float64).ravel()
    n = x.size
    assert abs(x.mean() - mean) <= 6 * std / math.sqrt(n), (x.mean(), mean)
    se_std = std * math.sqrt((kurtosis - 1) / (4 * n))
    assert abs(x.std() - std) <= 6 * se_std, (x.std(), std)


def test_uniform_moments_and_bounds():
    x = np.asarray(init.uniform(KEY, (N,), a=-0.5, b=2.0))
    assert x.min() >= -0.5 and x.max() < 2.0
    assert x.min() < -0.499 and x.max() > 1.999  # misses with probability (1-4e-4)^N ~ e^-80
    check_moments(x, 0.75, 2.5 / math.sqrt(12), 1.8)


def test_normal_moments():
    check_moments(init.normal(KEY, (N,), mean=1.0, std=0.5), 1.0, 0.5, 3.0)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_trunc_normal_far_bounds_is_a_plain_normal(dtype):
    # std=0.02 with the default absolute bounds [-2, 2]: 100 std away, nothing is truncated.
    x = np.asarray(init.trunc_normal(KEY, (1000, 1000), dtype, std=0.02), np.float64)
    assert -2.0 <= x.min() and x.max() <= 2.0
    assert np.abs(x).max() < 10 * 0.02  # no atom at the bounds +-2 (P(|z| > 10) ~ 1e-23)
    check_moments(x, 0.0, 0.02, 3.0)


def truncated_normal_moments(alpha, beta):
    """Mean, std and kurtosis of N(0,1) truncated to [alpha, beta] (closed forms)."""
    pdf = lambda t: math.exp(-t * t / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    mass = 0.5 * (math.erfc(-beta / math.sqrt(2)) - math.erfc(-alpha / math.sqrt(2)))
    m1 = (pdf(alpha) - pdf(beta)) / mass
    m2 = 1 + (alpha * pdf(alpha) - beta * pdf(beta)) / mass
    m3 = 2 * m1 + (alpha**2 * pdf(alpha) - beta**2 * pdf(beta)) / mass
    m4 = 3 * m2 + (alpha**3 * pdf(alpha) - beta**3 * pdf(beta)) / mass
    var = m2 - m1 * m1
    c4 = m4 - 4 * m1 * m3 + 6 * m1 * m1 * m2 - 3 * m1**4
    return m1, math.sqrt(var), c4 / var**2


@pytest.mark.parametrize(
    "mean, std, a, b",
    [
        (0.0, 1.0, -2.0, 2.0),
        (0.5, 2.0, 0.0, 3.0),
        (0.0, 1.0, 1.0, 1.5),
        (0.0, 1.0, -1.5, -1.0),
        (3.0, 0.5, -1.0, 1.0),
    ],
)
def test_trunc_normal_moments(mean, std, a, b):
    x = quiet(init.trunc_normal, KEY, (N,), mean=mean, std=std, a=a, b=b)
    x = np.asarray(x)
    assert a <= x.min() and x.max() <= b
    m, s, k = truncated_normal_moments((a - mean) / std, (b - mean) / std)
    check_moments(x, mean + std * m, std * s, k)


def test_trunc_normal_deep_in_a_tail():
    # [20, 21] std away: Phi underflows float32, the log-space inverse takes over. The mean of
    # N(0,1) given X in [20, 21] is the inverse Mills ratio phi(20)/Q(20) (Q(21)/Q(20) ~ 1e-9).
    x = np.asarray(quiet(init.trunc_normal, KEY, (N,), a=20.0, b=21.0), np.float64)
    assert 20.0 <= x.min() and x.max() <= 21.0
    q20 = 0.5 * math.erfc(20 / math.sqrt(2))
    mills = math.exp(-200) / math.sqrt(2 * math.pi) / q20
    sd = math.sqrt(1 - mills * (mills - 20))
    assert abs(x.mean() - mills) <= 6 * sd / math.sqrt(N)
    y = np.asarray(quiet(init.trunc_normal, KEY, (N,), a=-21.0, b=-20.0), np.float64)
    np.testing.assert_array_equal(y, -x)  # the mirror image, exactly


def test_trunc_normal_edge_cases():
    np.testing.assert_array_equal(init.trunc_normal(KEY, (4,), a=0.5, b=0.5), 0.5)
    x = init.trunc_normal(KEY, (N,), a=-math.inf, b=math.inf)
    check_moments(x, 0.0, 1.0, 3.0)
    x = init.trunc_normal(KEY, (N,), a=0.0, b=math.inf)  # half-normal, p = 0.5 > 0.3
    assert float(x.min()) >= 0.0
    check_moments(x, math.sqrt(2 / math.pi), math.sqrt(1 - 2 / math.pi), 3.8692)
    # Negative std on torch's uniform-proposal path (p <= 0.3) acts as |std|.
    np.testing.assert_array_equal(
        init.trunc_normal(KEY, (100,), std=-1.0), init.trunc_normal(KEY, (100,), std=1.0)
    )


# Three kernel shapes shared by the fan tests (and the flax tests below): fewer compiles.
DENSE = (300, 400)  # torch Linear(400, 300) / flax Dense(300 -> 400) kernel
CONV = (64, 16, 5, 5)  # torch Conv2d(16, 64, 5)
HWIO = (3, 3, 64, 128)  # flax Conv(64 -> 128, (3, 3)) kernel


@pytest.mark.parametrize(
    "fn, kwargs, shape, bound",
    [
        (init.xavier_uniform, {}, DENSE, math.sqrt(6 / 700)),
        (init.xavier_uniform, {"gain": 2.0}, CONV, 2 * math.sqrt(6 / (80 * 25))),
        (init.kaiming_uniform, {}, DENSE, math.sqrt(2) * math.sqrt(3 / 400)),
        (init.kaiming_uniform, {"a": SQRT5}, CONV, 1 / math.sqrt(16 * 25)),
        (
            init.kaiming_uniform,
            {"mode": "fan_out", "nonlinearity": "relu"},
            DENSE,
            math.sqrt(2) * math.sqrt(3 / 300),
        ),
        (
            init.kaiming_uniform,
            {"a": 0.2, "in_axis": -2, "out_axis": -1},
            HWIO,
            math.sqrt(2 / 1.04) * math.sqrt(3 / (64 * 9)),
        ),
    ],
)
def test_uniform_fan_initializers(fn, kwargs, shape, bound):
    x = np.asarray(fn(KEY, shape, **kwargs))
    assert np.abs(x).max() <= bound * (1 + 1e-6)
    assert np.abs(x).max() >= bound * (1 - 1e-3)  # see the module docstring
    check_moments(x, 0.0, bound / math.sqrt(3), 1.8)


@pytest.mark.parametrize(
    "fn, kwargs, shape, std",
    [
        (init.xavier_normal, {}, DENSE, math.sqrt(2 / 700)),
        (
            init.xavier_normal,
            {"gain": 0.5, "in_axis": -2, "out_axis": -1},
            HWIO,
            0.5 * math.sqrt(2 / ((64 + 128) * 9)),
        ),
        (init.kaiming_normal, {}, DENSE, math.sqrt(2 / 400)),
        (
            init.kaiming_normal,
            {"mode": "fan_out", "nonlinearity": "tanh"},
            CONV,
            5 / 3 / math.sqrt(64 * 25),
        ),
    ],
)
def test_normal_fan_initializers(fn, kwargs, shape, std):
    check_moments(fn(KEY, shape, **kwargs), 0.0, std, 3.0)


@pytest.mark.parametrize(
    "shape, gain",
    [((4, 6), 1), ((6, 4), 2.0), ((4, 2, 3), 0.5), ((64, 64), 1.0), ((16, 4, 5), 3.0)],
)
def test_orthogonal_is_orthogonal(shape, gain):
    w = np.asarray(init.orthogonal(KEY, shape, gain=gain), np.float64).reshape(shape[0], -1)
    rows, cols = w.shape
    gram = w @ w.T if rows <= cols else w.T @ w
    # float32 Householder QR: errors ~ n * eps; 64 * 1.2e-7 * 10 < 1e-4.
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(rows, cols)), atol=1e-4 * gain**2)


@pytest.mark.parametrize(
    "sparsity, zeros",
    [(0.3, 3), (0.25, 3), (1.5, 10), (-0.5, 5), (-0.15, 9), (-0.05, 0), (0.0, 0), (1.0, 10)],
)
def test_sparse_zeros_per_column(sparsity, zeros):
    # num_zeros = ceil(sparsity * rows), then perm[:num_zeros] (Python slicing): -0.5 * 10 ->
    # perm[:-5], 5 zeros; -0.15 * 10 -> ceil(-1.5) = -1 -> perm[:-1], 9 zeros; -0.05 -> 0.
    w = np.asarray(init.sparse(KEY, (10, 50), sparsity=sparsity, std=0.5))
    np.testing.assert_array_equal((w == 0).sum(axis=0), zeros)
    # The zeros sit at different rows in different columns.
    if 0 < zeros < 10:
        assert len({tuple(np.flatnonzero(c == 0)) for c in w.T}) > 1


def test_sparse_values():
    w = np.asarray(init.sparse(KEY, (1000, 400), sparsity=0.1, std=0.02))
    np.testing.assert_array_equal((w == 0).sum(axis=0), 100)
    check_moments(w[w != 0], 0.0, 0.02, 3.0)


# ---------------------------------------------------------------------------------------------
# Axes and real flax layers


def test_axes_move_the_fan():
    torch_layout = init.kaiming_uniform(KEY, (128, 64, 3, 3))
    flax_layout = init.kaiming_uniform(KEY, HWIO, in_axis=-2, out_axis=-1)
    bound = math.sqrt(2) * math.sqrt(3 / (64 * 9))
    for w in (torch_layout, flax_layout):
        assert float(jnp.abs(w).max()) <= bound
        assert float(jnp.abs(w).max()) >= bound * (1 - 1e-3)
    # Without the axes, a HWIO kernel is read as (out=3, in=3, rf=64*128): fan_in 24576.
    wrong = float(jnp.abs(init.kaiming_uniform(KEY, HWIO)).max())
    assert wrong <= math.sqrt(2) * math.sqrt(3 / (3 * 64 * 128)) < bound / 6


TORCH_LINEAR_INIT = partial(init.kaiming_uniform, a=SQRT5, in_axis=-2, out_axis=-1)


def check_torch_default_uniform(kernel, fan_in):
    """torch's Linear/Conv default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1 / math.sqrt(fan_in)
    assert float(jnp.abs(kernel).max()) <= bound
    assert float(jnp.abs(kernel).max()) >= bound * (1 - 1e-3)
    check_moments(kernel, 0.0, bound / math.sqrt(3), 1.8)


def test_flax_linen_dense_gets_torch_linear_numbers():
    import flax.linen as nn

    dense = nn.Dense(DENSE[1], kernel_init=TORCH_LINEAR_INIT)
    kernel = dense.init(KEY, jnp.zeros((1, DENSE[0])))["params"]["kernel"]
    assert kernel.shape == DENSE
    check_torch_default_uniform(kernel, fan_in=300)  # torch nn.Linear(300, 400)


def test_flax_linen_conv_gets_torch_conv_numbers():
    import flax.linen as nn

    conv = nn.Conv(128, (3, 3), kernel_init=TORCH_LINEAR_INIT)
    kernel = conv.init(KEY, jnp.zeros((1, 8, 8, 64)))["params"]["kernel"]
    assert kernel.shape == HWIO
    check_torch_default_uniform(kernel, fan_in=64 * 9)  # torch nn.Conv2d(64, 128, 3)


def test_flax_nnx_linear_gets_torch_linear_numbers():
    from flax import nnx

    layer = nnx.Linear(*DENSE, kernel_init=TORCH_LINEAR_INIT, rngs=nnx.Rngs(0))
    assert layer.kernel[...].shape == DENSE
    check_torch_default_uniform(layer.kernel[...], fan_in=300)


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
