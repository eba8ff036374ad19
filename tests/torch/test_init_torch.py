"""jaxinit.init against torch.nn.init itself (torch 2.13 CPU), exact: gains, fans (torch's own
module layouts and their flax permutations), the bounds and stds the fan-based initializers
hand to their sampler, constant/ones/zeros/eye/dirac values. The same bad inputs on both sides:
tests/torch/test_init_errors_torch.py; distributions and TorchGenerator bit for bit:
tests/torch/test_init_distributions_torch.py.
"""

import math

import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _init_torch_helpers import (  # noqa: E402
    T,
    as_numpy,
    one_torch_thread,  # noqa: F401  (autouse fixture)
    recorded,
    tensor,
)

from jaxinit import init  # noqa: E402

SQRT5 = math.sqrt(5)


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
