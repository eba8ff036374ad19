"""jaxinit.init's gains and fans (calculate_gain, calculate_fan_in_and_fan_out,
calculate_correct_fan) without torch: torch's table, argument checks, axes."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from jaxinit import init
from tests._init_cases import SQRT5

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
