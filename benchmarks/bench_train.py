"""Training-step throughput: the same model written by hand in raw JAX, with jaxinit, flax nnx
and equinox (each a jit-compiled optax step), and torch eager, side by side in one run.

* MLP 784-512-512-10, batch 128, adam(1e-3);
* LeNet with BatchNorm (conv 3->6 5x5, BN, relu, pool, conv 6->16 5x5, BN, relu, pool,
  120-84-10), batch 64 of 3x32x32, sgd(0.01, momentum 0.9), BN in training mode;
* ResNet-18 (torchvision's layout, 10 classes), batch 8 of 3x64x64, sgd(0.01, momentum 0.9),
  BN in training mode: torch, jaxinit, ``jaxinit_lax`` (jaxinit with its CPU convolution rule
  off, ``JAXINIT_CONV=lax``: XLA's convolution, what flax and equinox also run) and flax nnx.

Each contender is built, compiled and warmed up once; then ``--repeats`` rounds time
``--steps`` steps of every contender, interleaved (the order rotates each round), so machine
load hits all of them alike. The table gives medians and spread of steps/s, and ratios to raw
JAX and to torch as the median over rounds of the same-round ratio (robust to load drift).
flax nnx runs twice: ``flax_nnx`` is its functional fast path (split/merge inside a plain
``jax.jit``), ``flax_nnx_jit`` its stateful API (``nnx.Optimizer`` in ``nnx.jit``).
Run: ``python benchmarks/bench_train.py [--steps 50] [--repeats 11] [--only mlp]``.
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
from jaxinit.nn.functional import _conv_impl as F

# Conv layout note: raw JAX and jaxinit use torch's NCHW/OIHW, flax and equinox their own.


def xent(logits, y):
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def data(model):
    rng = np.random.default_rng(0)
    if model == "mlp":
        x = rng.standard_normal((128, 784), np.float32)
    elif model == "resnet18":
        x = rng.standard_normal((8, 3, 64, 64), np.float32)
    else:
        x = rng.standard_normal((64, 3, 32, 32), np.float32)
    return x, rng.integers(0, 10, len(x)).astype(np.int32)


def optimizer(model):
    return optax.adam(1e-3) if model == "mlp" else optax.sgd(0.01, momentum=0.9)


# -- raw JAX by hand --------------------------------------------------------------------------


def _lin(key, i, o):
    b = 1 / i**0.5
    k1, k2 = jax.random.split(key)
    return {
        "w": jax.random.uniform(k1, (o, i), minval=-b, maxval=b),
        "b": jax.random.uniform(k2, (o,), minval=-b, maxval=b),
    }


def _conv(x, w, b):
    dims = ("NCHW", "OIHW", "NCHW")
    y = jax.lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=dims)
    return y + b[None, :, None, None]


def _bn(x, p, s):
    mean = x.mean((0, 2, 3))
    var = x.var((0, 2, 3))
    n = x.size / x.shape[1]
    y = (x - mean[None, :, None, None]) / jnp.sqrt(var[None, :, None, None] + 1e-5)
    new = {"mean": 0.9 * s["mean"] + 0.1 * mean, "var": 0.9 * s["var"] + 0.1 * var * n / (n - 1)}
    return y * p["g"][None, :, None, None] + p["b"][None, :, None, None], new


def _pool(x):
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")


def raw_jax(model):
    ks = jax.random.split(jax.random.key(0), 5)
    if model == "mlp":
        params = [_lin(ks[0], 784, 512), _lin(ks[1], 512, 512), _lin(ks[2], 512, 10)]
        state = None

        def forward(p, s, x):
            for layer in p[:-1]:
                x = jax.nn.relu(x @ layer["w"].T + layer["b"])
            return x @ p[-1]["w"].T + p[-1]["b"], s
    else:

        def conv(k, i, o):
            b = 1 / (i * 25) ** 0.5
            k1, k2 = jax.random.split(k)
            return {
                "w": jax.random.uniform(k1, (o, i, 5, 5), minval=-b, maxval=b),
                "b": jax.random.uniform(k2, (o,), minval=-b, maxval=b),
            }

        def bn(c):
            return {"g": jnp.ones(c), "b": jnp.zeros(c)}, {"mean": jnp.zeros(c), "var": jnp.ones(c)}

        (bn1, s1), (bn2, s2) = bn(6), bn(16)
        params = {"c1": conv(ks[0], 3, 6), "bn1": bn1, "c2": conv(ks[1], 6, 16), "bn2": bn2}
        params |= {"f1": _lin(ks[2], 400, 120), "f2": _lin(ks[3], 120, 84)}
        params["f3"] = _lin(ks[4], 84, 10)
        state = {"bn1": s1, "bn2": s2}

        def forward(p, s, x):
            x, n1 = _bn(_conv(x, p["c1"]["w"], p["c1"]["b"]), p["bn1"], s["bn1"])
            x = _pool(jax.nn.relu(x))
            x, n2 = _bn(_conv(x, p["c2"]["w"], p["c2"]["b"]), p["bn2"], s["bn2"])
            x = _pool(jax.nn.relu(x)).reshape(x.shape[0], -1)
            x = jax.nn.relu(x @ p["f1"]["w"].T + p["f1"]["b"])
            x = jax.nn.relu(x @ p["f2"]["w"].T + p["f2"]["b"])
            return x @ p["f3"]["w"].T + p["f3"]["b"], {"bn1": n1, "bn2": n2}

    return _functional_step(model, forward, params, state)


def _functional_step(model, forward, params, state):
    opt = optimizer(model)

    @jax.jit
    def step(carry, x, y):
        params, state, opt_state = carry

        def loss_fn(p):
            logits, new_state = forward(p, state, x)
            return xent(logits, y), new_state

        (loss, state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), state, opt_state), loss

    return step, (params, state, opt.init(params))


# -- jaxinit ----------------------------------------------------------------------------------


class _Block(nn.Module):
    """torchvision's BasicBlock with jaxinit's layers."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        shortcut = stride != 1 or cin != cout
        self.downsample = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if shortcut
            else None
        )

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


def jaxinit_resnet18(classes=10):
    layers = [
        nn.Conv2d(3, 64, 7, 2, 3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, 1),
    ]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [_Block(cin, cout, stride), _Block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, classes)]
    return nn.Sequential(*layers)


def jaxinit_lax_model(model):
    """jaxinit with the CPU convolution rule off (``conv_backend("lax")`` while tracing)."""
    step, carry = jaxinit_model(model)

    def traced_with_lax(*args):
        with F.conv_backend("lax"):
            return step(*args)

    return traced_with_lax, carry


def jaxinit_model(model):
    if model == "resnet18":
        net = jaxinit_resnet18()
    elif model == "mlp":
        net = nn.Sequential(
            nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
        )
    elif model == "lenet":
        net = nn.Sequential(
            nn.Conv2d(3, 6, 5),
            nn.BatchNorm2d(6),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(400, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, 10),
        )
    params, buffers = net.split(net.init(jax.random.key(0)))

    def forward(p, b, x):
        if model == "mlp":
            return net(p, x), b
        logits, variables = net(net.merge(p, b), x, train=True)
        return logits, net.split(variables)[1]

    return _functional_step(model, forward, params, buffers)


# -- flax nnx ---------------------------------------------------------------------------------


def _flax_resnet18(rngs, classes=10):
    def bn(c):
        return nnx.BatchNorm(c, momentum=0.9, epsilon=1e-5, rngs=rngs)

    def conv(i, o, k, s, p):
        return nnx.Conv(i, o, (k, k), (s, s), padding=((p, p), (p, p)), use_bias=False, rngs=rngs)

    class Block(nnx.Module):
        def __init__(self, cin, cout, stride):
            self.c1, self.b1 = conv(cin, cout, 3, stride, 1), bn(cout)
            self.c2, self.b2 = conv(cout, cout, 3, 1, 1), bn(cout)
            shortcut = stride != 1 or cin != cout
            self.ds = nnx.List([conv(cin, cout, 1, stride, 0), bn(cout)] if shortcut else [])

        def __call__(self, x):
            out = self.b2(self.c2(nnx.relu(self.b1(self.c1(x)))))
            sc = self.ds[1](self.ds[0](x)) if len(self.ds) else x
            return nnx.relu(out + sc)

    class Net(nnx.Module):
        def __init__(self):
            self.stem, self.bn = conv(3, 64, 7, 2, 3), bn(64)
            blocks, cin = [], 64
            for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
                blocks += [Block(cin, cout, stride), Block(cout, cout, 1)]
                cin = cout
            self.blocks = nnx.List(blocks)
            self.fc = nnx.Linear(512, classes, rngs=rngs)

        def __call__(self, x):
            x = nnx.relu(self.bn(self.stem(x.transpose(0, 2, 3, 1))))
            x = nnx.max_pool(x, (3, 3), (2, 2), ((1, 1), (1, 1)))
            for b in self.blocks:
                x = b(x)
            return self.fc(x.mean((1, 2)))

    return Net()


def _flax_net(model):
    rngs = nnx.Rngs(0)
    if model == "resnet18":
        return _flax_resnet18(rngs)
    if model == "mlp":

        class Net(nnx.Module):
            def __init__(self):
                self.l1, self.l2 = nnx.Linear(784, 512, rngs=rngs), nnx.Linear(512, 512, rngs=rngs)
                self.l3 = nnx.Linear(512, 10, rngs=rngs)

            def __call__(self, x):
                return self.l3(nnx.relu(self.l2(nnx.relu(self.l1(x)))))
    else:

        class Net(nnx.Module):
            def __init__(self):
                self.c1 = nnx.Conv(3, 6, (5, 5), padding="VALID", rngs=rngs)
                self.b1 = nnx.BatchNorm(6, momentum=0.9, epsilon=1e-5, rngs=rngs)
                self.c2 = nnx.Conv(6, 16, (5, 5), padding="VALID", rngs=rngs)
                self.b2 = nnx.BatchNorm(16, momentum=0.9, epsilon=1e-5, rngs=rngs)
                self.f1, self.f2 = nnx.Linear(400, 120, rngs=rngs), nnx.Linear(120, 84, rngs=rngs)
                self.f3 = nnx.Linear(84, 10, rngs=rngs)

            def __call__(self, x):
                x = x.transpose(0, 2, 3, 1)  # NHWC
                pool = lambda t: nnx.max_pool(t, (2, 2), (2, 2))  # noqa: E731
                x = pool(nnx.relu(self.b1(self.c1(x))))
                x = pool(nnx.relu(self.b2(self.c2(x)))).reshape(x.shape[0], -1)
                return self.f3(nnx.relu(self.f2(nnx.relu(self.f1(x)))))

    return Net()


def flax_model(model):
    """nnx's functional fast path: split once, merge inside the loss, plain ``jax.jit``.

    ``copy=True`` gives the loss fresh Variables owned by the gradient trace, so BatchNorm may
    update its statistics there (merging the jit-level Variables raises TraceContextError).
    """
    graphdef, params, rest = nnx.split(_flax_net(model), nnx.Param, ...)

    def forward(p, r, x):
        net = nnx.merge(graphdef, p, r, copy=True)
        return net(x), nnx.state(net, nnx.Not(nnx.Param))

    return _functional_step(model, forward, params, rest)


def flax_nnx_jit_model(model):
    """nnx's stateful API as its tutorials write it: nnx.Optimizer, nnx.value_and_grad, nnx.jit."""
    net = _flax_net(model)
    opt = nnx.Optimizer(net, optimizer(model), wrt=nnx.Param)

    @nnx.jit
    def train_step(net, opt, x, y):
        loss, grads = nnx.value_and_grad(lambda m: xent(m(x), y))(net)
        opt.update(net, grads)
        return loss

    return (lambda carry, x, y: (carry, train_step(net, opt, x, y))), None


# -- equinox ----------------------------------------------------------------------------------


def equinox_model(model):
    k = jax.random.split(jax.random.key(0), 5)
    if model == "mlp":
        net = eqx.nn.MLP(784, 10, 512, 2, activation=jax.nn.relu, key=k[0])

        params, static = eqx.partition(net, eqx.is_array)

        def forward(p, s, x):
            return jax.vmap(eqx.combine(p, static))(x), s

        return _functional_step(model, forward, params, None)

    class Net(eqx.Module):
        c1: eqx.nn.Conv2d
        b1: eqx.nn.BatchNorm
        c2: eqx.nn.Conv2d
        b2: eqx.nn.BatchNorm
        mlp: eqx.nn.MLP

        def __init__(self):
            self.c1, self.c2 = eqx.nn.Conv2d(3, 6, 5, key=k[0]), eqx.nn.Conv2d(6, 16, 5, key=k[1])
            self.b1 = eqx.nn.BatchNorm(6, "batch", momentum=0.9, mode="batch")
            self.b2 = eqx.nn.BatchNorm(16, "batch", momentum=0.9, mode="batch")
            self.mlp = eqx.nn.MLP(400, 10, 120, 1, activation=jax.nn.relu, key=k[2])

        def __call__(self, x, state):
            pool = eqx.nn.MaxPool2d(2, 2)
            x, state = self.b1(self.c1(x), state)
            x = pool(jax.nn.relu(x))
            x, state = self.b2(self.c2(x), state)
            return self.mlp(pool(jax.nn.relu(x)).reshape(-1)), state

    net, state = eqx.nn.make_with_state(Net)()
    params, static = eqx.partition(net, eqx.is_array)

    def forward(p, s, x):
        m = eqx.combine(p, static)
        return jax.vmap(m, axis_name="batch", in_axes=(0, None), out_axes=(0, None))(x, s)

    return _functional_step(model, forward, params, state)


# -- torch eager ------------------------------------------------------------------------------


def _torch_resnet18(classes=10):
    tn = torch.nn

    class Block(tn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = tn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = tn.BatchNorm2d(cout)
            self.conv2 = tn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = tn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = tn.Sequential(
                    tn.Conv2d(cin, cout, 1, stride, bias=False), tn.BatchNorm2d(cout)
                )

        def forward(self, x):
            out = torch.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return torch.relu(out + (x if self.downsample is None else self.downsample(x)))

    layers = [
        tn.Conv2d(3, 64, 7, 2, 3, bias=False),
        tn.BatchNorm2d(64),
        tn.ReLU(),
        tn.MaxPool2d(3, 2, 1),
    ]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    layers += [tn.AdaptiveAvgPool2d(1), tn.Flatten(), tn.Linear(512, classes)]
    return tn.Sequential(*layers)


def torch_model(model):
    tn = torch.nn
    torch.manual_seed(0)
    if model == "mlp":
        net = tn.Sequential(
            tn.Linear(784, 512), tn.ReLU(), tn.Linear(512, 512), tn.ReLU(), tn.Linear(512, 10)
        )
        opt = torch.optim.Adam(net.parameters(), 1e-3)
    elif model == "resnet18":
        net = _torch_resnet18()
        opt = torch.optim.SGD(net.parameters(), 0.01, momentum=0.9)
    else:
        net = tn.Sequential(
            tn.Conv2d(3, 6, 5),
            tn.BatchNorm2d(6),
            tn.ReLU(),
            tn.MaxPool2d(2),
            tn.Conv2d(6, 16, 5),
            tn.BatchNorm2d(16),
            tn.ReLU(),
            tn.MaxPool2d(2),
            tn.Flatten(),
            tn.Linear(400, 120),
            tn.ReLU(),
            tn.Linear(120, 84),
            tn.ReLU(),
            tn.Linear(84, 10),
        )
        opt = torch.optim.SGD(net.parameters(), 0.01, momentum=0.9)
    net.train()

    def step(carry, x, y):
        opt.zero_grad()
        loss = tn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return carry, loss

    return step, None


BUILDERS = {
    "raw_jax": raw_jax,
    "jaxinit": jaxinit_model,
    "jaxinit_lax": jaxinit_lax_model,
    "flax_nnx": flax_model,
    "flax_nnx_jit": flax_nnx_jit_model,
    "equinox": equinox_model,
    "torch": torch_model,
}
# Contenders written for each model (ResNet-18 by hand in raw JAX and equinox: not done).
MODELS = {
    "mlp": set(BUILDERS) - {"jaxinit_lax"},
    "lenet": set(BUILDERS),
    "resnet18": {"jaxinit", "jaxinit_lax", "flax_nnx", "torch"},
}


class Contender:
    """One compiled, warmed-up training loop; ``time(steps)`` returns steps per second."""

    def __init__(self, name, model, warmup):
        self.name = name
        self.step, self.carry = BUILDERS[name](model)
        x, y = data(model)
        if name == "torch":
            self.x, self.y = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
        else:
            self.x, self.y = jnp.asarray(x), jnp.asarray(y)
        self.time(warmup)

    def time(self, steps):
        step, carry, x, y = self.step, self.carry, self.x, self.y
        t = time.perf_counter()
        for _ in range(steps):
            carry, loss = step(carry, x, y)
        if self.name != "torch":
            jax.block_until_ready((carry, loss))
        elapsed = time.perf_counter() - t
        self.carry = carry
        return steps / elapsed


def paired(runs, name, ref):
    """Median over rounds of ``name``'s steps/s over ``ref``'s in the same round."""
    if ref not in runs:
        return "-"
    return f"{statistics.median(a / b for a, b in zip(runs[name], runs[ref])):.2f}x"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50, help="steps per timed repeat")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--only", default="mlp,lenet,resnet18")
    ap.add_argument("--contenders", default=",".join(BUILDERS))
    ap.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch intra-op threads (2 collapses under load on 2 cores, see docs)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.torch_threads)
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    for model in args.only.split(","):
        names = [n for n in args.contenders.split(",") if n in MODELS[model]]
        contenders = [Contender(n, model, args.warmup) for n in names]
        runs = {n: [] for n in names}
        for r in range(args.repeats):
            # Interleaved, and rotated so that no contender always runs first or last.
            for c in contenders[r % len(names) :] + contenders[: r % len(names)]:
                runs[c.name].append(c.time(args.steps))
        med = {n: statistics.median(v) for n, v in runs.items()}

        print(
            f"\n{model}: steps/s, medians of {args.repeats} interleaved repeats x {args.steps} "
            f"steps (load average now {os.getloadavg()[0]:.2f})"
        )
        print("| contender | steps/s | min-max | / raw JAX | / torch |\n|---|---:|---:|---:|---:|")
        for n in names:
            spread = f"{min(runs[n]):.0f}-{max(runs[n]):.0f}"
            print(
                f"| {n} | {med[n]:.1f} | {spread} | "
                f"{paired(runs, n, 'raw_jax')} | {paired(runs, n, 'torch')} |"
            )


if __name__ == "__main__":
    main()
