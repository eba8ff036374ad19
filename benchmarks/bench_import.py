"""Import time: ``import jaxinit`` vs ``import jax`` (and flax nnx, equinox, torch for scale),
each in a fresh subprocess, interleaved; medians of ``--repeats`` (>= 7) runs.

Also checks that importing jaxinit imports neither torch nor flax.
Run: ``python benchmarks/bench_import.py [--repeats 9]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

MODULES = {
    "jax": "import jax",
    "jaxinit": "import jaxinit",
    "flax.nnx": "from flax import nnx",
    "equinox": "import equinox",
    "torch": "import torch",
}

PROBE = (
    "import sys, time; t = time.perf_counter(); {stmt}; t = time.perf_counter() - t; "
    "print(t, 'torch' in sys.modules, 'flax' in sys.modules)"
)


def measure(stmt: str) -> tuple[float, bool, bool]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(stmt=stmt)], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), out[1] == "True", out[2] == "True"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    times: dict[str, list[float]] = {name: [] for name in MODULES}
    for _ in range(args.repeats):
        for name, stmt in MODULES.items():
            t, has_torch, has_flax = measure(stmt)
            times[name].append(t)
            if name == "jaxinit" and (has_torch or has_flax):
                raise SystemExit(f"import jaxinit imported torch={has_torch} flax={has_flax}")
    base = statistics.median(times["jax"])
    print(f"import time, medians of {args.repeats} fresh processes")
    print("| module | import s | / import jax |\n|---|---:|---:|")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name} | {med:.3f} | {med / base:.2f}x |")


if __name__ == "__main__":
    main()
