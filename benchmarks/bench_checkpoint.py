"""Checkpoint save/load, side by side: torch, flax msgpack, safetensors and jaxinit.

The payload is GPT-2 small: 124,439,808 float32 parameters (475 MiB) in GPT-2's shapes (wte
50257x768, wpe 1024x768, 12 blocks of attention, MLP and two LayerNorms, ln_f). Each
measurement runs in a fresh Python process (so one contender's memory cannot help another),
after one small warm-up save and load in that process (imports, thread pools, first-call
costs). The runs of all contenders are interleaved, repeat by repeat, so a busy machine slows
them alike; every figure is the median over ``--repeats`` runs.

* time: wall time of the call (a load includes waiting for the arrays to be ready);
* extra peak memory: the process's peak resident set during the call (VmHWM, reset through
  /proc/self/clear_refs just before it) minus its resident set just before the call, in units
  of the payload. A load's figure includes the loaded arrays themselves (1.0x at best).
  Loads read a file that is in the page cache (it was just written).

Contenders: ``torch.save(state_dict, path)`` / ``torch.load(path)`` (weights_only, the default);
flax ``open(path, "wb").write(to_bytes(variables))`` / ``from_bytes(template, open(path).read())``;
``safetensors.flax.save_file`` / ``load_file``; ``jaxinit.save`` / ``jaxinit.load`` (these two
also fsync the file and check every array's crc32, which none of the others do). A last,
diagnostic row loads jaxinit's file with the crc32 checks switched off, to show what they cost.

    python benchmarks/bench_checkpoint.py [--repeats 3] [--dir /tmp] [--layers 12]
    python benchmarks/bench_checkpoint.py --small 1000,10000,100000   # many small arrays

``--loads torch,jaxinit,jaxinit-mmap,...`` times only those loads (files saved once, untimed),
interleaved, with ratios to the first.

``--small N,...`` measures instead files of N float32 arrays of 16 elements each (names
``layer{i}.w``), for torch, safetensors and jaxinit: how save and load scale with the number
of arrays (linear is the goal).

Linux only (it reads /proc). Needs torch, flax, safetensors.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

CONTENDERS = ["torch", "flax", "safetensors", "jaxinit"]
# Load-only rows, each reading the file of the contender it names first: jaxinit.load with its
# checksum checks switched off (diagnostic), the memory-mapped loads (jaxinit.load(mmap=True),
# with and without verify, and torch.load(mmap=True)).
UNCHECKED = "jaxinit-unchecked"
LOAD_ONLY = [UNCHECKED, "jaxinit-mmap", "jaxinit-mmap-noverify", "torch-mmap"]


def gpt2_shapes(layers: int = 12, d: int = 768, vocab: int = 50257, ctx: int = 1024) -> dict:
    """GPT-2's state_dict names and shapes (its Conv1D weights are (in, out))."""
    shapes = {"wte.weight": (vocab, d), "wpe.weight": (ctx, d)}
    for i in range(layers):
        block = {
            "ln_1.weight": (d,),
            "ln_1.bias": (d,),
            "attn.c_attn.weight": (d, 3 * d),
            "attn.c_attn.bias": (3 * d,),
            "attn.c_proj.weight": (d, d),
            "attn.c_proj.bias": (d,),
            "ln_2.weight": (d,),
            "ln_2.bias": (d,),
            "mlp.c_fc.weight": (d, 4 * d),
            "mlp.c_fc.bias": (4 * d,),
            "mlp.c_proj.weight": (4 * d, d),
            "mlp.c_proj.bias": (d,),
        }
        shapes.update({f"h.{i}.{k}": s for k, s in block.items()})
    shapes.update({"ln_f.weight": (d,), "ln_f.bias": (d,)})
    return shapes


def small_shapes(n: int) -> dict:
    """``n`` arrays of 16 float32 each: the many-small-arrays case."""
    return {f"layer{i}.w": (16,) for i in range(n)}


# ------------------------------------------------------------------------- worker process


def _memory() -> tuple[int, int]:
    """(current, peak) resident set in bytes."""
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _payload(kind: str, shapes: dict) -> object:
    import numpy as np

    rng = np.random.default_rng(0)
    flat = {k: rng.standard_normal(s, dtype=np.float32) for k, s in shapes.items()}
    if kind.startswith("torch"):
        import torch

        return {k: torch.from_numpy(v) for k, v in flat.items()}
    import jax
    import jax.numpy as jnp

    arrays = {k: jnp.asarray(v) for k, v in flat.items()}
    jax.block_until_ready(arrays)
    if kind == "safetensors":
        return arrays
    from jaxinit._tree import unflatten

    return unflatten(arrays)  # nested variables, as a JAX user holds them


def _ops(kind: str, shapes: dict):
    """(save(obj, path), load(path)) for one contender."""
    if kind in ("torch", "torch-mmap"):
        import torch

        mapped = kind == "torch-mmap"
        return (lambda obj, path: torch.save(obj, path)), (
            lambda path: torch.load(path, mmap=mapped)
        )
    import jax

    if kind == "flax":
        import flax.serialization

        from jaxinit._tree import unflatten

        template = unflatten({k: jax.ShapeDtypeStruct(s, "float32") for k, s in shapes.items()})

        def save(obj, path):
            with open(path, "wb") as f:
                f.write(flax.serialization.to_bytes(obj))

        def load(path):
            with open(path, "rb") as f:
                return flax.serialization.from_bytes(template, f.read())

        return save, load
    if kind == "safetensors":
        import safetensors.flax

        return safetensors.flax.save_file, safetensors.flax.load_file
    import jaxinit.serialization as ser

    if kind == "jaxinit-unchecked":  # diagnostic: what the crc32 verification costs
        checked = ser.api.verify_checkpoint
        ser.api.verify_checkpoint = lambda *a, **k: checked(*a, **k)._replace(sums=None)
    if kind.startswith("jaxinit-mmap"):
        verify = not kind.endswith("noverify")
        return ser.save, lambda path: ser.load(path, mmap=True, verify=verify)
    return ser.save, ser.load


def worker(kind: str, op: str, path: str, layers: int, small: int = 0) -> dict:
    import gc

    import jax

    shapes = small_shapes(small) if small else gpt2_shapes(layers)
    tiny = gpt2_shapes(1, d=8, vocab=16, ctx=4)
    save, load = _ops(kind, tiny)  # warm-up
    warm = path + ".warmup"
    save(_payload(kind, tiny), warm)
    jax.block_until_ready(load(warm)) if not kind.startswith("torch") else load(warm)
    os.unlink(warm)
    save, load = _ops(kind, shapes)
    obj = _payload(kind, shapes) if op == "save" else None
    gc.collect()
    before, _ = _memory()
    _reset_peak()
    start = time.perf_counter()
    if op == "save":
        save(obj, path)
    else:
        result = load(path)
        if not kind.startswith("torch"):
            jax.block_until_ready(result)
    seconds = time.perf_counter() - start
    _, peak = _memory()
    payload = sum(4 * math.prod(s) for s in shapes.values())
    return {
        "seconds": seconds,
        "extra": (peak - before) / payload,
        "payload": payload,
        "file": os.path.getsize(path),
    }


# ----------------------------------------------------------------------------- driver


def run(kind: str, op: str, path: str, layers: int, small: int = 0) -> dict:
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        kind,
        op,
        path,
        "--layers",
        str(layers),
        "--small",
        str(small),
    ]
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode:
        raise RuntimeError(f"{kind} {op} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the files go (default: a temp dir)")
    parser.add_argument("--layers", type=int, default=12, help="GPT-2 blocks (12: 124M params)")
    parser.add_argument(
        "--small",
        default="",
        help="comma-separated array counts: files of that many 16-element arrays instead of GPT-2",
    )
    parser.add_argument(
        "--loads",
        default="",
        help="comma-separated load rows (e.g. torch,"
        "jaxinit,jaxinit-mmap,torch-mmap): only these loads, interleaved, each "
        "file saved once untimed",
    )
    parser.add_argument("--worker", nargs=3, metavar=("KIND", "OP", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker, args.layers, int(args.small or 0))))
        return
    if args.small:
        small_table([int(n) for n in args.small.split(",")], args)
        return
    if args.loads:
        loads_table(args.loads.split(","), args)
        return
    runs = [(k, op) for k in CONTENDERS for op in ("save", "load")]
    runs += [(k, "load") for k in LOAD_ONLY]
    results: dict = {run_: [] for run_ in runs}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for repeat in range(args.repeats):
            for kind, op in runs:
                path = os.path.join(tmp, f"gpt2.{kind.split('-')[0]}")
                r = run(kind, op, path, args.layers)
                results[kind, op].append(r)
                print(
                    f"# run {repeat + 1}/{args.repeats} {kind:<17} {op}: "
                    f"{r['seconds']:.2f} s, extra peak {r['extra']:.2f}x",
                    file=sys.stderr,
                )
    med = {
        key: {f: statistics.median(r[f] for r in runs) for f in ("seconds", "extra")}
        for key, runs in results.items()
    }
    first = results["torch", "save"][0]
    print(
        f"payload: {first['payload']:,} bytes ({first['payload'] / 4:,.0f} float32), "
        f"{os.cpu_count()} CPU cores, median of {args.repeats} runs, one fresh process each\n"
    )
    print(
        "| library | save (s) | save vs torch | load (s) | load vs torch | extra peak memory, "
        "save | extra peak memory, load | file size |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for kind in CONTENDERS:
        s, ld = med[kind, "save"], med[kind, "load"]
        ratio_s = s["seconds"] / med["torch", "save"]["seconds"]
        ratio_l = ld["seconds"] / med["torch", "load"]["seconds"]
        size = results[kind, "save"][-1]["file"]
        print(
            f"| {kind} | {s['seconds']:.2f} | {ratio_s:.2f}x | {ld['seconds']:.2f} | "
            f"{ratio_l:.2f}x | {s['extra']:.2f}x | {ld['extra']:.2f}x | {size / 2**20:.1f} MiB |"
        )
    for kind in LOAD_ONLY:
        ld = med[kind, "load"]
        print(
            f"| ({kind}) | | | {ld['seconds']:.2f} | "
            f"{ld['seconds'] / med['torch', 'load']['seconds']:.2f}x | | {ld['extra']:.2f}x | |"
        )


def loads_table(kinds: list[str], args: argparse.Namespace) -> None:
    """Load times only: each file saved once (untimed), then the loads interleaved."""
    results: dict = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path_of = {kind: os.path.join(tmp, f"gpt2.{kind.split('-')[0]}") for kind in kinds}
        for kind in dict.fromkeys(k.split("-")[0] for k in kinds):
            run(kind, "save", os.path.join(tmp, f"gpt2.{kind}"), args.layers)
        for repeat in range(args.repeats):
            for kind in kinds:
                r = run(kind, "load", path_of[kind], args.layers)
                results[kind].append(r)
                print(
                    f"# run {repeat + 1}/{args.repeats} {kind:<22} load: {r['seconds']:.2f} s, "
                    f"extra peak {r['extra']:.2f}x",
                    file=sys.stderr,
                )
    med = {
        k: {f: statistics.median(r[f] for r in v) for f in ("seconds", "extra")}
        for k, v in results.items()
    }
    base = med[kinds[0]]["seconds"]
    print(
        f"GPT-2 loads, median of {args.repeats} fresh processes, interleaved; load average "
        f"{os.getloadavg()[0]:.1f} at the end\n"
    )
    print(f"| load | s | vs {kinds[0]} | extra peak memory |")
    print("|---|---:|---:|---:|")
    for kind in kinds:
        m = med[kind]
        print(f"| {kind} | {m['seconds']:.2f} | {m['seconds'] / base:.2f}x | {m['extra']:.2f}x |")


def small_table(counts: list[int], args: argparse.Namespace) -> None:
    """Save and load medians for files of many small arrays, with ratios to torch."""
    kinds = ["torch", "safetensors", "jaxinit"]
    results: dict = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for repeat in range(args.repeats):
            for n in counts:
                for kind in kinds:
                    for op in ("save", "load"):
                        r = run(kind, op, os.path.join(tmp, f"small{n}.{kind}"), 0, n)
                        results.setdefault((n, kind, op), []).append(r["seconds"])
                        print(
                            f"# run {repeat + 1}/{args.repeats} n={n} {kind} {op}: "
                            f"{r['seconds']:.3f} s",
                            file=sys.stderr,
                        )
    med = {key: statistics.median(v) for key, v in results.items()}
    print(f"many small arrays (16 float32 each), median of {args.repeats} runs\n")
    print("| arrays | library | save (s) | save vs torch | load (s) | load vs torch |")
    print("|---|---|---|---|---|---|")
    for n in counts:
        for kind in kinds:
            s, ld = med[n, kind, "save"], med[n, kind, "load"]
            print(
                f"| {n:,} | {kind} | {s:.3f} | {s / med[n, 'torch', 'save']:.2f}x | {ld:.3f} | "
                f"{ld / med[n, 'torch', 'load']:.2f}x |"
            )


if __name__ == "__main__":
    main()
