"""jaxinit/nn/{normalization,sparse,dropout,pooling}.py and nn/utils/fusion.py (JAX only)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinit import nn
from jaxinit.nn.batchnorm import BatchNorm1d, BatchNorm2d
from jaxinit.nn.conv import Conv1d, Conv2d
from jaxinit.nn.dropout import Dropout
from jaxinit.nn.normalization import LayerNorm
from jaxinit.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from jaxinit.nn.sparse import Embedding
from jaxinit.nn.utils import fuse_conv_bn_eval, fuse_conv_bn_weights

KEY = jax.random.key(0)


def randn(*shape, seed=0, scale=1.0, shift=0.0):
    x = np.random.default_rng(seed).standard_normal(shape) * scale + shift
    return jnp.asarray(x, jnp.float32)


# ------------------------------------------------------------------------------------------
# LayerNorm


def test_layernorm_normalises_the_trailing_dims():
    ln = LayerNorm((3, 4), eps=1e-3)
    v = ln.init(KEY)
    assert list(ln.state_dict(v)) == ["weight", "bias"]
    np.testing.assert_array_equal(v["weight"], np.ones((3, 4)))
    np.testing.assert_array_equal(v["bias"], np.zeros((3, 4)))
    w, b = randn(3, 4, seed=1), randn(3, 4, seed=2)
    v = {"weight": w, "bias": b}
    x = randn(2, 5, 3, 4, scale=3, shift=2)
    xs = np.asarray(x, np.float64)
    mean = xs.mean((-2, -1), keepdims=True)
    var = xs.var((-2, -1), keepdims=True)
    expected = (xs - mean) / np.sqrt(var + 1e-3) * np.asarray(w) + np.asarray(b)
    np.testing.assert_allclose(jax.jit(ln)(v, x), expected, rtol=1e-5, atol=1e-5)


def test_layernorm_options_and_dtypes():
    assert LayerNorm(5, elementwise_affine=False).init(KEY) == {}
    assert list(LayerNorm(5, bias=False).init(KEY)) == ["weight"]
    ln = LayerNorm(6)
    x = randn(2, 6, scale=4.0, shift=50.0)
    v = ln.init(KEY)
    xh = x.astype(jnp.bfloat16)
    y = ln(v, xh)  # normalised in float32 (bf16 arithmetic at ~50 would be off by ~0.1)
    assert y.dtype == jnp.bfloat16
    # only the output rounding remains: |y| < 4, bf16 half-ulp there <= 2**-7
    np.testing.assert_allclose(np.asarray(y, np.float32), ln(v, xh.astype(jnp.float32)), atol=2**-7)
    with pytest.raises(RuntimeError, match=r"expected input with shape \[\*, 6\]"):
        ln(v, jnp.ones((2, 5)))


def test_layernorm_repr():
    assert repr(LayerNorm(5)) == "LayerNorm((5,), eps=1e-05, elementwise_affine=True, bias=True)"
    assert repr(LayerNorm((2, 3), elementwise_affine=False)) == (
        "LayerNorm((2, 3), eps=1e-05, elementwise_affine=False, bias=False)"
    )


# ------------------------------------------------------------------------------------------
# Embedding


def test_embedding_init_and_lookup():
    emb = Embedding(10, 4, padding_idx=-3)
    assert emb.padding_idx == 7
    v = emb.init(KEY)
    w = np.asarray(v["weight"])
    assert w.shape == (10, 4) and not w[7].any() and np.all(np.delete(w, 7, 0) != 0)
    idx = jnp.array([[1, 7], [9, 1]])
    np.testing.assert_array_equal(emb(v, idx), w[np.asarray(idx)])
    np.testing.assert_array_equal(jax.jit(emb)(v, idx), w[np.asarray(idx)])


def test_embedding_padding_row_gets_no_gradient():
    emb = Embedding(5, 3, padding_idx=2)
    v = {"weight": randn(5, 3)}  # padding row non-zero: its value is still looked up
    idx = jnp.array([2, 0, 2, 4, 0])
    np.testing.assert_array_equal(emb(v, idx)[0], v["weight"][2])
    g = jax.grad(lambda v: jnp.sum(emb(v, idx) ** 2))(v)["weight"]
    expected = np.zeros((5, 3))
    for i in (0, 4, 0):
        expected[i] += 2 * np.asarray(v["weight"][i])
    np.testing.assert_allclose(g, expected, rtol=1e-6)
    # without padding_idx the same row does get its gradient
    g = jax.grad(lambda v: jnp.sum(Embedding(5, 3)(v, idx) ** 2))(v)["weight"]
    np.testing.assert_allclose(g[2], 4 * np.asarray(v["weight"][2]), rtol=1e-6)


def test_embedding_index_checks():
    emb = Embedding(4, 2)
    v = {"weight": randn(4, 2)}
    for bad in ([4], [-1]):
        with pytest.raises(IndexError, match="index out of range in self"):
            emb(v, jnp.array(bad))
    # under jit the indices have no value to check: their rows are NaN, not clamped
    y = jax.jit(emb)(v, jnp.array([0, 4, -1]))
    assert np.isfinite(y[0]).all() and np.isnan(y[1:]).all()
    with pytest.raises(TypeError, match="indices must be integers"):
        emb(v, jnp.array([1.0]))


def test_embedding_argument_errors_and_repr():
    with pytest.raises(ValueError, match="Padding_idx must be within num_embeddings"):
        Embedding(4, 2, padding_idx=4)
    assert repr(Embedding(10, 3)) == "Embedding(10, 3)"
    assert repr(Embedding(10, 3, padding_idx=-1)) == "Embedding(10, 3, padding_idx=9)"


# ------------------------------------------------------------------------------------------
# Dropout


def test_dropout_eval_is_identity_and_train_needs_a_key():
    drop = Dropout(0.4)
    x = randn(3, 4)
    assert drop(x) is x and drop({}, x) is x
    with pytest.raises(ValueError, match="pass a PRNG key"):
        drop({}, x, train=True)
    y, variables = drop({}, x, train=True, rng=KEY)
    assert variables == {}
    y2, _ = drop({}, x, train=True, rng=KEY)
    np.testing.assert_array_equal(y, y2)  # same key, same mask
    y3, _ = drop({}, x, train=True, rng=jax.random.key(1))
    assert not np.array_equal(y, y3)


def test_dropout_rate_and_scale():
    p, n = 0.25, 100_000
    y, _ = jax.jit(lambda x, k: Dropout(p)({}, x, train=True, rng=k))(jnp.ones(n), KEY)
    y = np.asarray(y)
    # zero fraction ~ Binomial(n, p)/n, sd = sqrt(p(1-p)/n) = 0.00137; 6 sd: false-failure
    # rate 2e-9
    assert abs((y == 0).mean() - p) < 6 * math.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y[y != 0], np.float32(1 / (1 - p)), rtol=1e-7)
    np.testing.assert_array_equal(Dropout(1.0)({}, jnp.ones(5), train=True, rng=KEY)[0], 0)
    np.testing.assert_array_equal(Dropout(0.0)({}, jnp.ones(5), train=True, rng=KEY)[0], 1)


def test_two_dropouts_in_a_model_draw_different_masks():
    masks = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = Dropout(0.5), Dropout(0.5)

        def forward(self, x):
            masks.extend([self.a(x), self.b(x)])
            return x

    Probe()({}, jnp.ones(64), train=True, rng=KEY)
    assert not np.array_equal(masks[0], masks[1])
    net = nn.Sequential(Dropout(0.5), nn.Identity(), Dropout(0.5))
    assert net({}, jnp.ones(8), train=True, rng=KEY)[0].shape == (8,)


def test_dropout_argument_check_and_repr():
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            Dropout(p)
    assert repr(Dropout()) == "Dropout(p=0.5, inplace=False)"


# ------------------------------------------------------------------------------------------
# Pooling


def windows(size, k, s, p, d, ceil_mode):
    """Reference window starts from torch's output-size formula."""
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return [i * s - p for i in range(out)]


def reference_pool(x, k, s, p, d, ceil_mode, op):
    """Direct loops over windows (numpy), the definition of pooling."""
    x = np.asarray(x, np.float64)
    h, w = x.shape[-2:]
    rows, cols = windows(h, k, s, p, d, ceil_mode), windows(w, k, s, p, d, ceil_mode)
    out = np.zeros(x.shape[:-2] + (len(rows), len(cols)))
    for a, r in enumerate(rows):
        for b, c in enumerate(cols):
            out[..., a, b] = op(x, r, c)
    return out


@pytest.mark.parametrize(
    "k,s,p,d,ceil_mode,size",
    [
        (2, 2, 0, 1, False, (8, 8)),
        (3, 2, 1, 1, True, (6, 7)),
        (3, 2, 1, 2, False, (9, 8)),
        (2, 3, 1, 2, True, (8, 10)),
    ],
)
def test_maxpool2d_equals_the_definition(k, s, p, d, ceil_mode, size):
    pool = MaxPool2d(k, s, p, d, ceil_mode=ceil_mode)
    x = randn(2, 3, *size)

    def window_max(x, r, c):
        ri = [r + d * i for i in range(k) if 0 <= r + d * i < x.shape[-2]]
        ci = [c + d * j for j in range(k) if 0 <= c + d * j < x.shape[-1]]
        return x[..., ri, :][..., ci].max((-2, -1))

    expected = reference_pool(x, k, s, p, d, ceil_mode, window_max)
    np.testing.assert_array_equal(np.asarray(jax.jit(pool)(x)), expected.astype(np.float32))
    g = jax.grad(lambda x: jnp.sum(pool(x)))(x)  # one unit of gradient per window
    assert float(g.sum()) == expected.size


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize(
    "k,s,p,ceil_mode,size", [(3, 2, 1, True, (6, 7)), (2, 2, 1, False, (5, 5))]
)
def test_avgpool2d_equals_the_definition(k, s, p, ceil_mode, size, count_include_pad):
    pool = AvgPool2d(k, s, p, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    x = randn(2, 3, *size)
    h, w = size

    def window_mean(x, r, c):
        inside = x[..., max(r, 0) : min(r + k, h), max(c, 0) : min(c + k, w)]
        if count_include_pad:  # the window clipped to the padded input counts
            count = (min(r + k, h + p) - r) * (min(c + k, w + p) - c)
        else:
            count = inside.shape[-2] * inside.shape[-1]
        return inside.sum((-2, -1)) / count

    expected = reference_pool(x, k, s, p, 1, ceil_mode, window_mean)
    np.testing.assert_allclose(np.asarray(jax.jit(pool)(x)), expected, rtol=1e-6, atol=1e-6)


def test_adaptive_avgpool2d_windows():
    x = randn(2, 3, 7, 10)
    pool = AdaptiveAvgPool2d((3, 4))
    y = np.asarray(jax.jit(pool)(x))
    xs = np.asarray(x, np.float64)
    for i in range(3):
        for j in range(4):
            r0, r1 = (i * 7) // 3, -(-(i + 1) * 7 // 3)
            c0, c1 = (j * 10) // 4, -(-(j + 1) * 10 // 4)
            np.testing.assert_allclose(
                y[..., i, j], xs[..., r0:r1, c0:c1].mean((-2, -1)), rtol=1e-5, atol=1e-6
            )
    # divisible sizes (reshape path) agree with AvgPool2d; None keeps a dim
    np.testing.assert_allclose(
        AdaptiveAvgPool2d(2)(randn(1, 2, 8, 6)), AvgPool2d((4, 3))(randn(1, 2, 8, 6)), rtol=1e-6
    )
    assert AdaptiveAvgPool2d((None, 1))(x).shape == (2, 3, 7, 1)
    assert AdaptiveAvgPool2d(1)(x[0]).shape == (3, 1, 1)


def test_pooling_errors():
    with pytest.raises(ValueError, match="pad should be at most half of effective kernel size"):
        MaxPool2d(2, padding=2)
    with pytest.raises(ValueError, match="stride should not be zero"):
        AvgPool2d(2, stride=0)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        jax.jit(MaxPool2d(2))(jnp.ones((1, 1, 1, 1)))
    with pytest.raises(RuntimeError, match="Expected 3D or 4D"):
        AvgPool2d(2)(jnp.ones((5, 5)))
    with pytest.raises(ValueError, match="output_size must be 2"):
        AdaptiveAvgPool2d((1, 2, 3))
    y, i = MaxPool2d(2, return_indices=True)(jnp.ones((1, 1, 4, 4)))  # supported now
    assert y.shape == i.shape == (1, 1, 2, 2)


def test_pooling_reprs():
    assert repr(MaxPool2d(2, 2)) == (
        "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    )
    assert repr(AvgPool2d(3)) == "AvgPool2d(kernel_size=3, stride=3, padding=0)"
    assert repr(AdaptiveAvgPool2d((5, None))) == "AdaptiveAvgPool2d(output_size=(5, None))"


# ------------------------------------------------------------------------------------------
# Conv-BN fusion


@pytest.mark.parametrize(
    "conv,bn",
    [
        (Conv2d(3, 4, 3, padding=1, bias=False), BatchNorm2d(4)),
        (Conv1d(2, 6, 3, groups=2), BatchNorm1d(6, affine=False)),
    ],
)
def test_fused_conv_equals_conv_then_bn_in_eval(conv, bn):
    rng = np.random.default_rng(0)
    cv = conv.load_state_dict(
        None, {k: rng.standard_normal(p.shape) for k, p in conv.named_parameters()}
    )[0]
    bv = bn.init(KEY)
    bv = bn.set(bv, "running_mean", rng.standard_normal(bn.num_features))
    bv = bn.set(bv, "running_var", rng.uniform(0.5, 2.0, bn.num_features))
    if bn.affine:
        bv = bn.set(bv, "weight", rng.standard_normal(bn.num_features))
        bv = bn.set(bv, "bias", rng.standard_normal(bn.num_features))
    before = repr(conv)
    fused, fv = fuse_conv_bn_eval(conv, bn, cv, bv)
    assert repr(conv) == before and fused is not conv
    assert fused.bias is not None and list(fused.state_dict(fv)) == ["weight", "bias"]
    x = randn(2, conv.in_channels, *(6,) * (conv._n))
    np.testing.assert_allclose(fused(fv, x), bn(bv, conv(cv, x)), rtol=1e-5, atol=1e-5)


def test_fuse_conv_bn_weights_formula_and_errors():
    w, rm, rv = jnp.ones((2, 1, 1)), jnp.array([1.0, -1.0]), jnp.array([3.0, 0.0])
    fw, fb = fuse_conv_bn_weights(w, None, rm, rv, 1.0, None, jnp.array([0.5, 0.0]))
    np.testing.assert_allclose(fw[:, 0, 0], [0.5, 1.0])
    np.testing.assert_allclose(fb, [-0.5 + 0.5, 1.0])
    with pytest.raises(ValueError, match="track_running_stats=False"):
        fuse_conv_bn_eval(Conv2d(1, 2, 1), BatchNorm2d(2, track_running_stats=False), {}, {})
    with pytest.raises(TypeError, match="needs a Conv1d/Conv2d"):
        fuse_conv_bn_eval(nn.Linear(1, 2), BatchNorm2d(2), {}, {})
