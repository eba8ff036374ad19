"""torch's gains and fans (``calculate_gain``, ``calculate_fan_in_and_fan_out``,
``calculate_correct_fan``) and the std of the xavier and kaiming initializers built on them.

Public through :mod:`jaxinit.init`.
"""

from __future__ import annotations

import math
import operator

from jaxinit._init_checks import Array, Shape

_LINEAR_FNS = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)
_NONLINEARITIES = (*_LINEAR_FNS, "sigmoid", "tanh", "relu", "leaky_relu", "selu")
_FAN_MODES = ["fan_in", "fan_out"]


def calculate_gain(nonlinearity: str, param: int | float | None = None) -> int | float:
    """Return torch's recommended gain for a nonlinearity.

    ==============================================  =====================================
    nonlinearity                                    gain
    ==============================================  =====================================
    linear, conv{1,2,3}d, conv_transpose{1,2,3}d,   ``1`` (the int)
    sigmoid
    tanh                                            ``5.0 / 3``
    relu                                            ``math.sqrt(2.0)``
    leaky_relu                                      ``math.sqrt(2.0 / (1 + slope**2))``
    selu                                            ``3.0 / 4``
    ==============================================  =====================================

    For ``leaky_relu`` the slope is ``param``: ``None`` means 0.01 (so the gain is *not*
    sqrt(2)); a Python int or float (or float subclass such as numpy.float64) is accepted;
    bools, strings, numpy.float32 and arrays raise ValueError, as in torch. ``param`` is
    ignored for the other nonlinearities. Names are case-sensitive.

    Example::

        >>> calculate_gain("leaky_relu", 0.2)
        1.3867504905630728
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif (not isinstance(param, bool) and isinstance(param, int)) or isinstance(param, float):
            negative_slope = param
        else:
            raise ValueError(
                f"negative_slope {param} not a valid number: pass a Python int or float such as "
                "0.2 (bools, numpy.float32 and arrays are refused, as in torch)"
            )
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4  # torch's empirical value (pytorch#50664)
    raise ValueError(
        f"Unsupported nonlinearity {nonlinearity}: use one of {', '.join(_NONLINEARITIES)} "
        "(case-sensitive, as in torch)"
    )


def calculate_fan_in_and_fan_out(
    shape: Shape | Array, *, in_axis: int = 1, out_axis: int = 0
) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` of a weight of this shape (or of an array's shape).

    ``fan_in = shape[in_axis] * rf`` and ``fan_out = shape[out_axis] * rf``, where the
    receptive field ``rf`` is the product of all other axes. The defaults are torch's layout
    (``(out, in, *kernel)``); a flax ``Dense``/``Conv`` kernel uses ``in_axis=-2, out_axis=-1``.

    Example::

        >>> calculate_fan_in_and_fan_out((10, 2, 3, 5))  # torch Conv2d(2, 10, (3, 5)).weight
        (30, 150)
        >>> calculate_fan_in_and_fan_out((3, 5, 2, 10), in_axis=-2, out_axis=-1)  # flax HWIO
        (30, 150)
    """
    shape = tuple(getattr(shape, "shape", shape))
    ndim = len(shape)
    if ndim < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
            f"(got shape {shape}); fan-based initializers need a weight of at least 2 "
            "dimensions: use uniform/normal/zeros for biases and other 1-D parameters"
        )
    i = _axis(in_axis, ndim, "in_axis", shape)
    o = _axis(out_axis, ndim, "out_axis", shape)
    if i == o:
        raise ValueError(
            f"in_axis={in_axis} and out_axis={out_axis} name the same axis of shape {shape}; "
            "pass two different axes (torch layout: in_axis=1, out_axis=0; flax: -2, -1)"
        )
    receptive_field_size = math.prod(d for k, d in enumerate(shape) if k not in (i, o))
    return shape[i] * receptive_field_size, shape[o] * receptive_field_size


def calculate_correct_fan(
    shape: Shape | Array, mode: str, *, in_axis: int = 1, out_axis: int = 0
) -> int:
    """Return the fan that ``mode`` names: ``'fan_in'`` or ``'fan_out'`` (case-insensitive).

    The mode is checked before the shape, as in torch. Axes as in
    :func:`calculate_fan_in_and_fan_out`.

    Example::

        >>> calculate_correct_fan((5, 3), "fan_in"), calculate_correct_fan((5, 3), "FAN_OUT")
        (3, 5)
    """
    if not isinstance(mode, str):
        raise TypeError(f"mode must be the string 'fan_in' or 'fan_out', got {mode!r}")
    mode = mode.lower()
    if mode not in _FAN_MODES:
        raise ValueError(f"Mode {mode} not supported, please use one of {_FAN_MODES}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape, in_axis=in_axis, out_axis=out_axis)
    return fan_in if mode == "fan_in" else fan_out


def _axis(axis: int, ndim: int, name: str, shape: tuple[int, ...]) -> int:
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{name}={axis} is out of range for shape {shape} ({ndim} dimensions); pass an axis "
            f"in [-{ndim}, {ndim}) (torch layout: in_axis=1, out_axis=0; flax: -2, -1)"
        )
    return axis % ndim


def _xavier_std(shape, gain, in_axis, out_axis) -> float:
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape, in_axis=in_axis, out_axis=out_axis)
    if fan_in + fan_out == 0:
        raise ZeroDivisionError(
            f"float division by zero: xavier needs fan_in + fan_out > 0, but shape {shape} has "
            "fan_in = fan_out = 0 (an empty kernel has nothing to initialize: use zeros)"
        )
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


def _kaiming_std(shape, a, mode, nonlinearity, in_axis, out_axis) -> float:
    fan = calculate_correct_fan(shape, mode, in_axis=in_axis, out_axis=out_axis)
    gain = calculate_gain(nonlinearity, a)
    return gain / math.sqrt(fan)
