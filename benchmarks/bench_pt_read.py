"""What reading ``.pt`` files without a memory map costs: ``load_pt`` of GPT-2 small (475 MiB
of float32) as it reads now (plain reads into memory: no SIGBUS when the file is truncated
under it) against the earlier reader (``torch.load(..., mmap=True)``), each in a fresh process,
interleaved repeat by repeat; medians and the ratio. ``torch.load`` alone (default, no mmap) is
listed for reference.

    python benchmarks/bench_pt_read.py --repeats 5 [--dir /fast/disk] [--layers 12]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

CONTENDERS = ["load_pt (reads)", "load_pt (mmap, before)", "torch.load"]


def worker(kind: str, path: str) -> float:
    import jax
    import torch

    from jaxinit.interop import from_torch, load_pt

    start = time.perf_counter()
    if kind == "load_pt (reads)":
        tree = load_pt(path)
    elif kind == "load_pt (mmap, before)":
        tree = from_torch(torch.load(path, map_location="cpu", weights_only=True, mmap=True))
    else:
        tree = torch.load(path, map_location="cpu", weights_only=True)
    jax.block_until_ready(tree)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--dir", default=None)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    import torch

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_checkpoint import gpt2_shapes

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = os.path.join(tmp, "gpt2.pt")
        gen = torch.Generator().manual_seed(0)
        torch.save(
            {k: torch.randn(s, generator=gen) for k, s in gpt2_shapes(args.layers).items()}, path
        )
        times: dict[str, list[float]] = {k: [] for k in CONTENDERS}
        for _ in range(args.repeats):
            for kind in CONTENDERS:
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", kind, path],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                times[kind].append(json.loads(out.stdout.strip().splitlines()[-1]))
        size = os.path.getsize(path) / 2**20
    base = statistics.median(times["load_pt (mmap, before)"])
    print(
        f"GPT-2 .pt, {size:.1f} MiB, medians of {args.repeats}, load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    for kind in CONTENDERS:
        median = statistics.median(times[kind])
        print(
            f"{kind:24s} {median:6.3f} s  {median / base:5.2f}x  "
            f"({', '.join(f'{t:.2f}' for t in times[kind])})"
        )


if __name__ == "__main__":
    main()
