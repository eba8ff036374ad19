"""jaxinit/nn/batchnorm.py: section C of torch-semantics.md, checked against numpy formulas."""

from collections import OrderedDict

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinit.nn.batchnorm import BatchNorm1d, BatchNorm2d

KEY = jax.random.key(0)


def randn(*shape, seed=0, scale=1.0, shift=0.0):
    x = np.random.default_rng(seed).standard_normal(shape) * scale + shift
    return jnp.asarray(x, jnp.float32)


def batch_stats(x):
    """Per-channel mean, biased and unbiased variance (float64 numpy)."""
    x = np.asarray(x, np.float64)
    axes = (0,) + tuple(range(2, x.ndim))
    n = x.size // x.shape[1]
    mean, var = x.mean(axes), x.var(axes)
    return mean, var, var * n / (n - 1)


def per_channel(v, ndim):
    return np.asarray(v, np.float64).reshape((1, -1) + (1,) * (ndim - 2))


def test_variables_and_their_initial_values():
    bn = BatchNorm2d(3)
    v = bn.init(KEY)
    assert list(bn.state_dict(v)) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    np.testing.assert_array_equal(v["weight"], np.ones(3))
    np.testing.assert_array_equal(v["bias"], np.zeros(3))
    np.testing.assert_array_equal(v["running_mean"], np.zeros(3))
    np.testing.assert_array_equal(v["running_var"], np.ones(3))
    assert v["num_batches_tracked"].shape == () and v["num_batches_tracked"].dtype == jnp.int32
    params, buffers = bn.split(v)
    assert list(params) == ["weight", "bias"]
    assert list(BatchNorm1d(2, affine=False).init(KEY)) == [
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert list(BatchNorm1d(2, bias=False).init(KEY)) == [
        "weight",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert BatchNorm2d(2, affine=False, track_running_stats=False).init(KEY) == {}


def test_num_batches_tracked_is_int64_under_x64():
    with jax.enable_x64(True):
        bn = BatchNorm1d(2)
        v = bn.init(KEY)
        assert v["num_batches_tracked"].dtype == jnp.int64
        _, v = bn(v, jnp.ones((3, 2), jnp.float32), train=True)
        assert v["num_batches_tracked"].dtype == jnp.int64 and int(v["num_batches_tracked"]) == 1


@pytest.mark.parametrize(
    "bn,shape",
    [
        (BatchNorm2d(3, momentum=0.2, eps=1e-3), (4, 3, 3, 2)),
        (BatchNorm1d(3), (6, 3)),
        (BatchNorm1d(3), (2, 3, 5)),
    ],
)
def test_training_steps_follow_the_formulas(bn, shape):
    v = bn.init(KEY)
    v = bn.set(v, "weight", jnp.array([1.0, 2.0, -0.5]))
    v = bn.set(v, "bias", jnp.array([0.0, 1.0, 3.0]))
    f, eps = bn.momentum, bn.eps
    rm, rv = np.zeros(3), np.ones(3)
    step = jax.jit(lambda v, x: bn(v, x, train=True))
    for i in range(3):
        x = randn(*shape, seed=i, scale=1 + i, shift=i)
        y, v = step(v, x)
        mean, var_b, var_u = batch_stats(x)
        expected = (np.asarray(x) - per_channel(mean, x.ndim)) / np.sqrt(
            per_channel(var_b, x.ndim) + eps
        ) * per_channel([1.0, 2.0, -0.5], x.ndim) + per_channel([0.0, 1.0, 3.0], x.ndim)
        np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-5, atol=1e-5)
        rm, rv = (1 - f) * rm + f * mean, (1 - f) * rv + f * var_u
        np.testing.assert_allclose(v["running_mean"], rm, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(v["running_var"], rv, rtol=1e-5, atol=1e-6)
        assert int(v["num_batches_tracked"]) == i + 1
    # eval: the running statistics normalise, and nothing changes
    x = randn(*shape, seed=7)
    expected = (np.asarray(x) - per_channel(rm, x.ndim)) / np.sqrt(per_channel(rv, x.ndim) + eps)
    expected = expected * per_channel([1.0, 2.0, -0.5], x.ndim) + per_channel([0, 1, 3], x.ndim)
    np.testing.assert_allclose(np.asarray(bn(v, x)), expected, rtol=1e-5, atol=1e-5)


def test_momentum_none_is_a_cumulative_average():
    bn = BatchNorm2d(2, momentum=None)
    v = bn.init(KEY)
    batches = [randn(3, 2, 2, 2, seed=i, scale=i + 1, shift=2 * i) for i in range(4)]
    for x in batches:
        _, v = bn(v, x, train=True)
    stats = [batch_stats(x) for x in batches]
    np.testing.assert_allclose(v["running_mean"], np.mean([s[0] for s in stats], 0), rtol=1e-5)
    np.testing.assert_allclose(v["running_var"], np.mean([s[2] for s in stats], 0), rtol=1e-5)
    assert int(v["num_batches_tracked"]) == 4


def test_without_running_stats_batch_stats_are_used_in_eval_too():
    bn = BatchNorm2d(2, track_running_stats=False)
    v = bn.init(KEY)
    assert list(v) == ["weight", "bias"]
    x = randn(4, 2, 3, 3, shift=5.0)
    y_eval = bn(v, x)
    y_train, v2 = bn(v, x, train=True)
    np.testing.assert_allclose(y_eval, y_train, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(y_eval).mean((0, 2, 3)), [0, 0], atol=1e-5)
    assert v2 == v


def test_eval_returns_only_the_output():
    bn = BatchNorm1d(2)
    v = bn.init(KEY)
    out = bn(v, randn(4, 2))
    assert isinstance(out, jax.Array)


def test_gradients_flow_to_parameters_through_batch_statistics():
    bn = BatchNorm2d(2)
    params, buffers = bn.split(bn.init(KEY))
    x = randn(3, 2, 2, 2)

    def loss(p):
        y, _ = bn(bn.merge(p, buffers), x, train=True)
        return jnp.sum(y * jnp.arange(24.0).reshape(3, 2, 2, 2))

    g = jax.jit(jax.grad(loss))(params)
    xn = (np.asarray(x) - per_channel(batch_stats(x)[0], 4)) / np.sqrt(
        per_channel(batch_stats(x)[1], 4) + 1e-5
    )
    w = np.arange(24.0).reshape(3, 2, 2, 2)
    np.testing.assert_allclose(g["weight"], (xn * w).sum((0, 2, 3)), rtol=1e-4)
    np.testing.assert_allclose(g["bias"], w.sum((0, 2, 3)), rtol=1e-6)


def test_half_precision_inputs_are_normalised_in_float32():
    bn = BatchNorm2d(2)
    v = bn.init(KEY)
    x = randn(4, 2, 3, 3, scale=3.0, shift=100.0)
    xh = x.astype(jnp.bfloat16)
    y, v2 = bn(v, xh, train=True)
    assert y.dtype == jnp.bfloat16 and v2["running_mean"].dtype == jnp.float32
    # only the output rounding remains (bf16 arithmetic at ~100 would be off by ~0.2):
    # |y| < 4, bf16 half-ulp there <= 2**-7
    ref, v3 = bn(v, xh.astype(jnp.float32), train=True)
    np.testing.assert_allclose(np.asarray(y, np.float32), ref, atol=2**-7)
    np.testing.assert_allclose(v2["running_var"], v3["running_var"], rtol=1e-6)


@pytest.mark.parametrize(
    "bn,shape,train,match",
    [
        (BatchNorm2d(2), (2, 2, 2), False, r"expected 4D input \(got 3D input\)"),
        (BatchNorm1d(2), (2, 2, 2, 2), False, r"expected 2D or 3D input \(got 4D input\)"),
        (
            BatchNorm2d(2),
            (1, 2, 1, 1),
            True,
            r"Expected more than 1 value per channel when training, got input size "
            r"torch.Size\(\[1, 2, 1, 1\]\)",
        ),
        (
            BatchNorm2d(2, track_running_stats=False),
            (1, 2, 1, 1),
            False,
            "Expected more than 1 value per channel",
        ),
        (
            BatchNorm2d(2, eps=0.0),
            (2, 2, 1, 1),
            True,
            "batch_norm eps must be positive during training, but got 0.0",
        ),
        (
            BatchNorm2d(2, eps=-1.0),
            (2, 2, 1, 1),
            False,
            "batch_norm eps must be non-negative, but got -1.0",
        ),
        (BatchNorm2d(2), (2, 3, 1, 1), False, "expects 2 channels at dim 1"),
    ],
)
def test_errors_are_raised_at_trace_time(bn, shape, train, match):
    v = bn.init(KEY)
    run = jax.jit(lambda v, x: bn(v, x, train=train))
    with pytest.raises(ValueError, match=match):
        run(v, jnp.ones(shape))


def test_eps_zero_is_fine_in_eval():
    bn = BatchNorm2d(2, eps=0.0)
    assert bn(bn.init(KEY), jnp.ones((1, 2, 1, 1))).shape == (1, 2, 1, 1)


def test_legacy_checkpoint_may_lack_num_batches_tracked():
    bn = BatchNorm2d(2)
    v = bn.init(KEY)
    _, v = bn(v, randn(3, 2, 2, 2), train=True)
    sd = OrderedDict((k, np.asarray(a)) for k, a in bn.state_dict(v).items())
    del sd["num_batches_tracked"]
    sd._metadata = {"": {"version": 1}}
    loaded, result = bn.load_state_dict(v, sd)
    assert result.missing_keys == [] and int(loaded["num_batches_tracked"]) == 1
    sd._metadata = {"": {"version": 2}}
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "num_batches'):
        bn.load_state_dict(v, sd)


def test_reprs():
    assert repr(BatchNorm2d(2)) == (
        "BatchNorm2d(2, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    )
    assert repr(BatchNorm1d(3, momentum=None, affine=False, track_running_stats=False)) == (
        "BatchNorm1d(3, eps=1e-05, momentum=None, affine=False, bias=False, "
        "track_running_stats=False)"
    )
