"""First call of a jitted training step: where the time goes, and what a compilation cache saves.

For each model of ``bench_models.py`` (default MobileNetV3-small and ResNet-18), each in a fresh
process (nothing cached in memory): the jitted SGD step's ``trace``, ``lower`` and ``compile``
stages and the first run, timed apart, with jaxinit's CPU convolution rule (``auto``) and
with plain XLA convolutions (``lax``); the size of the lowered program (StableHLO ops); then,
with ``--cache DIR``, the same first call twice more with JAX's persistent compilation cache
in ``DIR`` (the first fills it, the second, a new process, reads it back).

Run: ``python benchmarks/bench_compile.py [--only mobilenet_v3_small,resnet18] [--cache DIR]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _first_call(conn, model, mode, cache):
    sys.path.insert(0, str(ROOT))
    import jax

    if cache:
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    from benchmarks.bench_models import jaxinit_step
    from jaxinit.nn.functional import set_conv_backend

    set_conv_backend(mode)
    step, carry, args = jaxinit_step(model)
    t0 = time.perf_counter()
    traced = step.trace(carry, *args)
    t1 = time.perf_counter()
    lowered = traced.lower()
    t2 = time.perf_counter()
    compiled = lowered.compile()
    t3 = time.perf_counter()
    jax.block_until_ready(compiled(carry, *args))
    t4 = time.perf_counter()
    ops = sum(1 for line in lowered.as_text().splitlines() if " = " in line)
    conn.send((t1 - t0, t2 - t1, t3 - t2, t4 - t3, ops))


def first_call(model, mode, cache=None):
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_first_call, args=(child, model, mode, cache))
    p.start()
    out = parent.recv()
    p.join()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="mobilenet_v3_small,resnet18")
    ap.add_argument("--cache", default=None, help="a fresh directory for the cache runs")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print(
        "| model | conv | cache | trace s | lower s | compile s | first run s | total s | "
        "StableHLO ops |\n|---|---|---|---:|---:|---:|---:|---:|---:|"
    )
    for model in args.only.split(","):
        runs = [("auto", None, "-"), ("lax", None, "-")]
        if args.cache:
            runs += [("auto", args.cache, "filled"), ("auto", args.cache, "read")]
        for mode, cache, label in runs:
            tr, lo, co, run, ops = first_call(model, mode, cache)
            print(
                f"| {model} | {mode} | {label} | {tr:.1f} | {lo:.1f} | {co:.1f} | {run:.1f} | "
                f"{tr + lo + co + run:.1f} | {ops} |",
                flush=True,
            )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
