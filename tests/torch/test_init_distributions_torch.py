"""jaxinit.init against torch.nn.init (torch 2.13 CPU), random initializers.

* distributions: two-sample Kolmogorov-Smirnov tests (>= 1e5 values a side, fixed seeds) plus
  moments and bounds, for every random initializer at several shapes;
* with a jaxinit.generator.TorchGenerator: bit for bit equal to torch with the same seed.

False-failure rates. A KS test fails when its asymptotic p-value is below P_MIN = 1e-6: under
the null hypothesis (same distribution) that happens with probability <= 1e-6 per test (ties
between float values only make the asymptotic p-value conservative). A moment check fails
beyond 6 standard errors of the difference of the two samples: <= 2e-9 each. With about 25 KS
tests and 50 moment checks the file's false-failure rate is below 3e-5 for random seeds; with
the fixed seeds it is deterministic. Power: at n = m = 1e5 the KS statistic's threshold is
about 0.012, so a 5% error in a std is caught by KS and a 1% error by the moment checks.
"""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from _init_torch_helpers import (  # noqa: E402
    KEY,
    T,
    as_numpy,
    one_torch_thread,  # noqa: F401  (autouse fixture)
    recorded,
    tensor,
)
from scipy import stats  # noqa: E402  (scipy ships with jax)

from jaxinit import init  # noqa: E402
from jaxinit.generator import TorchGenerator  # noqa: E402

SQRT5 = math.sqrt(5)
P_MIN = 1e-6
N_MIN = 100_000


# ---------------------------------------------------------------------------------------------
# Distributions: KS, moments and bounds against torch's own samples


def torch_samples(fn, shape, seed=0, dtype=torch.float32, n_min=N_MIN, **kwargs):
    """At least n_min values from repeated torch calls on a fresh tensor of `shape`."""
    torch.manual_seed(seed)
    reps = -(-n_min // math.prod(shape))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.concatenate(
            [as_numpy(fn(tensor(shape, dtype), **kwargs)).ravel() for _ in range(reps)]
        ).astype(np.float64)


def jax_samples(fn, shape, seed=0, dtype=jnp.float32, n_min=N_MIN, **kwargs):
    """At least n_min values: one call, or one call per key batched by vmap."""
    reps = -(-n_min // math.prod(shape))
    key = jax.random.key(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if reps == 1:
            x = fn(key, shape, dtype, **kwargs)
        else:
            keys = jax.random.split(key, reps)
            x = jax.jit(jax.vmap(lambda k: fn(k, shape, dtype, **kwargs)))(keys)
    return np.asarray(x, np.float64).ravel()


def check_same_distribution(ours, theirs):
    assert ours.size >= N_MIN and theirs.size >= N_MIN
    result = stats.ks_2samp(ours, theirs, method="asymp")
    assert result.pvalue > P_MIN, (result.statistic, result.pvalue)
    # Moments: the difference of the two sample means/stds within 6 standard errors.
    n, m = ours.size, theirs.size
    se_mean = math.sqrt(ours.var() / n + theirs.var() / m)
    assert abs(ours.mean() - theirs.mean()) <= 6 * se_mean
    kurt = stats.kurtosis(theirs, fisher=False)
    se_std = theirs.std() * math.sqrt((kurt - 1) / 4 * (1 / n + 1 / m))
    assert abs(ours.std() - theirs.std()) <= 6 * se_std


# Shapes of >= 1e5 values are drawn in one call (and share one compile per shape and sampler:
# uniform/xavier_uniform/kaiming_uniform, normal/xavier_normal/kaiming_normal); smaller ones
# are drawn once per key under vmap.
LINEAR = (400, 300)  # nn.Linear(300, 400)
CONV = (256, 64, 3, 3)  # nn.Conv2d(64, 256, 3), nn.Conv2d(256, 256, 3, groups=4) and
#                         nn.ConvTranspose2d(256, 128, 3, groups=2) all have this weight shape
DISTRIBUTION_CASES = [
    # (name, shape, kwargs)
    ("uniform", LINEAR, {"a": -0.3, "b": 0.4}),
    ("kaiming_uniform", LINEAR, {"a": 0.2, "mode": "fan_out"}),
    ("xavier_uniform", CONV, {"gain": 2.0}),
    ("kaiming_uniform", CONV, {"a": SQRT5}),  # torch's Conv default
    ("kaiming_uniform", (5, 3), {"a": SQRT5}),  # torch's nn.Linear(3, 5) default
    ("normal", LINEAR, {"mean": 0.5, "std": 2.0}),
    ("kaiming_normal", LINEAR, {}),
    ("xavier_normal", CONV, {"gain": math.sqrt(2)}),
    ("kaiming_normal", CONV, {"mode": "fan_out", "nonlinearity": "relu"}),
    ("normal", (5,), {"std": 0.02}),  # torch's scalar (< 16 values) path
    ("trunc_normal", LINEAR, {}),
    ("trunc_normal", LINEAR, {"std": 0.02}),  # absolute bounds: effectively untruncated
    ("trunc_normal", LINEAR, {"mean": 0.5, "std": 2.0, "a": 0.0, "b": 3.0}),
    ("trunc_normal", LINEAR, {"a": 1.0, "b": 1.5}),  # p <= 0.3: uniform proposals
    ("trunc_normal", LINEAR, {"mean": 1.0, "std": 0.1, "a": 1.5, "b": 1.7}),  # 5-7 std out
    ("orthogonal", (10, 30), {}),
    ("orthogonal", (50, 10), {"gain": 2.0}),
]


@pytest.mark.parametrize(
    "name, shape, kwargs",
    DISTRIBUTION_CASES,
    ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in DISTRIBUTION_CASES],
)
def test_same_distribution_as_torch(name, shape, kwargs):
    seed = DISTRIBUTION_CASES.index((name, shape, kwargs))  # independent draws per case
    theirs = torch_samples(getattr(T, name + "_"), shape, seed=seed, **kwargs)
    ours = jax_samples(getattr(init, name), shape, seed=seed, **kwargs)
    check_same_distribution(ours, theirs)
    # Bounds: ours never leaves the support torch's values come from.
    if name == "trunc_normal":
        assert kwargs.get("a", -2.0) <= ours.min() and ours.max() <= kwargs.get("b", 2.0)
    if name.endswith("uniform"):
        ((low, high),) = recorded(getattr(T, name + "_"), getattr(init, name), shape, **kwargs)[0]
        assert low <= ours.min() and ours.max() < high
        assert low <= theirs.min() and theirs.max() < high


def test_trunc_normal_bfloat16_matches_torch():
    theirs = torch_samples(T.trunc_normal_, LINEAR, dtype=torch.bfloat16, std=0.5)
    ours = jax_samples(init.trunc_normal, LINEAR, dtype=jnp.bfloat16, std=0.5)
    check_same_distribution(ours, theirs)
    assert -2.0 <= ours.min() and ours.max() <= 2.0


def test_sparse_matches_torch():
    shape, kwargs = (200, 1000), {"sparsity": 0.1, "std": 0.02}
    theirs = torch_samples(T.sparse_, shape, **kwargs).reshape(shape)
    ours = jax_samples(init.sparse, shape, **kwargs).reshape(shape)
    for w in (ours, theirs):  # exactly ceil(0.1 * 200) = 20 zeros in every column
        np.testing.assert_array_equal((w == 0).sum(axis=0), 20)
    check_same_distribution(ours[ours != 0], theirs[theirs != 0])


@pytest.mark.parametrize("sparsity", [1.5, 1.0, 0.25, 0.0, -0.05, -0.15, -0.5])
def test_sparse_zero_counts_match_torch(sparsity):
    torch.manual_seed(0)
    theirs = as_numpy(T.sparse_(tensor((10, 50)), sparsity))
    ours = np.asarray(init.sparse(KEY, (10, 50), sparsity=sparsity))
    np.testing.assert_array_equal((ours == 0).sum(axis=0), (theirs == 0).sum(axis=0))


@pytest.mark.parametrize(
    "shape, gain", [((3, 5), 1), ((5, 3), 2.0), ((16, 4, 3, 3), 0.5), ((64, 64), 1.0)]
)
def test_orthogonal_gram_matches_torch(shape, gain):
    torch.manual_seed(0)
    theirs = as_numpy(T.orthogonal_(tensor(shape), gain)).reshape(shape[0], -1)
    ours = np.asarray(init.orthogonal(KEY, shape, gain=gain)).reshape(shape[0], -1)
    for w in (theirs, ours):
        w = w.astype(np.float64)
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        # float32 QR: deviations ~ n * eps = 64 * 1.2e-7 < 1e-5; 1e-4 leaves room.
        np.testing.assert_allclose(gram, gain**2 * np.eye(len(gram)), atol=1e-4 * gain**2)


@pytest.mark.parametrize(
    "tdt, jdt, high",
    [(torch.bfloat16, jnp.bfloat16, 1.0078125), (torch.float16, jnp.float16, 1.0009765625)],
)
def test_half_uniform_wraps_high_to_low_like_torch(tdt, jdt, high):
    theirs = as_numpy(T.uniform_(tensor(10000, tdt), 1.0, high))
    ours = np.asarray(init.uniform(KEY, (10000,), jdt, a=1.0, b=high), np.float32)
    np.testing.assert_array_equal(theirs, 1.0)
    np.testing.assert_array_equal(ours, theirs)


# ---------------------------------------------------------------------------------------------
# With a TorchGenerator: torch's draws, bit for bit


def same_bits(ours, theirs):
    np.testing.assert_array_equal(np.asarray(ours), as_numpy(theirs))


GENERATOR_CASES = [
    ("uniform", (1000,), {"a": -0.3, "b": 0.4}),
    ("normal", (1003,), {"mean": 0.5, "std": 2.0}),
    ("normal", (5,), {}),
    ("xavier_uniform", (300, 40), {"gain": 2.0}),
    ("xavier_normal", (64, 4, 3, 3), {}),
    ("kaiming_uniform", (5, 3), {"a": SQRT5}),
    ("kaiming_normal", (17, 9), {"mode": "fan_out"}),
    ("trunc_normal", (1000,), {}),  # p > 0.3: normal with full-size redraws
    ("trunc_normal", (7,), {"std": 3.0}),  # the scalar normal path, many redraws
    ("trunc_normal", (1000,), {"a": 1.0, "b": 1.5}),  # p <= 0.3: uniform proposals
    ("trunc_normal", (999,), {"mean": 1.0, "std": 0.1, "a": 1.5, "b": 1.7}),
]


@pytest.mark.parametrize(
    "name, shape, kwargs", GENERATOR_CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in GENERATOR_CASES]
)
def test_generator_is_torch_bit_for_bit(name, shape, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = getattr(T, name + "_")(
            tensor(shape), generator=torch.Generator().manual_seed(5), **kwargs
        )
        ours = getattr(init, name)(TorchGenerator(5), shape, **kwargs)
    same_bits(ours, theirs)


def test_generator_trunc_normal_bfloat16_uniform_path():
    kwargs = {"a": 1.0, "b": 1.5}
    theirs = T.trunc_normal_(
        tensor(500, torch.bfloat16), generator=torch.Generator().manual_seed(3), **kwargs
    )
    ours = init.trunc_normal(TorchGenerator(3), (500,), jnp.bfloat16, **kwargs)
    np.testing.assert_array_equal(np.asarray(ours, np.float32), as_numpy(theirs))


def test_generator_sparse_matches_global_seed():
    # torch draws sparse_'s permutations from the global generator: with manual_seed(s) and no
    # generator= the global generator is both streams, which is what ours replays.
    torch.manual_seed(11)
    theirs = T.sparse_(tensor((30, 20)), 0.3, 0.5)
    same_bits(init.sparse(TorchGenerator(11), (30, 20), sparsity=0.3, std=0.5), theirs)


def test_generator_orthogonal():
    for shape in [(3, 5), (20, 4), (8, 2, 3, 3)]:
        theirs = T.orthogonal_(tensor(shape), 2.0, generator=torch.Generator().manual_seed(2))
        ours = init.orthogonal(TorchGenerator(2), shape, gain=2.0)
        # Same normal draws; QR differs from LAPACK by rounding only.
        np.testing.assert_allclose(np.asarray(ours), as_numpy(theirs), atol=1e-5)


def test_generator_consumes_torch_stream():
    # Two calls in a row continue the stream exactly as torch's generator does.
    g, tg = TorchGenerator(7), torch.Generator().manual_seed(7)
    for _ in range(2):
        same_bits(init.kaiming_uniform(g, (4, 5)), T.kaiming_uniform_(tensor((4, 5)), generator=tg))
        same_bits(init.normal(g, (3,)), T.normal_(tensor(3), generator=tg))


def test_generator_draws_nothing_for_empty_shapes():
    g = TorchGenerator(1)
    state = g.get_state()
    init.uniform(g, (0, 3))
    init.normal(g, (4, 0))
    init.trunc_normal(g, (0,))
    init.orthogonal(g, (0, 3))
    init.sparse(g, (3, 0), sparsity=0.5)
    np.testing.assert_array_equal(g.get_state(), state)
