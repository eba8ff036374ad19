"""jaxinit.init against torch.nn.init itself (torch 2.13 CPU).

* exact: gains, fans (torch's own module layouts and their flax permutations), the bounds and
  stds the fan-based initializers hand to their sampler, constant/ones/zeros/eye/dirac values,
  sparse's zeros per column;
* the same bad inputs on both sides fail with the matching exception and meaning;
* distributions: two-sample Kolmogorov-Smirnov tests (>= 1e5 values a side, fixed seeds) plus
  moments and bounds, for every random initializer at several shapes;
* with a jaxinit.generator.TorchGenerator: bit for bit equal to torch with the same seed.

False-failure rates. A KS test fails when its asymptotic p-value is below P_MIN = 1e-6: under
the null hypothesis (same distribution) that happens with probability <= 1e-6 per test (ties
between float values only make the asymptotic p-value conservative). A moment check fails
beyond 6 standard errors of the difference of the two samples: <= 2e-9 each. With about 25 KS
tests and 50 moment checks the file's false-failure rate is below 3e-5 for random seeds; with
the fixed seeds it is deterministic. Power: at n = m = 1e5 the KS statistic's threshold is
about 0.012, so a 5% error in a std is caught by KS and a 1% error by the moment checks.
"""

import math
import warnings
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from scipy import stats  # noqa: E402  (scipy ships with jax)

from jaxinit import init  # noqa: E402
from jaxinit.generator import TorchGenerator  # noqa: E402

T = torch.nn.init
KEY = jax.random.key(0)
SQRT5 = math.sqrt(5)
P_MIN = 1e-6
N_MIN = 100_000


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """torch's small ops are faster on one thread on this 2-core machine; restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tensor(shape, dtype=torch.float32):
    return torch.empty(shape, dtype=dtype)


def as_numpy(t):
    t = t.detach()
    return (t.float() if t.dtype in (torch.bfloat16, torch.float16) else t).numpy()


# ---------------------------------------------------------------------------------------------
# Gains


GAIN_CASES = [
    *[
        (name, None)
        for name in [
            "linear",
            "conv1d",
            "conv2d",
            "conv3d",
            "conv_transpose1d",
            "conv_transpose2d",
            "conv_transpose3d",
            "sigmoid",
            "tanh",
            "relu",
            "selu",
            "leaky_relu",
        ]
    ],
    *[("leaky_relu", p) for p in [0, 1, -1, 0.2, -0.3, 5, SQRT5, 1e-8, np.float64(0.3)]],
    ("relu", "junk"),
    ("tanh", True),
    ("sigmoid", 3.0),
    ("selu", np.float32(2)),
]
GAIN_ERRORS = [
    ("leaky_relu", True),
    ("leaky_relu", False),
    ("leaky_relu", "0.2"),
    ("leaky_relu", np.float32(0.2)),
    ("leaky_relu", np.int64(1)),
    ("leaky_relu", [0.2]),
    ("gelu", None),
    ("Linear", None),
    ("identity", None),
    ("ReLU", 0.1),
    (None, None),
]


@pytest.mark.parametrize("name, param", GAIN_CASES)
def test_calculate_gain(name, param):
    expected = T.calculate_gain(name, param)
    got = init.calculate_gain(name, param)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("name, param", GAIN_ERRORS)
def test_calculate_gain_errors(name, param):
    with pytest.raises(ValueError) as theirs:
        T.calculate_gain(name, param)
    with pytest.raises(ValueError) as ours:
        init.calculate_gain(name, param)
    assert str(ours.value).startswith(str(theirs.value))  # torch's words, then the fix


# ---------------------------------------------------------------------------------------------
# Fans


def module_weight_shapes():
    nn = torch.nn
    modules = [
        nn.Linear(3, 5),
        nn.Linear(1, 1),
        nn.Bilinear(3, 4, 5),
        nn.Conv1d(4, 6, 3),
        nn.Conv2d(2, 10, (3, 5)),
        nn.Conv3d(2, 6, (1, 2, 3), groups=2),
        nn.Conv2d(16, 64, 3, groups=4),
        nn.Conv2d(8, 8, 3, groups=8),
        nn.ConvTranspose1d(4, 6, 5),
        nn.ConvTranspose2d(16, 32, 4, groups=4),
        nn.ConvTranspose3d(6, 4, (2, 1, 3), groups=2),
        nn.Embedding(7, 3),
    ]
    return [tuple(m.weight.shape) for m in modules]


FAN_SHAPES = [
    *module_weight_shapes(),
    (2, 3),
    (0, 4),
    (4, 0),
    (0, 0),
    (8, 4, 3, 3),
    (1, 1, 1, 1, 1),
    (3, 2, 0, 5),
]


@pytest.mark.parametrize("shape", FAN_SHAPES)
def test_fans(shape):
    w = tensor(shape)
    expected = T._calculate_fan_in_and_fan_out(w)
    assert init.calculate_fan_in_and_fan_out(shape) == expected
    for mode in ["fan_in", "fan_out", "FAN_IN", "Fan_Out"]:
        assert init.calculate_correct_fan(shape, mode) == T._calculate_correct_fan(w, mode)
    # The same weight in flax's layout, (*kernel, in, out), with flax's axes.
    flax_shape = (*shape[2:], shape[1], shape[0])
    assert init.calculate_fan_in_and_fan_out(flax_shape, in_axis=-2, out_axis=-1) == expected
    # Any other placement of the axes, named explicitly.
    moved = (shape[1], *shape[2:], shape[0])
    assert init.calculate_fan_in_and_fan_out(moved, in_axis=0, out_axis=len(shape) - 1) == (
        expected
    )


@pytest.mark.parametrize("shape", [(), (3,), (0,)])
def test_fans_need_two_dimensions(shape):
    with pytest.raises(ValueError) as theirs:
        T._calculate_fan_in_and_fan_out(tensor(shape))
    with pytest.raises(ValueError) as ours:
        init.calculate_fan_in_and_fan_out(shape)
    assert str(ours.value).startswith(str(theirs.value))


@pytest.mark.parametrize("shape", [(3, 4), (3,)])  # the mode is checked before the dimensions
def test_fan_mode_errors(shape):
    with pytest.raises(ValueError) as theirs:
        T._calculate_correct_fan(tensor(shape), "Fan_Avg")
    with pytest.raises(ValueError) as ours:
        init.calculate_correct_fan(shape, "Fan_Avg")
    assert str(ours.value) == str(theirs.value)


# ---------------------------------------------------------------------------------------------
# Bounds and stds: what each fan-based initializer hands to its sampler, bit for bit


def recorded(torch_fn, ours_fn, shape, **kwargs):
    """The (low, high) or (mean, std) each side hands to its sampler: torch's calls to
    Tensor.uniform_/normal_, and ours to init._draw_uniform/_draw_normal, the one place every
    uniform- or normal-based initializer passes its bounds through (stubbed: no draw)."""
    calls = {"torch": [], "ours": []}
    uniform_, normal_ = torch.Tensor.uniform_, torch.Tensor.normal_

    def torch_uniform(self, a=0.0, b=1.0, generator=None):
        calls["torch"].append((a, b))
        return uniform_(self, a, b, generator=generator)

    def torch_normal(self, mean=0.0, std=1.0, generator=None):
        calls["torch"].append((mean, std))
        return normal_(self, mean, std, generator=generator)

    def ours_draw(key, shape, dt, low, high):
        calls["ours"].append((low, high))
        return jnp.zeros(shape, dt)

    with (
        mock.patch.object(torch.Tensor, "uniform_", torch_uniform),
        mock.patch.object(torch.Tensor, "normal_", torch_normal),
        mock.patch.object(init, "_draw_uniform", ours_draw),
        mock.patch.object(init, "_draw_normal", ours_draw),
    ):
        torch_fn(tensor(shape), **kwargs)
        ours_fn(KEY, shape, **kwargs)
    return calls["torch"], calls["ours"]


BOUND_CASES = [
    ((5, 3), {}),
    ((3, 5), {"gain": 2.0}),
    ((300, 400), {"gain": 0.1}),
    ((64, 16, 5, 5), {}),
    ((64, 4, 3, 3), {"gain": math.sqrt(2)}),
    ((16, 8, 4, 4), {}),
    ((6, 1, 1, 2, 3), {"gain": 5 / 3}),
    ((0, 5), {}),
    ((1, 1), {"gain": 3}),
]
KAIMING_CASES = [
    ((5, 3), {}),
    ((5, 3), {"a": SQRT5}),
    ((4, 7), {"a": SQRT5}),
    ((400, 300), {"a": 0.2}),
    ((64, 16, 5, 5), {"a": SQRT5}),
    ((64, 4, 3, 3), {"mode": "fan_out", "nonlinearity": "relu"}),
    ((16, 8, 4, 4), {"mode": "FAN_OUT"}),
    ((7, 9), {"a": -1, "nonlinearity": "leaky_relu"}),
    ((7, 9), {"a": None}),
    ((7, 9), {"nonlinearity": "tanh", "a": 3.0}),
    ((7, 9), {"nonlinearity": "selu"}),
    ((7, 9), {"nonlinearity": "conv2d"}),
    ((6, 1, 1, 2, 3), {"a": 1}),
]


@pytest.mark.parametrize("shape, kwargs", BOUND_CASES)
@pytest.mark.parametrize("name", ["xavier_uniform", "xavier_normal"])
def test_xavier_bounds_and_stds_are_torch_bit_for_bit(name, shape, kwargs):
    theirs, ours = recorded(getattr(T, name + "_"), getattr(init, name), shape, **kwargs)
    assert ours == theirs and len(ours) == 1


@pytest.mark.parametrize("shape, kwargs", KAIMING_CASES)
@pytest.mark.parametrize("name", ["kaiming_uniform", "kaiming_normal"])
def test_kaiming_bounds_and_stds_are_torch_bit_for_bit(name, shape, kwargs):
    theirs, ours = recorded(getattr(T, name + "_"), getattr(init, name), shape, **kwargs)
    assert ours == theirs and len(ours) == 1


def test_linear_default_bound():
    # nn.Linear(in, out) weight: kaiming_uniform_(a=sqrt 5); the bound differs from
    # 1/sqrt(in) in the last bit for most `in`, and torch's order is kept.
    for fan_in in [3, 7, 100, 768, 1000, 3072]:
        theirs, ours = recorded(T.kaiming_uniform_, init.kaiming_uniform, (2, fan_in), a=SQRT5)
        assert ours == theirs


# ---------------------------------------------------------------------------------------------
# Deterministic initializers: the same values


DTYPES = [
    (torch.float32, jnp.float32),
    (torch.bfloat16, jnp.bfloat16),
    (torch.float16, jnp.float16),
    (torch.int32, jnp.int32),
    (torch.uint8, jnp.uint8),
    (torch.int8, jnp.int8),
    (torch.bool, jnp.bool_),
]


@pytest.mark.parametrize("tdt, jdt", DTYPES, ids=[str(d[1].__name__) for d in DTYPES])
def test_constant_ones_zeros(tdt, jdt):
    for val in [
        0.3,
        -2.7,
        2.7,
        0,
        1,
        -1,
        -1.0,
        -255,
        100,
        0.5,
        True,
        -128,
        127,
        127.9,
        -128.5,
        255.5,
        np.float32(-3.5),
        np.int64(-7),
    ]:
        try:
            expected = as_numpy(T.constant_(tensor((2, 3), tdt), val))
        except RuntimeError:  # out of the dtype's range: ours must refuse too
            with pytest.raises(ValueError, match="without overflow"):
                init.constant(None, (2, 3), jdt, val=val)
            continue
        got = init.constant(None, (2, 3), jdt, val=val)
        np.testing.assert_array_equal(np.asarray(got, expected.dtype), expected, err_msg=str(val))
    np.testing.assert_array_equal(
        np.asarray(init.ones(None, (4,), jdt)), as_numpy(T.ones_(tensor((4,), tdt)))
    )
    np.testing.assert_array_equal(
        np.asarray(init.zeros(None, (0, 3), jdt)), as_numpy(T.zeros_(tensor((0, 3), tdt)))
    )


@pytest.mark.parametrize(
    "val, tdt, jdt",
    [
        (1e39, torch.float32, jnp.float32),
        (1e39, torch.bfloat16, jnp.bfloat16),
        (7e4, torch.float16, jnp.float16),
        (math.nan, torch.int32, jnp.int32),
        (2**31, torch.int32, jnp.int32),
        (300, torch.uint8, jnp.uint8),
        (-256, torch.uint8, jnp.uint8),
    ],
)
def test_constant_overflow_like_torch(val, tdt, jdt):
    with pytest.raises(RuntimeError, match="without overflow"):
        T.constant_(tensor((2,), tdt), val)
    with pytest.raises(ValueError, match="value cannot be converted to type .* without overflow"):
        init.constant(None, (2,), jdt, val=val)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 2), (1, 5), (0, 3), (3, 0)])
def test_eye(shape):
    for tdt, jdt in [(torch.float32, jnp.float32), (torch.int32, jnp.int32)]:
        np.testing.assert_array_equal(
            np.asarray(init.eye(None, shape, jdt)), as_numpy(T.eye_(tensor(shape, tdt)))
        )


DIRAC_CASES = [
    ((4, 3, 3), 1),
    ((3, 4, 2), 1),
    ((6, 4, 5, 5), 1),
    ((6, 2, 4, 4), 3),
    ((4, 4, 2, 3), 2),
    ((8, 2, 3, 2, 4), 4),
    ((2, 5, 1, 1, 1), 2),
    ((0, 3, 3), 1),
    ((2, 0, 0), 1),
    ((4, 1, 2, 2), 4),
]


@pytest.mark.parametrize("shape, groups", DIRAC_CASES)
def test_dirac(shape, groups):
    for tdt, jdt in [(torch.float32, jnp.float32), (torch.int32, jnp.int32)]:
        expected = as_numpy(T.dirac_(tensor(shape, tdt), groups))
        np.testing.assert_array_equal(
            np.asarray(init.dirac(None, shape, jdt, groups=groups)), expected
        )


# ---------------------------------------------------------------------------------------------
# The same bad inputs on both sides


ERROR_CASES = [
    # (torch call, our call, torch's exception, ours, a phrase both messages contain)
    (
        lambda: T.uniform_(tensor(3), 1.0, 0.0),
        lambda: init.uniform(KEY, (3,), a=1.0, b=0.0),
        RuntimeError,
        ValueError,
        r"\[from, to\) range, but found from=1 > to=0",
    ),
    (
        lambda: T.uniform_(tensor(0), 1.0, 0.0),
        lambda: init.uniform(KEY, (0,), a=1.0, b=0.0),
        RuntimeError,
        ValueError,
        "from=1 > to=0",
    ),
    (
        lambda: T.uniform_(tensor(3), -math.inf, 0.0),
        lambda: init.uniform(KEY, (3,), a=-math.inf, b=0.0),
        RuntimeError,
        ValueError,
        "from is out of bounds for float",
    ),
    (
        lambda: T.uniform_(tensor(3), 0.0, math.nan),
        lambda: init.uniform(KEY, (3,), b=math.nan),
        RuntimeError,
        ValueError,
        "to is out of bounds for float",
    ),
    (
        lambda: T.uniform_(tensor(3), 0.0, 1e39),
        lambda: init.uniform(KEY, (3,), b=1e39),
        RuntimeError,
        ValueError,
        "to is out of bounds",
    ),
    (
        lambda: T.uniform_(tensor(3, torch.float16), 0.0, 7e4),
        lambda: init.uniform(KEY, (3,), jnp.float16, b=7e4),
        RuntimeError,
        ValueError,
        "to is out of bounds",
    ),
    (
        lambda: T.uniform_(tensor(3), -3e38, 3e38),
        lambda: init.uniform(KEY, (3,), a=-3e38, b=3e38),
        RuntimeError,
        ValueError,
        "to=3e\\+38 and from=-3e\\+38 which result in to-from to exceed",
    ),
    (
        lambda: T.normal_(tensor(3), 0.0, -1.0),
        lambda: init.normal(KEY, (3,), std=-1.0),
        RuntimeError,
        ValueError,
        "normal expects std >= 0.0, but found std -1",
    ),
    (
        lambda: T.normal_(tensor(0), 0.0, math.nan),
        lambda: init.normal(KEY, (0,), std=math.nan),
        RuntimeError,
        ValueError,
        "normal expects std >= 0.0, but found std nan",
    ),
    (
        lambda: T.xavier_normal_(tensor((3, 4)), -1.0),
        lambda: init.xavier_normal(KEY, (3, 4), gain=-1.0),
        RuntimeError,
        ValueError,
        "normal expects std >= 0.0",
    ),
    (
        lambda: T.xavier_uniform_(tensor((3, 4)), -1.0),
        lambda: init.xavier_uniform(KEY, (3, 4), gain=-1.0),
        RuntimeError,
        ValueError,
        r"\[from, to\) range",
    ),
    (
        lambda: T.sparse_(tensor((3, 4)), 0.1, -1.0),
        lambda: init.sparse(KEY, (3, 4), sparsity=0.1, std=-1.0),
        RuntimeError,
        ValueError,
        "normal expects std >= 0.0",
    ),
    (
        lambda: T.trunc_normal_(tensor(3), 0.0, 0.0),
        lambda: init.trunc_normal(KEY, (3,), std=0.0),
        ZeroDivisionError,
        ZeroDivisionError,
        "float division by zero",
    ),
    (
        lambda: T.trunc_normal_(tensor(3), 0.0, 1.0, 2.0, -2.0),
        lambda: init.trunc_normal(KEY, (3,), a=2.0, b=-2.0),
        RuntimeError,
        ValueError,
        "found from=2 > to=-2",
    ),
    (
        lambda: T.trunc_normal_(tensor(0), 0.0, 1.0, 2.0, -2.0),
        lambda: init.trunc_normal(KEY, (0,), a=2.0, b=-2.0),
        RuntimeError,
        ValueError,
        "found from=2 > to=-2",
    ),
    (
        lambda: T.trunc_normal_(tensor(3), 0.0, 1.0, 5.0, math.inf),
        lambda: init.trunc_normal(KEY, (3,), a=5.0, b=math.inf),
        RuntimeError,
        ValueError,
        "to is out of bounds",
    ),
    (
        lambda: T.xavier_uniform_(tensor((0, 0))),
        lambda: init.xavier_uniform(KEY, (0, 0)),
        ZeroDivisionError,
        ZeroDivisionError,
        "float division by zero",
    ),
    (
        lambda: T.xavier_normal_(tensor((2, 3, 0))),
        lambda: init.xavier_normal(KEY, (2, 3, 0)),
        ZeroDivisionError,
        ZeroDivisionError,
        "float division by zero",
    ),
    (
        lambda: T.xavier_normal_(tensor(3)),
        lambda: init.xavier_normal(KEY, (3,)),
        ValueError,
        ValueError,
        "fewer than 2 dimensions",
    ),
    (
        lambda: T.kaiming_uniform_(tensor(())),
        lambda: init.kaiming_uniform(KEY, ()),
        ValueError,
        ValueError,
        "fewer than 2 dimensions",
    ),
    (
        lambda: T.kaiming_normal_(tensor(3), mode="FAN_OUT"),
        lambda: init.kaiming_normal(KEY, (3,), mode="FAN_OUT"),
        ValueError,
        ValueError,
        "fewer than 2 dimensions",
    ),
    (
        lambda: T.kaiming_uniform_(tensor((3, 4)), mode="avg"),
        lambda: init.kaiming_uniform(KEY, (3, 4), mode="avg"),
        ValueError,
        ValueError,
        r"Mode avg not supported, please use one of \['fan_in', 'fan_out'\]",
    ),
    (
        lambda: T.kaiming_uniform_(tensor((3, 4)), a=True),
        lambda: init.kaiming_uniform(KEY, (3, 4), a=True),
        ValueError,
        ValueError,
        "negative_slope True not a valid number",
    ),
    (
        lambda: T.kaiming_normal_(tensor((3, 4)), nonlinearity="gelu"),
        lambda: init.kaiming_normal(KEY, (3, 4), nonlinearity="gelu"),
        ValueError,
        ValueError,
        "Unsupported nonlinearity gelu",
    ),
    (
        lambda: T.eye_(tensor((2, 2, 2))),
        lambda: init.eye(None, (2, 2, 2)),
        ValueError,
        ValueError,
        "Only tensors with 2 dimensions are supported",
    ),
    (
        lambda: T.eye_(tensor(0)),
        lambda: init.eye(None, (0,)),
        ValueError,
        ValueError,
        "Only tensors with 2 dimensions are supported",
    ),
    (
        lambda: T.dirac_(tensor((4, 3))),
        lambda: init.dirac(None, (4, 3)),
        ValueError,
        ValueError,
        "Only tensors with 3, 4, or 5 dimensions are supported",
    ),
    (
        lambda: T.dirac_(tensor(0)),
        lambda: init.dirac(None, (0,)),
        ValueError,
        ValueError,
        "Only tensors with 3, 4, or 5 dimensions are supported",
    ),
    (
        lambda: T.dirac_(tensor((4, 3, 3)), 3),
        lambda: init.dirac(None, (4, 3, 3), groups=3),
        ValueError,
        ValueError,
        "dim 0 must be divisible by groups",
    ),
    (
        lambda: T.dirac_(tensor((4, 3, 3)), 0),
        lambda: init.dirac(None, (4, 3, 3), groups=0),
        ZeroDivisionError,
        ZeroDivisionError,
        "integer modulo by zero",
    ),
    (
        lambda: T.dirac_(tensor((2, 3, 0))),
        lambda: init.dirac(None, (2, 3, 0)),
        IndexError,
        IndexError,
        "index 0 is out of bounds for dimension 2 with size 0",
    ),
    (
        lambda: T.dirac_(tensor((2, 3, 4, 0))),
        lambda: init.dirac(None, (2, 3, 4, 0)),
        IndexError,
        IndexError,
        "index 0 is out of bounds for dimension 3 with size 0",
    ),
    (
        lambda: T.orthogonal_(tensor(3)),
        lambda: init.orthogonal(KEY, (3,)),
        ValueError,
        ValueError,
        "Only tensors with 2 or more dimensions are supported",
    ),
    (
        lambda: T.sparse_(tensor(4), 0.5),
        lambda: init.sparse(KEY, (4,), sparsity=0.5),
        ValueError,
        ValueError,
        "Only tensors with 2 dimensions are supported",
    ),
    (
        lambda: T.sparse_(tensor((4, 3)), math.nan),
        lambda: init.sparse(KEY, (4, 3), sparsity=math.nan),
        ValueError,
        ValueError,
        "cannot convert float NaN to integer",
    ),
]


@pytest.mark.parametrize("case", range(len(ERROR_CASES)))
def test_same_bad_inputs_fail_on_both_sides(case):
    torch_call, our_call, torch_exc, our_exc, phrase = ERROR_CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(torch_exc, match=phrase):
            torch_call()
        with pytest.raises(our_exc, match=phrase):
            our_call()


@pytest.mark.parametrize(
    "name",
    [
        "uniform",
        "normal",
        "trunc_normal",
        "xavier_uniform",
        "kaiming_normal",
        "orthogonal",
        "sparse",
    ],
)
def test_integer_tensors_refused_on_both_sides(name):
    kwargs = {"sparsity": 0.5} if name == "sparse" else {}
    with pytest.raises(NotImplementedError, match="not implemented for 'Int'"):
        getattr(T, name + "_")(tensor((4, 4), torch.int32), **kwargs)
    with pytest.raises(TypeError, match="not a floating dtype"):
        getattr(init, name)(KEY, (4, 4), jnp.int32, **kwargs)


@pytest.mark.parametrize("shape", [(0, 5), (0, 0), (0,), (4, 0, 3)])
@pytest.mark.parametrize("name", ["kaiming_uniform", "kaiming_normal"])
def test_kaiming_zero_size_warning_on_both_sides(name, shape):
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        getattr(T, name + "_")(tensor(shape), mode="bad")
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        assert getattr(init, name)(KEY, shape, mode="bad").shape == shape


@pytest.mark.parametrize("mean, warns", [(5.0, True), (-4.1, True), (3.9, False)])
def test_trunc_normal_mean_warning_on_both_sides(mean, warns):
    for call in (
        lambda: T.trunc_normal_(tensor(3), mean),
        lambda: init.trunc_normal(KEY, (3,), mean=mean),
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        messages = [str(w.message) for w in caught]
        assert any("mean is more than 2 std from [a, b]" in m for m in messages) == warns


@pytest.mark.parametrize(
    "name",
    [
        "uniform",
        "normal",
        "trunc_normal",
        "constant",
        "ones",
        "zeros",
        "xavier_uniform",
        "orthogonal",
        "eye",
        "sparse",
    ],
)
@pytest.mark.parametrize("shape", [(0, 5), (0, 0), (3, 0)])
def test_empty_2d_shapes_are_no_ops_on_both_sides(name, shape):
    kwargs = {"val": 1.0} if name == "constant" else {"sparsity": 0.5} if name == "sparse" else {}
    if name == "xavier_uniform" and shape == (0, 0):
        return  # ZeroDivisionError on both sides, tested above
    torch_result = getattr(T, name + "_")(tensor(shape), **kwargs)
    assert getattr(init, name)(KEY, shape, **kwargs).shape == tuple(torch_result.shape)


# ---------------------------------------------------------------------------------------------
# Distributions: KS, moments and bounds against torch's own samples


def torch_samples(fn, shape, seed=0, dtype=torch.float32, n_min=N_MIN, **kwargs):
    """At least n_min values from repeated torch calls on a fresh tensor of `shape`."""
    torch.manual_seed(seed)
    reps = -(-n_min // math.prod(shape))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.concatenate(
            [as_numpy(fn(tensor(shape, dtype), **kwargs)).ravel() for _ in range(reps)]
        ).astype(np.float64)


def jax_samples(fn, shape, seed=0, dtype=jnp.float32, n_min=N_MIN, **kwargs):
    """At least n_min values: one call, or one call per key batched by vmap."""
    reps = -(-n_min // math.prod(shape))
    key = jax.random.key(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if reps == 1:
            x = fn(key, shape, dtype, **kwargs)
        else:
            keys = jax.random.split(key, reps)
            x = jax.jit(jax.vmap(lambda k: fn(k, shape, dtype, **kwargs)))(keys)
    return np.asarray(x, np.float64).ravel()


def check_same_distribution(ours, theirs):
    assert ours.size >= N_MIN and theirs.size >= N_MIN
    result = stats.ks_2samp(ours, theirs, method="asymp")
    assert result.pvalue > P_MIN, (result.statistic, result.pvalue)
    # Moments: the difference of the two sample means/stds within 6 standard errors.
    n, m = ours.size, theirs.size
    se_mean = math.sqrt(ours.var() / n + theirs.var() / m)
    assert abs(ours.mean() - theirs.mean()) <= 6 * se_mean
    kurt = stats.kurtosis(theirs, fisher=False)
    se_std = theirs.std() * math.sqrt((kurt - 1) / 4 * (1 / n + 1 / m))
    assert abs(ours.std() - theirs.std()) <= 6 * se_std


# Shapes of >= 1e5 values are drawn in one call (and share one compile per shape and sampler:
# uniform/xavier_uniform/kaiming_uniform, normal/xavier_normal/kaiming_normal); smaller ones
# are drawn once per key under vmap.
LINEAR = (400, 300)  # nn.Linear(300, 400)
CONV = (256, 64, 3, 3)  # nn.Conv2d(64, 256, 3), nn.Conv2d(256, 256, 3, groups=4) and
#                         nn.ConvTranspose2d(256, 128, 3, groups=2) all have this weight shape
DISTRIBUTION_CASES = [
    # (name, shape, kwargs)
    ("uniform", LINEAR, {"a": -0.3, "b": 0.4}),
    ("kaiming_uniform", LINEAR, {"a": 0.2, "mode": "fan_out"}),
    ("xavier_uniform", CONV, {"gain": 2.0}),
    ("kaiming_uniform", CONV, {"a": SQRT5}),  # torch's Conv default
    ("kaiming_uniform", (5, 3), {"a": SQRT5}),  # torch's nn.Linear(3, 5) default
    ("normal", LINEAR, {"mean": 0.5, "std": 2.0}),
    ("kaiming_normal", LINEAR, {}),
    ("xavier_normal", CONV, {"gain": math.sqrt(2)}),
    ("kaiming_normal", CONV, {"mode": "fan_out", "nonlinearity": "relu"}),
    ("normal", (5,), {"std": 0.02}),  # torch's scalar (< 16 values) path
    ("trunc_normal", LINEAR, {}),
    ("trunc_normal", LINEAR, {"std": 0.02}),  # absolute bounds: effectively untruncated
    ("trunc_normal", LINEAR, {"mean": 0.5, "std": 2.0, "a": 0.0, "b": 3.0}),
    ("trunc_normal", LINEAR, {"a": 1.0, "b": 1.5}),  # p <= 0.3: uniform proposals
    ("trunc_normal", LINEAR, {"mean": 1.0, "std": 0.1, "a": 1.5, "b": 1.7}),  # 5-7 std out
    ("orthogonal", (10, 30), {}),
    ("orthogonal", (50, 10), {"gain": 2.0}),
]


@pytest.mark.parametrize(
    "name, shape, kwargs",
    DISTRIBUTION_CASES,
    ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in DISTRIBUTION_CASES],
)
def test_same_distribution_as_torch(name, shape, kwargs):
    seed = DISTRIBUTION_CASES.index((name, shape, kwargs))  # independent draws per case
    theirs = torch_samples(getattr(T, name + "_"), shape, seed=seed, **kwargs)
    ours = jax_samples(getattr(init, name), shape, seed=seed, **kwargs)
    check_same_distribution(ours, theirs)
    # Bounds: ours never leaves the support torch's values come from.
    if name == "trunc_normal":
        assert kwargs.get("a", -2.0) <= ours.min() and ours.max() <= kwargs.get("b", 2.0)
    if name.endswith("uniform"):
        ((low, high),) = recorded(getattr(T, name + "_"), getattr(init, name), shape, **kwargs)[0]
        assert low <= ours.min() and ours.max() < high
        assert low <= theirs.min() and theirs.max() < high


def test_trunc_normal_bfloat16_matches_torch():
    theirs = torch_samples(T.trunc_normal_, LINEAR, dtype=torch.bfloat16, std=0.5)
    ours = jax_samples(init.trunc_normal, LINEAR, dtype=jnp.bfloat16, std=0.5)
    check_same_distribution(ours, theirs)
    assert -2.0 <= ours.min() and ours.max() <= 2.0


def test_sparse_matches_torch():
    shape, kwargs = (200, 1000), {"sparsity": 0.1, "std": 0.02}
    theirs = torch_samples(T.sparse_, shape, **kwargs).reshape(shape)
    ours = jax_samples(init.sparse, shape, **kwargs).reshape(shape)
    for w in (ours, theirs):  # exactly ceil(0.1 * 200) = 20 zeros in every column
        np.testing.assert_array_equal((w == 0).sum(axis=0), 20)
    check_same_distribution(ours[ours != 0], theirs[theirs != 0])


@pytest.mark.parametrize("sparsity", [1.5, 1.0, 0.25, 0.0, -0.05, -0.15, -0.5])
def test_sparse_zero_counts_match_torch(sparsity):
    torch.manual_seed(0)
    theirs = as_numpy(T.sparse_(tensor((10, 50)), sparsity))
    ours = np.asarray(init.sparse(KEY, (10, 50), sparsity=sparsity))
    np.testing.assert_array_equal((ours == 0).sum(axis=0), (theirs == 0).sum(axis=0))


@pytest.mark.parametrize(
    "shape, gain", [((3, 5), 1), ((5, 3), 2.0), ((16, 4, 3, 3), 0.5), ((64, 64), 1.0)]
)
def test_orthogonal_gram_matches_torch(shape, gain):
    torch.manual_seed(0)
    theirs = as_numpy(T.orthogonal_(tensor(shape), gain)).reshape(shape[0], -1)
    ours = np.asarray(init.orthogonal(KEY, shape, gain=gain)).reshape(shape[0], -1)
    for w in (theirs, ours):
        w = w.astype(np.float64)
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        # float32 QR: deviations ~ n * eps = 64 * 1.2e-7 < 1e-5; 1e-4 leaves room.
        np.testing.assert_allclose(gram, gain**2 * np.eye(len(gram)), atol=1e-4 * gain**2)


@pytest.mark.parametrize(
    "tdt, jdt, high",
    [(torch.bfloat16, jnp.bfloat16, 1.0078125), (torch.float16, jnp.float16, 1.0009765625)],
)
def test_half_uniform_wraps_high_to_low_like_torch(tdt, jdt, high):
    theirs = as_numpy(T.uniform_(tensor(10000, tdt), 1.0, high))
    ours = np.asarray(init.uniform(KEY, (10000,), jdt, a=1.0, b=high), np.float32)
    np.testing.assert_array_equal(theirs, 1.0)
    np.testing.assert_array_equal(ours, theirs)


# ---------------------------------------------------------------------------------------------
# With a TorchGenerator: torch's draws, bit for bit


def same_bits(ours, theirs):
    np.testing.assert_array_equal(np.asarray(ours), as_numpy(theirs))


GENERATOR_CASES = [
    ("uniform", (1000,), {"a": -0.3, "b": 0.4}),
    ("normal", (1003,), {"mean": 0.5, "std": 2.0}),
    ("normal", (5,), {}),
    ("xavier_uniform", (300, 40), {"gain": 2.0}),
    ("xavier_normal", (64, 4, 3, 3), {}),
    ("kaiming_uniform", (5, 3), {"a": SQRT5}),
    ("kaiming_normal", (17, 9), {"mode": "fan_out"}),
    ("trunc_normal", (1000,), {}),  # p > 0.3: normal with full-size redraws
    ("trunc_normal", (7,), {"std": 3.0}),  # the scalar normal path, many redraws
    ("trunc_normal", (1000,), {"a": 1.0, "b": 1.5}),  # p <= 0.3: uniform proposals
    ("trunc_normal", (999,), {"mean": 1.0, "std": 0.1, "a": 1.5, "b": 1.7}),
]


@pytest.mark.parametrize(
    "name, shape, kwargs", GENERATOR_CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in GENERATOR_CASES]
)
def test_generator_is_torch_bit_for_bit(name, shape, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = getattr(T, name + "_")(
            tensor(shape), generator=torch.Generator().manual_seed(5), **kwargs
        )
        ours = getattr(init, name)(TorchGenerator(5), shape, **kwargs)
    same_bits(ours, theirs)


def test_generator_trunc_normal_bfloat16_uniform_path():
    kwargs = {"a": 1.0, "b": 1.5}
    theirs = T.trunc_normal_(
        tensor(500, torch.bfloat16), generator=torch.Generator().manual_seed(3), **kwargs
    )
    ours = init.trunc_normal(TorchGenerator(3), (500,), jnp.bfloat16, **kwargs)
    np.testing.assert_array_equal(np.asarray(ours, np.float32), as_numpy(theirs))


def test_generator_sparse_matches_global_seed():
    # torch draws sparse_'s permutations from the global generator: with manual_seed(s) and no
    # generator= the global generator is both streams, which is what ours replays.
    torch.manual_seed(11)
    theirs = T.sparse_(tensor((30, 20)), 0.3, 0.5)
    same_bits(init.sparse(TorchGenerator(11), (30, 20), sparsity=0.3, std=0.5), theirs)


def test_generator_orthogonal():
    for shape in [(3, 5), (20, 4), (8, 2, 3, 3)]:
        theirs = T.orthogonal_(tensor(shape), 2.0, generator=torch.Generator().manual_seed(2))
        ours = init.orthogonal(TorchGenerator(2), shape, gain=2.0)
        # Same normal draws; QR differs from LAPACK by rounding only.
        np.testing.assert_allclose(np.asarray(ours), as_numpy(theirs), atol=1e-5)


def test_generator_consumes_torch_stream():
    # Two calls in a row continue the stream exactly as torch's generator does.
    g, tg = TorchGenerator(7), torch.Generator().manual_seed(7)
    for _ in range(2):
        same_bits(init.kaiming_uniform(g, (4, 5)), T.kaiming_uniform_(tensor((4, 5)), generator=tg))
        same_bits(init.normal(g, (3,)), T.normal_(tensor(3), generator=tg))


def test_generator_draws_nothing_for_empty_shapes():
    g = TorchGenerator(1)
    state = g.get_state()
    init.uniform(g, (0, 3))
    init.normal(g, (4, 0))
    init.trunc_normal(g, (0,))
    init.orthogonal(g, (0, 3))
    init.sparse(g, (3, 0), sparsity=0.5)
    np.testing.assert_array_equal(g.get_state(), state)
