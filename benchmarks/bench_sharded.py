"""Sharded checkpoints: jaxinit.save_sharded / load_sharded against orbax used directly.

The payload is a stack of ``nn.Linear(4096, 4096)`` layers (64 MiB of float32 weight each),
``--size`` GB in all, initialised by ``net.init(key, sharding=...)`` straight onto a (4, 2) mesh
of 8 simulated CPU devices (weights ``P("data", "model")``, biases ``P("data")``). Contenders,
on the same tree:

* jaxinit: ``jaxinit.save_sharded(dir, variables)`` / ``jaxinit.load_sharded(dir, like=abstract)``
  (dotted names, ties, the template check, the no-damage overwrite);
* orbax: ``ocp.StandardCheckpointer().save(dir, variables)`` + ``wait_until_finished()`` /
  ``.restore(dir, abstract)`` -- the nested tree, no checks.

Both restore onto the mesh they were saved from (``abstract`` carries the shardings). Repeats
are interleaved (jaxinit, orbax, orbax, jaxinit, ...) so a busy machine slows both alike; the
figures are medians. Memory: the process's peak resident set during the call (VmHWM, reset
through /proc/self/clear_refs) minus its resident set before, in units of the payload.

    python benchmarks/bench_sharded.py [--size 1.0] [--repeats 3] [--dir /tmp]

Linux only (it reads /proc).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import Mesh, NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402


def _rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _hwm() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _measure(fn):
    """``(seconds, extra peak bytes, result)`` of ``fn()``."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    before = _rss()
    start = time.perf_counter()
    result = fn()
    jax.block_until_ready(result)
    seconds = time.perf_counter() - start
    return seconds, _hwm() - before, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=float, default=1.0, help="payload in GB (1e9 bytes)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    args = parser.parse_args()

    import orbax.checkpoint as ocp

    import jaxinit
    from jaxinit import nn

    layers = max(1, round(args.size * 1e9 / (4096 * 4097 * 4)))
    net = nn.Sequential(*[nn.Linear(4096, 4096) for _ in range(layers)])
    mesh = Mesh(np.array(jax.devices()[:8]).reshape(4, 2), ("data", "model"))

    def layout(name, decl):
        return NamedSharding(mesh, P("data", "model") if len(decl.shape) == 2 else P("data"))

    t_init, m_init, variables = _measure(lambda: net.init(jax.random.key(0), sharding=layout))
    payload = sum(x.nbytes for x in jax.tree.leaves(variables))
    abstract = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), variables
    )
    print(
        f"payload: {layers} x Linear(4096, 4096) = {payload / 1e9:.2f} GB "
        f"({payload // 4:,} float32 parameters) on {len(mesh.devices.flat)} devices"
    )
    print(f"init: {t_init:.2f} s, extra peak {m_init / payload:.2f}x payload")

    root = tempfile.mkdtemp(prefix="bench_sharded_", dir=args.dir)
    orbax_ckpt = ocp.StandardCheckpointer()

    def save_jaxinit(path):
        jaxinit.save_sharded(path, variables)

    def save_orbax(path):
        orbax_ckpt.save(path, variables)
        orbax_ckpt.wait_until_finished()

    loads = {
        "jaxinit": lambda path: jaxinit.load_sharded(path, like=abstract),
        "orbax": lambda path: orbax_ckpt.restore(path, abstract),
    }
    saves = {"jaxinit": save_jaxinit, "orbax": save_orbax}
    small = {"w": variables["0"]["bias"]}  # warm-up: imports, thread pools, first-call costs
    for who, path in (("jaxinit", "warm_j"), ("orbax", "warm_o")):
        path = os.path.join(root, path)
        (jaxinit.save_sharded if who == "jaxinit" else orbax_ckpt.save)(path, small)
        orbax_ckpt.wait_until_finished()
        if who == "jaxinit":
            jaxinit.load_sharded(path)
        else:
            orbax_ckpt.restore(path)
    times: dict[tuple[str, str], list[float]] = {}
    peaks: dict[tuple[str, str], list[int]] = {}
    try:
        for r in range(args.repeats):
            order = ["jaxinit", "orbax"] if r % 2 == 0 else ["orbax", "jaxinit"]
            for who in order:
                path = os.path.join(root, f"{who}_{r}")
                t, m, _ = _measure(lambda w=who, p=path: saves[w](p))
                times.setdefault(("save", who), []).append(t)
                peaks.setdefault(("save", who), []).append(m)
                t, m, loaded = _measure(lambda w=who, p=path: loads[w](p))
                times.setdefault(("load", who), []).append(t)
                peaks.setdefault(("load", who), []).append(m)
                del loaded
                shutil.rmtree(path)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print("\n| op | contender | median s | GB/s | extra peak (x payload) | jaxinit / orbax time |")
    print("|---|---|---|---|---|---|")
    for op in ("save", "load"):
        base = statistics.median(times[(op, "orbax")])
        for who in ("jaxinit", "orbax"):
            t = statistics.median(times[(op, who)])
            m = statistics.median(peaks[(op, who)])
            ratio = f"{t / base:.2f}" if who == "jaxinit" else ""
            print(
                f"| {op} | {who} | {t:.2f} | {payload / 1e9 / t:.2f} | {m / payload:.2f} | "
                f"{ratio} |"
            )


if __name__ == "__main__":
    main()
