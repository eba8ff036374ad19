"""Autoregressive generation under ``jit``: a nanoGPT-style GPT with a KV cache.

The model is nanoGPT's (Karpathy's ``model.py``: token and position embeddings, pre-LayerNorm
blocks of causal self-attention and a GELU MLP, a final LayerNorm and an ``lm_head`` tied to
the token embedding), written with ``jaxinit.nn`` as in torch, with the same state_dict names.

**Why not torch's loop as it is.** nanoGPT's ``generate`` runs the whole model on the sequence
so far, samples one token, appends it (``torch.cat``) and repeats. Under JAX, every shape is
part of a compiled program: ``jax.jit(net)`` on a sequence one token longer is a new shape, so
an eager ``generate`` traces and compiles the model again for every sequence length (up to
``block_size`` times), and redoes the work for all earlier tokens at every step.

**The jit-friendly pattern** (this file):

* fixed-size buffers: the tokens live in one ``(batch, block_size)`` array, and each
  attention layer's keys and values in a cache of ``block_size`` positions (see
  :func:`empty_cache`), allocated once; a step writes position ``pos`` with
  ``lax.dynamic_update_slice`` (``pos`` is a traced integer, so every position runs the same
  program);
* each step feeds one token, attends to the cache through a mask ``key_position <= pos``
  (``F.scaled_dot_product_attention(q, k_cache, v_cache, attn_mask=...)``), and costs the same
  at any position;
* the loop is a ``lax.fori_loop`` inside one ``jax.jit``: the prompt is fed token by token
  through the same step (a token at a position before ``prompt_len`` is kept, after it is
  sampled), so one compiled program serves every prompt length and every number of new tokens
  (both are traced values, bounded by ``block_size``). Compile once, generate any length;
* nothing big is copied inside the loop (check with ``generate.lower(...).compile().as_text()``:
  no ``copy`` or ``transpose`` of a weight or of the cache in the ``while`` body). On CPU that
  takes two layout choices: every weight matrix is transposed once before the loop (XLA's CPU
  matmul wants ``(in, out)``; a Linear's ``(out, in)`` weight would be transposed at every
  step, which made steps 1.3-1.6x slower in interleaved runs), and the cache keeps batch and
  heads flattened and the keys transposed, so both attention products are plain batched
  matmuls that read the cache in place.

Run: ``python examples/generate_gpt.py`` (a tiny model, a few seconds), or
``python examples/generate_gpt.py --gpt2`` (GPT-2-small's 124M parameters, random weights).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxinit import nn
from jaxinit.nn import functional as F


@dataclasses.dataclass(frozen=True)
class GPTConfig:
    block_size: int = 1024
    vocab_size: int = 50304
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    bias: bool = True


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.n_head, self.n_embd = config.n_head, config.n_embd

    def forward(self, x, cache=None, pos=None):
        """``x (B, T, C)``. Without ``cache``: causal attention over ``x`` (training, or a
        cache-less forward). With ``cache = (k_t, v)``, ``k_t (B * heads, head_dim, block_size)``
        and ``v (B * heads, block_size, head_dim)`` (see :func:`empty_cache`): ``x`` holds the
        tokens at positions ``pos .. pos + T - 1``; their keys and values are written into the
        cache and the queries attend to every cached position up to their own.
        Returns ``(y, cache)``."""
        B, T, C = x.shape
        nh, hs = self.n_head, C // self.n_head
        q, k, v = jnp.split(self.c_attn(x), 3, axis=2)
        q, k, v = (
            t.reshape(B, T, nh, hs).transpose(0, 2, 1, 3) for t in (q, k, v)
        )  # (B, nh, T, hs)
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            # Batch and heads flattened, keys stored transposed: the two attention products are
            # then plain batched matmuls over the cache, which XLA runs in place (no per-step
            # copy or transpose of the cache).
            q, k, v = (t.reshape(B * nh, T, hs) for t in (q, k, v))
            k_t = lax.dynamic_update_slice(cache[0], k.transpose(0, 2, 1), (0, 0, pos))
            v = lax.dynamic_update_slice(cache[1], v, (0, pos, 0))
            key_pos = jnp.arange(v.shape[1])
            mask = key_pos[None, :] <= (pos + jnp.arange(T))[:, None]  # (T, block_size)
            y = F.scaled_dot_product_attention(q, k_t.transpose(0, 2, 1), v, attn_mask=mask)
            y, cache = y.reshape(B, nh, T, hs), (k_t, v)
        y = y.transpose(0, 2, 1, 3).reshape(B, T, C)
        return self.c_proj(y), cache


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, cache=None, pos=None):
        a, cache = self.attn(self.ln_1(x), cache, pos)
        x = x + a
        return x + self.mlp(self.ln_2(x)), cache


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # nanoGPT's weight tying
        self.apply(self._init_weights)  # nanoGPT's init, as written
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, cache=None, pos=0):
        """Logits ``(B, T, vocab)`` for tokens ``idx (B, T)`` at positions ``pos .. pos+T-1``.
        ``cache``: None (plain causal forward, ``pos`` 0) or one ``(k, v)`` pair per block
        (see :func:`empty_cache`); returns ``(logits, cache)``."""
        T = idx.shape[1]
        positions = (pos + jnp.arange(T))[None, :]  # (1, T)
        x = self.transformer.wte(idx) + self.transformer.wpe(positions)
        caches = [None] * len(self.transformer.h) if cache is None else cache
        new_cache = []
        for block, block_cache in zip(self.transformer.h, caches):
            x, block_cache = block(x, block_cache, pos)
            new_cache.append(block_cache)
        logits = self.lm_head(self.transformer.ln_f(x))
        return logits, (None if cache is None else new_cache)


def empty_cache(config: GPTConfig, batch: int, dtype=jnp.float32) -> list:
    """One zero ``(k_t, v)`` pair per block: the keys transposed,
    ``(batch * n_head, head_dim, block_size)``, the values ``(batch * n_head, block_size,
    head_dim)``."""
    rows, hs = batch * config.n_head, config.n_embd // config.n_head
    return [
        (
            jnp.zeros((rows, hs, config.block_size), dtype),
            jnp.zeros((rows, config.block_size, hs), dtype),
        )
        for _ in range(config.n_layer)
    ]


def _flip(x: jax.Array) -> jax.Array:
    return x.T if x.ndim == 2 else x


@functools.partial(jax.jit, static_argnames=("net", "greedy"))
def generate(
    net: GPT,
    variables,
    tokens,
    prompt_len,
    total_len,
    key,
    temperature=1.0,
    *,
    greedy: bool = False,
):
    """Fill ``tokens (B, block_size)`` (int32; the prompt in ``[:, :prompt_len]``) up to
    position ``total_len - 1`` and return it: position ``i + 1`` is sampled from the logits of
    position ``i`` (``softmax(logits / temperature)``, or their argmax when ``greedy``), with
    ``jax.random.fold_in(key, i)`` as the step's key. ``prompt_len`` and ``total_len`` are
    traced: one compile serves every length up to ``block_size``.

    Example::

        tokens = jnp.zeros((1, net.config.block_size), jnp.int32).at[0, :3].set(prompt)
        out = generate(net, variables, tokens, 3, 3 + 20, jax.random.key(0))
        new = out[0, 3:23]
    """

    # XLA's CPU matmul takes a weight as (in, out): a Linear's (out, in) weight used as it is
    # inside the loop would be transposed -- copied -- at every step. So every matrix is
    # transposed once here, and back inside the step, where that is free (a layout change).
    flipped = jax.tree.map(_flip, variables)

    def step(i, carry):
        tokens, cache = carry
        token = lax.dynamic_slice_in_dim(tokens, i, 1, axis=1)
        logits, cache = net(jax.tree.map(_flip, flipped), token, cache, i)
        logits = logits[:, 0]
        if greedy:
            sampled = jnp.argmax(logits, axis=-1)
        else:
            sampled = jax.random.categorical(jax.random.fold_in(key, i), logits / temperature)
        keep = i + 1 < prompt_len  # still inside the prompt: keep its token
        current = lax.dynamic_slice_in_dim(tokens, i + 1, 1, axis=1)[:, 0]
        nxt = jnp.where(keep, current, sampled.astype(tokens.dtype))
        return lax.dynamic_update_slice(tokens, nxt[:, None], (0, i + 1)), cache

    dtype = variables["transformer"]["wte"]["weight"].dtype  # lm_head's weight is tied to it
    cache = empty_cache(net.config, tokens.shape[0], dtype)
    tokens, _ = lax.fori_loop(0, total_len - 1, step, (tokens, cache))
    return tokens


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpt2", action="store_true", help="GPT-2-small's size (124M parameters)")
    ap.add_argument("--new", type=int, default=24, help="tokens to generate")
    ap.add_argument("--block-size", type=int, default=None)
    ap.add_argument(
        "--temperature", type=float, default=None, help="also sample at this temperature"
    )
    args = ap.parse_args(argv)
    if args.gpt2:
        config = GPTConfig(block_size=args.block_size or 1024)
    else:
        config = GPTConfig(
            block_size=args.block_size or 64, vocab_size=97, n_layer=2, n_head=2, n_embd=32
        )
    net = GPT(config)
    variables = net.init(jax.random.key(0))
    n_params = sum(x.size for _, x in net.named_parameters(variables))
    print(f"GPT: {config.n_layer} layers, {config.n_embd} wide, {n_params / 1e6:.2f}M parameters")

    prompt = np.array([[1, 2, 3, 4, 5]], np.int32)
    p = prompt.shape[1]
    tokens = jnp.zeros((1, config.block_size), jnp.int32).at[:, :p].set(prompt)
    key = jax.random.key(1)

    t = time.perf_counter()  # the first call compiles; one new token
    first = generate(net, variables, tokens, p, p + 1, key, greedy=True)
    jax.block_until_ready(first)
    first_token_s = time.perf_counter() - t
    print(f"first token (compile included): {first_token_s:.2f} s")

    t = time.perf_counter()  # the same program for any length: no recompile
    out = jax.block_until_ready(generate(net, variables, tokens, p, p + args.new, key, greedy=True))
    seconds = time.perf_counter() - t
    print(
        f"{args.new} tokens in {seconds:.3f} s ({args.new / seconds:.1f} tokens/s), "
        f"compiled programs: {generate._cache_size()}"
    )
    print("greedy continuation:", out[0, p : p + args.new].tolist())

    # check: the cache-less forward over the whole sequence predicts the same greedy tokens
    full, _ = jax.jit(net.__call__)(variables, out[:, : p + args.new - 1])
    predicted = jnp.argmax(full[0, p - 1 :], axis=-1)
    agree = bool((predicted == out[0, p : p + args.new]).all())
    print(f"cached generation == cache-less forward's argmax: {agree}")
    if args.temperature is not None:  # another program (greedy is a static argument)
        sampled = generate(net, variables, tokens, p, p + args.new, key, args.temperature)
        print(f"sampled (temperature {args.temperature}):", sampled[0, p : p + args.new].tolist())
    return {
        "first_token_s": first_token_s,
        "agree": agree,
        "tokens": out[0, : p + args.new],
        "compiled": generate._cache_size(),
    }


if __name__ == "__main__":
    main()
