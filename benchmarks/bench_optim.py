"""Optimizer-step overhead: ``jaxinit.optim.AdamW`` against plain ``optax.adamw`` on the same
jaxinit model, each inside one jitted training step (grad + update + apply_updates).

* MLP 784-1024-1024-10, batch 128, cross-entropy;
* a Transformer encoder block (``nn.TransformerEncoderLayer(256, 4, 1024, batch_first=True)``
  and a linear head), batch 16 x 64 tokens, mean-square loss.

Both optimizers use lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2 on every
parameter (the same math; jaxinit follows torch's operation order and keeps its
hyper-parameters in the state). Each contender is compiled and warmed up once; then
``--repeats`` rounds time ``--steps`` steps of each, interleaved (the order alternates each
round). The table gives the median ms/step and the median over rounds of the same-round
ratio jaxinit / optax (robust to load drift), for wall time and for the process's CPU time
(all threads; less sensitive to other processes on a shared machine). A second row per
model times the optimizer alone (``update`` + ``apply_updates`` on fixed gradients,
jitted): on a loaded machine the forward/backward pass's noise swamps the optimizer's share
of a full step.
Run: ``python benchmarks/bench_optim.py [--steps 30] [--repeats 11]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxinit.optim
from jaxinit import nn

LR, BETAS, EPS, WD = 1e-3, (0.9, 0.999), 1e-8, 1e-2


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(256, 4, 1024, dropout=0.0, batch_first=True)
        self.head = nn.Linear(256, 256)

    def forward(self, x):
        return self.head(self.layer(x))


def models():
    rng = np.random.default_rng(0)
    mlp = nn.Sequential(
        nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10)
    )
    x = rng.standard_normal((128, 784), np.float32)
    y = rng.integers(0, 10, 128).astype(np.int32)

    def xent(out, y):
        return optax.softmax_cross_entropy_with_integer_labels(out, y).mean()

    xb = rng.standard_normal((16, 64, 256), np.float32)
    return {
        "mlp": (mlp, xent, x, y),
        "transformer": (Block(), lambda out, t: jnp.mean((out - t) ** 2), xb, xb),
    }


def make_step(net, loss, optimizer, update_only=False):
    def loss_fn(params, x, y):
        return loss(net(params, x), y)

    @jax.jit
    def step(params, state, x, y):
        if update_only:  # fixed gradients: the optimizer's cost alone
            grads = jax.tree.map(lambda p: jnp.full_like(p, 1e-3), params)
        else:
            grads = jax.grad(loss_fn)(params, x, y)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return step


def run(step, params, state, x, y, steps):
    for _ in range(steps):
        params, state = step(params, state, x, y)
    jax.block_until_ready(params)
    return params, state


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args()
    print(
        f"jax {jax.__version__}, {jax.devices()[0].platform}, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'model':20s} {'optax ms':>9s} {'jaxinit ms':>11s} {'ratio (median)':>15s} "
        f"{'ratio range':>14s} {'CPU ratio':>10s}"
    )
    cases = [(n, m, False) for n, m in models().items()]
    cases += [(n, m, True) for n, m in models().items()]
    for name, (net, loss, x, y), update_only in cases:
        name = f"{name} (update)" if update_only else name
        params, _ = net.split(net.init(jax.random.key(0)))
        contenders = {
            "optax": optax.adamw(LR, *BETAS, eps=EPS, weight_decay=WD),
            "jaxinit": jaxinit.optim.AdamW(
                net.parameters(), lr=LR, betas=BETAS, eps=EPS, weight_decay=WD
            ),
        }
        x, y = jnp.asarray(x), jnp.asarray(y)
        runs = {}
        for key, opt in contenders.items():
            step = make_step(net, loss, opt, update_only)
            state = opt.init(params)
            run(step, params, state, x, y, 3)  # compile and warm up
            runs[key] = (step, state)
        times: dict[str, list[float]] = {k: [] for k in contenders}
        cpu: dict[str, list[float]] = {k: [] for k in contenders}
        for r in range(args.repeats):
            order = list(contenders) if r % 2 == 0 else list(reversed(contenders))
            for key in order:
                step, state = runs[key]
                t0, c0 = time.perf_counter(), time.process_time()
                run(step, params, state, x, y, args.steps)
                times[key].append((time.perf_counter() - t0) / args.steps * 1e3)
                cpu[key].append((time.process_time() - c0) / args.steps * 1e3)
        ratios = [j / o for j, o in zip(times["jaxinit"], times["optax"])]
        cpu_ratios = [j / o for j, o in zip(cpu["jaxinit"], cpu["optax"])]
        print(
            f"{name:20s} {statistics.median(times['optax']):9.3f} "
            f"{statistics.median(times['jaxinit']):11.3f} {statistics.median(ratios):15.3f} "
            f"{min(ratios):6.3f}-{max(ratios):.3f} {statistics.median(cpu_ratios):10.3f}"
        )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
