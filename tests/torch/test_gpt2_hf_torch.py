"""Hugging Face's GPT2LMHeadModel (``transformers``, a tiny random config, no download) against
a jaxinit port with the same module names, checked with jaxinit.testing.

The port mirrors transformers 5's modeling_gpt2.py: ``Conv1D`` (weight stored ``(nx, nf)``),
eager attention with the additive causal mask, ``NewGELUActivation``, and the initialization
as transformers runs it: each module's construction draws, then ``post_init`` of the inner
``GPT2Model`` (``_init_weights`` over its modules in post-order, the residual ``c_proj``
rescale), then the outer model's (only ``lm_head`` is new: its draw is replaced by the tie).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

torch = pytest.importorskip("torch")
from _torchvision import import_torchvision  # noqa: E402

import_torchvision()  # transformers imports torchvision: declare its op schemas first
transformers = pytest.importorskip("transformers")

import jaxinit  # noqa: E402
from jaxinit import TorchGenerator, init, nn  # noqa: E402
from jaxinit.interop import to_torch  # noqa: E402
from jaxinit.testing import assert_matches_torch, compare  # noqa: E402
from jaxinit.testing.compare import diff  # noqa: E402

VOCAB, POSITIONS, EMBD, LAYERS, HEADS, STD = 96, 16, 32, 2, 4, 0.02


def hf_model(seed, pdrop=0.1):
    config = transformers.GPT2Config(
        vocab_size=VOCAB,
        n_positions=POSITIONS,
        n_embd=EMBD,
        n_layer=LAYERS,
        n_head=HEADS,
        resid_pdrop=pdrop,
        embd_pdrop=pdrop,
        attn_pdrop=pdrop,
        use_cache=False,
        bos_token_id=1,
        eos_token_id=1,
        attn_implementation="eager",
    )
    torch.manual_seed(seed)
    return transformers.GPT2LMHeadModel(config)


class Conv1D(nn.Module):
    def __init__(self, nf, nx):
        super().__init__()
        self.nf, self.nx = nf, nx
        self.weight = nn.Parameter((nx, nf), init.empty)
        self.bias = nn.Parameter((nf,), init.zeros)
        init.normal_(self.weight, std=0.02)

    def forward(self, x):
        return x @ self.weight + self.bias.reshape((1,) * (x.ndim - 1) + (-1,))


class NewGELUActivation(nn.Module):
    def forward(self, x):
        return 0.5 * x * (1.0 + jnp.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


class GPT2Attention(nn.Module):
    def __init__(self, pdrop):
        super().__init__()
        self.c_attn = Conv1D(3 * EMBD, EMBD)
        self.c_proj = Conv1D(EMBD, EMBD)
        self.attn_dropout = nn.Dropout(pdrop)
        self.resid_dropout = nn.Dropout(pdrop)

    def forward(self, x):
        b, t, _ = x.shape
        qkv = self.c_attn(x)
        q, k, v = (
            qkv[..., i * EMBD : (i + 1) * EMBD].reshape(b, t, HEADS, -1).transpose(0, 2, 1, 3)
            for i in range(3)
        )
        w = (q @ k.transpose(0, 1, 3, 2)) * (EMBD // HEADS) ** -0.5
        causal = jnp.tril(jnp.ones((t, t), bool)).reshape(1, 1, t, t)
        mask = jnp.where(causal, jnp.zeros((), w.dtype), jnp.finfo(w.dtype).min)
        w = jax.nn.softmax(w + mask, axis=-1)
        w = nn.functional.dropout(
            w, self.attn_dropout.p, self.training, rng=self.next_key() if self.training else None
        )
        y = (w @ v).transpose(0, 2, 1, 3).reshape(b, t, EMBD)
        return self.resid_dropout(self.c_proj(y)), w


class GPT2MLP(nn.Module):
    def __init__(self, pdrop):
        super().__init__()
        self.c_fc = Conv1D(4 * EMBD, EMBD)
        self.c_proj = Conv1D(EMBD, 4 * EMBD)
        self.act = NewGELUActivation()
        self.dropout = nn.Dropout(pdrop)

    def forward(self, x):
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class GPT2Block(nn.Module):
    def __init__(self, pdrop):
        super().__init__()
        self.ln_1 = nn.LayerNorm(EMBD, eps=1e-5)
        self.attn = GPT2Attention(pdrop)
        self.ln_2 = nn.LayerNorm(EMBD, eps=1e-5)
        self.mlp = GPT2MLP(pdrop)

    def forward(self, x):
        x = self.attn(self.ln_1(x))[0] + x
        return x + self.mlp(self.ln_2(x))


def hf_init_weights(module):
    """GPT2PreTrainedModel._init_weights on one module (transformers' guarded inits)."""
    if isinstance(module, nn.Linear):
        init.normal_(module.weight, mean=0.0, std=STD)
        if module.bias is not None:
            init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        init.normal_(module.weight, mean=0.0, std=STD)
    elif isinstance(module, nn.LayerNorm):
        init.ones_(module.weight)
        init.zeros_(module.bias)
    if isinstance(module, Conv1D):
        init.normal_(module.weight, mean=0.0, std=STD)
        init.zeros_(module.bias)
    if isinstance(module, (GPT2Attention, GPT2MLP)):
        init.normal_(module.c_proj.weight, mean=0.0, std=STD / math.sqrt(2 * LAYERS))


def post_init(module, done):
    """transformers' smart_apply: children first, each module initialised once."""
    for child in module.children():
        post_init(child, done)
    if id(module) not in done:
        hf_init_weights(module)
        done.add(id(module))


class GPT2Model(nn.Module):
    def __init__(self, pdrop, done):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, EMBD)
        self.wpe = nn.Embedding(POSITIONS, EMBD)
        self.drop = nn.Dropout(pdrop)
        self.h = nn.ModuleList([GPT2Block(pdrop) for _ in range(LAYERS)])
        self.ln_f = nn.LayerNorm(EMBD, eps=1e-5)
        post_init(self, done)

    def forward(self, ids):
        pos = jnp.arange(ids.shape[1]).reshape(1, -1)
        x = self.drop(self.wte(ids) + self.wpe(pos))
        for block in self.h:
            x = block(x)
        return {"last_hidden_state": self.ln_f(x)}


class GPT2LMHeadModel(nn.Module):
    def __init__(self, pdrop=0.1):
        super().__init__()
        done = set()
        self.transformer = GPT2Model(pdrop, done)
        self.lm_head = nn.Linear(EMBD, VOCAB, bias=False)
        post_init(self, done)
        self.lm_head.weight = self.transformer.wte.weight  # tie_weights

    def forward(self, ids):
        return {"logits": self.lm_head(self.transformer(ids)["last_hidden_state"])}


IDS = np.random.RandomState(0).randint(1, VOCAB, size=(2, 8))


def test_hf_gpt2_init_is_bitwise_and_the_port_matches(tmp_path):
    seed = 3
    tm = hf_model(seed)
    jm = GPT2LMHeadModel()
    gen = TorchGenerator(seed)
    v = jm.init(gen)
    sd, tsd = jm.state_dict(v), tm.state_dict()
    assert list(sd) == list(tsd)  # lm_head.weight listed as torch lists the tie
    for key, t in tsd.items():
        assert np.array_equal(np.asarray(sd[key]).view(np.uint8), t.numpy().view(np.uint8)), key
    assert np.array_equal(gen.get_state(), torch.get_rng_state().numpy())

    report = assert_matches_torch(tm, jm, IDS, variables=v)
    assert [r.label for r in report.rows][:3] == [
        "transformer.wte",
        "transformer.wpe",
        "transformer.drop",
    ]
    assert report.rows[-1].torch_shape == (2, 8, VOCAB)
    # a port with exact GELU where GPT-2 has the tanh form is found at the activation
    with_exact = GPT2LMHeadModel()
    for block in with_exact.transformer.h:
        block.mlp.act = nn.GELU()
    wrong = compare(tm, with_exact, IDS, variables=v)
    assert wrong.first_mismatch == "transformer.h.0.mlp.act"

    tm0, jm0 = hf_model(seed, 0.0), GPT2LMHeadModel(0.0)
    v0 = jm0.init(TorchGenerator(seed))
    assert_matches_torch(tm0, jm0, IDS, variables=v0, train=True, grads=True, rtol=1e-4)

    # saved by jaxinit, loaded strictly by transformers' model
    jaxinit.save(v0, tmp_path / "gpt2.msgpack")
    back = hf_model(seed + 1, 0.0)
    back.load_state_dict(
        to_torch(jm0.state_dict(jaxinit.load(tmp_path / "gpt2.msgpack", like=v0))), strict=True
    )
    assert all(torch.equal(t, tm0.state_dict()[k]) for k, t in back.state_dict().items())

    # one SGD step with momentum on the next-token loss (transformers shifts the labels)
    opt = torch.optim.SGD(tm0.parameters(), lr=0.1, momentum=0.9)
    tm0.train()
    loss = tm0(torch.from_numpy(IDS), labels=torch.from_numpy(IDS)).loss
    opt.zero_grad()
    loss.backward()
    opt.step()

    def objective(p):
        logits = jm0(p, jnp.asarray(IDS), train=True, key=jax.random.key(0))[0]["logits"][:, :-1]
        labels = jnp.asarray(IDS)[:, 1:]
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    tx = optax.sgd(0.1, momentum=0.9)
    with jax.numpy_dtype_promotion("standard"):
        j_loss, grads = jax.jit(jax.value_and_grad(objective))(v0)  # one compile, not one per op
        params = optax.apply_updates(v0, tx.update(grads, tx.init(v0), v0)[0])
    assert abs(float(j_loss) - loss.item()) <= 1e-5 * loss.item()
    after = jm0.state_dict(params)
    for key, t in tm0.state_dict().items():
        assert diff(t.numpy(), np.asarray(after[key]), 1e-5, 1e-6)[2], key
