"""Cross-checks of jaxinit's layers against torch itself: outputs (eval and train), gradients,
BatchNorm running statistics, state_dict keys and order, errors, reprs and default init."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _ks import ks_statistic, ks_threshold  # noqa: E402
from _layers_helpers import (
    JAX,
    check_same,
    load,
    pair,
    raises_like_torch,
    randn,
    tnn,
    torch,
)

from jaxinit import TorchGenerator  # noqa: E402
from jaxinit.nn.conv import Conv2d  # noqa: E402
from jaxinit.nn.sparse import Embedding  # noqa: E402

# ------------------------------------------------------------------------------------------
# Convolutions

CONV2D = [
    ((3, 6, 5), {}, (2, 3, 9, 9)),
    ((4, 6, 3), dict(stride=2, padding=1), (2, 4, 8, 7)),
    (
        (4, 8, (3, 5)),
        dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2, bias=False),
        (2, 4, 9, 8),
    ),
    ((4, 4, 4), dict(padding="same", dilation=2), (1, 4, 9, 8)),  # asymmetric 'same'
    ((4, 4, (2, 3)), dict(padding="same"), (2, 4, 6, 5)),
    ((3, 6, 3), dict(padding="valid"), (2, 3, 6, 6)),
    ((6, 6, 3), dict(groups=6, padding=1), (2, 6, 5, 5)),  # depthwise
    ((4, 4, 3), dict(padding=2, padding_mode="reflect"), (2, 4, 6, 6)),
    ((4, 4, 3), dict(padding=(1, 2), padding_mode="replicate"), (2, 4, 6, 6)),
    ((4, 4, 4), dict(padding="same", padding_mode="circular"), (2, 4, 6, 6)),
    ((3, 5, 3), dict(padding=1), (3, 7, 6)),  # unbatched CHW
]
CONV1D = [
    ((4, 8, 3), {}, (2, 4, 10)),
    ((4, 8, 4), dict(padding="same", dilation=3), (2, 4, 13)),
    ((4, 6, 5), dict(stride=3, padding=2, groups=2, bias=False), (3, 4, 17)),
    ((4, 4, 3), dict(padding=1, padding_mode="circular"), (2, 4, 7)),
    ((4, 4, 3), {}, (4, 7)),  # unbatched CL
]


@pytest.mark.parametrize("args,kwargs,shape", CONV2D)
def test_conv2d_matches_torch(args, kwargs, shape):
    t, j = pair("Conv2d", *args, **kwargs)
    assert repr(j) == repr(t)
    check_same(t, j, randn(*shape))


@pytest.mark.parametrize("args,kwargs,shape", CONV1D)
def test_conv1d_matches_torch(args, kwargs, shape):
    t, j = pair("Conv1d", *args, **kwargs)
    assert repr(j) == repr(t)
    check_same(t, j, randn(*shape))


@pytest.mark.parametrize(
    "args,kwargs",
    [
        ((3, 6, 3), dict(groups=2)),
        ((4, 6, 3), dict(groups=4)),
        ((4, 8, 3), dict(groups=0)),
        ((4, 8, 3), dict(padding="same", stride=2)),
    ],
)
def test_conv_constructor_errors_as_torch(args, kwargs):
    t_err, j_err = raises_like_torch(
        lambda: tnn.Conv2d(*args, **kwargs), lambda: Conv2d(*args, **kwargs)
    )
    assert type(j_err) is type(t_err)


@pytest.mark.parametrize(
    "kwargs,prefix",
    [
        (dict(padding="foo"), "Invalid padding string 'foo', should be one of {"),
        (dict(padding_mode="bar"), "padding_mode must be one of {"),
    ],
)
def test_conv_string_argument_errors_as_torch(kwargs, prefix):
    # torch prints a set, whose order varies between runs: compare around it
    with pytest.raises(ValueError) as t_err:
        tnn.Conv2d(4, 8, 3, **kwargs)
    with pytest.raises(ValueError) as j_err:
        Conv2d(4, 8, 3, **kwargs)
    for err in (t_err, j_err):
        assert str(err.value).startswith(prefix)
    assert str(j_err.value).split("}")[1] == str(t_err.value).split("}")[1]


@pytest.mark.parametrize(
    "cls,shape",
    [
        ("Conv2d", (4, 5)),
        ("Conv2d", (1, 3, 5, 5)),
        ("Conv2d", (1, 4, 2, 5)),
        ("Conv1d", (1, 4, 5, 5)),
    ],
)
def test_conv_input_errors_as_torch(cls, shape):
    t, j = pair(cls, 4, 8, 3)
    v = load(j, t)
    x = np.ones(shape, np.float32)
    t_err, j_err = raises_like_torch(lambda: t(torch.tensor(x)), lambda: j(v, jnp.asarray(x)))
    assert type(j_err) is type(t_err)


@pytest.mark.parametrize(
    "cls,args,kwargs",
    [
        ("Conv2d", (3, 6, 3), {}),
        ("Conv2d", (4, 8, (3, 2)), dict(groups=2)),
        ("Conv2d", (2, 5, 1), {}),
        ("Conv1d", (6, 9, 5), dict(groups=3, bias=False)),
    ],
)
def test_conv_default_init_is_torch_exact_with_torch_generator(cls, args, kwargs):
    torch.manual_seed(7)
    t = getattr(tnn, cls)(*args, **kwargs)
    v = JAX[cls](*args, **kwargs).init(TorchGenerator(7))
    assert list(v) == list(t.state_dict())
    for k, x in t.state_dict().items():
        np.testing.assert_array_equal(np.asarray(v[k]), x.numpy())


def pooled(make_torch, make_jax, name, layers):
    torch.manual_seed(0)
    t = np.concatenate([make_torch().state_dict()[name].numpy().ravel() for _ in range(layers)])
    # What net.init(key) draws for `name`, for `layers` keys at once (one compilation)
    decl = dict(make_jax().named_parameters())[name]
    keys = jax.random.split(jax.random.key(0), layers)
    j = jax.jit(jax.vmap(lambda k: decl.init(k, decl.shape, decl.dtype)))(keys)
    return t, np.asarray(j).ravel()


@pytest.mark.parametrize(
    "cls,args,kwargs,name,layers",
    [
        ("Conv2d", (16, 32, 3), {}, "weight", 4),  # 18432 values
        ("Conv2d", (8, 512, 3), dict(groups=2), "bias", 8),  # 4096 values, fan_in 36
    ],
)
def test_conv_default_init_distribution_matches_torch(cls, args, kwargs, name, layers):
    t, j = pooled(
        lambda: getattr(tnn, cls)(*args, **kwargs), lambda: JAX[cls](*args, **kwargs), name, layers
    )
    groups = kwargs.get("groups", 1)
    fan_in = args[0] // groups * args[2] ** 2  # Conv2d, square kernels
    bound = np.float32(1 / math.sqrt(fan_in))
    assert np.abs(j).max() <= bound and np.abs(t).max() <= bound
    crit = ks_threshold(t.size, j.size)
    assert ks_statistic(t, j) < crit
    # power: a bound 10% too wide is rejected (D ~ 0.045; crit 0.028 at n = 18432, 0.060 at
    # n = 4096, where 1.25x (D ~ 0.1) is rejected)
    assert ks_statistic(t, (1.1 if t.size > 15000 else 1.25) * j) > crit


def test_embedding_default_init_distribution_matches_torch():
    t, j = pooled(
        lambda: tnn.Embedding(500, 8, padding_idx=3),
        lambda: Embedding(500, 8, padding_idx=3),
        "weight",
        4,
    )
    t, j = t.reshape(-1, 8), j.reshape(-1, 8)
    pad_rows = np.arange(t.shape[0]) % 500 == 3
    assert not t[pad_rows].any() and not j[pad_rows].any()
    t, j = t[~pad_rows], j[~pad_rows]  # 15968 N(0, 1) values each
    crit = ks_threshold(t.size, j.size)
    assert ks_statistic(t, j) < crit
    assert ks_statistic(t, 1.25 * j) > crit  # power: std 25% too large is rejected (D ~ 0.05)
