"""Re-derive the CPU convolution rule of ``jaxinit/nn/functional/_conv_impl.py`` on this CPU.

For every convolution shape of ResNet-18 (batch 8, 64x64 input), a small U-Net (batch 4,
64x64, with 2x2 stride-2 transposed convolutions), LeNet (batch 64, 32x32) and a few convs
with few output channels, it times the forward, the input gradient (dx) and the weight
gradient (dw) in each formulation (``lax``, ``im2col``, ``im2col_t``, ``slices``,
``toeplitz``), jit-compiled, interleaved round-robin in one process,
median of ``--repeats`` calls. It prints, per shape and part, the times in ms, the fastest
formulation, the one :func:`choose_plan` picks, and the picked time over lax's; then the
whole-model sums (lax vs the rule). If the rule's pick is much slower than the fastest on your
CPU, edit ``choose_plan`` (its docstring explains the features it uses).

Run: ``python benchmarks/conv_rule.py [--repeats 9] [--only resnet18,unet,lenet]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import numpy as np

from jaxinit.nn.functional._conv_formulations import FORMULATIONS, ConvSpec, is_depthwise
from jaxinit.nn.functional._conv_impl import choose_plan

# (name, input shape, out channels, kernel, stride, padding, lhs_dilation, groups, count)
# count = how many times the model runs this shape per step.
SHAPES = {
    "resnet18": [
        ("stem 3-64 7x7/2", (8, 3, 64, 64), 64, 7, 2, 3, 1, 1, 1),
        ("l1 64-64 @16", (8, 64, 16, 16), 64, 3, 1, 1, 1, 1, 4),
        ("l2 64-128/2 @16", (8, 64, 16, 16), 128, 3, 2, 1, 1, 1, 1),
        ("l2 ds 64-128 1x1/2", (8, 64, 16, 16), 128, 1, 2, 0, 1, 1, 1),
        ("l2 128-128 @8", (8, 128, 8, 8), 128, 3, 1, 1, 1, 1, 3),
        ("l3 128-256/2 @8", (8, 128, 8, 8), 256, 3, 2, 1, 1, 1, 1),
        ("l3 ds 128-256 1x1/2", (8, 128, 8, 8), 256, 1, 2, 0, 1, 1, 1),
        ("l3 256-256 @4", (8, 256, 4, 4), 256, 3, 1, 1, 1, 1, 3),
        ("l4 256-512/2 @4", (8, 256, 4, 4), 512, 3, 2, 1, 1, 1, 1),
        ("l4 ds 256-512 1x1/2", (8, 256, 4, 4), 512, 1, 2, 0, 1, 1, 1),
        ("l4 512-512 @2", (8, 512, 2, 2), 512, 3, 1, 1, 1, 1, 3),
    ],
    "unet": [
        ("enc 3-32 @64", (4, 3, 64, 64), 32, 3, 1, 1, 1, 1, 1),
        ("enc 32-32 @64", (4, 32, 64, 64), 32, 3, 1, 1, 1, 1, 3),
        ("enc 32-64 @32", (4, 32, 32, 32), 64, 3, 1, 1, 1, 1, 1),
        ("enc 64-64 @32", (4, 64, 32, 32), 64, 3, 1, 1, 1, 1, 3),
        ("mid 64-128 @16", (4, 64, 16, 16), 128, 3, 1, 1, 1, 1, 1),
        ("mid 128-128 @16", (4, 128, 16, 16), 128, 3, 1, 1, 1, 1, 1),
        ("up T 128-64 2x2/2 @16", (4, 128, 16, 16), 64, 2, 1, 1, 2, 1, 1),
        ("dec 128-64 @32", (4, 128, 32, 32), 64, 3, 1, 1, 1, 1, 1),
        ("up T 64-32 2x2/2 @32", (4, 64, 32, 32), 32, 2, 1, 1, 2, 1, 1),
        ("dec 64-32 @64", (4, 64, 64, 64), 32, 3, 1, 1, 1, 1, 1),
        ("head 32-2 1x1 @64", (4, 32, 64, 64), 2, 1, 1, 0, 1, 1, 1),
    ],
    "lenet": [
        ("c1 3-6 5x5 @32", (64, 3, 32, 32), 6, 5, 1, 0, 1, 1, 1),
        ("c2 6-16 5x5 @14", (64, 6, 14, 14), 16, 5, 1, 0, 1, 1, 1),
    ],
    # Depthwise convs (groups == channels) of MobileNetV3-small, EfficientNet-B0 and
    # ConvNeXt-tiny at batch 8, 64x64 (one of each distinct shape).
    "mobilenet": [
        ("dw 16 3x3/2 @32", (8, 16, 32, 32), 16, 3, 2, 1, 1, 16, 1),
        ("dw 72 3x3/2 @16", (8, 72, 16, 16), 72, 3, 2, 1, 1, 72, 1),
        ("dw 88 3x3 @8", (8, 88, 8, 8), 88, 3, 1, 1, 1, 88, 1),
        ("dw 96 5x5/2 @8", (8, 96, 8, 8), 96, 5, 2, 2, 1, 96, 1),
        ("dw 240 5x5 @4", (8, 240, 4, 4), 240, 5, 1, 2, 1, 240, 2),
        ("dw 120 5x5 @4", (8, 120, 4, 4), 120, 5, 1, 2, 1, 120, 1),
        ("dw 144 5x5 @4", (8, 144, 4, 4), 144, 5, 1, 2, 1, 144, 1),
        ("dw 288 5x5/2 @4", (8, 288, 4, 4), 288, 5, 2, 2, 1, 288, 1),
        ("dw 576 5x5 @2", (8, 576, 2, 2), 576, 5, 1, 2, 1, 576, 2),
    ],
    "efficientnet": [
        ("dw 32 3x3 @32", (8, 32, 32, 32), 32, 3, 1, 1, 1, 32, 1),
        ("dw 96 3x3/2 @32", (8, 96, 32, 32), 96, 3, 2, 1, 1, 96, 1),
        ("dw 144 3x3 @16", (8, 144, 16, 16), 144, 3, 1, 1, 1, 144, 1),
        ("dw 144 5x5/2 @16", (8, 144, 16, 16), 144, 5, 2, 2, 1, 144, 1),
        ("dw 240 5x5 @8", (8, 240, 8, 8), 240, 5, 1, 2, 1, 240, 1),
        ("dw 240 3x3/2 @8", (8, 240, 8, 8), 240, 3, 2, 1, 1, 240, 1),
        ("dw 480 3x3 @4", (8, 480, 4, 4), 480, 3, 1, 1, 1, 480, 2),
        ("dw 480 5x5 @4", (8, 480, 4, 4), 480, 5, 1, 2, 1, 480, 1),
        ("dw 672 5x5 @4", (8, 672, 4, 4), 672, 5, 1, 2, 1, 672, 2),
        ("dw 672 5x5/2 @4", (8, 672, 4, 4), 672, 5, 2, 2, 1, 672, 1),
        ("dw 1152 5x5 @2", (8, 1152, 2, 2), 1152, 5, 1, 2, 1, 1152, 3),
        ("dw 1152 3x3 @2", (8, 1152, 2, 2), 1152, 3, 1, 1, 1, 1152, 1),
    ],
    "convnext": [
        ("dw 96 7x7 @16", (8, 96, 16, 16), 96, 7, 1, 3, 1, 96, 3),
        ("dw 192 7x7 @8", (8, 192, 8, 8), 192, 7, 1, 3, 1, 192, 3),
        ("dw 384 7x7 @4", (8, 384, 4, 4), 384, 7, 1, 3, 1, 384, 9),
        ("dw 768 7x7 @2", (8, 768, 2, 2), 768, 7, 1, 3, 1, 768, 3),
    ],
    # Grouped, not depthwise: the 3x3 convs of RegNetY-400MF (group width 8) and
    # ResNeXt-50 32x4d (32 groups) at batch 8, 64x64.
    "grouped": [
        ("regnet 48 g6 3x3/2 @32", (8, 48, 32, 32), 48, 3, 2, 1, 1, 6, 1),
        ("regnet 104 g13 3x3/2 @16", (8, 104, 16, 16), 104, 3, 2, 1, 1, 13, 1),
        ("regnet 104 g13 3x3 @8", (8, 104, 8, 8), 104, 3, 1, 1, 1, 13, 2),
        ("regnet 208 g26 3x3/2 @8", (8, 208, 8, 8), 208, 3, 2, 1, 1, 26, 1),
        ("regnet 208 g26 3x3 @4", (8, 208, 4, 4), 208, 3, 1, 1, 1, 26, 5),
        ("regnet 440 g55 3x3/2 @4", (8, 440, 4, 4), 440, 3, 2, 1, 1, 55, 1),
        ("regnet 440 g55 3x3 @2", (8, 440, 2, 2), 440, 3, 1, 1, 1, 55, 5),
        ("resnext 128 g32 3x3 @16", (8, 128, 16, 16), 128, 3, 1, 1, 1, 32, 3),
        ("resnext 256 g32 3x3/2 @16", (8, 256, 16, 16), 256, 3, 2, 1, 1, 32, 1),
        ("resnext 256 g32 3x3 @8", (8, 256, 8, 8), 256, 3, 1, 1, 1, 32, 3),
        ("resnext 512 g32 3x3 @4", (8, 512, 4, 4), 512, 3, 1, 1, 1, 32, 5),
        ("resnext 1024 g32 3x3 @2", (8, 1024, 2, 2), 1024, 3, 1, 1, 1, 32, 2),
    ],
    # Few output channels, where im2col's matmul is thin (the toeplitz formulation's domain).
    "few": [
        ("mnist 1-6 5x5 p2 @28", (64, 1, 28, 28), 6, 5, 1, 2, 1, 1, 1),
        ("gray 1-8 3x3 @64", (16, 1, 64, 64), 8, 3, 1, 1, 1, 1, 1),
        ("rgb 3-4 3x3 @64", (16, 3, 64, 64), 4, 3, 1, 1, 1, 1, 1),
        ("rgb 3-8 3x3/2 @64", (16, 3, 64, 64), 8, 3, 2, 1, 1, 1, 1),
        ("8-8 3x3 @32", (16, 8, 32, 32), 8, 3, 1, 1, 1, 1, 1),
        ("16-4 3x3 @32", (16, 16, 32, 32), 4, 3, 1, 1, 1, 1, 1),
        ("3-1 5x5 @64", (16, 3, 64, 64), 1, 5, 1, 2, 1, 1, 1),
        ("3-2 3x3 @64", (16, 3, 64, 64), 2, 3, 1, 1, 1, 1, 1),
        ("2-8 3x3 @128", (4, 2, 128, 128), 8, 3, 1, 1, 1, 1, 1),
        ("4-8 7x7 @64", (8, 4, 64, 64), 8, 7, 1, 3, 1, 1, 1),
    ],
}


def make(shape, o, k, s, p, ld, g):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, np.float32)
    w = rng.standard_normal((o, shape[1] // g, k, k), np.float32) * 0.05
    spec = ConvSpec.make(x.shape, w.shape, (s, s), ((p, p), (p, p)), (ld, ld), (1, 1), g)
    dy = rng.standard_normal((shape[0], o, *spec.out_spatial), np.float32)
    return jax.numpy.asarray(x), jax.numpy.asarray(w), jax.numpy.asarray(dy), spec


def _transpose_x(name, x, w, dy, spec):
    """The input gradient as the rule runs it: the transpose of ``name``'s formulation."""
    f = FORMULATIONS[name]
    return jax.linear_transpose(lambda x_: f(x_, w, spec), x)(dy)[0]


def _transpose_w(name, x, w, dy, spec):
    """The weight gradient as the rule runs it: the transpose of ``name``'s formulation."""
    f = FORMULATIONS[name]
    return jax.linear_transpose(lambda w_: f(x, w_, spec), w)(dy)[0]


def parts(spec):
    """{(part, formulation): jitted fn(x, w, dy)}."""
    out = {}
    for f in FORMULATIONS:
        if f.startswith("depthwise") and not is_depthwise(spec):
            continue
        out["fwd", f] = jax.jit(lambda x, w, dy, f=f: FORMULATIONS[f](x, w, spec))
        out["dx", f] = jax.jit(lambda x, w, dy, f=f: _transpose_x(f, x, w, dy, spec))
        out["dw", f] = jax.jit(lambda x, w, dy, f=f: _transpose_w(f, x, w, dy, spec))
    return out


def time_all(fns, args, repeats):
    for fn in fns.values():
        jax.block_until_ready(fn(*args))
    times = {key: [] for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            t = time.perf_counter()
            jax.block_until_ready(fn(*args))
            times[key].append(time.perf_counter() - t)
    return {key: statistics.median(v) * 1e3 for key, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--only", default="resnet18,unet,lenet,few")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    names = list(FORMULATIONS)
    for model in args.only.split(","):
        print(f"\n{model}: ms per call (median of {args.repeats}); pick = choose_plan's choice")
        print("| shape | part | " + " | ".join(names) + " | best | pick | pick/lax |")
        print("|---|---|" + "---:|" * len(names) + "---|---|---:|")
        tot_lax = tot_pick = tot_best = 0.0
        for name, shape, o, k, s, p, ld, g, count in SHAPES[model]:
            x, w, dy, spec = make(shape, o, k, s, p, ld, g)
            t = time_all(parts(spec), (x, w, dy), args.repeats)
            plan = choose_plan(spec, x.dtype)
            for part, pick in zip(("fwd", "dx", "dw"), plan):
                row = {f: t[part, f] for f in names if (part, f) in t}
                best = min(row, key=row.get)
                tot_lax += count * row["lax"]
                tot_pick += count * row[pick]
                tot_best += count * row[best]
                cells = " | ".join(f"{row[f]:.2f}" if f in row else "-" for f in names)
                print(
                    f"| {name} x{count} | {part} | {cells} | {best} | {pick} | "
                    f"{row[pick] / row['lax']:.2f} |",
                    flush=True,
                )
        print(
            f"\n{model} total (fwd+dx+dw, weighted by count): lax {tot_lax:.1f} ms, "
            f"rule {tot_pick:.1f} ms ({tot_pick / tot_lax:.2f}x), best {tot_best:.1f} ms "
            f"(load average now {os.getloadavg()[0]:.2f})"
        )


if __name__ == "__main__":
    main()
