"""net.init(TorchGenerator(s)) gives bitwise torch's initial weights after torch.manual_seed(s).

Each case builds the same architecture in torch and in jaxinit; torch is seeded right before
construction (it draws while constructing), jaxinit draws in construction order at init.
"""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tnn = torch.nn

from jaxinit import TorchGenerator, init, nn  # noqa: E402


def assert_bitwise(net, tmodel, seed, extra_draws=0):
    torch.manual_seed(seed)
    tm = tmodel()
    gen = TorchGenerator(seed)
    v = net().init(gen) if callable(net) else net.init(gen)
    jm = net() if callable(net) else net
    sd = jm.state_dict(v)
    tsd = tm.state_dict()
    assert list(sd) == list(tsd)
    for k, t in tsd.items():
        got = np.asarray(sd[k])
        want = t.numpy()
        if want.dtype == np.int64:
            assert got.dtype.kind == "i" and np.array_equal(got, want), k
            continue
        assert got.dtype == want.dtype, k
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), k
    # the generator consumed exactly what torch consumed
    assert np.array_equal(gen.get_state(), torch.get_rng_state().numpy())


@pytest.mark.parametrize("seed", [0, 123])
@pytest.mark.parametrize(
    "make",
    [
        lambda M: M.Linear(4, 3),
        lambda M: M.Linear(7, 5, bias=False),
        lambda M: M.Linear(1, 1),
        lambda M: M.Conv2d(3, 6, 5),
        lambda M: M.Conv2d(4, 8, 3, groups=2, bias=False),
        lambda M: M.Conv1d(2, 3, 4),
        lambda M: M.Embedding(3, 4),  # 12 values: torch's scalar normal path
        lambda M: M.Embedding(10, 4, padding_idx=2),  # fill path, padding row drawn then zeroed
        lambda M: M.BatchNorm2d(3),
        lambda M: M.LayerNorm(5),
    ],
)
def test_single_layers(make, seed):
    assert_bitwise(lambda: make(nn), lambda: make(tnn), seed)


def test_cached_scalar_normal_carries_between_layers():
    # two small embeddings: the second starts with the normal the first one cached
    def make(M):
        return M.Sequential(M.Embedding(1, 5), M.Embedding(3, 1), M.Linear(2, 2))

    assert_bitwise(lambda: make(nn), lambda: make(tnn), 5)


def test_shared_layer_built_first_is_drawn_first():
    """seed 000: `shared` is constructed before net1's other layers, so torch draws it first."""

    def make(M):
        shared = M.Linear(8, 8)
        return M.Sequential(
            M.Linear(4, 8), M.ReLU(), shared, M.ReLU(), shared, M.ReLU(), M.Linear(8, 1)
        )

    assert_bitwise(lambda: make(nn), lambda: make(tnn), 0)


def seed000(M):
    class Conv(M.Module):
        def __init__(self, c1, c2, k=1):
            super().__init__()
            self.conv = M.Conv2d(c1, c2, k, 1, k // 2, bias=False)
            self.bn = M.BatchNorm2d(c2)
            self.act = M.SiLU()

    class Net240302(M.Module):
        def __init__(self):
            super().__init__()
            self.A = M.Sequential(Conv(1, 1), Conv(1, 2))

    return Net240302()


def seed002(M):
    class Net(M.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = M.Conv2d(3, 6, 5)
            self.pool1 = M.MaxPool2d(2, 2)
            self.conv2 = M.Conv2d(6, 16, 5)
            self.pool2 = M.MaxPool2d(2, 2)
            self.fc1 = M.Linear(16 * 5 * 5, 120)
            self.fc2 = M.Linear(120, 84)
            self.fc3 = M.Linear(84, 10)

    return Net()


def seed003_mlp(M):
    class MLP(M.Module):
        def __init__(self):
            super().__init__()
            self.hidden = M.Linear(20, 256)
            self.output = M.Linear(256, 10)

    return MLP()


def seed004(M):
    class sim_net(M.Module):
        def __init__(self):
            super().__init__()
            self.l1 = M.Sequential(M.Linear(30, 40), M.ReLU())
            self.l2 = M.Sequential(M.Linear(40, 50), M.ReLU())
            self.l3 = M.Sequential(M.Linear(50, 10), M.ReLU())

    return sim_net()


@pytest.mark.parametrize("make", [seed000, seed002, seed003_mlp, seed004])
def test_seed_models(make):
    assert_bitwise(lambda: make(nn), lambda: make(tnn), 2024)


def test_custom_parameters_drawn_like_torch_randn():
    """seed 003's MyLinear: nn.Parameter(torch.randn(in, units)) == Parameter(shape, normal)."""

    class TMyLinear(tnn.Module):
        def __init__(self, in_units, units):
            super().__init__()
            self.weight = tnn.Parameter(torch.randn(in_units, units))
            self.bias = tnn.Parameter(torch.randn(units))

    class MyLinear(nn.Module):
        def __init__(self, in_units, units):
            super().__init__()
            self.weight = nn.Parameter((in_units, units), init.normal)
            self.bias = nn.Parameter((units,), init.normal)

    assert_bitwise(lambda: MyLinear(5, 3), lambda: TMyLinear(5, 3), 0)
    assert_bitwise(
        lambda: nn.Sequential(MyLinear(64, 8), MyLinear(8, 1)),
        lambda: tnn.Sequential(TMyLinear(64, 8), TMyLinear(8, 1)),
        1,
    )


def test_golden_linear_values_from_the_spec():
    v = nn.Linear(4, 3).init(TorchGenerator(0))
    np.testing.assert_array_equal(
        np.asarray(v["weight"][0]),
        np.array([-0.0037434101, 0.26822180, -0.41152257, -0.36796951], np.float32),
    )
    assert math.isclose(float(v["bias"][0]), -0.47767425, rel_tol=1e-7)


def test_float64_layers_under_x64():
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):
        torch.manual_seed(7)
        t = tnn.Sequential(
            tnn.Linear(6, 5, dtype=torch.float64), tnn.Embedding(9, 3, dtype=torch.float64)
        )
        net = nn.Sequential(
            nn.Linear(6, 5, dtype=jnp.float64), nn.Embedding(9, 3, dtype=jnp.float64)
        )
        v = net.init(TorchGenerator(7))
        for k, want in t.state_dict().items():
            got = np.asarray(net.get(v, k))
            assert got.dtype == np.float64
            assert np.array_equal(got.view(np.uint64), want.numpy().view(np.uint64)), k
