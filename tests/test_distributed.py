"""Multi-process init and sharded checkpoints for real: 2 local processes x 4 CPU devices, a
loopback coordinator started and stopped here, everything bounded in time."""

import os
import socket
import subprocess
import sys
import time

import jax
import numpy as np

import jaxinit
from tests._distributed_worker import model

WORKER = os.path.join(os.path.dirname(__file__), "_distributed_worker.py")
TIMEOUT_S = 50


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _shards(path):
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}


def test_two_processes_init_their_shards_bitwise_and_save_load_resharded(tmp_path):
    coordinator = f"127.0.0.1:{_free_port()}"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    env.pop("XLA_FLAGS", None)
    procs = [
        subprocess.Popen(
            [sys.executable, WORKER, coordinator, str(i), str(tmp_path), str(tmp_path / "ckpt")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    deadline = time.monotonic() + TIMEOUT_S
    outputs = []
    try:
        for proc in procs:
            try:
                out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                out = "(timed out)"
            outputs.append(out)
    finally:
        for proc in procs:  # always stopped, whatever happened
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [p.returncode for p in procs] == [0, 0], "\n".join(o[-3000:] for o in outputs)

    net = model()
    jax_init = dict(net.named_parameters(net.init(jax.random.key(7))))  # one process, unsharded
    torch_init = dict(net.named_parameters(net.init(jaxinit.TorchGenerator(5))))
    for stage in ("init", "load", "torch"):
        plain = torch_init if stage == "torch" else jax_init
        covered = {name: np.zeros(np.shape(v), bool) for name, v in plain.items()}
        per_process = [_shards(tmp_path / f"{stage}_{i}.npz") for i in range(2)]
        for shards in per_process:
            for key, value in shards.items():
                name, index = key.split("|")
                region = tuple(slice(*map(int, part.split(":"))) for part in index.split(","))
                np.testing.assert_array_equal(
                    value, np.asarray(plain[name])[region], err_msg=f"{stage} {key}"
                )
                assert value.size < np.size(plain[name])  # no process holds a whole variable
                covered[name][region] = True
        assert all(c.all() for c in covered.values()), stage  # together: every element
        # each process held only its own devices' shards: 4 of the 8 for a 2-D weight
        # (torch stage: P("data") replicated over "model", so 2 distinct blocks per process)
        assert sum(k.startswith("0.weight|") for k in per_process[0]) == (
            2 if stage == "torch" else 4
        )


def test_sharded_init_program_holds_only_its_shard_per_device():
    """What each process runs for a sharded variable: a program whose per-device output is the
    shard and whose temporaries are tiny (jax_threefry_partitionable, the default); with the
    original Threefry layout every device would hold the whole variable in temporaries."""
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    from jaxinit import nn
    from jaxinit.nn import _initialize
    from jaxinit.nn._plan import plan_of

    mesh = Mesh(np.array(jax.devices()[:8]).reshape(4, 2), ("data", "model"))
    decl = plan_of(nn.Linear(1024, 2048)).entries["weight"]
    full = decl.size * 4
    with jax.threefry_partitionable(True):
        sampler = _initialize._sampler(
            decl.init, decl.shape, decl.dtype, NamedSharding(mesh, P("data", "model"))
        )
        memory = sampler.lower(jax.random.key(0), np.uint32(1)).compile().memory_analysis()
    assert memory.output_size_in_bytes == full // 8
    assert memory.temp_size_in_bytes < full // 64
