"""Sequence-model training steps: an LSTM and a Transformer encoder, jaxinit vs torch vs flax
nnx vs equinox, in one run.

* LSTM: inputs (32, 64, 32) batch-first -> LSTM(32, 128) -> Linear(128, 10) on the last step,
  cross-entropy, adam(1e-3). jaxinit ``nn.LSTM`` (a ``lax.scan``), torch ``nn.LSTM``, flax
  ``nnx.RNN(nnx.OptimizedLSTMCell)``, equinox ``eqx.nn.LSTMCell`` in a ``lax.scan`` (vmapped
  over the batch, as equinox's docs write it).
* Transformer encoder: inputs (16, 64, 64) -> 2 post-norm layers (d_model 64, 4 heads, ff 128,
  relu, dropout 0) -> mean over time -> Linear(64, 10), cross-entropy, adam(1e-3). jaxinit and
  torch ``nn.TransformerEncoder``; flax and equinox the same block from their
  ``MultiHeadAttention``/``MultiheadAttention``, ``Linear`` and ``LayerNorm``.

JAX contenders are one jit-compiled optax step each; torch runs eager with 1 intra-op thread
(``--torch-threads``). Each contender is compiled and warmed up once; then ``--repeats``
rounds time ``--steps`` steps of every contender, interleaved (the order rotates), and the
table gives the median steps/s and, per contender, the median over rounds of its same-round
ratio to jaxinit and to torch.

    python benchmarks/bench_sequence.py [--steps 20] [--repeats 7] [--only lstm]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
from flax import nnx

from jaxinit import nn

SHAPES = {"lstm": (32, 64, 32), "transformer": (16, 64, 64)}
H, D, HEADS, FF = 128, 64, 4, 128


def data(model):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPES[model], np.float32)
    return x, rng.integers(0, 10, len(x)).astype(np.int32)


def xent(logits, y):
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def jax_stepper(loss_fn, params):
    """A jitted ``(params, opt_state) -> (params, opt_state)`` adam step."""
    opt = optax.adam(1e-3)

    @jax.jit
    def step(carry, x, y):
        p, s = carry
        g = jax.grad(loss_fn)(p, x, y)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s

    return step, (params, opt.init(params))


# -- jaxinit -----------------------------------------------------------------------------------


def jaxinit_model(model):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            if model == "lstm":
                self.rnn = nn.LSTM(SHAPES["lstm"][2], H, batch_first=True)
                self.head = nn.Linear(H, 10)
            else:
                layer = nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, batch_first=True)
                self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
                self.head = nn.Linear(D, 10)

        def forward(self, x):
            if model == "lstm":
                return self.head(self.rnn(x)[0][:, -1])
            return self.head(self.enc(x).mean(axis=1))

    net = Net()
    v = net.init(jax.random.key(0))
    return jax_stepper(lambda p, x, y: xent(net(p, x), y), v)


# -- torch -------------------------------------------------------------------------------------


def torch_model(model):
    tnn = torch.nn
    if model == "lstm":
        rnn, head = tnn.LSTM(SHAPES["lstm"][2], H, batch_first=True), tnn.Linear(H, 10)
        params = list(rnn.parameters()) + list(head.parameters())

        def fwd(x):
            return head(rnn(x)[0][:, -1])
    else:
        layer = tnn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, batch_first=True)
        enc, head = tnn.TransformerEncoder(layer, 2, enable_nested_tensor=False), tnn.Linear(D, 10)
        params = list(enc.parameters()) + list(head.parameters())

        def fwd(x):
            return head(enc(x).mean(1))

    opt = torch.optim.Adam(params, 1e-3)

    def step(carry, x, y):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(fwd(x), y).backward()
        opt.step()
        return carry

    return step, None


# -- flax nnx ----------------------------------------------------------------------------------


def flax_model(model):
    rngs = nnx.Rngs(0)

    class Block(nnx.Module):
        def __init__(self):
            self.attn = nnx.MultiHeadAttention(HEADS, D, D, decode=False, rngs=rngs)
            self.l1, self.l2 = nnx.Linear(D, FF, rngs=rngs), nnx.Linear(FF, D, rngs=rngs)
            self.n1, self.n2 = nnx.LayerNorm(D, rngs=rngs), nnx.LayerNorm(D, rngs=rngs)

        def __call__(self, x):
            x = self.n1(x + self.attn(x))
            return self.n2(x + self.l2(nnx.relu(self.l1(x))))

    class Net(nnx.Module):
        def __init__(self):
            if model == "lstm":
                self.rnn = nnx.RNN(nnx.OptimizedLSTMCell(SHAPES["lstm"][2], H, rngs=rngs))
                self.head = nnx.Linear(H, 10, rngs=rngs)
            else:
                self.b1, self.b2 = Block(), Block()
                self.head = nnx.Linear(D, 10, rngs=rngs)

        def __call__(self, x):
            if model == "lstm":
                return self.head(self.rnn(x)[:, -1])
            return self.head(self.b2(self.b1(x)).mean(1))

    graphdef, params, rest = nnx.split(Net(), nnx.Param, ...)

    def loss(p, x, y):
        return xent(nnx.merge(graphdef, p, rest, copy=True)(x), y)

    return jax_stepper(loss, params)


# -- equinox -----------------------------------------------------------------------------------


def equinox_model(model):
    k = jax.random.split(jax.random.key(0), 8)

    class LSTMNet(eqx.Module):
        cell: eqx.nn.LSTMCell
        head: eqx.nn.Linear

        def __call__(self, xs):  # one sequence (T, I)
            def body(carry, x):
                carry = self.cell(x, carry)
                return carry, None

            zeros = jnp.zeros(H)
            (h, _), _ = jax.lax.scan(body, (zeros, zeros), xs)
            return self.head(h)

    class Block(eqx.Module):
        attn: eqx.nn.MultiheadAttention
        l1: eqx.nn.Linear
        l2: eqx.nn.Linear
        n1: eqx.nn.LayerNorm
        n2: eqx.nn.LayerNorm

        def __call__(self, x):  # (T, D)
            x = jax.vmap(self.n1)(x + self.attn(x, x, x))
            ff = jax.vmap(lambda t: self.l2(jax.nn.relu(self.l1(t))))(x)
            return jax.vmap(self.n2)(x + ff)

    def block(i):
        return Block(
            eqx.nn.MultiheadAttention(
                HEADS,
                D,
                use_query_bias=True,
                use_key_bias=True,
                use_value_bias=True,
                use_output_bias=True,
                key=k[i],
            ),
            eqx.nn.Linear(D, FF, key=k[i + 1]),
            eqx.nn.Linear(FF, D, key=k[i + 2]),
            eqx.nn.LayerNorm(D),
            eqx.nn.LayerNorm(D),
        )

    class EncNet(eqx.Module):
        b1: Block
        b2: Block
        head: eqx.nn.Linear

        def __call__(self, x):
            return self.head(self.b2(self.b1(x)).mean(0))

    if model == "lstm":
        net = LSTMNet(
            eqx.nn.LSTMCell(SHAPES["lstm"][2], H, key=k[0]), eqx.nn.Linear(H, 10, key=k[1])
        )
    else:
        net = EncNet(block(0), block(3), eqx.nn.Linear(D, 10, key=k[6]))
    params, static = eqx.partition(net, eqx.is_array)
    return jax_stepper(lambda p, x, y: xent(jax.vmap(eqx.combine(p, static))(x), y), params)


CONTENDERS = {
    "jaxinit": jaxinit_model,
    "torch": torch_model,
    "flax_nnx": flax_model,
    "equinox": equinox_model,
}


def run(model, steps, repeats):
    x, y = data(model)
    built = {}
    for name, make in CONTENDERS.items():
        step, carry = make(model)
        args = (
            (torch.from_numpy(x), torch.from_numpy(y).long())
            if name == "torch"
            else (jnp.asarray(x), jnp.asarray(y))
        )
        carry = step(carry, *args)  # compile + warm up
        jax.block_until_ready(carry)
        built[name] = [step, carry, args]
    rates = {n: [] for n in built}
    names = list(built)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            step, carry, args = built[name]
            t = time.perf_counter()
            for _ in range(steps):
                carry = step(carry, *args)
            jax.block_until_ready(carry)
            rates[name].append(steps / (time.perf_counter() - t))
            built[name][1] = carry
    return rates


def ratio(rates, name, ref):
    return statistics.median(a / b for a, b in zip(rates[name], rates[ref]))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--only", choices=list(SHAPES))
    p.add_argument("--torch-threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.torch_threads)
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    for model in [args.only] if args.only else list(SHAPES):
        rates = run(model, args.steps, args.repeats)
        print(f"\n{model}\n\n| contender | steps/s | min-max | / jaxinit | / torch |")
        print("|---|---:|---:|---:|---:|")
        for name, r in rates.items():
            print(
                f"| {name} | {statistics.median(r):.1f} | {min(r):.0f}-{max(r):.0f} | "
                f"{ratio(rates, name, 'jaxinit'):.2f}x | {ratio(rates, name, 'torch'):.2f}x |"
            )
    print(f"\nload average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
