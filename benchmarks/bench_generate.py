"""Autoregressive decoding of a nanoGPT-style GPT: jaxinit's jit-compiled KV-cache loop
(``examples/generate_gpt.py``) against torch's nanoGPT ``generate`` (no cache, the whole
sequence each step, as nanoGPT's ``model.py``) and a torch loop with a preallocated KV cache.

Per contender and repeat, a fresh subprocess builds the model (GPT-2-small's shapes, random
weights; ``--small`` for a 4-layer 256-wide one), then measures

* first token: from the model ready to the first new token, compile included (a fresh
  process: cold), prompt of ``--prompt`` tokens, batch 1, greedy;
* tokens/s: ``--new`` greedy tokens after the same prompt, median of 3 calls in that process.

torch runs at 1 and at 2 intra-op threads (``torch1``, ``torch2``; on this shared 2-core
machine either may be faster). Contenders are interleaved repeat by repeat.

    python benchmarks/bench_generate.py [--repeats 3] [--new 64] [--prompt 8] [--small]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CONTENDERS = ["jaxinit", "torch1_nocache", "torch1_cache", "torch2_nocache", "torch2_cache"]
HERE = os.path.dirname(os.path.abspath(__file__))


def config_kwargs(small: bool) -> dict:
    if small:
        return dict(block_size=256, vocab_size=50304, n_layer=4, n_head=4, n_embd=256)
    return dict(block_size=1024, vocab_size=50304, n_layer=12, n_head=12, n_embd=768)


def run_jaxinit(cfg: dict, prompt: int, new: int) -> dict:
    import jax
    import jax.numpy as jnp

    sys.path.insert(0, os.path.join(HERE, "..", "examples"))
    from generate_gpt import GPT, GPTConfig, generate

    config = GPTConfig(**cfg)
    net = GPT(config)
    variables = jax.block_until_ready(net.init(jax.random.key(0)))
    tokens = (
        jnp.zeros((1, config.block_size), jnp.int32)
        .at[:, :prompt]
        .set(jnp.arange(1, prompt + 1, dtype=jnp.int32))
    )
    key = jax.random.key(1)
    t = time.perf_counter()
    jax.block_until_ready(generate(net, variables, tokens, prompt, prompt + 1, key, greedy=True))
    first = time.perf_counter() - t
    times = []
    for _ in range(3):
        t = time.perf_counter()
        out = generate(net, variables, tokens, prompt, prompt + new, key, greedy=True)
        jax.block_until_ready(out)
        times.append(time.perf_counter() - t)
    return {"first": first, "tps": new / statistics.median(times)}


def torch_gpt(cfg: dict):
    """nanoGPT's model.py (inference parts, its state_dict names), with an optional
    preallocated KV cache."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(cfg["n_embd"], 3 * cfg["n_embd"])
            self.c_proj = nn.Linear(cfg["n_embd"], cfg["n_embd"])
            self.n_head, self.n_embd = cfg["n_head"], cfg["n_embd"]

        def forward(self, x, cache=None, pos=0):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            if cache is not None:
                cache[0][:, :, pos : pos + T] = k
                cache[1][:, :, pos : pos + T] = v
                k, v = cache[0][:, :, : pos + T], cache[1][:, :, : pos + T]
            y = F.scaled_dot_product_attention(q, k, v, is_causal=T > 1)
            return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(cfg["n_embd"], 4 * cfg["n_embd"])
            self.gelu = nn.GELU()
            self.c_proj = nn.Linear(4 * cfg["n_embd"], cfg["n_embd"])

        def forward(self, x):
            return self.c_proj(self.gelu(self.c_fc(x)))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(cfg["n_embd"])
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(cfg["n_embd"])
            self.mlp = MLP()

        def forward(self, x, cache=None, pos=0):
            x = x + self.attn(self.ln_1(x), cache, pos)
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(
                dict(
                    wte=nn.Embedding(cfg["vocab_size"], cfg["n_embd"]),
                    wpe=nn.Embedding(cfg["block_size"], cfg["n_embd"]),
                    h=nn.ModuleList([Block() for _ in range(cfg["n_layer"])]),
                    ln_f=nn.LayerNorm(cfg["n_embd"]),
                )
            )
            self.lm_head = nn.Linear(cfg["n_embd"], cfg["vocab_size"], bias=False)
            self.transformer.wte.weight = self.lm_head.weight

        def forward(self, idx, caches=None, pos=0, last_only=True):
            T = idx.size(1)
            x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(pos, pos + T))
            for i, block in enumerate(self.transformer.h):
                x = block(x, None if caches is None else caches[i], pos)
            x = self.transformer.ln_f(x)
            return self.lm_head(x[:, [-1], :] if last_only else x)  # nanoGPT: last position

        @torch.no_grad()
        def generate(self, idx, max_new_tokens):  # nanoGPT's loop (greedy)
            for _ in range(max_new_tokens):
                bs = cfg["block_size"]
                idx_cond = idx if idx.size(1) <= bs else idx[:, -bs:]
                logits = self(idx_cond)
                idx_next = logits[:, -1, :].argmax(-1, keepdim=True)
                idx = torch.cat((idx, idx_next), dim=1)
            return idx

        @torch.no_grad()
        def generate_cached(self, idx, max_new_tokens):
            B, P = idx.shape
            hs = cfg["n_embd"] // cfg["n_head"]
            shape = (B, cfg["n_head"], cfg["block_size"], hs)
            caches = [(torch.zeros(shape), torch.zeros(shape)) for _ in self.transformer.h]
            out = torch.empty(B, P + max_new_tokens, dtype=idx.dtype)
            out[:, :P] = idx
            logits = self(idx, caches, 0)
            for i in range(max_new_tokens):
                out[:, P + i] = logits[:, -1, :].argmax(-1)
                if i + 1 < max_new_tokens:
                    logits = self(out[:, P + i : P + i + 1], caches, P + i)
            return out

    return GPT()


def run_torch(cfg: dict, prompt: int, new: int, threads: int, cached: bool) -> dict:
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = torch_gpt(cfg).eval()
    idx = torch.arange(1, prompt + 1).unsqueeze(0)
    gen = net.generate_cached if cached else net.generate
    t = time.perf_counter()
    gen(idx, 1)
    first = time.perf_counter() - t
    times = []
    for _ in range(3):
        t = time.perf_counter()
        gen(idx, new)
        times.append(time.perf_counter() - t)
    return {"first": first, "tps": new / statistics.median(times)}


def worker(name: str, small: bool, prompt: int, new: int) -> dict:
    cfg = config_kwargs(small)
    if name == "jaxinit":
        return run_jaxinit(cfg, prompt, new)
    threads, mode = int(name[5]), name.split("_")[1]
    return run_torch(cfg, prompt, new, threads, mode == "cache")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--new", type=int, default=64)
    ap.add_argument("--prompt", type=int, default=8)
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--only", default=",".join(CONTENDERS))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.small, args.prompt, args.new)))
        return
    names = [n for n in CONTENDERS if n in args.only.split(",")]
    runs: dict[str, list[dict]] = {n: [] for n in names}
    extra = ["--small"] if args.small else []
    for r in range(args.repeats):
        for n in names:
            cmd = [
                sys.executable,
                __file__,
                "--worker",
                n,
                "--prompt",
                str(args.prompt),
                "--new",
                str(args.new),
                *extra,
            ]
            env = {**os.environ, "JAX_PLATFORMS": "cpu"}
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
            runs[n].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"  repeat {r + 1}: {n} {runs[n][-1]}", file=sys.stderr, flush=True)
    med = {
        n: {k: statistics.median(x[k] for x in runs[n]) for k in ("first", "tps")} for n in names
    }
    torch_best = {
        mode: max((med[n]["tps"] for n in names if n.endswith(mode)), default=None)
        for mode in ("nocache", "cache")
    }
    size = "4x256 (small)" if args.small else "GPT-2-small (124M)"
    print(
        f"\n{size}, prompt {args.prompt}, {args.new} new tokens, batch 1, greedy; "
        f"medians of {args.repeats} fresh processes; load average {os.getloadavg()[0]:.1f}"
    )
    print(
        "| contender | first token s (cold) | tokens/s | / best torch no-cache | "
        "/ best torch cache |"
    )
    print("|---|---:|---:|---:|---:|")
    for n in names:
        m = med[n]
        ratios = [f"{m['tps'] / b:.2f}x" if b else "-" for b in torch_best.values()]
        print(f"| {n} | {m['first']:.2f} | {m['tps']:.1f} | {ratios[0]} | {ratios[1]} |")


if __name__ == "__main__":
    main()
