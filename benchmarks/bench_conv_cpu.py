"""One convolution on CPU: jaxinit (its CPU rule), plain lax, and torch, interleaved.

Default: the 3x3 conv with 512 in/out channels on a 2x2 input (batch 8, padding 1) that runs
three times in ResNet-18's layer4; forward alone and forward + both gradients.
Run: ``python benchmarks/bench_conv_cpu.py [--shape 8,512,2,2] [--out 512] [--repeats 31]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import numpy as np
import torch

from jaxinit.nn.functional import _conv_impl as ci


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="8,512,2,2")
    ap.add_argument("--out", type=int, default=512)
    ap.add_argument("--kernel", type=int, default=3)
    ap.add_argument("--padding", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=31)
    ap.add_argument("--torch-threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.torch_threads)
    shape = tuple(int(v) for v in args.shape.split(","))
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, np.float32)
    w = rng.standard_normal((args.out, shape[1], args.kernel, args.kernel), np.float32) * 0.05
    p = args.padding
    dims = ("NCHW", "OIHW", "NCHW")

    def conv(a, b):
        return ci.conv_general_dilated(a, b, (1, 1), ((p, p), (p, p)), dimension_numbers=dims)

    def grads(a, b):
        return jax.grad(lambda u, v: (conv(u, v) ** 2).sum(), (0, 1))(a, b)

    fns = {}
    for mode in ("auto", "lax"):
        with ci.conv_backend(mode):
            for part, f in (("fwd", conv), ("fwd+grads", grads)):
                fns[f"jaxinit_{mode}", part] = (
                    jax.jit(lambda a, b, f=f: f(a, b)).lower(x, w).compile()
                )
    xt, wt = torch.from_numpy(x.copy()), torch.from_numpy(w.copy())
    xg, wg = xt.clone().requires_grad_(), wt.clone().requires_grad_()
    fns["torch", "fwd"] = lambda a, b: torch.nn.functional.conv2d(xt, wt, padding=p)
    fns["torch", "fwd+grads"] = lambda a, b: torch.autograd.grad(
        (torch.nn.functional.conv2d(xg, wg, padding=p) ** 2).sum(), (xg, wg)
    )
    xj, wj = jax.numpy.asarray(x), jax.numpy.asarray(w)
    times = {k: [] for k in fns}
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    for _ in range(args.repeats + 2):
        for k, f in fns.items():
            t = time.perf_counter()
            jax.block_until_ready(f(xj, wj))
            times[k].append(time.perf_counter() - t)
    med = {k: statistics.median(v[2:]) * 1e3 for k, v in times.items()}
    print(
        f"conv {shape} -> {args.out}, {args.kernel}x{args.kernel}, padding {p}; ms, medians "
        f"of {args.repeats} interleaved (load average now {os.getloadavg()[0]:.2f})"
    )
    print("| contender | fwd ms | / torch | fwd+grads ms | / torch |\n|---|---:|---:|---:|---:|")
    for name in ("jaxinit_auto", "jaxinit_lax", "torch"):
        f, g = med[name, "fwd"], med[name, "fwd+grads"]
        print(
            f"| {name} | {f:.2f} | {f / med['torch', 'fwd']:.2f}x | {g:.2f} | "
            f"{g / med['torch', 'fwd+grads']:.2f}x |"
        )


if __name__ == "__main__":
    main()
