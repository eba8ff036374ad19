"""Cold and warm init of a GPT-2-small-sized model (124M parameters, torch's default init):
torch, flax nnx, equinox, one naive jax.jit, and jaxinit, side by side in one run.

* cold: in a FRESH subprocess, from the framework imported to every parameter ready
  (compile included);
* warm: a second init in the same process with a new key/seed;
* compile overhead (jaxinit): the durations jax reports for tracing, lowering and compiling
  (``jax.monitoring`` events) during the cold init, at 12 and at ``--deep`` blocks, with and
  without the garbage collector's pauses that fell inside them (``gc.callbacks``);
* peak memory (jaxinit): VmHWM after the init minus VmRSS before it, over the parameters' bytes;
* ``jaxinit_cached``: jaxinit with jax's persistent compilation cache switched on (filled by one
  untimed process first): what a short-lived process pays when the compiled programs are on disk.

torch runs at 1 and at 2 intra-op threads (``torch1``, ``torch2``); ratios are to the faster of
the two, cold and warm separately.

Run: ``python benchmarks/bench_init.py [--repeats 3] [--only torch1,torch2,jaxinit] [--deep 96]``.
Each contender/repeat is its own subprocess, run interleaved so load drifts hit all alike.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time

D, VOCAB, CONTEXT = 768, 50257, 1024
CONTENDERS = ("torch1", "torch2", "jaxinit", "jaxinit_cached", "flax_nnx", "equinox", "naive_jit")
TORCH = ("torch1", "torch2")  # torch at 1 and 2 intra-op threads; ratios are to the faster


def _rss(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


# -- one contender per function: returns (cold_s, warm_s, n_params) --------------------------


def gpt_class(nn, blocks: int):
    """The GPT-2-small parameter layout, written once for torch.nn and jaxinit.nn alike."""

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(D), nn.LayerNorm(D)
            self.c_attn, self.c_proj = nn.Linear(D, 3 * D), nn.Linear(D, D)
            self.c_fc, self.mlp_proj = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(VOCAB, D), nn.Embedding(CONTEXT, D)
            self.h = nn.ModuleList([Block() for _ in range(blocks)])
            self.ln_f = nn.LayerNorm(D)

    return GPT


def run_torch(blocks: int, threads: int):
    import torch
    from torch import nn

    torch.set_num_threads(threads)

    GPT = gpt_class(nn, blocks)

    def build(seed):
        torch.manual_seed(seed)
        t = time.perf_counter()
        net = GPT()
        return time.perf_counter() - t, net

    cold, net = build(0)
    warm, _ = build(1)
    return cold, warm, sum(p.numel() for p in net.parameters())


def run_jaxinit(blocks: int, memory: bool = False):
    import jax

    from jaxinit import nn

    GPT = gpt_class(nn, blocks)

    # jax's own tracing/lowering/compiling intervals during the cold init, and the garbage
    # collector's pauses: a full collection (~50 ms) lands inside one of them or not by chance.
    compiles, pauses = [], []

    def on_event(event, secs, **kw):
        if "/compile/" in event:
            compiles.append((time.perf_counter() - secs, time.perf_counter()))

    def on_gc(phase, info):  # pauses: (start, end) pairs
        now = time.perf_counter()
        pauses.append(now if phase == "start" else (pauses.pop(), now))

    jax.monitoring.register_event_duration_secs_listener(on_event)
    net = GPT()  # a static description: no arrays yet
    rss0 = _rss("VmRSS")
    gc.callbacks.append(on_gc)
    t = time.perf_counter()
    v = jax.block_until_ready(net.init(jax.random.key(0)))
    cold = time.perf_counter() - t
    gc.callbacks.remove(on_gc)
    compiled = sum(b - a for a, b in compiles)
    gc_in_compile = sum(max(0.0, min(b, d) - max(a, c)) for a, b in compiles for c, d in pauses)
    peak = _rss("VmHWM") - rss0
    leaves = jax.tree.leaves(v)
    n = sum(x.size for x in leaves)
    nbytes = sum(x.nbytes for x in leaves)
    if memory:
        return peak, nbytes
    del v, leaves
    gc.collect()
    t = time.perf_counter()
    jax.block_until_ready(net.init(jax.random.key(1)))
    return cold, time.perf_counter() - t, n, compiled, gc_in_compile


def _uniform_bias(fan_in):
    import jax

    bound = 1 / fan_in**0.5
    return lambda key, shape, dtype: jax.random.uniform(key, shape, dtype, -bound, bound)


def run_flax_nnx(blocks: int):
    import jax
    from flax import nnx

    kaiming = nnx.initializers.variance_scaling(1 / 3, "fan_in", "uniform")  # torch default

    def linear(i, o, rngs):
        return nnx.Linear(i, o, kernel_init=kaiming, bias_init=_uniform_bias(i), rngs=rngs)

    class Block(nnx.Module):
        def __init__(self, rngs):
            self.ln_1, self.ln_2 = nnx.LayerNorm(D, rngs=rngs), nnx.LayerNorm(D, rngs=rngs)
            self.c_attn, self.c_proj = linear(D, 3 * D, rngs), linear(D, D, rngs)
            self.c_fc, self.mlp_proj = linear(D, 4 * D, rngs), linear(4 * D, D, rngs)

    class GPT(nnx.Module):
        def __init__(self, rngs):
            normal = nnx.initializers.normal(1.0)
            self.wte = nnx.Embed(VOCAB, D, embedding_init=normal, rngs=rngs)
            self.wpe = nnx.Embed(CONTEXT, D, embedding_init=normal, rngs=rngs)
            self.h = nnx.List([Block(rngs) for _ in range(blocks)])
            self.ln_f = nnx.LayerNorm(D, rngs=rngs)

    def build(seed):
        t = time.perf_counter()
        net = GPT(nnx.Rngs(seed))
        jax.block_until_ready(nnx.state(net))
        return time.perf_counter() - t, net

    cold, net = build(0)
    warm, _ = build(1)
    return cold, warm, sum(x.size for x in jax.tree.leaves(nnx.state(net, nnx.Param)))


def run_equinox(blocks: int):
    import equinox as eqx
    import jax

    class Block(eqx.Module):
        layers: list

        def __init__(self, key):
            k = jax.random.split(key, 4)
            self.layers = [
                eqx.nn.LayerNorm(D),
                eqx.nn.Linear(D, 3 * D, key=k[0]),  # equinox's default is torch's U(+-1/sqrt(in))
                eqx.nn.Linear(D, D, key=k[1]),
                eqx.nn.LayerNorm(D),
                eqx.nn.Linear(D, 4 * D, key=k[2]),
                eqx.nn.Linear(4 * D, D, key=k[3]),
            ]

    class GPT(eqx.Module):
        wte: eqx.nn.Embedding
        wpe: eqx.nn.Embedding
        h: list
        ln_f: eqx.nn.LayerNorm

        def __init__(self, key):
            k = jax.random.split(key, blocks + 2)
            self.wte = eqx.nn.Embedding(VOCAB, D, key=k[0])  # N(0, 1), torch's default
            self.wpe = eqx.nn.Embedding(CONTEXT, D, key=k[1])
            self.h = [Block(k[i + 2]) for i in range(blocks)]
            self.ln_f = eqx.nn.LayerNorm(D)

    def build(seed):
        t = time.perf_counter()
        net = jax.block_until_ready(GPT(jax.random.key(seed)))
        return time.perf_counter() - t, net

    cold, net = build(0)
    warm, _ = build(1)
    return cold, warm, sum(x.size for x in jax.tree.leaves(eqx.filter(net, eqx.is_array)))


def run_naive_jit(blocks: int):
    import jax
    import jax.numpy as jnp

    shapes = [("n", (VOCAB, D), 1.0), ("n", (CONTEXT, D), 1.0)]
    for _ in range(blocks):
        for i, o in ((D, 3 * D), (D, D), (D, 4 * D), (4 * D, D)):
            b = 1 / i**0.5
            shapes += [("u", (o, i), b), ("u", (o,), b)]
        shapes += [("1", (D,), 0), ("0", (D,), 0)] * 2
    shapes += [("1", (D,), 0), ("0", (D,), 0)]

    @jax.jit
    def init(key):
        keys = jax.random.split(key, len(shapes))
        out = []
        for k, (kind, shape, b) in zip(keys, shapes):
            if kind == "n":
                out.append(jax.random.normal(k, shape) * b)
            elif kind == "u":
                out.append(jax.random.uniform(k, shape, jnp.float32, -b, b))
            else:
                out.append(jnp.full(shape, float(kind), jnp.float32))
        return out

    def build(seed):
        t = time.perf_counter()
        v = jax.block_until_ready(init(jax.random.key(seed)))
        return time.perf_counter() - t, v

    cold, v = build(0)
    warm, _ = build(1)
    return cold, warm, sum(x.size for x in v)


def worker(name: str, blocks: int) -> None:
    if name == "jaxinit_memory":
        peak, nbytes = run_jaxinit(blocks, memory=True)
        print(json.dumps({"peak": peak, "nbytes": nbytes}))
        return
    if name in TORCH:
        cold, warm, n = run_torch(blocks, int(name[-1]))
        compiled = []
    elif name == "jaxinit_cached":  # jax's persistent compilation cache, set by spawn's env
        cold, warm, n, *compiled = run_jaxinit(blocks)
    else:
        cold, warm, n, *compiled = globals()[f"run_{name}"](blocks)
    print(json.dumps({"cold": cold, "warm": warm, "params": int(n), "compile": compiled}))


_CACHE_DIR: list[str] = []  # jaxinit_cached's compilation cache (a temp dir, made on first use)


def _cache_env() -> dict:
    """jax's persistent compilation cache for every program (jax only caches programs that took
    over 1 s to compile by default; jaxinit's two take ~0.2 s each)."""
    if not _CACHE_DIR:
        import tempfile

        _CACHE_DIR.append(tempfile.mkdtemp(prefix="jaxinit-bench-cache-"))
    return {
        "JAX_COMPILATION_CACHE_DIR": _CACHE_DIR[0],
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }


def spawn(name: str, blocks: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", name, "--blocks", str(blocks)]
    env = os.environ.copy()
    if name == "jaxinit_cached":
        if not _CACHE_DIR:  # fill the cache once, untimed
            env.update(_cache_env())
            subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
        env.update(_cache_env())
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="fresh processes per contender")
    ap.add_argument("--only", default=",".join(CONTENDERS), help="comma-separated contenders")
    ap.add_argument("--blocks", type=int, default=12)
    ap.add_argument("--deep", type=int, default=96, help="blocks of the deep model (0: skip)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker, args.blocks)

    names = [n for n in CONTENDERS if n in args.only.split(",")]
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(args.repeats):
        for n in names:
            runs[n].append(spawn(n, args.blocks))
            print(f"  repeat {r + 1}: {n} {runs[n][-1]}", file=sys.stderr, flush=True)
    bases = [runs[n] for n in TORCH if n in runs]
    t_cold = min(statistics.median(x["cold"] for x in b) for b in bases) if bases else None
    t_warm = min(statistics.median(x["warm"] for x in b) for b in bases) if bases else None
    print(
        f"\nGPT-2-small init, {args.blocks} blocks, medians of {args.repeats} fresh processes; "
        f"ratios to the faster torch (1 or 2 threads); load average {os.getloadavg()[0]:.1f}"
    )
    print(f"| {'contender':<10} | params | cold s | cold / torch | warm s | warm / torch |")
    print("|---|---:|---:|---:|---:|---:|")
    for n in names:
        cold = statistics.median(x["cold"] for x in runs[n])
        warm = statistics.median(x["warm"] for x in runs[n])
        rc = f"{cold / t_cold:.2f}x" if t_cold else "-"
        rw = f"{warm / t_warm:.2f}x" if t_warm else "-"
        p = runs[n][0]["params"] / 1e6
        print(f"| {n:<10} | {p:.1f}M | {cold:.2f} | {rc} | {warm:.2f} | {rw} |")

    if "jaxinit" in names and args.deep:
        deep = [spawn("jaxinit", args.deep) for _ in range(args.repeats)]
        print(
            "\njaxinit compile overhead of the cold init: jax's trace/lower/compile event "
            "durations, and the same less the garbage collector's pauses inside them; "
            f"medians of {args.repeats}"
        )
        print("| blocks | params | cold s | warm s | compile s | GC in it s | compile less GC s |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        raw, net = {}, {}
        for b, rs in ((args.blocks, runs["jaxinit"]), (args.deep, deep)):
            c = statistics.median(x["cold"] for x in rs)
            w = statistics.median(x["warm"] for x in rs)
            o = raw[b] = statistics.median(x["compile"][0] for x in rs)
            g = statistics.median(x["compile"][1] for x in rs)
            net[b] = statistics.median(x["compile"][0] - x["compile"][1] for x in rs)
            print(
                f"| {b} | {rs[0]['params'] / 1e6:.0f}M | {c:.2f} | {w:.2f} | {o:.2f} | {g:.2f} "
                f"| {net[b]:.2f} |"
            )
        print(
            f"compile ratio {args.deep}/{args.blocks} blocks: "
            f"{raw[args.deep] / raw[args.blocks]:.2f}x, "
            f"less GC {net[args.deep] / net[args.blocks]:.2f}x"
        )

    if "jaxinit" in names:
        mem = [spawn("jaxinit_memory", args.blocks) for _ in range(args.repeats)]
        peak = statistics.median(x["peak"] for x in mem)
        nbytes = mem[0]["nbytes"]
        print(
            f"\njaxinit peak memory of the init: {peak / 2**20:.0f} MiB for "
            f"{nbytes / 2**20:.0f} MiB of parameters ({peak / nbytes:.2f}x)"
        )


if __name__ == "__main__":
    main()
