"""F.scaled_dot_product_attention, F.multi_head_attention_forward and nn.MultiheadAttention
against torch itself: outputs, attention weights, input and parameter gradients over every
argument, torch's errors, reprs and TorchGenerator bitwise init in torch's draw order."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional

from _xla_speed import unoptimized_xla  # noqa: E402, F401 -- autouse: this module's compiles

from jaxinit import TorchGenerator, nn  # noqa: E402
from jaxinit.nn import functional as F  # noqa: E402

TOL = dict(rtol=1e-5, atol=2e-5)  # float32; softmax over <= 6 keys of O(1) scores


def J(t):
    return jnp.asarray(t.detach().numpy())


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), b.detach().numpy(), **TOL)


SDPA = [
    dict(q=(2, 3, 4, 8), k=(2, 3, 6, 8), v=(2, 3, 6, 5)),
    dict(q=(2, 3, 4, 8), k=(2, 3, 6, 8), v=(2, 3, 6, 8), mask="bool", shape=(4, 6)),
    dict(q=(2, 3, 4, 8), k=(2, 3, 4, 8), v=(2, 3, 4, 8), is_causal=True, scale=0.3),
    # causal and a bool mask together: torch's fused kernel applies both
    dict(q=(2, 3, 4, 8), k=(2, 3, 6, 8), v=(2, 3, 6, 8), mask="bool", shape=(4, 6), is_causal=True),
    dict(q=(2, 1, 5, 4), k=(2, 1, 3, 4), v=(2, 1, 3, 4), mask="float", shape=(2, 1, 5, 3)),
    dict(q=(4, 8), k=(6, 8), v=(6, 2), mask="bool", shape=(4, 6)),
    dict(q=(1, 4, 3, 8), k=(1, 2, 3, 8), v=(1, 2, 3, 8), enable_gqa=True, is_causal=True),
    dict(q=(3, 4, 8), k=(3, 4, 8), v=(3, 4, 8), mask="rows", shape=(4, 4)),  # a row masked out
]


@pytest.mark.parametrize("case", SDPA)
def test_scaled_dot_product_attention_matches_torch(case):
    q, k, v = (randn(*case[n], seed=i).requires_grad_() for i, n in enumerate("qkv"))
    mask = None
    if case.get("mask") == "bool":
        mask = randn(*case["shape"], seed=5) > -0.5
    elif case.get("mask") == "float":
        mask = randn(*case["shape"], seed=5)
    elif case.get("mask") == "rows":
        mask = randn(*case["shape"], seed=5) > 0
        mask[1] = False
    kw = {n: case[n] for n in ("is_causal", "scale", "enable_gqa") if n in case}
    out = TF.scaled_dot_product_attention(q, k, v, attn_mask=mask, **kw)
    w = randn(*out.shape, seed=9)
    (out * w).sum().backward()

    def f(q, k, v):
        m = None if mask is None else J(mask)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=m, **kw)
        return jnp.sum(o * J(w)), o

    vg = jax.jit(jax.value_and_grad(f, argnums=(0, 1, 2), has_aux=True))
    (_, got), grads = vg(J(q), J(k), J(v))
    close(got, out)
    for g, t in zip(grads, (q, k, v)):
        close(g, t.grad)


def test_sdpa_errors_match_torch():
    k = randn(1, 2, 5, 8).requires_grad_()
    q3 = randn(1, 3, 3, 8)
    raises_like_torch(
        lambda: TF.scaled_dot_product_attention(q3, k, k, enable_gqa=True),
        lambda: F.scaled_dot_product_attention(J(q3), J(k), J(k), enable_gqa=True),
    )


def test_sdpa_dropout_is_keyed():
    q = J(randn(2, 4, 8))
    with pytest.raises(ValueError, match="rng=jax.random.key"):
        F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    a = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5, rng=jax.random.key(0))
    b = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5, rng=jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(a), np.asarray(F.scaled_dot_product_attention(q, q, q)))
    # p = 1: every weight dropped, as torch
    close(
        F.scaled_dot_product_attention(q, q, q, dropout_p=1.0, rng=jax.random.key(0)),
        torch.zeros(2, 4, 8),
    )


# constructor kwargs, (L, S, B or None), forward kwargs
MHA = [
    (dict(), (3, 5, 2), dict(key_padding_mask="bool", attn_mask="float2")),
    (
        dict(batch_first=True, add_bias_kv=True),
        (3, 4, 2),
        dict(attn_mask="bool3", average_attn_weights=False),
    ),
    (
        dict(kdim=3, vdim=5, bias=False),
        (2, 4, 2),
        dict(need_weights=False, key_padding_mask="float"),
    ),
    (
        dict(add_zero_attn=True),
        (4, 4, None),
        dict(attn_mask="causal", is_causal=True, need_weights=False),
    ),
    (
        dict(add_bias_kv=True, add_zero_attn=True, batch_first=True),
        (3, 3, 2),
        dict(attn_mask="bool2", key_padding_mask="bool", need_weights=False),
    ),
]


def masks(spec, L, S, B, H, seed):
    if spec == "bool":
        m = randn(*((B, S) if B else (S,)), seed=seed) > 0.3
        m[..., 0] = False  # at least one key kept per row
        return m
    if spec == "float":
        return randn(*((B, S) if B else (S,)), seed=seed)
    if spec == "float2":
        return randn(L, S, seed=seed)
    if spec == "bool2":
        m = randn(L, S, seed=seed) > 0.3
        m[:, 0] = False
        return m
    if spec == "bool3":
        m = randn((B or 1) * H, L, S, seed=seed) > 0.3
        m[..., 0] = False
        return m
    if spec == "causal":
        return tnn.Transformer.generate_square_subsequent_mask(L)
    return spec


@pytest.mark.parametrize("ctor,dims,fwd", MHA)
def test_multihead_attention_matches_torch(ctor, dims, fwd):
    E, H = 8, 2
    torch.manual_seed(0)
    tm = tnn.MultiheadAttention(E, H, **ctor)
    jm = nn.MultiheadAttention(E, H, **ctor)
    assert repr(jm) == repr(tm)
    variables, _ = jm.load_state_dict(None, tm.state_dict())
    L, S, B = dims
    bf = ctor.get("batch_first", False)

    def shape(n, d):
        if B is None:
            return (n, d)
        return (B, n, d) if bf else (n, B, d)

    q = randn(*shape(L, E), seed=1).requires_grad_()
    k = randn(*shape(S, ctor.get("kdim", E)), seed=2).requires_grad_()
    v = randn(*shape(S, ctor.get("vdim", E)), seed=3).requires_grad_()
    kw = {n: masks(s, L, S, B, H, i) for i, (n, s) in enumerate(fwd.items())}
    out, weights = tm(q, k, v, **kw)
    cot = randn(*out.shape, seed=7)
    loss = (out * cot).sum() + (0 if weights is None else weights.sum() * 0.5)
    loss.backward()

    jkw = {n: (J(m) if isinstance(m, torch.Tensor) else m) for n, m in kw.items()}

    def f(params, q, k, v):
        o, w = jm(params, q, k, v, **jkw)
        return jnp.sum(o * J(cot)) + (0 if w is None else jnp.sum(w) * 0.5), (o, w)

    (_, (o, w)), grads = jax.jit(jax.value_and_grad(f, argnums=(0, 1, 2, 3), has_aux=True))(
        variables, J(q), J(k), J(v)
    )
    close(o, out)
    assert (w is None) == (weights is None)
    if w is not None:
        close(w, weights)
    for g, t in zip(grads[1:], (q, k, v)):
        close(g, t.grad)
    jg = jm.state_dict(grads[0])
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(np.asarray(jg[name]), p.grad.numpy(), **TOL, err_msg=name)


def test_multihead_attention_dropout_matches_torch_at_p1():
    """dropout=1 drops every attention weight: out = out_proj.bias, as torch's training mode."""
    torch.manual_seed(0)
    tm = tnn.MultiheadAttention(8, 2, dropout=1.0).train()
    x = randn(3, 2, 8)
    want, _ = tm(x, x, x)
    t_args = [
        tm.in_proj_weight,
        tm.in_proj_bias,
        None,
        None,
        False,
        1.0,
        tm.out_proj.weight,
        tm.out_proj.bias,
    ]
    j_args = [J(a) if isinstance(a, torch.Tensor) else a for a in t_args]
    got, _ = F.multi_head_attention_forward(J(x), J(x), J(x), 8, 2, *j_args, rng=jax.random.key(0))
    close(got, want)
    with pytest.raises(ValueError, match="rng="):
        F.multi_head_attention_forward(J(x), J(x), J(x), 8, 2, *j_args[:5], 0.5, *j_args[6:])
    eval_out, _ = F.multi_head_attention_forward(J(x), J(x), J(x), 8, 2, *j_args, training=False)
    close(eval_out, tm.eval()(x, x, x)[0])


def raises_like_torch(t_fn, j_fn):
    with pytest.raises(Exception) as t_err:
        t_fn()
    with pytest.raises(type(t_err.value)) as j_err:
        j_fn()
    assert str(j_err.value) == str(t_err.value)


@pytest.mark.parametrize(
    "q,k,kw",
    [
        ((3, 2, 8), (4, 2, 8), dict(attn_mask=("zeros", (3, 5)))),
        ((3, 2, 8), (4, 2, 8), dict(attn_mask=("zeros", (2, 3, 4)))),
        ((3, 2, 8), (4, 2, 8), dict(key_padding_mask=("bool", (2, 5)))),
        ((3, 2, 8), (4, 2, 8), dict(key_padding_mask=("bool", (2,)))),
        ((3, 2, 8), (4, 8), dict()),
        ((3, 8), (4, 8), dict(attn_mask=("zeros", (3, 3, 4)))),
        ((3, 2, 6), (4, 2, 6), dict()),
        ((3, 2, 8), (4, 2, 8), dict(is_causal=True)),
        ((3, 2, 8), (4, 2, 8), dict(attn_mask=("int", (3, 4)))),
        ((2, 3, 2, 8), (4, 2, 8), dict()),
    ],
)
def test_multihead_attention_errors_match_torch(q, k, kw):
    torch.manual_seed(0)
    tm = tnn.MultiheadAttention(8, 2)
    jm = nn.MultiheadAttention(8, 2)
    v, _ = jm.load_state_dict(None, tm.state_dict())
    make = {
        "zeros": lambda s: torch.zeros(s),
        "bool": lambda s: torch.zeros(s, dtype=torch.bool),
        "int": lambda s: torch.zeros(s, dtype=torch.int32),
    }
    tkw = {n: (make[a[0]](a[1]) if isinstance(a, tuple) else a) for n, a in kw.items()}
    jkw = {n: (J(a) if isinstance(a, torch.Tensor) else a) for n, a in tkw.items()}
    tq, tk = torch.zeros(q), torch.zeros(k)
    raises_like_torch(lambda: tm(tq, tk, tk, **tkw), lambda: jm(v, J(tq), J(tk), J(tk), **jkw))


def test_constructor_errors_match_torch():
    raises_like_torch(lambda: tnn.MultiheadAttention(8, 3), lambda: nn.MultiheadAttention(8, 3))
    raises_like_torch(lambda: tnn.MultiheadAttention(0, 2), lambda: nn.MultiheadAttention(0, 2))


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(add_bias_kv=True, kdim=3, vdim=5),
        dict(add_bias_kv=True, bias=False),  # E = 8 < 16: bias_k/v on torch's scalar normal path
    ],
)
def test_torch_generator_init_is_bitwise_in_torchs_draw_order(kw):
    """out_proj is drawn at construction, then the in-projection xavier_uniform_, then the
    zeroed biases (their draws consumed), then bias_k/bias_v xavier_normal_."""
    for E in (8, 32):
        torch.manual_seed(4)
        tsd = tnn.MultiheadAttention(E, 2, **kw).state_dict()
        gen = TorchGenerator(4)
        jm = nn.MultiheadAttention(E, 2, **kw)
        sd = jm.state_dict(jm.init(gen))
        assert list(sd) == list(tsd)
        for name, t in tsd.items():
            assert np.array_equal(
                np.asarray(sd[name]).view(np.uint32), t.numpy().view(np.uint32)
            ), name
        assert np.array_equal(gen.get_state(), torch.get_rng_state().numpy())


def test_jax_key_init_follows_reset_parameters():
    jm = nn.MultiheadAttention(64, 4, add_bias_kv=True)
    sd = jm.state_dict(jm.init(jax.random.key(0)))
    assert np.all(np.asarray(sd["in_proj_bias"]) == 0) and np.all(
        np.asarray(sd["out_proj.bias"]) == 0
    )
    w = np.asarray(sd["in_proj_weight"])
    bound = math.sqrt(6 / (64 + 192))  # xavier_uniform on (3E, E)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(np.asarray(sd["out_proj.weight"]).std() * math.sqrt(3 * 64) - 1) < 0.05  # U(+-1/8)
