"""First call of a jitted training step: where the time goes, and what a compilation cache saves.

For each model of ``bench_models.py`` (default MobileNetV3-small and ResNet-18), each in a fresh
process (nothing cached in memory): the jitted SGD step's ``trace``, ``lower`` and ``compile``
stages and the first run, timed apart, with jaxinit's CPU convolution rule (``auto``) and
with plain XLA convolutions (``lax``), and compiled by XLA CPU's MLIR fusion emitters (its
default) or by its classic loop emitter (``xla_cpu_use_fusion_emitters=False``); the size of
the lowered program (StableHLO ops); then, with ``--cache DIR``, the same first call twice
more with JAX's persistent compilation cache in ``DIR`` (the first fills it, the second, a new
process, reads it back). ``--breakdown`` profiles one more compile per model and splits XLA's
time into its phases (HLO passes, code generation of the fusions, LLVM, thunk emission), from
the names of XLA's own trace events.

Run: ``python benchmarks/bench_compile.py [--only mobilenet_v3_small,resnet18] [--cache DIR]
[--breakdown]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


CLASSIC = {"xla_cpu_use_fusion_emitters": False}

# XLA's trace events of a CPU compile, by phase (substrings of the event names; the fusions'
# code generation runs on a thread pool, so its sum can exceed the wall time)
PHASES = {
    "HLO passes": "HLO passes ",
    "fusion emitters": "FusionCompiler::Compile",
    "LLVM codegen": "JitCompiler::Compile",
    "thunk emission": "ThunkEmitter::EmitEntryComputation",
}


def _phases(trace_dir):
    """``{phase: seconds}`` summed over the trace events whose name contains the phase's key."""
    import glob
    import gzip
    import json

    (path,) = glob.glob(f"{trace_dir}/**/perfetto_trace.json.gz", recursive=True)
    events = json.load(gzip.open(path))
    events = events["traceEvents"] if isinstance(events, dict) else events
    out = dict.fromkeys(PHASES, 0.0)
    for e in events:
        for phase, key in PHASES.items():
            if e.get("ph") == "X" and key in e["name"]:
                out[phase] += e.get("dur", 0) / 1e6
    return out


def _first_call(conn, model, mode, emitter, cache, profile=False):
    sys.path.insert(0, str(ROOT))
    import tempfile

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
    options = CLASSIC if emitter == "classic" else None
    if profile:
        with tempfile.TemporaryDirectory() as d:
            jax.profiler.start_trace(d, create_perfetto_trace=True)
            t = time.perf_counter()
            lowered.compile(options)
            wall = time.perf_counter() - t
            jax.profiler.stop_trace()
            conn.send((wall, _phases(d)))
        return
    compiled = lowered.compile(options)
    t3 = time.perf_counter()
    jax.block_until_ready(compiled(carry, *args))
    t4 = time.perf_counter()
    ops = sum(1 for line in lowered.as_text().splitlines() if " = " in line)
    conn.send((t1 - t0, t2 - t1, t3 - t2, t4 - t3, ops))


def first_call(model, mode, emitter="fusion", cache=None, profile=False):
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_first_call, args=(child, model, mode, emitter, cache, profile))
    p.start()
    out = parent.recv()
    p.join()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="mobilenet_v3_small,resnet18")
    ap.add_argument("--cache", default=None, help="a fresh directory for the cache runs")
    ap.add_argument("--breakdown", action="store_true", help="split XLA's compile by phase")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print(
        "| model | conv | emitter | cache | trace s | lower s | compile s | first run s | "
        "total s | StableHLO ops |\n|---|---|---|---|---:|---:|---:|---:|---:|---:|"
    )
    models = args.only.split(",")
    for model in models:
        runs = [("auto", "fusion", None, "-"), ("lax", "fusion", None, "-")]
        runs += [("auto", "classic", None, "-")]
        if args.cache:
            runs += [("auto", "fusion", args.cache, label) for label in ("filled", "read")]
        for mode, emitter, cache, label in runs:
            tr, lo, co, run, ops = first_call(model, mode, emitter, cache)
            print(
                f"| {model} | {mode} | {emitter} | {label} | {tr:.1f} | {lo:.1f} | {co:.1f} | "
                f"{run:.1f} | {tr + lo + co + run:.1f} | {ops} |",
                flush=True,
            )
    if args.breakdown:
        print("\nXLA's compile by phase (conv rule auto, one more profiled compile each):")
        print(
            "| model | emitter | compile s (profiled) | "
            + " | ".join(f"{p} s" for p in PHASES)
            + " |"
        )
        print("|---|---|---:|" + "---:|" * len(PHASES))
        for model in models:
            for emitter in ("fusion", "classic"):
                wall, phases = first_call(model, "auto", emitter, profile=True)
                cells = " | ".join(f"{phases[p]:.2f}" for p in PHASES)
                print(f"| {model} | {emitter} | {wall:.1f} | {cells} |", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
