"""jaxinit/nn/conv.py: Conv1d/Conv2d shapes, padding, errors, jit, grads, init, reprs."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxinit.nn.conv import Conv1d, Conv2d

KEY = jax.random.key(0)


def randn(*shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def rand_vars(net, seed=0):
    """Random variables for ``net`` without drawing its init (keeps the file fast)."""
    rng = np.random.default_rng(seed)
    flat = {name: rng.standard_normal(p.shape) for name, p in net.named_parameters()}
    return net.load_state_dict(None, flat)[0]


def reference_conv2d(x, w, b, stride, pads, dilation, groups):
    """A direct loop-free numpy convolution, independent of lax (float64)."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    x = np.pad(x, ((0, 0), (0, 0), *pads))
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (wd - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for i in range(kh):
        for j in range(kw):
            patch = x[
                :,
                :,
                i * dh : i * dh + (oh - 1) * sh + 1 : sh,
                j * dw : j * dw + (ow - 1) * sw + 1 : sw,
            ]
            for g in range(groups):
                xs = patch[:, g * cg : (g + 1) * cg]
                ws = w[g * og : (g + 1) * og, :, i, j]
                out[:, g * og : (g + 1) * og] += np.einsum("nchw,oc->nohw", xs, ws)
    return out if b is None else out + np.asarray(b)[None, :, None, None]


@pytest.mark.parametrize(
    "kwargs,pads",
    [
        (dict(stride=2, padding=1), ((1, 1), (1, 1))),
        (dict(padding=(0, 2), dilation=(1, 2), groups=2), ((0, 0), (2, 2))),
        (dict(padding="same", dilation=2), ((2, 2), (2, 2))),  # k=3: symmetric
        (dict(kernel_size=4, padding="same"), ((1, 2), (1, 2))),  # even: extra at the end
        (dict(kernel_size=(2, 4), padding="same", dilation=(3, 1)), ((1, 2), (1, 2))),
        (dict(padding="valid", bias=False), ((0, 0), (0, 0))),
    ],
)
def test_conv2d_equals_a_direct_convolution(kwargs, pads):
    kwargs = {"kernel_size": 3, **kwargs}
    conv = Conv2d(4, 6, **kwargs)
    assert conv._pads == pads
    v = rand_vars(conv)
    x = randn(2, 4, 9, 8)
    y = conv(v, x)
    expected = reference_conv2d(
        x, v["weight"], v.get("bias"), conv.stride, pads, conv.dilation, conv.groups
    )
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-5, atol=1e-5)
    if kwargs.get("padding") == "same":
        assert y.shape[2:] == x.shape[2:]


def test_conv1d_is_conv2d_with_a_unit_height():
    c1 = Conv1d(3, 5, 4, stride=2, padding=3, dilation=2, groups=1)
    c2 = Conv2d(3, 5, (1, 4), stride=(1, 2), padding=(0, 3), dilation=(1, 2))
    v1 = rand_vars(c1)
    v2 = {"weight": v1["weight"][:, :, None], "bias": v1["bias"]}
    x = randn(2, 3, 11)
    np.testing.assert_allclose(c1(v1, x), c2(v2, x[:, :, None])[:, :, 0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "mode,np_mode", [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")]
)
def test_padding_modes_pad_then_convolve(mode, np_mode):
    conv = Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode)
    v = rand_vars(conv)
    x = randn(1, 2, 5, 6)
    xp = np.pad(np.asarray(x), ((0, 0), (0, 0), (1, 1), (2, 2)), mode=np_mode)
    expected = reference_conv2d(xp, v["weight"], v["bias"], (1, 1), ((0, 0), (0, 0)), (1, 1), 1)
    np.testing.assert_allclose(np.asarray(conv(v, x)), expected, rtol=1e-5, atol=1e-5)


def test_unbatched_input_and_output_shapes():
    conv = Conv2d(3, 8, 3, stride=2)
    v = rand_vars(conv)
    x = randn(3, 11, 11)
    y = conv(v, x)
    assert y.shape == (8, 5, 5)
    np.testing.assert_allclose(y, conv(v, x[None])[0], rtol=1e-6)
    assert Conv1d(3, 8, 3)(rand_vars(Conv1d(3, 8, 3)), randn(3, 10)).shape == (8, 8)


def test_variables_shapes_names_and_default_init_bounds():
    conv = Conv2d(8, 16, (3, 5), groups=2)
    v = conv.init(KEY)
    assert list(conv.state_dict(v)) == ["weight", "bias"]
    assert v["weight"].shape == (16, 4, 3, 5) and v["bias"].shape == (16,)
    bound = np.float32(1 / math.sqrt(4 * 15))  # fan_in = in/groups * kH * kW
    for name in ("weight", "bias"):
        assert np.abs(np.asarray(v[name])).max() <= bound
    # U(-bound, bound) reaches the bound: all 960 |w| below 0.99 bound has probability
    # 0.99**960 = 6e-5 (a fixed key, so deterministic; a narrower init would fail)
    assert np.abs(np.asarray(v["weight"])).max() > 0.99 * bound
    assert [n for n, _ in Conv1d(2, 3, 1, bias=False).named_parameters()] == ["weight"]
    assert Conv2d(2, 3, 1, dtype=jnp.bfloat16).weight.dtype == jnp.bfloat16


def test_init_depends_on_key_only():
    conv = Conv2d(8, 16, (3, 5), groups=2)  # the shapes above: compiled samplers reused
    a, b, c = conv.init(KEY), conv.init(KEY), conv.init(jax.random.key(1))
    np.testing.assert_array_equal(a["weight"], b["weight"])
    assert not np.array_equal(a["weight"], c["weight"])


def test_jit_and_gradients():
    conv = Conv2d(2, 4, 3, stride=2, padding=1, groups=2)
    v = rand_vars(conv)
    x = randn(2, 2, 6, 5)
    np.testing.assert_allclose(jax.jit(conv)(v, x), conv(v, x), rtol=1e-6, atol=1e-6)
    check_grads(
        lambda v, x: conv(v, x), (v, x), order=1, modes=["rev"], eps=1e-2, atol=2e-2, rtol=2e-2
    )


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(in_channels=3, groups=2), "in_channels must be divisible by groups"),
        (dict(out_channels=5, groups=2), "out_channels must be divisible by groups"),
        (dict(groups=0), "groups must be a positive integer"),
        (dict(padding="full"), "Invalid padding string 'full'"),
        (dict(padding="same", stride=2), "padding='same' is not supported for strided"),
        (dict(padding_mode="mirror"), "padding_mode must be one of"),
        (dict(padding=-1), "negative padding is not supported"),
        (dict(stride=0), "non-positive stride is not supported"),
        (dict(dilation=0), "dilation should be greater than zero"),
        (dict(kernel_size=(3, 3, 3)), r"kernel_size must be an int or a tuple of 2 ints"),
    ],
)
def test_constructor_errors(kwargs, match):
    args = {"in_channels": 4, "out_channels": 4, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        Conv2d(**args)


def test_forward_errors_are_raised_at_trace_time():
    conv = Conv2d(4, 8, 3)
    v = rand_vars(conv)
    run = jax.jit(conv)
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input"):
        run(v, jnp.ones((4, 5)))
    with pytest.raises(RuntimeError, match="to have 4 channels, but got 3 channels instead"):
        run(v, jnp.ones((1, 3, 5, 5)))
    with pytest.raises(RuntimeError, match=r"padded input size per channel: \(2 x 5\)"):
        run(v, jnp.ones((1, 4, 2, 5)))
    with pytest.raises(TypeError, match="Input type \\(bfloat16\\) and weight type \\(float32\\)"):
        run(v, jnp.ones((1, 4, 5, 5), jnp.bfloat16))
    with pytest.raises(RuntimeError, match=r"Expected 2D \(unbatched\) or 3D \(batched\) input"):
        Conv1d(4, 8, 3)(rand_vars(Conv1d(4, 8, 3)), jnp.ones((1, 4, 5, 5)))


def test_reprs():
    assert repr(Conv2d(3, 6, 5)) == "Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1))"
    assert repr(Conv1d(2, 4, 3, stride=2, padding=1)) == (
        "Conv1d(2, 4, kernel_size=(3,), stride=(2,), padding=(1,))"
    )
    assert repr(
        Conv2d(3, 6, 4, padding="same", dilation=2, groups=3, bias=False, padding_mode="reflect")
    ) == (
        "Conv2d(3, 6, kernel_size=(4, 4), stride=(1, 1), padding=same, dilation=(2, 2), "
        "groups=3, bias=False, padding_mode=reflect)"
    )
