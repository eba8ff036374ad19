"""jaxinit/nn/functional/conv.py and the Conv3d/ConvTranspose* layers, in pure JAX: the single
convolution entry point, adjointness of conv_transpose and conv, output_size, init, errors."""

import functools
import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxinit
from jaxinit import nn
from jaxinit.nn import functional as F
from jaxinit.nn.functional import _conv_impl

KEY = jax.random.key(0)


def randn(*shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def rand_vars(net, seed=0):
    """Random variables for ``net`` without drawing its init."""
    rng = np.random.default_rng(seed)
    flat = {name: rng.standard_normal(p.shape) for name, p in net.named_parameters()}
    return net.load_state_dict(None, flat)[0]


def test_every_convolution_goes_through_the_one_entry_point(monkeypatch):
    calls = []

    def counting(*args, **kwargs):
        calls.append(args[4])  # lhs_dilation: None for conv, the stride for conv_transpose
        return jax.lax.conv_general_dilated(*args, **kwargs)

    monkeypatch.setattr(_conv_impl, "conv_general_dilated", counting)
    for n in (1, 2, 3):  # traced only (eval_shape): the calls are what counts
        x, w = jnp.ones((1, 2) + (4,) * n), jnp.ones((2, 2) + (2,) * n)
        jax.eval_shape(getattr(F, f"conv{n}d"), x, w)
        transposed = functools.partial(getattr(F, f"conv_transpose{n}d"), stride=2)
        jax.eval_shape(transposed, x, w)
    conv = nn.Conv2d(2, 2, 2, padding_mode="circular", padding=1)
    jax.eval_shape(
        conv, {"weight": jnp.ones((2, 2, 2, 2)), "bias": jnp.ones(2)}, jnp.ones((1, 2, 4, 4))
    )
    assert calls == [None, (2,), None, (2, 2), None, (2, 2, 2), None]


def test_no_other_module_calls_lax_convolution():
    root = pathlib.Path(jaxinit.__file__).parent
    users = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if "conv_general_dilated" in p.read_text() or "lax.conv(" in p.read_text()
    )
    # the entry point (and any backend helpers beside it, nn/functional/_conv*.py) and its
    # caller, which must go through _conv_impl
    assert "nn/functional/_conv_impl.py" in users
    assert [u for u in users if not u.startswith("nn/functional/_conv")] == [
        "nn/functional/conv.py"
    ]
    text = (root / "nn/functional/conv.py").read_text()
    assert "lax." not in text and "import lax" not in text


@pytest.mark.parametrize(
    "n,stride,padding,dilation,groups",
    [(1, 3, 2, 2, 1), (2, (2, 1), (1, 3), (1, 2), 2), (3, 2, 1, 1, 3)],
)
def test_conv_transpose_is_the_adjoint_of_conv(n, stride, padding, dilation, groups):
    # <conv(x, w), y> == <x, conv_transpose(y, w)>: the defining property, checked in float64
    # terms against an independent formula (inner products), with output_padding recovering
    # the exact input size
    conv = getattr(F, f"conv{n}d")
    with jax.enable_x64():
        x = randn(2, 3 * groups, *(7, 6, 5)[:n]).astype(jnp.float64)
        w = randn(2 * groups, 3, *(3, 2, 3)[:n], seed=1).astype(jnp.float64)
        forward = functools.partial(
            conv, stride=stride, padding=padding, dilation=dilation, groups=groups
        )
        y_shape = jax.eval_shape(forward, x, w).shape
        s, p, d = (F.conv._conv_arg(a, n, "") for a in (stride, padding, dilation))
        op = [
            xs - ((ys - 1) * si - 2 * pi + di * (k - 1) + 1)
            for xs, ys, si, pi, di, k in zip(x.shape[2:], y_shape[2:], s, p, d, w.shape[2:])
        ]
        transposed = getattr(F, f"conv_transpose{n}d")

        @jax.jit
        def products(x, w, g):
            y = forward(x, w)
            back = transposed(g, w, None, stride, padding, op, groups, dilation)
            assert back.shape == x.shape
            return jnp.vdot(y, g), jnp.vdot(x, back)

        lhs, rhs = products(x, w, randn(*y_shape, seed=2).astype(jnp.float64))
        np.testing.assert_allclose(float(lhs), float(rhs), rtol=1e-10)


def test_conv3d_with_a_unit_depth_kernel_is_conv2d_per_slice():
    c3 = nn.Conv3d(3, 4, (1, 3, 2), stride=(2, 1, 2), padding=(0, 1, 1))
    c2 = nn.Conv2d(3, 4, (3, 2), stride=(1, 2), padding=1)
    v3 = rand_vars(c3)
    v2 = {"weight": v3["weight"][:, :, 0], "bias": v3["bias"]}
    x = randn(2, 3, 5, 6, 7)
    y = jax.jit(c3)(v3, x)
    y2 = jax.jit(jax.vmap(c2, in_axes=(None, 2), out_axes=2))(v2, x[:, :, ::2])
    np.testing.assert_allclose(y, y2, rtol=1e-5, atol=1e-5)


def test_conv_transpose_layer_shapes_output_size_and_unbatched():
    up = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2)
    v = rand_vars(up)
    x = randn(2, 4, 5, 5)
    for size in ([10, 9], (2, 6, 10, 10), [9, 10]):
        shape = jax.eval_shape(functools.partial(up, output_size=size), v, x).shape
        assert shape[2:] == tuple(size[-2:])

    @jax.jit
    def run(v, x):
        return up(v, x), up(v, x, output_size=[10, 10]), up(v, x[0], output_size=[6, 10, 10])

    y, y10, y10_unbatched = run(v, x)
    assert y.shape == (2, 6, 9, 9)
    # output_padding only appends positions at the high end
    np.testing.assert_allclose(y10[:, :, :9, :9], y, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(y10_unbatched, y10[0], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match=r"valid sizes range from \[9, 9\] to \[10, 10\]"):
        up(v, x, output_size=[11, 9])


def test_conv_transpose_variables_and_default_init_fan():
    up = nn.ConvTranspose2d(64, 6, 3, groups=2)
    assert up.transposed and not nn.Conv2d(2, 2, 1).transposed
    v = up.init(KEY)
    assert list(up.state_dict(v)) == ["weight", "bias"]
    assert v["weight"].shape == (64, 3, 3, 3) and v["bias"].shape == (6,)
    # torch's fan_in is weight.size(1) * k*k = 3 * 9 = 27, not in_channels // groups * 9
    bound = np.float32(1 / math.sqrt(27))
    w = np.abs(np.asarray(v["weight"]))
    assert w.max() <= bound and np.abs(np.asarray(v["bias"])).max() <= bound
    # 1728 values all below 0.99 bound has probability 0.99**1728 = 3e-8 (fixed key)
    assert w.max() > 0.99 * bound
    assert [n for n, _ in nn.ConvTranspose1d(2, 3, 1, bias=False).named_parameters()] == ["weight"]
    assert nn.ConvTranspose3d(2, 3, 1, dtype=jnp.bfloat16).weight.dtype == jnp.bfloat16


@pytest.mark.parametrize(
    "make,match",
    [
        (
            lambda: nn.ConvTranspose2d(4, 4, 3, padding_mode="circular"),
            'Only "zeros" padding mode is supported for ConvTranspose2d',
        ),
        (lambda: nn.ConvTranspose1d(4, 4, 3, padding="same"), "string padding exists for Conv"),
        (lambda: nn.ConvTranspose3d(4, 4, 3, stride=0), "non-positive stride"),
        (lambda: nn.Conv3d(4, 4, (3, 3)), "kernel_size must be an int or a tuple of 3 ints"),
    ],
)
def test_layer_constructor_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_functional_errors_name_the_problem():
    with pytest.raises(RuntimeError, match="expected a 4-D weight"):
        F.conv2d(jnp.ones((1, 2, 4, 4)), jnp.ones((2, 2, 3)))
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride"):
        F.conv_transpose2d(jnp.ones((1, 2, 4, 4)), jnp.ones((2, 2, 3, 3)), output_padding=1)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.conv_transpose1d(jnp.ones((1, 2, 2)), jnp.ones((2, 2, 3)), padding=2)
    with pytest.raises(TypeError, match="stride must be an int or a sequence of 2 ints"):
        F.conv2d(jnp.ones((1, 2, 4, 4)), jnp.ones((2, 2, 3, 3)), stride="x")
