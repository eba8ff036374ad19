"""Cross-checks of jaxinit's convolutions against torch: F.conv*/conv_transpose*/fold/unfold
values and input/weight/bias gradients, Conv3d/ConvTranspose*/Fold/Unfold layers (outputs,
gradients, output_size=, errors, reprs, hyper-parameters, state_dict keys, default init)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional

from _ks import ks_statistic, ks_threshold  # noqa: E402

from jaxinit import TorchGenerator, nn  # noqa: E402
from jaxinit.nn import functional as F  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:Using padding='same' with even kernel lengths:UserWarning"  # torch's, harmless
)
TOL = dict(rtol=1e-5, atol=1e-5)  # float32, sums of at most a few hundred O(1) products


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def grads_match(jax_fn, torch_fn, arrays):
    """``jax_fn(*arrays)`` equals ``torch_fn(*tensors)``, and so do the gradients of a random
    projection of the output with respect to every array."""
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    yt = torch_fn(*tensors)
    g = randn(*yt.shape, seed=1)
    (yt * torch.tensor(g)).sum().backward()

    @jax.jit  # one compilation per configuration instead of one per eager op
    def run(*xs):
        y, pullback = jax.vjp(jax_fn, *xs)
        return y, pullback(jnp.asarray(g))

    y, grads = run(*[jnp.asarray(a) for a in arrays])
    assert tuple(y.shape) == tuple(yt.shape)
    np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), **TOL)
    for gj, t in zip(grads, tensors):
        np.testing.assert_allclose(np.asarray(gj), t.grad.numpy(), **TOL)


def raises_like_torch(torch_fn, jax_fn):
    """Both raise the same exception type; jaxinit's message starts with torch's."""
    with pytest.raises(Exception) as t_err:
        torch_fn()
    with pytest.raises(Exception) as j_err:
        jax_fn()
    assert type(j_err.value) is type(t_err.value), (t_err.value, j_err.value)
    assert str(j_err.value).startswith(str(t_err.value)), (str(t_err.value), str(j_err.value))


# ------------------------------------------------------------------------------------------
# Functional convolutions: (input shape, weight shape, bias?, kwargs)

CONV = [
    ((2, 4, 11), (6, 4, 3), True, {}),
    ((2, 4, 12), (6, 2, 4), False, dict(stride=3, padding=2, dilation=2, groups=2)),
    ((4, 9), (5, 4, 4), True, dict(padding="same")),  # unbatched, even kernel: asymmetric
    ((2, 4, 9, 8), (6, 2, 3, 2), True, dict(stride=(2, 1), padding=(1, 2), groups=2)),
    ((1, 3, 7, 8), (4, 3, 4, 3), True, dict(padding="same", dilation=(1, 2))),
    ((2, 6, 5, 5), (6, 1, 3, 3), True, dict(padding=1, groups=6)),  # depthwise
    ((3, 6, 7), (4, 3, 2, 2), True, dict(padding="valid", stride=[2])),  # unbatched, 1-list
    ((2, 4, 5, 6, 7), (6, 2, 3, 2, 3), True, dict(stride=(1, 2, 1), padding=(1, 0, 2), groups=2)),
    ((2, 5, 6, 5), (4, 2, 2, 3, 2), False, dict(padding="same", dilation=(2, 1, 1))),  # unbatched
]


@pytest.mark.parametrize("xs,ws,bias,kwargs", CONV)
def test_conv_functions_match_torch(xs, ws, bias, kwargs):
    n = len(ws) - 2
    jf, tf = getattr(F, f"conv{n}d"), getattr(TF, f"conv{n}d")
    arrays = [randn(*xs), randn(*ws, seed=2)] + ([randn(ws[0], seed=3)] if bias else [])
    grads_match(lambda *a: jf(*a, **kwargs), lambda *a: tf(*a, **kwargs), arrays)


# (input shape, weight shape (in, out // groups, *k), bias?, kwargs)
CONV_TRANSPOSE = [
    ((2, 4, 5), (4, 3, 3), True, {}),
    ((2, 4, 5), (4, 3, 3), True, dict(stride=3, padding=3, dilation=2, output_padding=2)),
    ((4, 6), (4, 2, 4), False, dict(stride=2, padding=1, output_padding=1, groups=2)),  # unbatched
    ((2, 4, 5, 6), (4, 3, 3, 3), True, dict(stride=2, padding=1, output_padding=1)),
    (
        (2, 4, 5, 6),
        (4, 3, 3, 2),
        True,
        dict(stride=(2, 3), padding=(2, 1), output_padding=(1, 2), groups=2, dilation=(1, 2)),
    ),
    ((4, 5, 6), (4, 3, 3, 3), True, dict(padding=2)),  # unbatched; padding > d(k-1) crops
    ((2, 6, 4, 4), (6, 1, 3, 3), True, dict(stride=2, groups=6)),  # depthwise
    (
        (2, 4, 5, 4, 3),
        (4, 1, 2, 3, 2),
        True,
        dict(stride=2, padding=1, groups=4, output_padding=(1, 0, 1)),
    ),
    ((3, 3, 4, 2), (3, 2, 2, 2, 3), True, dict(stride=(1, 2, 2), dilation=(2, 1, 1))),  # unbatched
]


@pytest.mark.parametrize("xs,ws,bias,kwargs", CONV_TRANSPOSE)
def test_conv_transpose_functions_match_torch(xs, ws, bias, kwargs):
    n = len(ws) - 2
    jf, tf = getattr(F, f"conv_transpose{n}d"), getattr(TF, f"conv_transpose{n}d")
    out_channels = ws[1] * kwargs.get("groups", 1)
    arrays = [randn(*xs), randn(*ws, seed=2)] + ([randn(out_channels, seed=3)] if bias else [])
    grads_match(lambda *a: jf(*a, **kwargs), lambda *a: tf(*a, **kwargs), arrays)


X4, W4 = np.ones((2, 4, 6, 6), np.float32), np.ones((8, 4, 3, 3), np.float32)
WT = np.ones((8, 4, 3, 3), np.float32)  # (in=8, out=4, 3, 3) for conv_transpose2d


@pytest.mark.parametrize(
    "fn,args,kwargs",
    [
        ("conv2d", (np.ones((4, 5), np.float32), W4), {}),
        ("conv2d", (np.ones((1, 4, 5, 5, 5), np.float32), W4), {}),
        ("conv1d", (np.ones((1, 4, 5, 5), np.float32), W4[..., 0]), {}),
        ("conv3d", (np.ones((4, 5, 5), np.float32), W4[..., None]), {}),
        ("conv2d", (X4, np.ones((8, 3, 3, 3), np.float32)), {}),
        ("conv2d", (np.ones((3, 6, 6), np.float32), W4), {}),  # unbatched channels
        ("conv2d", (X4, np.ones((5, 2, 3, 3), np.float32)), dict(groups=2)),
        ("conv2d", (X4, W4), dict(groups=0)),
        ("conv2d", (X4, W4, np.ones(7, np.float32)), {}),
        ("conv2d", (X4, W4, np.ones((8, 1), np.float32)), {}),
        ("conv2d", (np.ones((1, 4, 2, 5), np.float32), W4), {}),
        ("conv1d", (np.ones((1, 4, 2), np.float32), W4[..., 0]), {}),
        ("conv2d", (X4, W4), dict(stride=0)),
        ("conv2d", (X4, W4), dict(padding=-1)),
        ("conv2d", (X4, W4), dict(dilation=0)),
        ("conv2d", (X4, W4), dict(padding="same", stride=2)),
        ("conv2d", (X4, W4), dict(padding="full")),
        ("conv2d", (X4, W4), dict(stride=(1, 2, 3))),
        ("conv3d", (np.ones((1, 4, 5, 5, 5), np.float32), W4[..., None]), dict(padding=(1, 2))),
        ("conv_transpose2d", (np.ones((4, 5), np.float32), WT), {}),
        ("conv_transpose2d", (np.ones((2, 3, 5, 5), np.float32), WT), {}),
        ("conv_transpose2d", (np.ones((3, 5, 5), np.float32), WT), {}),  # unbatched channels
        (
            "conv_transpose2d",
            (np.ones((2, 5, 5, 5), np.float32), np.ones((5, 2, 3, 3), np.float32)),
            dict(groups=2),
        ),
        ("conv_transpose2d", (np.ones((2, 8, 5, 5), np.float32), WT), dict(output_padding=1)),
        (
            "conv_transpose2d",
            (np.ones((2, 8, 5, 5), np.float32), WT),
            dict(stride=(2, 1), output_padding=1),
        ),
        ("conv_transpose1d", (np.ones((1, 8, 5), np.float32), WT[..., 0]), dict(output_padding=1)),
        (
            "conv_transpose3d",
            (np.ones((1, 8, 2, 2, 2), np.float32), WT[..., None]),
            dict(stride=2, output_padding=(1, 1, 2)),
        ),
        (
            "conv_transpose2d",
            (np.ones((2, 8, 5, 5), np.float32), WT),
            dict(stride=2, output_padding=-1),
        ),
        ("conv_transpose2d", (np.ones((2, 8, 5, 5), np.float32), WT, np.ones(3, np.float32)), {}),
        ("conv_transpose2d", (np.ones((2, 8, 5, 5), np.float32), WT), dict(stride=0)),
        ("conv_transpose2d", (np.ones((2, 8, 5, 5), np.float32), WT), dict(groups=0)),
        ("conv_transpose2d", (np.ones((2, 8, 5, 5), np.float32), WT), dict(padding=-1)),
        ("conv_transpose2d", (np.ones((2, 8, 5, 5), np.float32), WT), dict(padding="same")),
        ("conv_transpose1d", (np.ones((1, 8, 2), np.float32), WT[..., 0]), dict(padding=2)),
        ("conv_transpose2d", (np.ones((1, 8, 1, 3), np.float32), WT), dict(padding=2)),
    ],
)
def test_conv_function_errors_as_torch(fn, args, kwargs):
    t_args = [torch.tensor(a) for a in args]
    raises_like_torch(
        lambda: getattr(TF, fn)(*t_args, **kwargs),
        lambda: getattr(F, fn)(*[jnp.asarray(a) for a in args], **kwargs),
    )


def test_dtype_mismatch_is_a_type_error_naming_the_cast():
    with pytest.raises(RuntimeError, match="expected scalar type Double but found Float"):
        TF.conv2d(torch.tensor(X4).double(), torch.tensor(W4))
    with pytest.raises(TypeError, match=r"Input type \(bfloat16\) and weight type \(float32\)"):
        F.conv2d(jnp.asarray(X4, jnp.bfloat16), jnp.asarray(W4))
    with pytest.raises(TypeError, match=r"and bias type \(bfloat16\).*astype\('bfloat16'\)"):
        F.conv2d(X4, W4, jnp.ones(8, jnp.bfloat16))


# ------------------------------------------------------------------------------------------
# Fold / Unfold


@pytest.mark.parametrize(
    "shape,kwargs",
    [
        ((2, 3, 7, 6), dict(kernel_size=2)),
        ((2, 3, 7, 6), dict(kernel_size=(3, 2), dilation=(2, 1), padding=(1, 2), stride=(2, 3))),
        ((3, 5, 5), dict(kernel_size=3, padding=1, stride=2)),  # unbatched
    ],
)
def test_unfold_and_fold_match_torch(shape, kwargs):
    grads_match(lambda x: F.unfold(x, **kwargs), lambda x: TF.unfold(x, **kwargs), [randn(*shape)])
    cols = TF.unfold(torch.tensor(randn(*shape)), **kwargs).numpy()
    size = shape[-2:]
    grads_match(lambda x: F.fold(x, size, **kwargs), lambda x: TF.fold(x, size, **kwargs), [cols])
    tf, tu = tnn.Fold(size, **kwargs), tnn.Unfold(**kwargs)
    jf, ju = nn.Fold(size, **kwargs), nn.Unfold(**kwargs)
    assert repr(jf) == repr(tf) and repr(ju) == repr(tu)
    for t, j in ((tf, jf), (tu, ju)):
        for field in vars(t):
            if not field.startswith("_") and field != "training":
                assert getattr(j, field) == getattr(t, field), field
    np.testing.assert_allclose(
        np.asarray(jax.jit(jf)(jnp.asarray(cols))), tf(torch.tensor(cols)).numpy(), **TOL
    )


@pytest.mark.parametrize(
    "fn,shape,args,kwargs",
    [
        ("unfold", (1, 2, 3, 4, 5), (2,), {}),
        ("unfold", (1, 2, 3, 3), (4,), {}),
        ("unfold", (1, 2, 3, 3), (0,), {}),
        ("unfold", (1, 2, 3, 3), (2,), dict(stride=0)),
        ("unfold", (1, 2, 3, 3), (2,), dict(dilation=0)),
        ("unfold", (1, 2, 3, 3), (2,), dict(padding=-1)),
        ("unfold", (1, 2, 3, 3), ((1, 2, 3),), {}),
        ("fold", (1, 2, 3, 4), ((4, 5), 2), {}),
        ("fold", (3,), ((4, 5), 2), {}),
        ("fold", (1, 7, 12), ((4, 5), 2), {}),
        ("fold", (1, 8, 11), ((4, 5), 2), {}),
        ("fold", (1, 8, 12), ((4, 5), 0), {}),
        ("fold", (1, 8, 12), ((4, 5), 2), dict(stride=0)),
        ("fold", (1, 8, 12), ((4, 5), 2), dict(padding=-1)),
        ("fold", (1, 8, 12), ((4, 5, 3), 2), {}),
        ("fold", (1, 8, 1), ((1, 1), 2), {}),
    ],
)
def test_fold_errors_as_torch(fn, shape, args, kwargs):
    x = np.ones(shape, np.float32)
    raises_like_torch(
        lambda: getattr(TF, fn)(torch.tensor(x), *args, **kwargs),
        lambda: getattr(F, fn)(jnp.asarray(x), *args, **kwargs),
    )


# ------------------------------------------------------------------------------------------
# Layers: Conv3d and ConvTranspose1d/2d/3d


def load(net, tmod):
    """jaxinit variables holding exactly torch's current values (keys checked both ways)."""
    variables, result = net.load_state_dict(None, dict(tmod.state_dict()))
    assert not result.missing_keys and not result.unexpected_keys
    assert list(net.state_dict(variables)) == list(tmod.state_dict())
    return variables


def layer_grads_match(t, j, variables, x, extra):
    """Outputs and input/parameter gradients of a random projection agree (one jit)."""
    xt = torch.tensor(x, requires_grad=True)
    yt = t(xt, **extra)
    g = randn(*yt.shape, seed=1)
    (yt * torch.tensor(g)).sum().backward()

    @jax.jit
    def run(v, xx):
        y, pullback = jax.vjp(lambda v, xx: j(v, xx, **extra), v, xx)
        return y, *pullback(jnp.asarray(g))

    y, gv, gx = run(variables, jnp.asarray(x))
    assert tuple(y.shape) == tuple(yt.shape)
    np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(np.asarray(gx), xt.grad.numpy(), **TOL)
    for name, p in t.named_parameters():
        np.testing.assert_allclose(np.asarray(j.get(gv, name)), p.grad.numpy(), **TOL)


HYPER = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "output_padding",
    "dilation",
    "groups",
    "padding_mode",
    "transposed",
)


def same_hyper_parameters(t, j):
    for field in HYPER:
        tv, jv = getattr(t, field), getattr(j, field)
        assert jv == tv and type(jv) is type(tv), (field, tv, jv)


LAYERS = [
    ("Conv3d", (4, 6, 3), dict(stride=2, padding=1, groups=2), (2, 4, 5, 6, 5), None),
    ("Conv3d", (3, 4, (2, 3, 1)), dict(padding="same", padding_mode="reflect"), (3, 4, 5, 3), None),
    (
        "Conv3d",
        (2, 4, 3),
        dict(padding=(1, 0, 2), padding_mode="circular", bias=False),
        (1, 2, 3, 4, 5),
        None,
    ),
    ("Conv1d", (2, 3, 3), dict(padding=2, padding_mode="replicate"), (2, 4), None),
    ("ConvTranspose1d", (4, 6, 3), dict(stride=2, padding=1, groups=2), (2, 4, 6), [12]),
    ("ConvTranspose1d", (4, 2, 4), dict(dilation=2, output_padding=1, bias=False), (4, 5), None),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1), (2, 4, 5, 5), (2, 6, 10, 9)),
    (
        "ConvTranspose2d",
        (4, 4, (3, 2)),
        dict(stride=(3, 1), output_padding=(2, 0), groups=4),
        (4, 3, 5),
        None,
    ),
    ("ConvTranspose3d", (2, 4, 2), dict(stride=2), (1, 2, 3, 2, 3), [7, 5, 6]),
    (
        "ConvTranspose3d",
        (4, 2, 3),
        dict(stride=(1, 2, 1), padding=1, dilation=(2, 1, 1), groups=2),
        (4, 3, 3, 2),
        None,
    ),
]


@pytest.mark.parametrize("name,args,kwargs,shape,output_size", LAYERS)
def test_layers_match_torch(name, args, kwargs, shape, output_size):
    t, j = getattr(tnn, name)(*args, **kwargs), getattr(nn, name)(*args, **kwargs)
    assert repr(j) == repr(t)
    same_hyper_parameters(t, j)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in t.parameters():
            p.uniform_(-1.0, 1.0, generator=g)
    variables = load(j, t)
    extra = {} if output_size is None else {"output_size": output_size}
    x = randn(*shape)
    layer_grads_match(t, j, variables, x, extra)


@pytest.mark.parametrize(
    "name,args,kwargs",
    [
        ("Conv2d", (3, 6, 3), {}),
        ("Conv1d", (3, 6, 3), dict(padding="same")),
        (
            "ConvTranspose2d",
            (4, 6, 3),
            dict(stride=2, padding=1, output_padding=1, dilation=2, groups=2, bias=False),
        ),
        ("ConvTranspose1d", (4, 6, 3), {}),
    ],
)
def test_reprs_and_hyper_parameters_as_torch(name, args, kwargs):
    t, j = getattr(tnn, name)(*args, **kwargs), getattr(nn, name)(*args, **kwargs)
    assert repr(j) == repr(t)
    same_hyper_parameters(t, j)


@pytest.mark.parametrize(
    "output_size",
    [[11, 10], [10], [1, 6, 8, 10], (9, 11)],
)
def test_output_size_errors_as_torch(output_size):
    t, j = (
        tnn.ConvTranspose2d(4, 6, 3, stride=2, padding=1),
        nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1),
    )
    v = load(j, t)
    x = np.ones((1, 4, 5, 5), np.float32)
    with pytest.raises(ValueError) as t_err:
        t(torch.tensor(x), output_size=output_size)
    with pytest.raises(ValueError) as j_err:
        j(v, jnp.asarray(x), output_size=output_size)
    # torch ends with "(for an input of torch.Size([5, 5]))"; jaxinit prints the shape as a list
    cut = "(for an input of"
    assert str(j_err.value).split(cut)[0] == str(t_err.value).split(cut)[0]


@pytest.mark.parametrize(
    "name,args,kwargs",
    [
        ("ConvTranspose2d", (4, 4, 3), dict(padding_mode="reflect")),
        ("ConvTranspose1d", (3, 4, 3), dict(groups=2)),
        ("ConvTranspose3d", (4, 6, 3), dict(groups=4)),
        ("Conv3d", (4, 8, 3), dict(padding="same", stride=2)),
    ],
)
def test_layer_constructor_errors_as_torch(name, args, kwargs):
    raises_like_torch(
        lambda: getattr(tnn, name)(*args, **kwargs), lambda: getattr(nn, name)(*args, **kwargs)
    )


@pytest.mark.parametrize(
    "name,args,shape",
    [
        ("Conv3d", (4, 8, 3), (4, 5, 5)),
        ("Conv3d", (4, 8, 3), (1, 3, 5, 5, 5)),
        ("ConvTranspose2d", (4, 8, 3), (4, 5)),
        ("ConvTranspose1d", (4, 8, 3), (1, 3, 5)),
        ("Conv2d", (4, 8, 3), (1, 4, 3, 2)),
    ],
)
def test_layer_input_errors_as_torch(name, args, shape):
    kwargs = dict(padding=3, padding_mode="reflect") if name == "Conv2d" else {}
    t, j = getattr(tnn, name)(*args, **kwargs), getattr(nn, name)(*args, **kwargs)
    v = load(j, t)
    x = np.ones(shape, np.float32)
    raises_like_torch(lambda: t(torch.tensor(x)), lambda: j(v, jnp.asarray(x)))


# ------------------------------------------------------------------------------------------
# Default init: TorchGenerator bitwise, and KS against torch's draws for the transposed fan


@pytest.mark.parametrize(
    "name,args,kwargs",
    [
        ("Conv3d", (4, 6, (3, 2, 1)), dict(groups=2)),
        ("ConvTranspose1d", (6, 9, 5), dict(groups=3)),
        ("ConvTranspose2d", (4, 8, (3, 2)), {}),
        ("ConvTranspose3d", (2, 6, 2), dict(groups=2, bias=False)),
    ],
)
def test_default_init_is_torch_exact_with_torch_generator(name, args, kwargs):
    torch.manual_seed(7)
    t = getattr(tnn, name)(*args, **kwargs)
    v = getattr(nn, name)(*args, **kwargs).init(TorchGenerator(7))
    assert list(v) == list(t.state_dict())
    for k, x in t.state_dict().items():
        np.testing.assert_array_equal(np.asarray(v[k]), x.numpy())


@pytest.mark.parametrize("name", ["weight", "bias"])
def test_conv_transpose_default_init_distribution_matches_torch(name):
    # in=64, out=6: torch's fan_in is weight.size(1) * k*k = 6 * 9 = 54 (not 64 * 9 = 576)
    in_channels, layers = (64, 16) if name == "weight" else (2, 1024)  # 55296 / 6144 values
    torch.manual_seed(0)
    t = np.concatenate(
        [
            tnn.ConvTranspose2d(in_channels, 6, 3).state_dict()[name].numpy().ravel()
            for _ in range(layers)
        ]
    )
    decl = dict(nn.ConvTranspose2d(in_channels, 6, 3).named_parameters())[name]
    keys = jax.random.split(jax.random.key(0), layers)
    j = np.asarray(jax.jit(jax.vmap(lambda k: decl.init(k, decl.shape, decl.dtype)))(keys)).ravel()
    bound = np.float32(1 / math.sqrt(54))
    assert np.abs(j).max() <= bound and np.abs(t).max() <= bound
    crit = ks_threshold(t.size, j.size)
    assert ks_statistic(t, j) < crit
    # power: the non-transposed layout's fan (in * k * k: a 3.3x narrower bound for the weight)
    # or a 1.25x wider bound for the bias is rejected
    assert ks_statistic(t, j * (math.sqrt(54 / 576) if name == "weight" else 1.25)) > crit
