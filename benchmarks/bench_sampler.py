"""Sampler throughput: jax.random vs jaxinit's fused Threefry (jaxinit._threefry) vs torch.

For float32 uniform and normal at 1e7 and 1e8 values: each JAX sampler is jit-compiled
(compile time reported) and run once to warm up; then the three contenders run in turn,
``--reps`` rounds (a busy machine slows all alike), JAX ones with ``block_until_ready``,
torch filling a preallocated tensor with ``uniform_`` / ``normal_``. The table gives
medians, GB/s (4 bytes per value) and ratios (> 1: faster than jax.random / torch). The
fused sampler is first checked to be bitwise equal to jax.random on the benchmarked array.

Diagnostics (``--diagnostics``, on by default) explain the gap:

* jax.random with jax's own *unrolled* threefry lowering registered for CPU (jax registers
  a rolled ``fori_loop`` lowering there; on GPU/TPU it already uses the unrolled one);
* chunking a 50257 x 768 embedding into fixed-size pieces along the counter (the stream,
  hence the values, are unchanged: checked bitwise), with ``lax.map``;
* one jit that samples all 148 GPT-2-small tensors: compile and run time.

Noisy 2-core machines: compare ratios, not absolutes. ::

    python benchmarks/bench_sampler.py                 # both threefry modes, 1e7 and 1e8
    python benchmarks/bench_sampler.py --sizes 1e7 --modes partitionable --no-diagnostics
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxinit import _threefry

MODES = {"partitionable": True, "original": False}


def timed(fn: Callable[[], object], reps: int) -> float:
    """Median seconds of ``reps`` calls of ``fn`` after one warm-up call."""
    return interleaved([fn], reps)[0]


def interleaved(fns: list[Callable[[], object]], reps: int) -> list[float]:
    """Median seconds of each of ``fns``, warmed up once, then called in turn ``reps`` times."""
    times: list[list[float]] = [[] for _ in fns]
    for fn in fns:
        jax.block_until_ready(fn())
    for _ in range(reps):
        for fn, ts in zip(fns, times):
            start = time.perf_counter()
            jax.block_until_ready(fn())
            ts.append(time.perf_counter() - start)
    return [statistics.median(ts) for ts in times]


def compiled(sampler: Callable, key: jax.Array) -> tuple[Callable, float]:
    """``sampler`` jit-compiled for ``key``, and the seconds lowering + compiling took."""
    start = time.perf_counter()
    exe = jax.jit(sampler).lower(key).compile()
    return exe, time.perf_counter() - start


def bench_size(n: int, reps: int, rows: list[dict], torch) -> None:
    key = jax.random.key(0)
    for op in ("uniform", "normal"):
        theirs = lambda k, op=op: getattr(jax.random, op)(k, (n,), jnp.float32)  # noqa: E731
        ours = lambda k, op=op: getattr(_threefry, op)(k, (n,), jnp.float32)  # noqa: E731
        exe_jax, c_jax = compiled(theirs, key)
        exe_ours, c_ours = compiled(ours, key)
        a, b = np.asarray(exe_ours(key)), np.asarray(exe_jax(key))
        if not np.array_equal(a.view(np.uint32), b.view(np.uint32)):
            raise SystemExit(f"fused {op} differs from jax.random.{op} at n={n}")
        del a, b
        fns = [lambda e=exe_jax: e(key), lambda e=exe_ours: e(key)]
        if torch is not None:
            fns.append(getattr(torch.empty(n, dtype=torch.float32), op + "_"))
        t_jax, t_ours, t_torch = [*interleaved(fns, reps), math.nan][:3]
        del fns
        for impl, t, c in [
            ("jax.random", t_jax, c_jax),
            ("jaxinit fused", t_ours, c_ours),
            ("torch " + op + "_", t_torch, math.nan),
        ]:
            rows.append(
                dict(n=n, op=op, impl=impl, compile_s=c, median_s=t, vs_jax=t_jax / t,
                     vs_torch=t_torch / t)
            )  # fmt: skip


def print_table(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    head = f"{'n':>6} {'op':<8} {'impl':<16} {'compile s':>9} {'median ms':>10} {'GB/s':>6}"
    print(head + f" {'x jax.random':>12} {'x torch':>8}")
    for r in rows:
        gbs = 4 * r["n"] / r["median_s"] / 1e9
        compile_s = "-" if math.isnan(r["compile_s"]) else f"{r['compile_s']:.2f}"
        print(
            f"{r['n']:>6.0e} {r['op']:<8} {r['impl']:<16} {compile_s:>9} "
            f"{r['median_s'] * 1e3:>10.1f} {gbs:>6.2f} {r['vs_jax']:>12.2f} {r['vs_torch']:>8.2f}"
        )


# -- diagnostics ------------------------------------------------------------------------------


def diagnose_lowering(n: int, reps: int) -> None:
    """jax.random with jax's unrolled threefry lowering on CPU instead of its rolled loop."""
    from jax._src.interpreters import mlir
    from jax._src.random import threefry2x32 as jax_threefry

    key = jax.random.key(0)
    stock, c_stock = compiled(lambda k: jax.random.uniform(k, (n,), jnp.float32), key)
    mlir.register_lowering(
        jax_threefry.threefry2x32_p, jax_threefry._threefry2x32_lowering_rule, platform="cpu"
    )
    try:
        unrolled, c_unrolled = compiled(lambda k: jax.random.uniform(k, (n,), jnp.float32), key)
    finally:  # jax's own CPU rule back
        mlir.register_lowering(
            jax_threefry.threefry2x32_p, jax_threefry._threefry2x32_cpu_lowering_rule, "cpu"
        )
    same = np.array_equal(
        np.asarray(unrolled(key)).view(np.uint32), np.asarray(stock(key)).view(np.uint32)
    )
    t_stock, t_unrolled = interleaved([lambda: stock(key), lambda: unrolled(key)], reps)
    print(f"\njax.random.uniform({n:.0e}) on CPU, by jax's threefry lowering:")
    loops = [e.as_text().count(" while(") for e in (stock, unrolled)]
    print(f"  stock rolled fori_loop: {loops[0]} XLA while loop(s), compile {c_stock:.2f} s, "
          f"median {t_stock * 1e3:.1f} ms")  # fmt: skip
    print(f"  unrolled              : {loops[1]} XLA while loop(s), compile {c_unrolled:.2f} s, "
          f"median {t_unrolled * 1e3:.1f} ms (x{t_stock / t_unrolled:.2f}), "
          f"bitwise equal: {same}")  # fmt: skip


def _chunked_uniform(key: jax.Array, n: int, chunk: int) -> jax.Array:
    """jax.random.uniform(key, (n,)) (partitionable mode) drawn ``chunk`` counters at a time."""
    data = jax.random.key_data(key)
    starts = jnp.arange(0, -(-n // chunk) * chunk, chunk, dtype=jnp.uint32)

    def piece(start):
        y1, y2 = _threefry.threefry2x32(
            data[0], data[1], np.uint32(0), start + jax.lax.iota(np.uint32, chunk)
        )
        mantissa = ((y1 ^ y2) >> np.uint32(9)) | np.uint32(0x3F800000)
        return jax.lax.bitcast_convert_type(mantissa, jnp.float32) - np.float32(1)

    return jax.lax.map(piece, starts).reshape(-1)[:n]


def diagnose_chunking(reps: int) -> None:
    """A 50257 x 768 uniform whole, and in fixed-size pieces along the counter."""
    shape, chunks = (50257, 768), (2**16, 2**20, 2**22)
    n, key = math.prod(shape), jax.random.key(0)
    with jax.threefry_partitionable(True):
        exes = [
            compiled(lambda k: jax.random.uniform(k, shape, jnp.float32), key)[0],
            compiled(lambda k: _threefry.uniform(k, shape, jnp.float32), key)[0],
        ] + [compiled(lambda k, c=c: _chunked_uniform(k, n, c), key)[0] for c in chunks]
        want = np.asarray(exes[0](key)).reshape(-1).view(np.uint32)
        same = [np.array_equal(np.asarray(e(key)).reshape(-1).view(np.uint32), want) for e in exes]
        times = interleaved([lambda e=e: e(key) for e in exes], reps)
    print(f"\na {shape[0]} x {shape[1]} float32 uniform, partitionable mode, whole or chunked:")
    names = ["jax.random", "fused, whole"]
    names += [f"fused, chunks of 2**{c.bit_length() - 1}" for c in chunks]
    for name, t, eq in zip(names, times, same):
        print(f"  {name:<22}: {t * 1e3:7.1f} ms (x{times[1] / t:.2f} of fused whole), "
              f"bitwise equal to jax.random: {eq}")  # fmt: skip


def gpt2_small_shapes() -> list[tuple[int, ...]]:
    """The 148 parameter shapes of GPT-2 small (124M values)."""
    layer = [(768,), (768,), (768, 2304), (2304,), (768, 768), (768,), (768,), (768,),
             (768, 3072), (3072,), (3072, 768), (768,)]  # fmt: skip
    return [(50257, 768), (1024, 768), *layer * 12, (768,), (768,)]


def diagnose_model_init(reps: int) -> None:
    """One jit sampling every GPT-2-small parameter: compile and run, jax.random vs fused."""
    shapes = gpt2_small_shapes()
    key = jax.random.key(0)

    def init(sampler):
        def fn(key):
            keys = jax.random.split(key, len(shapes))
            return [sampler(keys[i], s, jnp.float32, -0.02, 0.02) for i, s in enumerate(shapes)]

        return fn

    (exe_jax, c_jax), (exe_ours, c_ours) = (
        compiled(init(jax.random.uniform), key),
        compiled(init(_threefry.uniform), key),
    )
    t_jax, t_ours = interleaved([lambda: exe_jax(key), lambda: exe_ours(key)], max(3, reps // 2))
    size = sum(math.prod(s) for s in shapes) / 1e6
    print(f"\none jit sampling all {len(shapes)} GPT-2-small tensors ({size:.1f}M values):")
    print(f"  jax.random: compile {c_jax:5.2f} s, run {t_jax:.3f} s")
    print(f"  fused     : compile {c_ours:5.2f} s, run {t_ours:.3f} s (x{t_jax / t_ours:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e7,1e8", help="comma-separated value counts")
    parser.add_argument("--reps", type=int, default=7, help="timed runs per sampler (>= 5)")
    parser.add_argument("--modes", default="partitionable,original", help="threefry modes")
    parser.add_argument("--diagnostics", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    platform = jax.devices()[0].platform
    print(f"jax {jax.__version__} on {platform}, {os.cpu_count()} CPU cores", end="")
    print(f"; torch {torch.__version__}, {torch.get_num_threads()} threads" if torch else "")
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    args.reps = max(5, args.reps)
    for mode in args.modes.split(","):
        rows: list[dict] = []
        with jax.threefry_partitionable(MODES[mode]):
            for n in sizes:
                bench_size(n, args.reps, rows, torch)
        print_table(f"jax_threefry_partitionable={MODES[mode]} ({mode})", rows)
    if args.diagnostics:
        diagnose_lowering(sizes[0], args.reps)
        diagnose_chunking(args.reps)
        diagnose_model_init(args.reps)


if __name__ == "__main__":
    main()
