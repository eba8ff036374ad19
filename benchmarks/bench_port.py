"""Automatic ports: how long ``jaxinit.porting`` takes, and how fast the port trains.

* conversion time (``to_source`` + ``exec`` + loading torch's weights, i.e.
  ``convert(check=False)``; and the check, ``jaxinit.testing.compare`` with gradients, apart)
  for torchvision's resnet50 (224x224 weights, checked on 1x3x64x64) and a nanoGPT-style GPT
  (tests/torch/test_porting_torch.py's, 6 layers, 384 wide);
* Hugging Face's ``LlamaForCausalLM`` (captured by torch.export): the tiny test config
  (tests/torch/_hf_models.py) and benchmarks/bench_models.py's 2-layer, 768-wide one;
* the jitted training step (sgd momentum, batch 8 of 3x64x64, BatchNorm in training mode) of
  torchvision's resnet18 converted automatically, against the hand-written jaxinit port of
  benchmarks/bench_train.py and torch eager; and the same for the 2-layer Llama (AdamW, batch
  8 of 128 tokens) converted from transformers, against the hand-written port of
  benchmarks/models/transformers_lm.py and transformers in torch: built and warmed up once,
  then ``--repeats`` interleaved rounds of ``--steps`` steps (order rotating); medians of
  steps/s and of the same-round ratios.

Run: ``python benchmarks/bench_port.py [--steps 20] [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "tests", "torch"), os.path.join(HERE, "..")]

import bench_train  # noqa: E402
from _torchvision import import_torchvision  # noqa: E402

from jaxinit import porting  # noqa: E402


def conversion_times(repeats: int) -> None:
    tv = import_torchvision()
    from test_porting_torch import GPT

    torch.manual_seed(0)
    models = {
        "resnet50": (tv.models.resnet50().eval(), torch.randn(1, 3, 64, 64)),
        "gpt (6x384)": (
            GPT(vocab_size=512, block_size=64, n_layer=6, n_head=6, n_embd=384).eval(),
            torch.randint(0, 512, (1, 16)),
        ),
    }
    for name, (m, x) in models.items():
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            porting.convert(m, check=False)
            times.append(time.perf_counter() - t)
        t = time.perf_counter()
        porting.convert(m, x)
        checked = time.perf_counter() - t
        print(
            f"convert {name:12s} median {statistics.median(times):6.2f} s over {repeats} "
            f"(min {min(times):.2f}); with check=True {checked:6.1f} s"
        )


def hf_llama(tiny: bool):
    """Hugging Face's LlamaForCausalLM (no cache object), and example token ids."""
    if tiny:
        import _hf_models

        return _hf_models.build("llama"), torch.as_tensor(_hf_models.IDS)
    from models.reference import torch_model

    torch.manual_seed(0)
    m = torch_model("llama").eval()
    m.config.use_cache = False
    return m, torch.randint(0, 32000, (2, 16))


def llama_conversion_times(repeats: int) -> None:
    for name, tiny in (("llama tiny", True), ("llama 2x768", False)):
        m, ids = hf_llama(tiny)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            porting.convert(m, ids, check=False)
            times.append(time.perf_counter() - t)
        t = time.perf_counter()
        porting.convert(m, ids)
        checked = time.perf_counter() - t
        print(
            f"convert {name:12s} median {statistics.median(times):6.2f} s over {repeats} "
            f"(min {min(times):.2f}); with check=True {checked:6.1f} s"
        )


def ported_llama():
    import bench_models
    import optax

    m, ids = hf_llama(tiny=False)
    net, variables = porting.convert(m, ids, check=False)
    params, buffers = net.split(variables)
    opt = optax.adamw(1e-4)

    def loss_fn(p, x):
        out, _ = net(net.merge(p, buffers), x, train=True)
        logits = out["logits"][:, :-1]
        return optax.softmax_cross_entropy_with_integer_labels(logits, x[:, 1:]).mean()

    @jax.jit
    def step(carry, x, y, key):
        p, o = carry
        loss, g = jax.value_and_grad(loss_fn)(p, x)
        updates, o = opt.update(g, o, p)
        return (optax.apply_updates(p, updates), o), loss

    x, _ = bench_models._data("llama")
    return step, (params, opt.init(params)), (jnp.asarray(x), None, None)


def _bench_models_step(kind: str):
    import bench_models

    if kind == "hand":
        return bench_models.jaxinit_step("llama")
    return bench_models.torch_step("llama", 1)


LLAMA_BUILDERS = {
    "ported": ported_llama,
    "hand": lambda: _bench_models_step("hand"),
    "torch": lambda: _bench_models_step("torch"),
}


def ported_resnet18():
    tv = import_torchvision()
    torch.manual_seed(0)
    net, variables = porting.convert(tv.models.resnet18(num_classes=10).eval(), check=False)
    params, buffers = net.split(variables)

    def forward(p, b, x):
        logits, v = net(net.merge(p, b), x, train=True)
        return logits, net.split(v)[1]

    return bench_train._functional_step("resnet18", forward, params, buffers)


def torchvision_resnet18():
    tv = import_torchvision()
    torch.manual_seed(0)
    net = tv.models.resnet18(num_classes=10).train()
    opt = torch.optim.SGD(net.parameters(), 0.01, momentum=0.9)

    def step(carry, x, y):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return carry, loss

    return step, None


BUILDERS = {
    "ported": ported_resnet18,
    "hand": lambda: bench_train.jaxinit_model("resnet18"),
    "torch": torchvision_resnet18,
}


def training_steps(steps: int, repeats: int) -> None:
    x, y = bench_train.data("resnet18")
    contenders = {}
    for name, build in BUILDERS.items():
        step, carry = build()
        if name == "torch":
            args = (torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)))
        else:
            args = (jnp.asarray(x), jnp.asarray(y))
        contenders[name] = [step, carry, args]
    _rounds("resnet18", contenders, steps, repeats)


def llama_steps(steps: int, repeats: int) -> None:
    contenders = {name: list(build()) for name, build in LLAMA_BUILDERS.items()}
    _rounds("llama 2x768", contenders, steps, repeats)


def _rounds(model: str, contenders: dict, steps: int, repeats: int) -> None:
    for name, c in contenders.items():
        _time(name, c, 3)
    runs: dict[str, list[float]] = {n: [] for n in contenders}
    names = list(contenders)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            runs[name].append(_time(name, contenders[name], steps))
    for name in names:
        print(
            f"{model} step {name:7s} median {statistics.median(runs[name]):6.2f} steps/s "
            f"(min {min(runs[name]):.2f}, max {max(runs[name]):.2f})"
        )
    for a, b in (("ported", "hand"), ("ported", "torch"), ("hand", "torch")):
        ratio = statistics.median(y / x for x, y in zip(runs[a], runs[b], strict=True))
        print(f"{model}: time {a} / time {b}: {ratio:.3f}x (median of same-round ratios)")


def _time(name: str, c: list, steps: int) -> float:
    step, carry, args = c[0], c[1], c[2]
    t = time.perf_counter()
    for _ in range(steps):
        carry, loss = step(carry, *args)
    if name != "torch":
        jax.block_until_ready((carry, loss))
    c[1] = carry
    return steps / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--convert-repeats", type=int, default=3)
    ap.add_argument("--only", default="convert,train,llama")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"load average before: {os.getloadavg()}")
    with jax.numpy_rank_promotion("allow"):
        if "convert" in args.only:
            conversion_times(args.convert_repeats)
        if "train" in args.only:
            training_steps(args.steps, args.repeats)
        if "llama" in args.only:
            llama_conversion_times(args.convert_repeats)
            llama_steps(args.steps, args.repeats)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
