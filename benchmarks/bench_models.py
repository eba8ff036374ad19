"""Training steps of real models: jaxinit (one jitted optax step) vs torch eager, on CPU.

Models (batch 8): torchvision's ``mobilenet_v3_small``, ``efficientnet_b0``, ``resnet18`` and
``convnext_tiny`` at 3x64x64 with 10 classes, SGD(0.01, momentum 0.9), BatchNorm in training
mode, dropout and stochastic depth on as torchvision builds them; a GPT-2-small-shaped and a
Llama-shaped 2-layer language model (:mod:`benchmarks.models.transformers_lm`, Hugging Face's
classes on the torch side) on sequences of 128 tokens, AdamW(1e-4), next-token cross-entropy.
The jaxinit models are torchvision's class code ported by hand (``benchmarks/models/``);
``regnet_y_400mf`` and ``resnext50_32x4d`` (grouped convolutions, same setting) are
torchvision's models converted by ``jaxinit.porting.convert``.

**Isolation.** Every contender runs in its own process, started one after the other: jaxinit
(XLA's thread pool), ``torch1`` (``torch.set_num_threads(1)``) and ``torch2`` (2 threads), so
one framework's threads never run beside another's. Each builds its model, runs its first call
(jaxinit: the jitted step's ``trace``, ``lower`` and ``compile`` stages timed apart), warms up,
then waits. The parent then asks them in turn, round after round (the order rotating), to time
about ``--target`` seconds of steps; only one process computes at any moment. The ratio is the
median over rounds of jaxinit's step time over the faster torch's in the same round.

Run: ``python benchmarks/bench_models.py [--only resnet18,gpt2] [--repeats 7] [--target 1.0]
[--contenders jaxinit,torch1,torch2,jaxinit_lax,jaxinit_classic]``: one row per jaxinit contender,
each with its ratio to the faster torch.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VISION = ("mobilenet_v3_small", "efficientnet_b0", "resnet18", "convnext_tiny")
# Grouped convolutions (not depthwise): torchvision's models converted by jaxinit.porting
PORTED = ("regnet_y_400mf", "resnext50_32x4d")
LM = ("gpt2", "llama")
MODELS = VISION + PORTED + LM
BATCH, IMAGE, SEQ, CLASSES = 8, 64, 128, 10
# jaxinit_classic: the same program compiled by XLA CPU's classic loop emitter instead of its
# MLIR fusion emitters (a third of MobileNetV3-small's compile; see docs/benchmarks.md)
COMPILER_OPTIONS = {"jaxinit_classic": {"xla_cpu_use_fusion_emitters": False}}


def _data(model):
    import numpy as np

    rng = np.random.default_rng(0)
    if model in LM:
        vocab = 50257 if model == "gpt2" else 32000
        return rng.integers(0, vocab, (BATCH, SEQ)).astype(np.int32), None
    x = rng.standard_normal((BATCH, 3, IMAGE, IMAGE), np.float32)
    return x, rng.integers(0, CLASSES, BATCH).astype(np.int32)


def _jaxinit_net(model):
    if model in PORTED:
        from benchmarks.models.reference import torch_model
        from jaxinit import porting

        return porting.convert(torch_model(model, CLASSES), check=False)[0]
    from benchmarks.models import convnext, efficientnet, mobilenetv3, resnet, transformers_lm

    return {
        "mobilenet_v3_small": lambda: mobilenetv3.mobilenet_v3_small(CLASSES),
        "efficientnet_b0": lambda: efficientnet.efficientnet_b0(CLASSES),
        "resnet18": lambda: resnet.resnet18(CLASSES),
        "convnext_tiny": lambda: convnext.convnext_tiny(CLASSES),
        "gpt2": transformers_lm.gpt2_small_2layer,
        "llama": transformers_lm.llama_2layer,
    }[model]()


def jaxinit_step(model):
    """``(step, carry, args)``: the jitted training step, its first carry and its data."""
    import jax
    import jax.numpy as jnp
    import optax

    net = _jaxinit_net(model)
    params, buffers = net.split(net.init(jax.random.key(0)))
    opt = optax.adamw(1e-4) if model in LM else optax.sgd(0.01, momentum=0.9)
    x, y = _data(model)

    def loss_fn(p, b, x, y, key):
        out, variables = net(net.merge(p, b), x, train=True, rng=key)
        if model in LM:
            logits, labels = out[:, :-1], x[:, 1:]
        else:
            logits, labels = out, y
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return loss, net.split(variables)[1]

    @jax.jit
    def step(carry, x, y, key):
        p, b, o = carry
        (loss, b), g = jax.value_and_grad(loss_fn, has_aux=True)(p, b, x, y, key)
        updates, o = opt.update(g, o, p)
        return (optax.apply_updates(p, updates), b, o), loss

    carry = (params, buffers, opt.init(params))
    args = (jnp.asarray(x), None if y is None else jnp.asarray(y), jax.random.key(1))
    return step, carry, args


def torch_step(model, threads):
    import torch

    from benchmarks.models.reference import torch_model

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = torch_model(model, CLASSES)
    net.train()
    if model in LM:
        opt = torch.optim.AdamW(net.parameters(), 1e-4)
    else:
        opt = torch.optim.SGD(net.parameters(), 0.01, momentum=0.9)
    x, y = _data(model)
    x = torch.from_numpy(x.astype("int64") if model in LM else x)
    y = None if y is None else torch.from_numpy(y.astype("int64"))

    def step(carry, x, y, key):
        opt.zero_grad()
        out = net(x)
        if model in LM:
            logits = out.logits[:, :-1]
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1)
            )
        else:
            loss = torch.nn.functional.cross_entropy(out, y)
        loss.backward()
        opt.step()
        return carry, loss

    return step, None, (x, y, None)


def _worker(conn, contender, model, target):
    """Build, first-call, warm up; then answer ``steps`` requests with steps/s until None."""
    sys.path.insert(0, str(ROOT))
    info = {}
    if contender.startswith("torch"):
        step, carry, args = torch_step(model, int(contender[5:]))
        t = time.perf_counter()
        carry, _ = step(carry, *args)
        info["first_call_s"] = time.perf_counter() - t
        sync = lambda out: None  # noqa: E731 - torch eager is synchronous
    else:
        import jax

        if contender == "jaxinit_lax":
            from jaxinit.nn.functional import set_conv_backend

            set_conv_backend("lax")
        jstep, carry, args = jaxinit_step(model)
        t0 = time.perf_counter()
        traced = jstep.trace(carry, *args)
        t1 = time.perf_counter()
        lowered = traced.lower()
        t2 = time.perf_counter()
        compiled = lowered.compile(COMPILER_OPTIONS.get(contender))
        t3 = time.perf_counter()
        carry, loss = compiled(carry, *args)
        jax.block_until_ready(loss)
        t4 = time.perf_counter()
        info.update(
            trace_s=t1 - t0,
            lower_s=t2 - t1,
            compile_s=t3 - t2,
            first_run_s=t4 - t3,
            first_call_s=t4 - t0,
        )
        step = compiled
        sync = jax.block_until_ready
    # Warm-up: about one target's worth, which also sizes the timed repeats.
    t = time.perf_counter()
    n = 0
    while n < 2 or time.perf_counter() - t < target:
        carry, loss = step(carry, *args)
        sync(loss)
        n += 1
    steps = max(1, round(n * target / (time.perf_counter() - t)))
    conn.send(info)
    while conn.recv() is not None:
        t = time.perf_counter()
        for _ in range(steps):
            carry, loss = step(carry, *args)
        sync((carry, loss))
        conn.send((time.perf_counter() - t) / steps)


def run_model(model, contenders, repeats, target):
    ctx = mp.get_context("spawn")
    procs, infos = {}, {}
    for c in contenders:  # built one at a time: a compile never runs beside another
        parent, child = ctx.Pipe()
        p = ctx.Process(target=_worker, args=(child, c, model, target), daemon=True)
        p.start()
        infos[c] = parent.recv()
        procs[c] = (p, parent)
    times = {c: [] for c in contenders}
    for r in range(repeats):
        order = contenders[r % len(contenders) :] + contenders[: r % len(contenders)]
        for c in order:
            procs[c][1].send(True)
            times[c].append(procs[c][1].recv())
    for p, conn in procs.values():
        conn.send(None)
        p.join()
    return times, infos


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(MODELS))
    ap.add_argument("--contenders", default="jaxinit,torch1,torch2")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--target", type=float, default=1.0, help="seconds per timed repeat")
    args = ap.parse_args()
    contenders = args.contenders.split(",")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print(
        "| model | "
        + " | ".join(f"{c} ms" for c in contenders)
        + " | jaxinit / best torch | jaxinit first call s (trace+lower+compile+run) |"
    )
    print("|---|" + "---:|" * (len(contenders) + 2))
    for model in args.only.split(","):
        times, infos = run_model(model, contenders, args.repeats, args.target)
        med = {c: statistics.median(v) * 1e3 for c, v in times.items()}
        torches = [c for c in contenders if c.startswith("torch")]
        cells = " | ".join(f"{med[c]:.1f}" for c in contenders)
        for j in [c for c in contenders if c.startswith("jaxinit")] or [None]:
            ratio = first = "-"
            if j is not None and torches:
                per_round = [
                    times[j][i] / min(times[c][i] for c in torches) for i in range(args.repeats)
                ]
                lo, hi = min(per_round), max(per_round)
                ratio = f"{statistics.median(per_round):.2f}x ({lo:.2f}-{hi:.2f})"
            if j is not None:
                i = infos[j]
                first = (
                    f"{i['first_call_s']:.1f} ({i['trace_s']:.1f}+{i['lower_s']:.1f}+"
                    f"{i['compile_s']:.1f}+{i['first_run_s']:.1f})"
                )
            name = model if j in (None, "jaxinit") else f"{model} ({j})"
            print(f"| {name} | {cells} | {ratio} | {first} |", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
