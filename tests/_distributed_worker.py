"""One process of tests/test_distributed.py: 4 CPU devices, 2 processes, a loopback coordinator.

Usage: python _distributed_worker.py COORDINATOR PROCESS_ID OUT_DIR CKPT_DIR

Initialises an MLP straight onto a (4, 2) mesh spanning both processes, writes the shards this
process holds (``init_<pid>.npz``: one entry per shard, named ``name|start:stop,...``), saves a
sharded checkpoint (both processes together), loads it onto a (2, 4) mesh with other specs and
writes those shards too (``load_<pid>.npz``).
"""

import os
import sys


def model():
    from jaxinit import nn

    return nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 32), nn.LayerNorm(32))


def dump(variables, net, path):
    import numpy as np

    shards = {}
    for name, leaf in net.named_parameters(variables):
        assert not leaf.is_fully_addressable  # spans both processes
        for shard in leaf.addressable_shards:
            index = ",".join(
                f"{s.start or 0}:{s.stop if s.stop is not None else d}"
                for s, d in zip(shard.index, leaf.shape)
            )
            shards[f"{name}|{index}"] = np.asarray(shard.data)
    np.savez(path, **shards)


def main(coordinator: str, pid: int, out_dir: str, ckpt: str) -> None:
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    os.environ["JAX_PLATFORMS"] = "cpu"
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator, num_processes=2, process_id=pid, initialization_timeout=60
    )
    import numpy as np
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    import jaxinit

    assert jax.process_count() == 2 and len(jax.devices()) == 8 and len(jax.local_devices()) == 4
    devices = np.array(jax.devices())
    old = Mesh(devices.reshape(4, 2), ("data", "model"))
    net = model()
    variables = net.init(
        jax.random.key(7),
        sharding=lambda name, decl: NamedSharding(
            old, P("data", "model") if len(decl.shape) == 2 else P("data")
        ),
    )
    dump(variables, net, os.path.join(out_dir, f"init_{pid}.npz"))
    torch_init = net.init(jaxinit.TorchGenerator(5), sharding=NamedSharding(old, P("data")))
    dump(torch_init, net, os.path.join(out_dir, f"torch_{pid}.npz"))

    jaxinit.save_sharded(ckpt, variables)
    jaxinit.save_sharded(ckpt, variables, overwrite=True)  # the swap, synchronised across processes
    new = Mesh(devices.reshape(2, 4), ("x", "y"))
    like = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(
            x.shape,
            x.dtype,
            sharding=NamedSharding(new, P("y", "x") if x.ndim == 2 else P(("x", "y"))),
        ),
        variables,
    )
    loaded = jaxinit.load_sharded(ckpt, like=like)
    dump(loaded, net, os.path.join(out_dir, f"load_{pid}.npz"))
    print(f"worker {pid} done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
