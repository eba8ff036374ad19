"""Transformer layers, stacks and nn.Transformer against torch itself: outputs, input and
parameter gradients over every argument, torch's errors and reprs, TorchGenerator bitwise
init (deep-copied stacks, Transformer's xavier re-init), and a small seq2seq model written in
torch and in jaxinit, loaded from torch's state_dict with no renaming."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
tnn = torch.nn

from _xla_speed import unoptimized_xla  # noqa: E402, F401 -- autouse: this module's compiles

from jaxinit import TorchGenerator, nn  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
TOL = dict(rtol=1e-5, atol=2e-5)  # float32; d_model 8, two or three residual blocks


def J(t):
    return jnp.asarray(t.detach().numpy())


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def both(make):
    torch.manual_seed(0)
    tm = make(tnn)
    jm = make(nn)
    assert repr(jm) == repr(tm)
    variables, result = jm.load_state_dict(None, tm.state_dict())
    assert not result.missing_keys and not result.unexpected_keys
    return tm, jm, variables


def check(tm, jm, variables, inputs, kwargs):
    """Outputs and gradients of ``sum(out * w)`` (inputs and parameters) equal torch's."""
    inputs = [t.clone().requires_grad_() for t in inputs]
    out = tm(*inputs, **kwargs)
    w = randn(*out.shape, seed=11)
    (out * w).sum().backward()
    jkw = {n: (J(v) if isinstance(v, torch.Tensor) else v) for n, v in kwargs.items()}

    def f(v, *xs):
        o = jm(v, *xs, **jkw)
        return jnp.sum(o * J(w)), o

    argnums = tuple(range(1 + len(inputs)))
    (_, o), grads = jax.jit(jax.value_and_grad(f, argnums=argnums, has_aux=True))(
        variables, *[J(t) for t in inputs]
    )
    np.testing.assert_allclose(np.asarray(o), out.detach().numpy(), **TOL)
    for g, t in zip(grads[1:], inputs):
        np.testing.assert_allclose(np.asarray(g), t.grad.numpy(), **TOL)
    jg = jm.state_dict(grads[0])
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(np.asarray(jg[name]), p.grad.numpy(), **TOL, err_msg=name)


def pad_mask(B, S, seed):
    m = randn(B, S, seed=seed) > 0.5
    m[:, 0] = False
    return m


ENC = [
    (dict(), dict(src_mask="causal", is_causal=True)),
    (dict(batch_first=True, norm_first=True, activation="gelu"), dict(src_key_padding_mask="kpm")),
    (dict(bias=False, layer_norm_eps=1e-3, activation="module"), dict(src_mask="bool")),
]


def resolve(spec, M, L, B):
    if spec == "causal":
        return tnn.Transformer.generate_square_subsequent_mask(L)
    if spec == "kpm":
        return pad_mask(B, L, 3)
    if spec == "bool":
        m = randn(L, L, seed=4) > 0.5
        m.fill_diagonal_(False)
        return m
    return spec


@pytest.mark.parametrize("ctor,fwd", ENC)
def test_encoder_layer_matches_torch(ctor, fwd):
    def make(M):
        kw = dict(ctor)
        if kw.get("activation") == "module":
            kw["activation"] = M.GELU()
        return M.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **kw)

    tm, jm, v = both(make)
    L, B = 5, 2
    x = randn(B, L, 8) if ctor.get("batch_first") else randn(L, B, 8)
    check(tm, jm, v, [x], {n: resolve(s, None, L, B) for n, s in fwd.items()})


DEC = [
    (dict(), dict(tgt_mask="causal", tgt_is_causal=True, memory_key_padding_mask="mkpm")),
    (
        dict(batch_first=True, norm_first=True, activation="gelu", bias=False),
        dict(memory_mask="mem", tgt_key_padding_mask="tkpm"),
    ),
]


@pytest.mark.parametrize("ctor,fwd", DEC)
def test_decoder_layer_matches_torch(ctor, fwd):
    tm, jm, v = both(lambda M: M.TransformerDecoderLayer(8, 2, 16, dropout=0.0, **ctor))
    T, S, B = 4, 6, 2
    bf = ctor.get("batch_first")
    tgt = randn(B, T, 8, seed=1) if bf else randn(T, B, 8, seed=1)
    mem = randn(B, S, 8, seed=2) if bf else randn(S, B, 8, seed=2)
    masks = {
        "causal": tnn.Transformer.generate_square_subsequent_mask(T),
        "mkpm": pad_mask(B, S, 5),
        "tkpm": pad_mask(B, T, 6),
        "mem": randn(T, S, seed=7),
    }
    check(tm, jm, v, [tgt, mem], {n: masks[s] if isinstance(s, str) else s for n, s in fwd.items()})


def test_stacks_match_torch_and_are_independent_copies():
    def make(M):
        enc = M.TransformerEncoder(
            M.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True),
            2,
            norm=M.LayerNorm(8),
            enable_nested_tensor=False,
        )
        return enc

    tm, jm, v = both(make)
    assert jm.layers[0] is not jm.layers[1]
    assert jm.layers[0].linear1.weight is not jm.layers[1].linear1.weight
    assert [n for n, _ in jm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    x = randn(2, 5, 8)
    # the mask is detected as causal (is_causal=None), as torch
    check(tm, jm, v, [x], dict(mask=tnn.Transformer.generate_square_subsequent_mask(5)))
    tm2, jm2, v2 = both(
        lambda M: M.TransformerDecoder(
            M.TransformerDecoderLayer(8, 2, 16, dropout=0.0), 2, norm=M.LayerNorm(8)
        )
    )
    tgt, mem = randn(3, 2, 8, seed=1), randn(4, 2, 8, seed=2)
    got = jax.jit(jm2)(v2, J(tgt), J(mem))  # forward only: the layers' grads are checked above
    np.testing.assert_allclose(np.asarray(got), tm2(tgt, mem).detach().numpy(), **TOL)


def test_dropout_in_training_matches_torch_at_p1():
    """p = 1 zeroes both residual branches in training: out = norm2(norm1(x)), as torch."""
    torch.manual_seed(0)
    tm = tnn.TransformerEncoderLayer(8, 2, 16, dropout=1.0).train()
    jm = nn.TransformerEncoderLayer(8, 2, 16, dropout=1.0)
    v, _ = jm.load_state_dict(None, tm.state_dict())
    x = randn(4, 2, 8)
    # jitted: one program instead of op-by-op compiles (dropout's draws included)
    got, _ = jax.jit(lambda v, x, k: jm(v, x, train=True, rng=k))(v, J(x), jax.random.key(0))
    np.testing.assert_allclose(np.asarray(got), tm(x).detach().numpy(), **TOL)


def test_seq2seq_transformer_from_torch_state_dict():
    """Embedding -> nn.Transformer -> Linear, written in torch and jaxinit: logits, loss and
    every gradient equal, loaded from torch's state_dict with no renaming."""

    def model(M):
        class Seq2Seq(M.Module):
            def __init__(self):
                super().__init__()
                self.src_embed = M.Embedding(11, 8)
                self.tgt_embed = M.Embedding(11, 8)
                self.transformer = M.Transformer(8, 2, 1, 1, 16, dropout=0.0, batch_first=True)
                self.out = M.Linear(8, 11)

            def forward(self, src, tgt, tgt_mask, src_kpm):
                h = self.transformer(
                    self.src_embed(src),
                    self.tgt_embed(tgt),
                    tgt_mask=tgt_mask,
                    src_key_padding_mask=src_kpm,
                    memory_key_padding_mask=src_kpm,
                )
                return self.out(h)

        return Seq2Seq()

    torch.manual_seed(0)
    tm, jm = model(tnn), model(nn)
    v, _ = jm.load_state_dict(None, tm.state_dict())
    g = torch.Generator().manual_seed(1)
    src = torch.randint(0, 11, (2, 6), generator=g)
    tgt = torch.randint(0, 11, (2, 5), generator=g)
    kpm = torch.zeros(2, 6, dtype=torch.bool)
    kpm[1, 4:] = True
    mask = tnn.Transformer.generate_square_subsequent_mask(5)
    logits = tm(src, tgt, mask, kpm)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 11), tgt.reshape(-1))
    loss.backward()

    def f(v):
        lg = jm(v, J(src), J(tgt), J(mask), J(kpm))
        logp = jax.nn.log_softmax(lg.reshape(-1, 11), axis=-1)
        picked = jnp.take_along_axis(logp, J(tgt).reshape(-1, 1), axis=1)
        return -jnp.mean(picked), lg

    (j_loss, lg), grads = jax.jit(jax.value_and_grad(f, has_aux=True))(v)
    np.testing.assert_allclose(np.asarray(lg), logits.detach().numpy(), **TOL)
    np.testing.assert_allclose(float(j_loss), float(loss), **TOL)
    jg = jm.state_dict(grads)
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(np.asarray(jg[name]), p.grad.numpy(), **TOL, err_msg=name)


@pytest.mark.parametrize(
    "make",
    [
        lambda M: M.TransformerEncoder(M.TransformerEncoderLayer(8, 2, 16), 3, norm=M.LayerNorm(8)),
        lambda M: M.TransformerDecoder(M.TransformerDecoderLayer(8, 2, 16, bias=False), 2),
        lambda M: M.Transformer(8, 2, 2, 1, 16),
    ],
)
def test_torch_generator_init_is_bitwise(make):
    """Deep copies start from torch's one draw; nn.Transformer's xavier re-init replayed."""
    torch.manual_seed(2)
    tsd = make(tnn).state_dict()
    gen = TorchGenerator(2)
    jm = make(nn)
    sd = jm.state_dict(jm.init(gen))
    assert list(sd) == list(tsd)
    for name, t in tsd.items():
        assert np.array_equal(np.asarray(sd[name]).view(np.uint32), t.numpy().view(np.uint32)), name
    assert np.array_equal(gen.get_state(), torch.get_rng_state().numpy())


def raises_like_torch(t_fn, j_fn):
    with pytest.raises(Exception) as t_err:
        t_fn()
    with pytest.raises(type(t_err.value)) as j_err:
        j_fn()
    assert str(j_err.value) == str(t_err.value)


def test_errors_match_torch():
    raises_like_torch(
        lambda: tnn.TransformerEncoderLayer(8, 2, activation="tanh"),
        lambda: nn.TransformerEncoderLayer(8, 2, activation="tanh"),
    )
    tm, jm, v = both(lambda M: M.Transformer(8, 2, 1, 1, 16, dropout=0.0))
    for src, tgt in (((5, 2, 8), (4, 3, 8)), ((5, 2, 8), (4, 2, 6))):
        s, t = torch.zeros(src), torch.zeros(tgt)
        raises_like_torch(lambda: tm(s, t), lambda: jm(v, J(s), J(t)))  # noqa: B023
    s, t = torch.zeros(5, 2, 8), torch.zeros(4, 2, 8)
    raises_like_torch(
        lambda: tm(s, t, tgt_mask=torch.zeros(3, 4)),
        lambda: jm(v, J(s), J(t), tgt_mask=jnp.zeros((3, 4))),
    )
    np.testing.assert_array_equal(
        np.asarray(nn.Transformer.generate_square_subsequent_mask(4)),
        tnn.Transformer.generate_square_subsequent_mask(4).numpy(),
    )
