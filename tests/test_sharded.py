"""jaxinit.save_sharded / load_sharded (orbax) on 8 simulated devices: round trips, resharding,
ties, template reports, damaged directories, and a writer killed mid-save."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import jaxinit
from jaxinit import CheckpointError, nn


@pytest.fixture(scope="module")
def meshes():
    devices = np.array(jax.devices()[:8])
    return Mesh(devices.reshape(4, 2), ("data", "model")), Mesh(devices.reshape(2, 4), ("x", "y"))


def _tree(mesh):
    w = jax.device_put(
        jnp.arange(64 * 32, dtype=jnp.float32).reshape(64, 32),
        NamedSharding(mesh, P("data", "model")),
    )
    return {
        "enc": {"weight": w, "bias": jnp.arange(5, dtype=jnp.bfloat16)},
        "head": {"weight": w},  # a tie: the same array object
        "steps": [np.arange(3, dtype=np.int32), 7, "adam"],
        "pair": (1.5, None, True),
    }


def test_round_trip_keeps_structure_values_dtypes_and_ties(tmp_path, meshes):
    tree = _tree(meshes[0])
    jaxinit.save_sharded(tmp_path / "ck", tree)
    assert sorted(os.listdir(tmp_path)) == ["ck"]
    back = jaxinit.load_sharded(tmp_path / "ck")
    assert back["steps"][1:] == [7, "adam"] and back["pair"] == (1.5, None, True)
    np.testing.assert_array_equal(back["enc"]["weight"], tree["enc"]["weight"])
    assert back["enc"]["bias"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(back["steps"][0], np.arange(3))
    assert back["head"]["weight"] is back["enc"]["weight"]  # tie: one leaf
    # dotted torch names are orbax's keys; the tie is stored once
    from jaxinit.serialization import sharded

    stored = sharded._checkpointer().metadata(str(tmp_path / "ck")).item_metadata["arrays"].tree
    assert sorted(stored) == ["enc.bias", "enc.weight", "steps.0"]


def test_restore_onto_another_mesh_and_one_device(tmp_path, meshes):
    old, new = meshes
    net = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 16))
    key = jax.random.key(3)
    variables = net.init(
        key,
        sharding=lambda n, d: NamedSharding(
            old, P("data", "model") if len(d.shape) == 2 else P("data")
        ),
    )
    jaxinit.save_sharded(tmp_path / "ck", variables)
    spec = NamedSharding(new, P("y", "x"))
    like = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=spec if x.ndim == 2 else None),
        variables,
    )
    back = jaxinit.load_sharded(tmp_path / "ck", like=like)
    plain = net.init(key)
    for (name, got), (_, want) in zip(net.named_parameters(back), net.named_parameters(plain)):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want), err_msg=name)
    assert back["0"]["weight"].sharding == spec
    assert back["0"]["weight"].addressable_shards[0].data.shape == (16, 16)
    assert back["0"]["bias"].sharding.device_set == {jax.local_devices()[0]}
    one = jaxinit.load_sharded(
        tmp_path / "ck", sharding=jax.sharding.SingleDeviceSharding(jax.devices()[5])
    )
    assert one["2"]["weight"].devices() == {jax.devices()[5]}


def test_template_errors_in_torch_format_and_strict_false(tmp_path):
    jaxinit.save_sharded(tmp_path / "ck", {"a": {"weight": jnp.ones((2, 3))}, "b": jnp.ones(4)})
    like = {
        "a": {"weight": jax.ShapeDtypeStruct((3, 3), jnp.float32)},
        "c": jax.ShapeDtypeStruct((4,), jnp.float32),
    }
    with pytest.raises(CheckpointError) as err:
        jaxinit.load_sharded(tmp_path / "ck", like=like)
    msg = str(err.value)
    assert "Error(s) in loading state_dict from" in msg
    assert 'Missing key(s) in state_dict: "c". ' in msg
    assert 'Unexpected key(s) in state_dict: "b". ' in msg
    assert (
        "size mismatch for a.weight: copying a param with shape (2, 3) from checkpoint, the "
        "shape in current model is (3, 3)."
    ) in msg
    like["a"]["weight"] = jax.ShapeDtypeStruct((2, 3), jnp.float32)
    fallback = jnp.zeros(4)
    like["c"] = fallback
    tree, keys = jaxinit.load_sharded(tmp_path / "ck", like=like, strict=False)
    assert keys.missing_keys == ["c"] and keys.unexpected_keys == ["b"]
    assert tree["c"] is fallback and tree["a"]["weight"].shape == (2, 3)
    flat = jaxinit.load_sharded(
        tmp_path / "ck", like={"a.weight": jnp.zeros((2, 3)), "b": jnp.zeros(4)}
    )
    np.testing.assert_array_equal(flat["a.weight"], np.ones((2, 3)))  # flat names fit nested


def test_missing_partial_damaged_and_existing_directories(tmp_path):
    with pytest.raises(CheckpointError, match="no sharded checkpoint here"):
        jaxinit.load_sharded(tmp_path / "nothing")
    jaxinit.save_sharded(tmp_path / "ck", {"w": jnp.ones(8)})
    with pytest.raises(FileExistsError, match="overwrite=True"):
        jaxinit.save_sharded(tmp_path / "ck", {"w": jnp.zeros(8)})
    jaxinit.save_sharded(tmp_path / "ck", {"w": jnp.zeros(8)}, overwrite=True)
    np.testing.assert_array_equal(jaxinit.load_sharded(tmp_path / "ck")["w"], np.zeros(8))
    assert sorted(os.listdir(tmp_path)) == ["ck"]
    import shutil

    shutil.copytree(tmp_path / "ck", tmp_path / "partial")
    shutil.rmtree(tmp_path / "partial" / "jaxinit")
    with pytest.raises(CheckpointError, match="'jaxinit' is missing"):
        jaxinit.load_sharded(tmp_path / "partial")
    shutil.copytree(tmp_path / "ck", tmp_path / "damaged")
    for root, _, files in os.walk(tmp_path / "damaged" / "arrays"):
        for f in files:
            if os.sep + "d" in root:  # the data files
                os.remove(os.path.join(root, f))
    with pytest.raises(CheckpointError, match="damaged sharded checkpoint"):
        jaxinit.load_sharded(tmp_path / "damaged")
    jaxinit.save_sharded(tmp_path / "bare", jnp.arange(3))  # a single array, as jaxinit.save
    np.testing.assert_array_equal(jaxinit.load_sharded(tmp_path / "bare"), np.arange(3))
    with pytest.raises(TypeError, match="neither an array nor a JSON scalar"):
        jaxinit.save_sharded(tmp_path / "bad", {"f": object()})


WRITER = textwrap.dedent("""
    import os, sys, time
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    os.environ["JAX_PLATFORMS"] = "cpu"
    import jax, jax.numpy as jnp, jaxinit
    big = {f"layer{i}.weight": jnp.full((2048, 2048), float(i)) for i in range(12)}
    jax.block_until_ready(big)
    # never finish: a save that has not reached its last rename by the time it is killed
    os.replace = os.rename = lambda *args: time.sleep(3600)
    print("ready", flush=True)
    jaxinit.save_sharded(sys.argv[1], big, overwrite=True)
    print("done", flush=True)
""")


def test_killed_writer_leaves_previous_checkpoint_intact(tmp_path):
    target = tmp_path / "ck"
    jaxinit.save_sharded(target, {"w": jnp.arange(6.0)})
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # kill once the new checkpoint is being written
            if any(name.startswith("ck.jaxinit-new") for name in os.listdir(tmp_path)):
                break
            time.sleep(0.01)
        else:
            pytest.fail("the writer never started writing")
        proc.send_signal(signal.SIGKILL)  # while orbax writes, or at the latest before the swap
        assert proc.wait(30) == -signal.SIGKILL  # killed, not finished
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    np.testing.assert_array_equal(jaxinit.load_sharded(target)["w"], np.arange(6.0))
    jaxinit.save_sharded(target, {"w": jnp.ones(2)}, overwrite=True)  # the leftover is cleared
    np.testing.assert_array_equal(jaxinit.load_sharded(target)["w"], np.ones(2))
    assert sorted(os.listdir(tmp_path)) == ["ck"]
