"""Automatic ports (jaxinit.porting) of models written in torch code: a nanoGPT-style GPT
(tied embedding, constructor init, F.scaled_dot_product_attention, dropout), an LSTM tagger
over packed sequences, and a forward of plain tensor code (indexing, einsum, masked_fill,
chunk, permute, view, in-place ops); plus PortError and the ``jaxinit port`` command.
"""

import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn as tnn  # noqa: E402
import torch.nn.functional as TF  # noqa: E402
from _porting_helpers import (  # noqa: E402
    relaxed,
    sgd_step_matches,
    sources_run_without_torch,
    state_dicts_agree,
)
from _xla_speed import unoptimized_xla  # noqa: E402, F401 -- autouse: this module's compiles
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

from jaxinit import porting  # noqa: E402
from jaxinit.cli import main  # noqa: E402


class CausalSelfAttention(tnn.Module):
    def __init__(self, n_embd, n_head, dropout):
        super().__init__()
        self.c_attn = tnn.Linear(n_embd, 3 * n_embd)
        self.c_proj = tnn.Linear(n_embd, n_embd)
        self.attn_dropout = tnn.Dropout(dropout)
        self.resid_dropout = tnn.Dropout(dropout)
        self.n_head, self.n_embd, self.dropout = n_head, n_embd, dropout

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = TF.scaled_dot_product_attention(
            q, k, v, attn_mask=None, dropout_p=self.dropout if self.training else 0, is_causal=True
        )
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(tnn.Module):
    def __init__(self, n_embd, dropout):
        super().__init__()
        self.c_fc = tnn.Linear(n_embd, 4 * n_embd)
        self.gelu = tnn.GELU()
        self.c_proj = tnn.Linear(4 * n_embd, n_embd)
        self.dropout = tnn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(tnn.Module):
    def __init__(self, n_embd, n_head, dropout):
        super().__init__()
        self.ln_1 = tnn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln_2 = tnn.LayerNorm(n_embd)
        self.mlp = MLP(n_embd, dropout)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT(tnn.Module):
    def __init__(self, vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=32, dropout=0.0):
        super().__init__()
        self.block_size = block_size
        self.transformer = tnn.ModuleDict(
            dict(
                wte=tnn.Embedding(vocab_size, n_embd),
                wpe=tnn.Embedding(block_size, n_embd),
                drop=tnn.Dropout(dropout),
                h=tnn.ModuleList([Block(n_embd, n_head, dropout) for _ in range(n_layer)]),
                ln_f=tnn.LayerNorm(n_embd),
            )
        )
        self.lm_head = tnn.Linear(n_embd, vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight
        self.apply(self._init_weights)
        for pn, p in self.named_parameters():
            if pn.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))

    def _init_weights(self, module):
        if isinstance(module, tnn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, tnn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx):
        b, t = idx.size()
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        tok_emb = self.transformer.wte(idx)
        pos_emb = self.transformer.wpe(pos)
        x = self.transformer.drop(tok_emb + pos_emb)
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        return self.lm_head(x)


class Tagger(tnn.Module):
    def __init__(self, vocab=20, emb=8, hidden=12, tags=5):
        super().__init__()
        self.embedding = tnn.Embedding(vocab, emb, padding_idx=0)
        self.lstm = tnn.LSTM(emb, hidden, batch_first=True, bidirectional=True)
        self.out = tnn.Linear(2 * hidden, tags)

    def forward(self, tokens, lengths):
        x = self.embedding(tokens)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=tokens.shape[1])
        return TF.log_softmax(self.out(out), dim=-1)


class Plain(tnn.Module):
    def __init__(self, d=8):
        super().__init__()
        self.w = tnn.Parameter(torch.randn(d, d) * 0.1)
        self.proj = tnn.Linear(d, 2 * d)
        self.register_buffer("scale", torch.tensor([0.5, 2.0]))

    def forward(self, x, mask):
        a, b = self.proj(x).chunk(2, dim=-1)
        s = torch.einsum("bld,de->ble", a, self.w)
        s = s.masked_fill(mask[:, :, None], 0.0)
        s += b
        s = s.permute(0, 2, 1).transpose(1, 2).contiguous()
        y = s.view(s.size(0), -1)
        y = y[:, : s.shape[1]] * self.scale[0] + y[:, -1:] * self.scale[1]
        y.relu_()
        return torch.cat([y, s.mean(dim=1)], dim=1)


class Bad(tnn.Module):
    """Three unsupported things in one forward, and a child with data-dependent flow."""

    def __init__(self):
        super().__init__()
        self.lin = tnn.Linear(4, 4)
        self.inner = DataDependent()

    def forward(self, x):
        y = torch.fft.rfft(self.lin(x)).real
        z = x.cummax(1).values
        return self.inner(y + z + torch.special.entr(x))


class DataDependent(tnn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        return -x


rs = np.random.RandomState(0)
IDS = rs.randint(0, 64, size=(2, 8))
TOKENS = rs.randint(1, 20, size=(3, 6))
LENGTHS = np.array([6, 3, 4])
X = rs.randn(2, 5, 8).astype(np.float32)
MASK = rs.rand(2, 5) > 0.5


NEXT = np.roll(IDS, -1, 1)


def ce_t(out):
    return TF.cross_entropy(out.reshape(-1, out.shape[-1]), torch.as_tensor(NEXT).reshape(-1))


def ce_j(out):
    import optax

    logits = out.reshape(-1, out.shape[-1])
    return optax.softmax_cross_entropy_with_integer_labels(
        logits, jnp.asarray(NEXT).reshape(-1)
    ).mean()


def square_mean(out):
    return (out**2).mean()


# name: (model, inputs, torch loss, jax loss); eval outputs and gradients are checked by
# convert itself (check=True)
CASES = {
    "gpt": (lambda: GPT(dropout=0.0), (IDS,), ce_t, ce_j),
    "tagger": (Tagger, (TOKENS, LENGTHS), square_mean, square_mean),
    "plain": (Plain, (X, MASK), square_mean, square_mean),
}


@pytest.fixture(scope="module")
def ported():
    out = {}
    for name, (make, inputs, _, _) in CASES.items():
        torch.manual_seed(0)
        tm = make().eval()
        *first, last = [torch.as_tensor(x) for x in inputs]
        # the last example input by keyword: bound to forward's parameters for the check
        keyword = list(inspect.signature(tm.forward).parameters)[len(first)]
        net, variables = porting.convert(tm, *first, **{keyword: last})
        out[name] = (tm, net, variables)
    return out


@pytest.mark.parametrize("name", CASES)
def test_state_dict_and_training_step(ported, name):
    tm, net, variables = ported[name]
    state_dicts_agree(tm, net, variables)
    _, inputs, loss_t, loss_j = CASES[name]
    sgd_step_matches(tm, net, variables, inputs, loss_t, loss_j)


def test_gpt_tie_init_and_dropout(ported):
    tm, net, variables = ported["gpt"]
    # the tie is one array under both names, as in torch
    assert "model.lm_head.weight = model.transformer['wte'].weight" in net.port_source
    sd = net.state_dict(variables)
    assert sd["lm_head.weight"] is sd["transformer.wte.weight"]
    # the file says which constructor init build().init does not reproduce
    assert "GPT.__init__ sets weights itself" in net.port_source
    # with dropout: train mode draws from rng (same key, same output), eval matches torch;
    # one block has every dropout site (embeddings, attention, residual, MLP), and each site's
    # mask is its own compiled threefry: a second block would only double the compile
    torch.manual_seed(0)
    tm = GPT(n_layer=1, dropout=0.5).eval()
    net, variables = porting.convert(tm, torch.as_tensor(IDS), check=False)
    assert "rng=self.next_key()" in net.port_source  # F.scaled_dot_product_attention
    with relaxed():
        f = jax.jit(lambda v, k: net(v, jnp.asarray(IDS), train=True, rng=k)[0])
        a, b, c = (
            f(variables, jax.random.key(0)),
            f(variables, jax.random.key(0)),
            f(variables, jax.random.key(1)),
        )
        e = jax.jit(lambda v: net(v, jnp.asarray(IDS)))(variables)  # one program, not op by op
    assert np.array_equal(a, b) and not np.allclose(a, c)
    np.testing.assert_allclose(e, tm(torch.as_tensor(IDS)).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_plain_code_is_readable(ported):
    src = ported["plain"][1].port_source
    for line in (
        "ops.einsum('bld,de->ble', getitem, w)",
        "ops.masked_fill(",
        "ops.chunk(",
        "ops.permute(",
        "ops.transpose(",
        "ops.view(",
        "relu_ = ops.relu(",
    ):
        assert line in src, line
    assert "import torch" not in src


def test_sources_run_without_torch(ported, tmp_path):
    cases = [
        (ported["gpt"][1].port_source, [((3, 5), "int32", 1)]),
        (ported["tagger"][1].port_source, [((2, 4), "int32", 1), ((2,), "int32", 4)]),
        (ported["plain"][1].port_source, [((3, 5, 8), "float32", 0.5), ((3, 5), "bool", False)]),
    ]
    # the same interpreter first checks that importing jaxinit.porting does not load torch
    sources_run_without_torch(tmp_path, cases, check_lazy_import=True)


def test_port_error_lists_everything():
    with pytest.raises(porting.PortError) as info:
        porting.convert(Bad(), torch.randn(2, 4))
    text = str(info.value)
    what = [p.what for p in info.value.problems]
    assert any("function" in w and "rfft" in w for w in what), text
    assert any(".real" in w for w in what), text
    assert any(".cummax()" in w for w in what), text
    assert any("entr" in w for w in what), text
    assert any(p.path == "inner" and "cannot be captured" in p.what for p in info.value.problems), (
        text
    )
    assert all("test_porting_torch.py:" in p.where for p in info.value.problems), text


def test_cli_port(tmp_path, monkeypatch, capsys):
    (tmp_path / "small_model.py").write_text(
        "import torch\n\n"
        "class Net(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = torch.nn.Linear(6, 3)\n\n"
        "    def forward(self, x):\n"
        "        return torch.nn.functional.relu(self.fc(x)).flatten(1)\n\n"
        "def make():\n"
        "    return Net()\n"
    )
    monkeypatch.chdir(tmp_path)
    with relaxed():
        assert main(["port", "small_model:make", "--input", "2x4x6", "-o", "out.py"]) == 0
    out = capsys.readouterr().out
    assert "wrote out.py" in out and "state_dict" in out
    assert "class Net(nn.Module):" in (tmp_path / "out.py").read_text()
    assert main(["port", "small_model:make", "--input", "2x4x6:nosuch", "-o", "o.py"]) == 1
    assert "no torch dtype" in capsys.readouterr().err


def test_gpt_scaled_init_is_torch_s(ported):
    # the scaled c_proj init happened in torch's constructor; the loaded weights carry it
    tm, net, variables = ported["gpt"]
    std = float(np.std(np.asarray(net.state_dict(variables)["transformer.h.0.attn.c_proj.weight"])))
    assert abs(std - 0.02 / math.sqrt(4)) < 0.003
