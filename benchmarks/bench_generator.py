"""TorchGenerator vs torch.Generator: uniform_ and normal_ on 1e7 float32 values.

Both run in the same process, interleaved (torch, then ours, repeat), so a busy machine
slows both alike; each figure is the median of ``--repeats`` runs (default 7) after one
warm-up round. Every round also checks that the two produced the same bits. The ratio is
torch time / our time: 1.00 or more means TorchGenerator is at least as fast.

    python benchmarks/bench_generator.py [--n 10000000] [--repeats 7] [--threads K]

``--threads K`` overrides how many worker threads TorchGenerator hands blocks of float work
to (default: none below 4 cores, else up to 3); torch's CPU generator runs on one thread.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from jaxinit import _rng_threads
from jaxinit.generator import TorchGenerator


def timed(fn: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="worker threads (0: none)")
    args = parser.parse_args()
    n, repeats = args.n, max(5, args.repeats)
    if args.threads is not None:
        _rng_threads._THREADS = args.threads

    ours, theirs = TorchGenerator(0), torch.Generator().manual_seed(0)
    # both sides allocate their output, as ours returns a new array:
    # torch.empty(n).uniform_(a, b, generator=...) against TorchGenerator.uniform_(n, a, b)
    cases = [("uniform_", 0.0, 1.0), ("uniform_", -0.0442, 0.0442), ("uniform_", -0.3, 0.4),
             ("normal_", 0.0, 1.0)]  # fmt: skip

    print(f"n = {n:,} float32 values, median of {repeats} runs, torch {torch.__version__} "
          f"(CPU capability {torch.backends.cpu.get_cpu_capability()}), "
          f"{_rng_threads._THREADS} worker thread(s) for TorchGenerator")  # fmt: skip
    print(f"{'call':<26}{'torch ms':>10}{'ours ms':>10}{'torch/ours':>12}")
    for method, a, b in cases:
        name = f"{method}({a}, {b})"

        def run_torch(method=method, a=a, b=b):
            return getattr(torch.empty(n), method)(a, b, generator=theirs).numpy()

        def run_ours(method=method, a=a, b=b):
            return getattr(ours, method)(n, a, b)

        t_torch, t_ours = [], []
        for _ in range(repeats + 1):
            tt, x_torch = timed(run_torch)
            to, x_ours = timed(run_ours)
            assert np.array_equal(x_torch.view(np.uint32), x_ours.view(np.uint32)), name
            t_torch.append(tt)
            t_ours.append(to)
        mt, mo = statistics.median(t_torch[1:]), statistics.median(t_ours[1:])
        print(f"{name:<26}{mt * 1e3:>10.1f}{mo * 1e3:>10.1f}{mt / mo:>12.2f}")


if __name__ == "__main__":
    main()
