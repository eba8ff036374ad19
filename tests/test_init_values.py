"""jaxinit.init's values without torch: the structure of the deterministic initializers, the
distributions' moments against their closed forms, and axes on real flax layers.

Statistical checks use fixed keys, so they are deterministic; their false-failure rates for a
random key: a threshold of 6 standard errors fails with probability <= 2e-9 (two-sided normal
tail), about 50 such checks (mean and std) give <= 1e-7 for the file; "the sample reaches
within 0.1% of a uniform bound" fails with probability (1 - 0.001)^n <= e^-25 for n >= 25600.
"""

import math
from functools import partial

import jax.numpy as jnp
import numpy as np
import pytest

from jaxinit import init
from tests._init_cases import KEY, SQRT5, quiet

# ---------------------------------------------------------------------------------------------
# Values: structure of the deterministic ones


def test_eye_non_square():
    np.testing.assert_array_equal(init.eye(None, (2, 4)), np.eye(2, 4))
    np.testing.assert_array_equal(init.eye(None, (4, 2)), np.eye(4, 2))


@pytest.mark.parametrize(
    "shape, groups", [((4, 3, 3), 1), ((6, 2, 4, 4), 2), ((4, 4, 2, 3, 5), 4), ((2, 5, 3), 1)]
)
def test_dirac_structure(shape, groups):
    w = np.asarray(init.dirac(None, shape, groups=groups))
    out_per = shape[0] // groups
    expected = np.zeros(shape, np.float32)
    for g in range(groups):
        for d in range(min(out_per, shape[1])):
            expected[(g * out_per + d, d, *(s // 2 for s in shape[2:]))] = 1
    np.testing.assert_array_equal(w, expected)


# ---------------------------------------------------------------------------------------------
# Values: distributions (closed forms; 6-SE thresholds, see the module docstring)

N = 200_000


def check_moments(x, mean, std, kurtosis):
    """Sample mean/std within 6 standard errors of the closed form."""
    x = np.asarray(x, np.float64).ravel()
    n = x.size
    assert abs(x.mean() - mean) <= 6 * std / math.sqrt(n), (x.mean(), mean)
    se_std = std * math.sqrt((kurtosis - 1) / (4 * n))
    assert abs(x.std() - std) <= 6 * se_std, (x.std(), std)


def test_uniform_moments_and_bounds():
    x = np.asarray(init.uniform(KEY, (N,), a=-0.5, b=2.0))
    assert x.min() >= -0.5 and x.max() < 2.0
    assert x.min() < -0.499 and x.max() > 1.999  # misses with probability (1-4e-4)^N ~ e^-80
    check_moments(x, 0.75, 2.5 / math.sqrt(12), 1.8)


def test_normal_moments():
    check_moments(init.normal(KEY, (N,), mean=1.0, std=0.5), 1.0, 0.5, 3.0)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_trunc_normal_far_bounds_is_a_plain_normal(dtype):
    # std=0.02 with the default absolute bounds [-2, 2]: 100 std away, nothing is truncated.
    x = np.asarray(init.trunc_normal(KEY, (1000, 1000), dtype, std=0.02), np.float64)
    assert -2.0 <= x.min() and x.max() <= 2.0
    assert np.abs(x).max() < 10 * 0.02  # no atom at the bounds +-2 (P(|z| > 10) ~ 1e-23)
    check_moments(x, 0.0, 0.02, 3.0)


def truncated_normal_moments(alpha, beta):
    """Mean, std and kurtosis of N(0,1) truncated to [alpha, beta] (closed forms)."""
    pdf = lambda t: math.exp(-t * t / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    mass = 0.5 * (math.erfc(-beta / math.sqrt(2)) - math.erfc(-alpha / math.sqrt(2)))
    m1 = (pdf(alpha) - pdf(beta)) / mass
    m2 = 1 + (alpha * pdf(alpha) - beta * pdf(beta)) / mass
    m3 = 2 * m1 + (alpha**2 * pdf(alpha) - beta**2 * pdf(beta)) / mass
    m4 = 3 * m2 + (alpha**3 * pdf(alpha) - beta**3 * pdf(beta)) / mass
    var = m2 - m1 * m1
    c4 = m4 - 4 * m1 * m3 + 6 * m1 * m1 * m2 - 3 * m1**4
    return m1, math.sqrt(var), c4 / var**2


@pytest.mark.parametrize(
    "mean, std, a, b",
    [
        (0.0, 1.0, -2.0, 2.0),
        (0.5, 2.0, 0.0, 3.0),
        (0.0, 1.0, 1.0, 1.5),
        (0.0, 1.0, -1.5, -1.0),
        (3.0, 0.5, -1.0, 1.0),
    ],
)
def test_trunc_normal_moments(mean, std, a, b):
    x = quiet(init.trunc_normal, KEY, (N,), mean=mean, std=std, a=a, b=b)
    x = np.asarray(x)
    assert a <= x.min() and x.max() <= b
    m, s, k = truncated_normal_moments((a - mean) / std, (b - mean) / std)
    check_moments(x, mean + std * m, std * s, k)


def test_trunc_normal_deep_in_a_tail():
    # [20, 21] std away: Phi underflows float32, the log-space inverse takes over. The mean of
    # N(0,1) given X in [20, 21] is the inverse Mills ratio phi(20)/Q(20) (Q(21)/Q(20) ~ 1e-9).
    x = np.asarray(quiet(init.trunc_normal, KEY, (N,), a=20.0, b=21.0), np.float64)
    assert 20.0 <= x.min() and x.max() <= 21.0
    q20 = 0.5 * math.erfc(20 / math.sqrt(2))
    mills = math.exp(-200) / math.sqrt(2 * math.pi) / q20
    sd = math.sqrt(1 - mills * (mills - 20))
    assert abs(x.mean() - mills) <= 6 * sd / math.sqrt(N)
    y = np.asarray(quiet(init.trunc_normal, KEY, (N,), a=-21.0, b=-20.0), np.float64)
    np.testing.assert_array_equal(y, -x)  # the mirror image, exactly


def test_trunc_normal_edge_cases():
    np.testing.assert_array_equal(init.trunc_normal(KEY, (4,), a=0.5, b=0.5), 0.5)
    x = init.trunc_normal(KEY, (N,), a=-math.inf, b=math.inf)
    check_moments(x, 0.0, 1.0, 3.0)
    x = init.trunc_normal(KEY, (N,), a=0.0, b=math.inf)  # half-normal, p = 0.5 > 0.3
    assert float(x.min()) >= 0.0
    check_moments(x, math.sqrt(2 / math.pi), math.sqrt(1 - 2 / math.pi), 3.8692)
    # Negative std on torch's uniform-proposal path (p <= 0.3) acts as |std|.
    np.testing.assert_array_equal(
        init.trunc_normal(KEY, (100,), std=-1.0), init.trunc_normal(KEY, (100,), std=1.0)
    )


# Three kernel shapes shared by the fan tests (and the flax tests below): fewer compiles.
DENSE = (300, 400)  # torch Linear(400, 300) / flax Dense(300 -> 400) kernel
CONV = (64, 16, 5, 5)  # torch Conv2d(16, 64, 5)
HWIO = (3, 3, 64, 128)  # flax Conv(64 -> 128, (3, 3)) kernel


@pytest.mark.parametrize(
    "fn, kwargs, shape, bound",
    [
        (init.xavier_uniform, {}, DENSE, math.sqrt(6 / 700)),
        (init.xavier_uniform, {"gain": 2.0}, CONV, 2 * math.sqrt(6 / (80 * 25))),
        (init.kaiming_uniform, {}, DENSE, math.sqrt(2) * math.sqrt(3 / 400)),
        (init.kaiming_uniform, {"a": SQRT5}, CONV, 1 / math.sqrt(16 * 25)),
        (
            init.kaiming_uniform,
            {"mode": "fan_out", "nonlinearity": "relu"},
            DENSE,
            math.sqrt(2) * math.sqrt(3 / 300),
        ),
        (
            init.kaiming_uniform,
            {"a": 0.2, "in_axis": -2, "out_axis": -1},
            HWIO,
            math.sqrt(2 / 1.04) * math.sqrt(3 / (64 * 9)),
        ),
    ],
)
def test_uniform_fan_initializers(fn, kwargs, shape, bound):
    x = np.asarray(fn(KEY, shape, **kwargs))
    assert np.abs(x).max() <= bound * (1 + 1e-6)
    assert np.abs(x).max() >= bound * (1 - 1e-3)  # see the module docstring
    check_moments(x, 0.0, bound / math.sqrt(3), 1.8)


@pytest.mark.parametrize(
    "fn, kwargs, shape, std",
    [
        (init.xavier_normal, {}, DENSE, math.sqrt(2 / 700)),
        (
            init.xavier_normal,
            {"gain": 0.5, "in_axis": -2, "out_axis": -1},
            HWIO,
            0.5 * math.sqrt(2 / ((64 + 128) * 9)),
        ),
        (init.kaiming_normal, {}, DENSE, math.sqrt(2 / 400)),
        (
            init.kaiming_normal,
            {"mode": "fan_out", "nonlinearity": "tanh"},
            CONV,
            5 / 3 / math.sqrt(64 * 25),
        ),
    ],
)
def test_normal_fan_initializers(fn, kwargs, shape, std):
    check_moments(fn(KEY, shape, **kwargs), 0.0, std, 3.0)


@pytest.mark.parametrize(
    "shape, gain",
    [((4, 6), 1), ((6, 4), 2.0), ((4, 2, 3), 0.5), ((64, 64), 1.0), ((16, 4, 5), 3.0)],
)
def test_orthogonal_is_orthogonal(shape, gain):
    w = np.asarray(init.orthogonal(KEY, shape, gain=gain), np.float64).reshape(shape[0], -1)
    rows, cols = w.shape
    gram = w @ w.T if rows <= cols else w.T @ w
    # float32 Householder QR: errors ~ n * eps; 64 * 1.2e-7 * 10 < 1e-4.
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(rows, cols)), atol=1e-4 * gain**2)


@pytest.mark.parametrize(
    "sparsity, zeros",
    [(0.3, 3), (0.25, 3), (1.5, 10), (-0.5, 5), (-0.15, 9), (-0.05, 0), (0.0, 0), (1.0, 10)],
)
def test_sparse_zeros_per_column(sparsity, zeros):
    # num_zeros = ceil(sparsity * rows), then perm[:num_zeros] (Python slicing): -0.5 * 10 ->
    # perm[:-5], 5 zeros; -0.15 * 10 -> ceil(-1.5) = -1 -> perm[:-1], 9 zeros; -0.05 -> 0.
    w = np.asarray(init.sparse(KEY, (10, 50), sparsity=sparsity, std=0.5))
    np.testing.assert_array_equal((w == 0).sum(axis=0), zeros)
    # The zeros sit at different rows in different columns.
    if 0 < zeros < 10:
        assert len({tuple(np.flatnonzero(c == 0)) for c in w.T}) > 1


def test_sparse_values():
    w = np.asarray(init.sparse(KEY, (1000, 400), sparsity=0.1, std=0.02))
    np.testing.assert_array_equal((w == 0).sum(axis=0), 100)
    check_moments(w[w != 0], 0.0, 0.02, 3.0)


# ---------------------------------------------------------------------------------------------
# Axes and real flax layers


def test_axes_move_the_fan():
    torch_layout = init.kaiming_uniform(KEY, (128, 64, 3, 3))
    flax_layout = init.kaiming_uniform(KEY, HWIO, in_axis=-2, out_axis=-1)
    bound = math.sqrt(2) * math.sqrt(3 / (64 * 9))
    for w in (torch_layout, flax_layout):
        assert float(jnp.abs(w).max()) <= bound
        assert float(jnp.abs(w).max()) >= bound * (1 - 1e-3)
    # Without the axes, a HWIO kernel is read as (out=3, in=3, rf=64*128): fan_in 24576.
    wrong = float(jnp.abs(init.kaiming_uniform(KEY, HWIO)).max())
    assert wrong <= math.sqrt(2) * math.sqrt(3 / (3 * 64 * 128)) < bound / 6


TORCH_LINEAR_INIT = partial(init.kaiming_uniform, a=SQRT5, in_axis=-2, out_axis=-1)


def check_torch_default_uniform(kernel, fan_in):
    """torch's Linear/Conv default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1 / math.sqrt(fan_in)
    assert float(jnp.abs(kernel).max()) <= bound
    assert float(jnp.abs(kernel).max()) >= bound * (1 - 1e-3)
    check_moments(kernel, 0.0, bound / math.sqrt(3), 1.8)


def test_flax_linen_dense_gets_torch_linear_numbers():
    import flax.linen as nn

    dense = nn.Dense(DENSE[1], kernel_init=TORCH_LINEAR_INIT)
    kernel = dense.init(KEY, jnp.zeros((1, DENSE[0])))["params"]["kernel"]
    assert kernel.shape == DENSE
    check_torch_default_uniform(kernel, fan_in=300)  # torch nn.Linear(300, 400)


def test_flax_linen_conv_gets_torch_conv_numbers():
    import flax.linen as nn

    conv = nn.Conv(128, (3, 3), kernel_init=TORCH_LINEAR_INIT)
    kernel = conv.init(KEY, jnp.zeros((1, 8, 8, 64)))["params"]["kernel"]
    assert kernel.shape == HWIO
    check_torch_default_uniform(kernel, fan_in=64 * 9)  # torch nn.Conv2d(64, 128, 3)


def test_flax_nnx_linear_gets_torch_linear_numbers():
    from flax import nnx

    layer = nnx.Linear(*DENSE, kernel_init=TORCH_LINEAR_INIT, rngs=nnx.Rngs(0))
    assert layer.kernel[...].shape == DENSE
    check_torch_default_uniform(layer.kernel[...], fan_in=300)
