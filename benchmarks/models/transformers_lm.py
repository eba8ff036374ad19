"""Hugging Face's GPT-2 and Llama decoder blocks, written out with jaxinit.nn (parameter names
as in ``GPT2LMHeadModel`` / ``LlamaForCausalLM``), for the training-step benchmark.

GPT-2: learned positions, pre-LayerNorm blocks, fused ``c_attn`` projection, tanh GELU,
dropout 0.1, LM head tied to the token embedding. Llama: RMSNorm, rotary positions,
grouped-query attention, SwiGLU MLP, no biases, untied head. Both attend through
``F.scaled_dot_product_attention(..., is_causal=True)`` as Hugging Face's ``sdpa`` path does.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxinit import nn
from jaxinit.nn import functional as F


def _heads(x, n):
    b, t, _ = x.shape
    return x.reshape(b, t, n, -1).transpose(0, 2, 1, 3)


def _merge(x):
    b, h, t, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, t, h * d)


class GPT2Attention(nn.Module):
    def __init__(self, n_embd, n_head, pdrop):
        super().__init__()
        self.n_embd, self.n_head = n_embd, n_head
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.resid_dropout = nn.Dropout(pdrop)
        self.pdrop = pdrop

    def forward(self, x):
        q, k, v = (_heads(t, self.n_head) for t in jnp.split(self.c_attn(x), 3, axis=-1))
        p = self.pdrop if self.training else 0.0
        y = F.scaled_dot_product_attention(
            q, k, v, dropout_p=p, is_causal=True, rng=self.next_key() if p else None
        )
        return self.resid_dropout(self.c_proj(_merge(y)))


class GPT2Block(nn.Module):
    def __init__(self, n_embd, n_head, pdrop):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, eps=1e-5)
        self.attn = GPT2Attention(n_embd, n_head, pdrop)
        self.ln_2 = nn.LayerNorm(n_embd, eps=1e-5)
        self.mlp = nn.Sequential(
            nn.Linear(n_embd, 4 * n_embd),
            nn.GELU(approximate="tanh"),
            nn.Linear(4 * n_embd, n_embd),
            nn.Dropout(pdrop),
        )

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2LMHeadModel(nn.Module):
    def __init__(
        self,
        vocab=50257,
        n_positions=1024,
        n_embd=768,
        n_layer=2,
        n_head=12,
        pdrop=0.1,
        initializer_range=0.02,
    ):
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(n_positions, n_embd)
        self.drop = nn.Dropout(pdrop)
        self.h = nn.ModuleList([GPT2Block(n_embd, n_head, pdrop) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd, eps=1e-5)
        self.lm_head = nn.Linear(n_embd, vocab, bias=False)
        self.lm_head.weight = self.wte.weight
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, initializer_range)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, ids):
        x = self.drop(self.wte(ids) + self.wpe(jnp.arange(ids.shape[1]))[None])
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def _rotate_half(x):
    x1, x2 = jnp.split(x, 2, axis=-1)
    return jnp.concatenate((-x2, x1), axis=-1)


class LlamaAttention(nn.Module):
    def __init__(self, hidden, n_head, n_kv_head):
        super().__init__()
        self.n_head, self.n_kv_head = n_head, n_kv_head
        d = hidden // n_head
        self.q_proj = nn.Linear(hidden, n_head * d, bias=False)
        self.k_proj = nn.Linear(hidden, n_kv_head * d, bias=False)
        self.v_proj = nn.Linear(hidden, n_kv_head * d, bias=False)
        self.o_proj = nn.Linear(n_head * d, hidden, bias=False)

    def forward(self, x, cos, sin):
        q = _heads(self.q_proj(x), self.n_head)
        k = _heads(self.k_proj(x), self.n_kv_head)
        v = _heads(self.v_proj(x), self.n_kv_head)
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, enable_gqa=self.n_kv_head != self.n_head
        )
        return self.o_proj(_merge(y))


class LlamaMLP(nn.Module):
    def __init__(self, hidden, intermediate):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, intermediate, bias=False)
        self.up_proj = nn.Linear(hidden, intermediate, bias=False)
        self.down_proj = nn.Linear(intermediate, hidden, bias=False)
        self.act_fn = nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, hidden, n_head, n_kv_head, intermediate, eps):
        super().__init__()
        self.self_attn = LlamaAttention(hidden, n_head, n_kv_head)
        self.mlp = LlamaMLP(hidden, intermediate)
        self.input_layernorm = nn.RMSNorm(hidden, eps=eps)
        self.post_attention_layernorm = nn.RMSNorm(hidden, eps=eps)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaForCausalLM(nn.Module):
    def __init__(
        self,
        vocab=32000,
        hidden=768,
        n_layer=2,
        n_head=12,
        n_kv_head=4,
        intermediate=2048,
        eps=1e-6,
        rope_theta=10000.0,
        initializer_range=0.02,
    ):
        super().__init__()
        self.head_dim, self.rope_theta = hidden // n_head, rope_theta
        self.embed_tokens = nn.Embedding(vocab, hidden)
        self.layers = nn.ModuleList(
            [
                LlamaDecoderLayer(hidden, n_head, n_kv_head, intermediate, eps)
                for _ in range(n_layer)
            ]
        )
        self.norm = nn.RMSNorm(hidden, eps=eps)
        self.lm_head = nn.Linear(hidden, vocab, bias=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, initializer_range)

    def forward(self, ids):
        d = self.head_dim
        inv_freq = 1.0 / self.rope_theta ** (jnp.arange(0, d, 2, dtype=jnp.float32) / d)
        freqs = jnp.arange(ids.shape[1], dtype=jnp.float32)[:, None] * inv_freq[None]
        emb = jnp.concatenate((freqs, freqs), axis=-1)
        cos, sin = jnp.cos(emb), jnp.sin(emb)
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.lm_head(self.norm(x))


def gpt2_small_2layer() -> GPT2LMHeadModel:
    """GPT-2 small's widths (768, 12 heads, vocab 50257) with 2 layers."""
    return GPT2LMHeadModel()


def llama_2layer() -> LlamaForCausalLM:
    """A Llama-shaped model: hidden 768, 12 query / 4 key-value heads, SwiGLU 2048, vocab
    32000, 2 layers."""
    return LlamaForCausalLM()
