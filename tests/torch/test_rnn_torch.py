"""RNN/LSTM/GRU, their cells and packed sequences against torch itself: outputs, final states,
input and parameter gradients, torch's errors and reprs, TorchGenerator bitwise init, KS of
the default init under a JAX key, and an LSTM tagger on padded variable-length batches."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
tnn = torch.nn
trnn = torch.nn.utils.rnn

from _ks import ks_statistic, ks_threshold  # noqa: E402
from _xla_speed import unoptimized_xla  # noqa: E402, F401 -- autouse: this module's compiles

from jaxinit import TorchGenerator, nn  # noqa: E402
from jaxinit.nn.utils import rnn as jrnn  # noqa: E402

TOL = dict(rtol=1e-5, atol=1e-5)  # float32; sequences of <= 6 steps of O(1) values


def J(t):
    return jnp.asarray(t.detach().numpy())


def load(net, tmod):
    variables, result = net.load_state_dict(None, tmod.state_dict())
    assert not result.missing_keys and not result.unexpected_keys
    return variables


def leaves(tree):
    """Arrays of a (possibly nested) tuple of outputs, None and PackedSequence skipped."""
    if isinstance(tree, (tuple, list)):
        return [x for t in tree for x in leaves(t)]
    if tree is None:
        return []
    if isinstance(tree, jrnn.PackedSequence):
        return [jrnn.pad_packed_sequence(tree, tree.batch_first)[0]]
    if isinstance(tree, trnn.PackedSequence):
        return [trnn.pad_packed_sequence(tree, batch_first=True)[0]]
    return [tree]


def check_against_torch(tmod, jmod, t_inputs, j_call, t_call=None):
    """Outputs and gradients (inputs and parameters) of ``sum(sin(out) * w)`` equal torch's.

    ``t_inputs``: torch tensors needing grads; ``j_call(variables, *arrays)`` the jaxinit call."""
    variables = load(jmod, tmod)
    t_inputs = [t.detach().clone().requires_grad_(t.dtype.is_floating_point) for t in t_inputs]
    t_out = leaves((t_call or tmod)(*t_inputs))
    weights = [
        torch.randn(o.shape, generator=torch.Generator().manual_seed(i))
        for i, o in enumerate(t_out)
    ]
    sum(torch.sum(torch.sin(o) * w) for o, w in zip(t_out, weights)).backward()

    def loss(v, *xs):
        outs = leaves(j_call(v, *xs))
        return sum(jnp.sum(jnp.sin(o) * J(w)) for o, w in zip(outs, weights)), outs

    floats = [J(t) for t in t_inputs]
    vg = jax.value_and_grad(loss, argnums=tuple(range(1 + len(floats))), has_aux=True)
    (_, j_out), grads = jax.jit(vg)(variables, *floats)
    assert len(j_out) == len(t_out)
    for o, t in zip(j_out, t_out):
        np.testing.assert_allclose(np.asarray(o), t.detach().numpy(), **TOL)
    for g, t in zip(grads[1:], t_inputs):
        if t.grad is not None:
            np.testing.assert_allclose(np.asarray(g), t.grad.numpy(), **TOL)
    jgrads = jmod.state_dict(grads[0])
    for name, p in tmod.named_parameters():
        np.testing.assert_allclose(np.asarray(jgrads[name]), p.grad.numpy(), **TOL, err_msg=name)


def pair(name, *args, **kwargs):
    torch.manual_seed(0)
    return getattr(tnn, name)(*args, **kwargs), getattr(nn, name)(*args, **kwargs)


def seq_input(batch_first, batched, T=5, B=3, I=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    if not batched:
        return torch.randn(T, I, generator=g)
    return torch.randn(B, T, I, generator=g) if batch_first else torch.randn(T, B, I, generator=g)


# name, constructor kwargs, batched, hx given
CASES = [
    ("RNN", dict(num_layers=2, batch_first=True), True, True),
    ("RNN", dict(nonlinearity="relu", bidirectional=True, bias=False), False, False),
    ("LSTM", dict(num_layers=2, bidirectional=True, proj_size=2), True, True),
    ("LSTM", dict(batch_first=True, bias=False), False, True),
    ("GRU", dict(num_layers=2, bidirectional=True), True, True),
    ("GRU", dict(batch_first=True, bias=False), False, True),
]


def hidden(name, kw, batched, B=3):
    layers = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    H = kw.get("hidden_size", 5)
    P = kw.get("proj_size") or H
    lead = (layers, B) if batched else (layers,)
    g = torch.Generator().manual_seed(7)
    h = torch.randn(*lead, P, generator=g)
    if name == "LSTM":
        return [h, torch.randn(*lead, H, generator=g)]
    return [h]


@pytest.mark.parametrize("name,kw,batched,with_hx", CASES)
def test_recurrent_layers_match_torch(name, kw, batched, with_hx):
    kw = dict(kw)
    H = kw.pop("hidden_size", 5)
    tmod, jmod = pair(name, 4, H, **kw)
    assert repr(jmod) == repr(tmod)
    x = seq_input(kw.get("batch_first", False), batched)
    hx = hidden(name, dict(kw, hidden_size=H), batched) if with_hx else []

    check_against_torch(
        tmod,
        jmod,
        [x, *hx],
        lambda v, x, *h: jmod(v, x, *([tuple(h)] if name == "LSTM" and h else h)),
        lambda x, *h: tmod(x, *([tuple(h)] if name == "LSTM" and h else h)),
    )


PACKED = [
    ("LSTM", dict(num_layers=2, bidirectional=True), [2, 5, 3], False, False),
    ("RNN", dict(bidirectional=True, batch_first=True), [4, 5, 1], False, True),
    ("LSTM", dict(proj_size=3, bidirectional=True), [5, 4, 1], True, True),
]


@pytest.mark.parametrize("name,kw,lengths,enforce_sorted,with_hx", PACKED)
def test_packed_sequences_match_torch(name, kw, lengths, enforce_sorted, with_hx):
    """Outputs (padded), h_n and c_n equal torch's packed results, hx in the batch's order."""
    tmod, jmod = pair(name, 4, 5, **kw)
    bf = kw.get("batch_first", False)
    x = seq_input(bf, True)
    hx = hidden(name, kw, True) if with_hx else []

    def t_call(x, *h):
        packed = trnn.pack_padded_sequence(x, lengths, bf, enforce_sorted)
        out, state = tmod(packed, *([tuple(h)] if name == "LSTM" and h else h))
        return trnn.pad_packed_sequence(out, bf)[0], state

    def j_call(v, x, *h):
        packed = jrnn.pack_padded_sequence(x, lengths, bf, enforce_sorted)
        out, state = jmod(v, packed, *([tuple(h)] if name == "LSTM" and h else h))
        y, lens = jrnn.pad_packed_sequence(out, bf)
        assert lens.tolist() == lengths
        return y, state

    check_against_torch(tmod, jmod, [x, *hx], j_call, t_call)


def test_packed_sequence_is_jit_friendly_and_pads_as_torch():
    tmod, jmod = pair("LSTM", 4, 5)
    v = load(jmod, tmod)
    x = seq_input(True, True)
    lengths = [3, 5, 2]

    @jax.jit
    def run(v, x, lengths):
        out, _ = jmod(v, jrnn.pack_padded_sequence(x, lengths, True, enforce_sorted=False))
        return jrnn.pad_packed_sequence(out, True, padding_value=-1.0, total_length=7)[0]

    got = run(v, J(x), jnp.asarray(lengths))
    packed = trnn.pack_padded_sequence(x, lengths, True, enforce_sorted=False)
    want = trnn.pad_packed_sequence(tmod(packed)[0], True, -1.0, 7)[0]
    np.testing.assert_allclose(np.asarray(got), want.detach().numpy(), **TOL)
    seqs = [torch.randn(n, 2) for n in (3, 1, 2)]
    for bf in (False, True):
        for side in ("right", "left"):
            np.testing.assert_array_equal(
                np.asarray(jrnn.pad_sequence([J(s) for s in seqs], bf, 0.5, side)),
                trnn.pad_sequence(seqs, bf, 0.5, side).numpy(),
            )


@pytest.mark.parametrize(
    "name,kw,batched,with_hx",
    [
        ("RNNCell", dict(nonlinearity="relu"), True, True),
        ("LSTMCell", dict(), True, True),
        ("LSTMCell", dict(bias=False), False, True),
        ("GRUCell", dict(), False, True),
    ],
)
def test_cells_match_torch(name, kw, batched, with_hx):
    tmod, jmod = pair(name, 4, 5, **kw)
    assert repr(jmod) == repr(tmod)
    g = torch.Generator().manual_seed(1)
    lead = (3,) if batched else ()
    x = torch.randn(*lead, 4, generator=g)
    hx = [torch.randn(*lead, 5, generator=g) for _ in range(2 if name == "LSTMCell" else 1)]
    hx = hx if with_hx else []

    def pack(h):
        return [tuple(h)] if name == "LSTMCell" and h else h

    check_against_torch(
        tmod, jmod, [x, *hx], lambda v, x, *h: jmod(v, x, *pack(h)), lambda x, *h: tmod(x, *pack(h))
    )


def test_dropout_between_layers_train_mode():
    """dropout=1 between layers: layer 2 sees zeros in training, as torch (deterministic)."""
    tmod, jmod = pair("LSTM", 4, 5, num_layers=2, dropout=1.0)
    v = load(jmod, tmod)
    x = seq_input(False, True)
    t_out, (th, tc) = tmod.train()(x)
    # jitted: one program per model instead of op-by-op compiles of each layer's scan
    train = jax.jit(lambda v, x, k: jmod(v, x, train=True, rng=k)[0])
    j_out, (jh, jc) = train(v, J(x), jax.random.key(0))
    for a, b in ((j_out, t_out), (jh, th), (jc, tc)):
        np.testing.assert_allclose(np.asarray(a), b.detach().numpy(), **TOL)
    with pytest.raises(ValueError, match="key"):
        jmod(v, J(x), train=True)
    # a fractional p: keyed, reproducible, different from eval
    _, j2 = pair("GRU", 4, 5, num_layers=2, dropout=0.5)
    v2 = j2.init(jax.random.key(1))
    train2 = jax.jit(lambda v, x, k: j2(v, x, train=True, rng=k)[0])
    a, b = train2(v2, J(x), jax.random.key(3)), train2(v2, J(x), jax.random.key(3))
    c = jax.jit(j2)(v2, J(x))
    np.testing.assert_array_equal(np.asarray(a[0]), np.asarray(b[0]))
    assert not np.allclose(np.asarray(a[0]), np.asarray(c[0]))


def raises_like_torch(t_fn, j_fn):
    with pytest.raises(Exception) as t_err:
        t_fn()
    with pytest.raises(type(t_err.value)) as j_err:
        j_fn()
    assert str(j_err.value) == str(t_err.value)


@pytest.mark.parametrize(
    "name,args,kw",
    [
        ("GRU", (4, 5), dict(proj_size=2)),
        ("RNN", (4, 5), dict(proj_size=2)),
        ("LSTM", (4, 5), dict(proj_size=5)),
        ("LSTM", (4, 5), dict(proj_size=-1)),
        ("LSTM", (4, 5), dict(dropout=1.5)),
        ("RNN", (4, 5, 1, "sigmoid"), dict()),
        ("GRU", (4, 0), dict()),
        ("GRU", (4, 5), dict(num_layers=0)),
        ("LSTM", (4, 5), dict(bias=1)),
    ],
)
def test_constructor_errors_match_torch(name, args, kw):
    raises_like_torch(
        lambda: getattr(tnn, name)(*args, **kw), lambda: getattr(nn, name)(*args, **kw)
    )


@pytest.mark.parametrize(
    "name,x_shape,hx_shapes",
    [
        ("LSTM", (5, 3, 6), None),  # wrong feature size
        ("GRU", (5, 3, 4), [(1, 2, 5)]),  # hx batch
        ("RNN", (5, 3, 4), [(3, 5)]),  # hx rank for batched input
        ("RNN", (5, 4), [(1, 1, 5)]),  # hx rank for unbatched input
        ("LSTM", (5, 3, 4), [(1, 3, 5), (1, 3, 4)]),  # c_0 size
        ("LSTM", (5, 3, 4), [(1, 3, 5), (3, 5)]),  # c_0 rank
        ("GRU", (2, 5, 3, 4), None),  # 4-D input
        ("RNNCell", (3, 4), [(2, 5)]),
        ("RNNCell", (3, 6), None),
        ("GRUCell", (2, 3, 4), None),
        ("LSTMCell", (3, 4), [(3, 5), (3, 3, 5)]),
        ("LSTMCell", (3, 4), [(3, 5), (3, 4)]),
    ],
)
def test_forward_errors_match_torch(name, x_shape, hx_shapes):
    tmod, jmod = pair(name, 4, 5)
    v = load(jmod, tmod)
    x = torch.zeros(x_shape)
    hx = [torch.zeros(s) for s in hx_shapes] if hx_shapes else []

    def pack(h):
        return [tuple(h)] if name.startswith("LSTM") and h else h

    raises_like_torch(lambda: tmod(x, *pack(hx)), lambda: jmod(v, J(x), *pack([J(h) for h in hx])))


def test_packing_errors_match_torch():
    x = torch.zeros(5, 3, 2)
    raises_like_torch(
        lambda: trnn.pack_padded_sequence(x, [2, 5, 3]),
        lambda: jrnn.pack_padded_sequence(J(x), [2, 5, 3]),
    )
    raises_like_torch(
        lambda: trnn.pack_padded_sequence(x, [5, 3, 0]),
        lambda: jrnn.pack_padded_sequence(J(x), [5, 3, 0]),
    )
    packed = jrnn.pack_padded_sequence(J(x), [4, 3, 1])
    tpacked = trnn.pack_padded_sequence(x, [4, 3, 1])
    raises_like_torch(
        lambda: trnn.pad_packed_sequence(tpacked, total_length=2),
        lambda: jrnn.pad_packed_sequence(packed, total_length=2),
    )


MAKERS = [
    lambda M: M.LSTM(3, 5, 2, bidirectional=True, proj_size=2),
    lambda M: M.GRU(3, 4, bias=False, batch_first=True),
    lambda M: M.RNN(3, 4, 2, "relu"),
    lambda M: M.Sequential(M.RNNCell(3, 4), M.LSTMCell(4, 2), M.GRUCell(2, 3)),
]


@pytest.mark.parametrize("make", MAKERS)
def test_torch_generator_init_is_bitwise(make):
    torch.manual_seed(3)
    tsd = make(tnn).state_dict()
    gen = TorchGenerator(3)
    jm = make(nn)
    sd = jm.state_dict(jm.init(gen))
    assert list(sd) == list(tsd)
    for k, t in tsd.items():
        assert np.array_equal(np.asarray(sd[k]).view(np.uint32), t.numpy().view(np.uint32)), k
    assert np.array_equal(gen.get_state(), torch.get_rng_state().numpy())


def test_jax_key_default_init_distribution_matches_torch():
    """Every parameter U(+-1/sqrt(hidden)): all of an LSTM's values pooled, ~26k each side."""
    torch.manual_seed(0)
    t = np.concatenate([p.detach().numpy().ravel() for p in tnn.LSTM(32, 36).parameters()])
    jm = nn.LSTM(32, 36)
    j = np.concatenate(
        [np.asarray(a).ravel() for a in jm.state_dict(jm.init(jax.random.key(0))).values()]
    )
    crit = ks_threshold(t.size, j.size)
    assert ks_statistic(t, j) < crit
    assert ks_statistic(t, 1.1 * j) > crit  # power: a bound 10% off is rejected
    assert np.abs(j).max() <= 1 / 6


def test_lstm_tagger_on_padded_variable_length_batches():
    """Embedding -> bidirectional LSTM -> Linear, written in torch and in jaxinit, loaded from
    torch's state_dict with no renaming; packed batches: scores and gradients equal."""

    def tagger(M, U):
        class Tagger(M.Module):
            def __init__(self):
                super().__init__()
                self.embed = M.Embedding(20, 6, padding_idx=0)
                self.lstm = M.LSTM(6, 8, num_layers=2, bidirectional=True, batch_first=True)
                self.head = M.Linear(16, 5)

            def forward(self, tokens, lengths):
                packed = U.pack_padded_sequence(
                    self.embed(tokens), lengths, batch_first=True, enforce_sorted=False
                )
                out, _ = self.lstm(packed)
                out, _ = U.pad_packed_sequence(out, batch_first=True)
                return self.head(out)

        return Tagger()

    torch.manual_seed(0)
    tm, jm = tagger(tnn, trnn), tagger(nn, jrnn)
    v = load(jm, tm)
    lengths = [4, 6, 2, 5]
    g = torch.Generator().manual_seed(2)
    tokens = torch.randint(1, 20, (4, 6), generator=g)
    for i, n in enumerate(lengths):
        tokens[i, n:] = 0
    tags = torch.randint(0, 5, (4, 6), generator=g)
    valid = torch.arange(6)[None] < torch.tensor(lengths)[:, None]

    scores = tm(tokens, lengths)
    t_loss = torch.nn.functional.cross_entropy(scores[valid], tags[valid])
    t_loss.backward()

    def loss(v):
        s = jm(v, J(tokens), jnp.asarray(lengths))
        logp = jax.nn.log_softmax(s, axis=-1)
        picked = jnp.take_along_axis(logp, J(tags)[..., None], axis=-1)[..., 0]
        m = J(valid)
        return -jnp.sum(jnp.where(m, picked, 0.0)) / jnp.sum(m.astype(jnp.float32)), s

    (j_loss, s), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(v)
    np.testing.assert_allclose(np.asarray(s), scores.detach().numpy(), **TOL)
    np.testing.assert_allclose(float(j_loss), float(t_loss), **TOL)
    jg = jm.state_dict(grads)
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(np.asarray(jg[name]), p.grad.numpy(), **TOL, err_msg=name)


def test_warns_like_torch_for_dropout_with_one_layer():
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        nn.GRU(3, 4, dropout=0.2)
    assert any("num_layers greater than 1" in str(w.message) for w in rec)
