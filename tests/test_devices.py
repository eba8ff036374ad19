"""jaxinit/devices.py and sharded init on 8 simulated CPU devices (tests/conftest.py)."""

import jax
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxinit import nn
from jaxinit.devices import devices_of, to_device, try_all_gpus, try_gpu

KEY = jax.random.key(0)


def test_try_gpu_falls_back_to_cpu():
    has_gpu = any(d.platform == "gpu" for d in jax.devices())
    assert try_gpu(10).platform == "cpu"
    assert try_gpu().platform == ("gpu" if has_gpu else "cpu")
    assert all(d.platform == ("gpu" if has_gpu else "cpu") for d in try_all_gpus())


def test_to_device_and_devices_of():
    net = nn.Sequential(nn.Linear(3, 1))
    v = net.init(KEY)
    dev = jax.devices()[1]
    moved = to_device(v, dev)
    assert devices_of(moved) == {dev}
    np.testing.assert_array_equal(moved["0"]["weight"], v["0"]["weight"])


@pytest.fixture
def mesh():
    if len(jax.devices()) < 8:
        pytest.skip("needs 8 devices (XLA_FLAGS=--xla_force_host_platform_device_count=8)")
    return Mesh(np.array(jax.devices()[:8]).reshape(4, 2), ("data", "model"))


def test_sharded_init_equals_unsharded_and_each_device_holds_its_shard(mesh):
    net = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 64))

    def layout(name, decl):
        spec = P("model", "data") if len(decl.shape) == 2 else P("model")
        return NamedSharding(mesh, spec)

    sharded = net.init(KEY, sharding=layout)
    plain = net.init(KEY)
    for name, leaf in net.named_parameters(sharded):
        ref = net.get(plain, name)
        np.testing.assert_array_equal(np.asarray(leaf), np.asarray(ref))
        assert len(leaf.addressable_shards) == 8
        full = np.prod(leaf.shape)
        for shard in leaf.addressable_shards:
            assert shard.data.size < full  # no device holds the whole array
    w = sharded["0"]["weight"]
    assert w.sharding.spec == P("model", "data")
    assert w.addressable_shards[0].data.shape == (128, 16)
