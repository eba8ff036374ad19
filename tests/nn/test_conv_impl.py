"""The CPU convolution formulations agree with lax (values and both gradients), the entry
point is deterministic (jit == eager bitwise), and the off switch gives lax's bits."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _xla_speed import CHECK_COMPILE
from jax import lax

from jaxinit.nn.functional import _conv_impl as ci
from jaxinit.nn.functional._conv_formulations import (
    FORMULATIONS,
    ConvSpec,
    is_depthwise,
    tile_width,
)

# (input shape, weight shape, strides, padding, lhs_dilation, rhs_dilation, groups): a covering
# sweep, several features per case so that each case costs one compile.
CASES = [
    ((2, 4, 7, 6), (6, 2, 3, 2), (2, 1), ((1, 2), (0, 1)), (1, 1), (1, 2), 2),  # grouped, all
    ((2, 6, 5, 5), (6, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), (1, 1), 6),  # depthwise
    ((2, 3, 4, 4), (5, 3, 2, 2), (1, 1), ((1, 1), (1, 1)), (2, 2), (1, 1), 1),  # transposed
    ((2, 4, 6, 6), (8, 4, 1, 1), (2, 2), ((0, 0), (0, 0)), (1, 1), (1, 1), 1),  # 1x1 strided
    ((2, 3, 9), (4, 3, 3), (2,), ((2, 1),), (2,), (2,), 1),  # 1d, everything at once
    (
        (1, 4, 3, 4, 5),
        (4, 2, 2, 2, 2),
        (1, 2, 1),
        ((1, 0), (0, 1), (1, 1)),
        (1, 1, 1),
        (1, 1, 1),
        2,
    ),  # 3d grouped
    ((2, 2, 6, 6), (3, 2, 3, 3), (1, 1), ((-1, 1), (1, -1)), (1, 1), (1, 1), 1),  # cropping
    ((2, 8, 2, 2), (8, 8, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), (1, 1), 1),  # tiny spatial
    # Few output channels, 5x5: the rule's toeplitz plan, 4 tiles of 4 columns, the last cut.
    ((2, 3, 12, 14), (6, 3, 5, 5), (1, 1), ((1, 0), (2, 1)), (1, 1), (1, 1), 1),
    # Depthwise with a channel multiplier, stride, dilation and uneven padding; and in 1d.
    ((2, 4, 9, 8), (8, 1, 3, 2), (2, 1), ((2, 1), (0, 1)), (1, 1), (2, 1), 4),
    ((2, 3, 10), (3, 1, 5), (2,), ((2, 2),), (1,), (1,), 3),
]
TOL = {jnp.float32: 2e-5, jnp.bfloat16: 5e-2}


def _data(case, dtype, seed=0):
    xs, ws, s, p, ld, rd, g = case
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.standard_normal(xs, np.float32), dtype)
    w = jnp.asarray(rng.standard_normal(ws, np.float32) * 0.3, dtype)
    spec = ConvSpec.make(xs, ws, s, p, ld, rd, g)
    ct = jnp.asarray(rng.standard_normal((xs[0], ws[0], *spec.out_spatial), np.float32), dtype)
    return x, w, ct, spec


def _value_and_grads(fn, x, w, ct):
    y, vjp = jax.vjp(fn, x, w)
    return (y, *vjp(ct))


SWEEP = [(c, jnp.float32) for c in CASES] + [(CASES[i], jnp.bfloat16) for i in (0, 2, 9)]
# The sweep's programs (lax and every formulation, values and both gradients) are big; their
# compile dominates the module: compiled with CHECK_COMPILE (tests/_xla_speed.py; identical
# errors against lax). The bitwise tests below keep the defaults.


def _applicable(spec):
    return [
        f
        for f in FORMULATIONS
        if f != "lax" and (is_depthwise(spec) or not f.startswith("depthwise"))
    ]


@pytest.mark.parametrize(("case", "dtype"), SWEEP, ids=[f"{i}" for i in range(len(SWEEP))])
def test_every_formulation_matches_lax(case, dtype):
    x, w, ct, spec = _data(case, dtype)

    def all_formulations(a, b, c):  # one compile per case: lax and every formulation
        out = {
            "lax": _value_and_grads(
                lambda u, v: lax.conv_general_dilated(u, v, **spec.lax_kwargs()), a, b, c
            )
        }
        for name in _applicable(spec):
            plan = ci.Plan(name, name, name)
            out[name] = _value_and_grads(
                lambda u, v, plan=plan: ci.conv_with_plan(u, v, spec, plan), a, b, c
            )
        return out

    got = jax.jit(all_formulations, compiler_options=CHECK_COMPILE)(x, w, ct)
    ref = got.pop("lax")
    assert ref[0].shape == (x.shape[0], w.shape[0], *spec.out_spatial)
    assert sorted(got) == sorted(_applicable(spec))
    assert is_depthwise(spec) == ("depthwise" in got)
    for name, values in got.items():
        for r, g, what in zip(ref, values, ("output", "d_input", "d_weight")):
            assert g.dtype == r.dtype and g.shape == r.shape, (name, what)
            # on the host: jnp here would compile a few programs per case and shape
            r32, g32 = np.asarray(r).astype(np.float32), np.asarray(g).astype(np.float32)
            scale = float(np.abs(r32).max()) + 1.0
            err = float(np.abs(g32 - r32).max())
            assert err <= TOL[dtype] * scale, (name, what, err)


def _entry(x, w, case):
    _, _, s, p, ld, rd, g = case
    n = x.ndim - 2
    sp = "DHW"[-n:]
    return ci.conv_general_dilated(x, w, s, p, ld, rd, ("NC" + sp, "OI" + sp, "NC" + sp), g)


@pytest.mark.parametrize(
    ("case", "forced"),
    [
        (CASES[3], None),  # the rule's own plan (1x1 strided: im2col_t for all three parts)
        (CASES[8], None),  # the rule's own plan (few output channels: toeplitz, im2col, toeplitz)
        (CASES[9], None),  # the rule's own plan (depthwise: depthwise, toeplitz, toeplitz)
        (CASES[0], None),  # the rule's own plan (grouped: slices, im2col_t, slices)
        (CASES[2], ci.Plan("im2col", "slices", "im2col_t")),  # every other formulation once
    ],
    ids=["rule", "rule-toeplitz", "rule-depthwise", "rule-grouped", "forced"],
)
def test_entry_is_deterministic_and_jit_equals_eager(case, forced, monkeypatch):
    x, w, ct, spec = _data(case, jnp.float32)
    if forced is None:
        assert ci.choose_plan(spec, x.dtype) != ci.LAX_PLAN
        assert ci.choose_plan(spec, x.dtype) == ci.choose_plan(spec, x.dtype)
    else:
        monkeypatch.setattr(ci, "choose_plan", lambda spec, dtype: forced)

    def f(a, b, c):
        return _value_and_grads(lambda u, v: _entry(u, v, case), a, b, c)

    eager, eager2, jitted = f(x, w, ct), f(x, w, ct), jax.jit(f)(x, w, ct)
    for a, b, c in zip(eager, eager2, jitted):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        np.testing.assert_array_equal(np.asarray(a), np.asarray(c))


@pytest.mark.parametrize("index", [3, 8], ids=["im2col_t", "toeplitz"])
def test_forward_mode_and_hessians_run_through_the_rule(index):
    """jax.jvp and jax.hessian work on the fast plans (their tangents are formulations too)."""
    case = CASES[index]
    x, w, _, spec = _data(case, jnp.float32)
    assert ci.choose_plan(spec, x.dtype) != ci.LAX_PLAN

    def ref(u, v):
        return lax.conv_general_dilated(u, v, **spec.lax_kwargs())

    tangents = (0.5 * x[::-1], 0.3 * w[::-1])
    cheap = functools.partial(jax.jit, compiler_options=CHECK_COMPILE)  # tolerance checks
    got = cheap(lambda: jax.jvp(lambda u, v: _entry(u, v, case), (x, w), tangents))()
    want = cheap(lambda: jax.jvp(ref, (x, w), tangents))()
    for g, r in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(r), atol=2e-4, rtol=1e-4)
    w1 = w[:, :, :2, :2]  # few weights: a small Hessian
    small = (*case[:1], w1.shape, *case[2:])
    small_spec = ConvSpec.make(x[:1].shape, w1.shape, *small[2:])
    assert ci.choose_plan(small_spec, x.dtype) != ci.LAX_PLAN

    def loss(v, entry):
        y = (
            entry(x[:1], v)
            if entry
            else lax.conv_general_dilated(x[:1], v, **small_spec.lax_kwargs())
        )
        return jnp.sum(jnp.tanh(y) ** 2)

    h = cheap(jax.hessian(lambda v: loss(v, lambda a, b: _entry(a, b, small))))(w1)
    h_ref = cheap(jax.hessian(lambda v: loss(v, None)))(w1)
    assert h.shape == (*w1.shape, *w1.shape)
    np.testing.assert_allclose(np.asarray(h), np.asarray(h_ref), atol=2e-4, rtol=1e-3)


def test_rule_picks_toeplitz_for_few_output_channels():
    spec = ConvSpec.make(*CASES[8][:2], *CASES[8][2:])
    assert ci.choose_plan(spec, jnp.float32) == ci.Plan("toeplitz", "im2col", "toeplitz")
    gray = ConvSpec.make((64, 1, 28, 28), (6, 1, 5, 5), (1, 1), ((2, 2), (2, 2)), None, None, 1)
    assert ci.choose_plan(gray, jnp.float32).fwd == "slices"
    grouped = ConvSpec.make((2, 6, 12, 14), (6, 3, 5, 5), (1, 1), ((0, 0), (0, 0)), None, None, 2)
    assert "toeplitz" not in ci.choose_plan(grouped, jnp.float32)  # measured ungrouped only


def test_rule_plans_grouped_convolutions_apart():
    """Grouped, not depthwise (RegNet, ResNeXt): XLA's CPU weight gradient is 100x slower
    there, so it never runs; the input gradient's patch matrix is bounded, and long kernels
    keep lax's forward and input gradient."""
    grouped = ci.Plan("slices", "im2col_t", "slices")

    def plan(x, w, groups, pad=1):
        spec = ConvSpec.make(
            x, w, (1,) * (len(x) - 2), ((pad, pad),) * (len(x) - 2), None, None, groups
        )
        return ci.choose_plan(spec, jnp.float32)

    assert ci.choose_plan(ConvSpec.make(*CASES[0][:2], *CASES[0][2:]), jnp.float32) == grouped
    assert plan((8, 128, 16, 16), (128, 4, 3, 3), 32) == grouped  # ResNeXt at 64x64
    big = plan((32, 128, 56, 56), (128, 4, 3, 3), 32)  # at 224x224: 115M patch elements
    assert big == ci.Plan("slices", "slices", "slices")
    assert plan((2, 768, 200), (768, 48, 128), 16, pad=64) == ci.Plan("lax", "lax", "slices")
    depthwise = ConvSpec.make(*CASES[1][:2], *CASES[1][2:])
    assert ci.choose_plan(depthwise, jnp.float32).fwd == "depthwise"  # its own plan


def test_rule_gives_dilated_two_tap_convs_the_slices_weight_gradient():
    """WaveNet's dilated 2-tap 1-d convs: XLA's weight gradient is 13x slower there."""

    def plan(w, dilation):
        spec = ConvSpec.make((8, 64, 1000), w, (1,), ((0, 0),), None, (dilation,), 1)
        return ci.choose_plan(spec, jnp.float32)

    assert plan((64, 64, 2), 8) == ci.Plan("lax", "lax", "slices")
    assert plan((64, 64, 2), 1) == ci.LAX_PLAN  # undilated: lax is as fast
    assert plan((64, 64, 3), 4) == ci.LAX_PLAN


def test_toeplitz_spreads_a_non_finite_input_only_within_its_tile():
    """The documented difference: the band's zeros meet the whole window, so ``0 * inf`` can
    turn up to ``B - 1`` more outputs of the same rows into nan; nothing else changes."""
    x, w, _, spec = _data(CASES[8], jnp.float32)
    x = np.asarray(x).copy()
    x[0, 1, 6, 7] = np.inf

    @jax.jit  # one compile for both, not the formulation's ops one by one
    def both(a, b):
        return lax.conv_general_dilated(a, b, **spec.lax_kwargs()), FORMULATIONS["toeplitz"](
            a, b, spec
        )

    ref, got = both(jnp.asarray(x), w)
    bad_ref, bad = ~np.isfinite(np.asarray(ref)), ~np.isfinite(np.asarray(got))
    assert bad_ref.any() and (bad >= bad_ref).all()
    np.testing.assert_allclose(np.asarray(got)[~bad], np.asarray(ref)[~bad], atol=2e-5)
    b = tile_width(spec)
    rows, cols = np.nonzero(bad_ref.any(axis=(0, 1)))
    extra_rows, extra_cols = np.nonzero((bad & ~bad_ref).any(axis=(0, 1)))
    assert set(extra_rows) <= set(rows)
    assert extra_cols.min() >= cols.min() - (b - 1) and extra_cols.max() <= cols.max() + b - 1


def test_off_switch_gives_lax_bits(monkeypatch):
    case = CASES[3]  # the rule picks im2col_t: auto differs from lax
    x, w, ct, spec = _data(case, jnp.float32)

    def f(a, b, c):
        return _value_and_grads(lambda u, v: _entry(u, v, case), a, b, c)

    ref = jax.jit(
        lambda a, b, c: _value_and_grads(
            lambda u, v: lax.conv_general_dilated(u, v, **spec.lax_kwargs()), a, b, c
        )
    )(x, w, ct)
    assert ci.get_conv_backend() == "auto"
    with ci.conv_backend("lax"):
        assert ci.get_conv_backend() == "lax"
        got = jax.jit(f)(x, w, ct)
    assert ci.get_conv_backend() == "auto"
    # A new function: jit's cache is keyed on the function, and the mode is read at trace time.
    auto = jax.jit(lambda a, b, c: f(a, b, c))(x, w, ct)
    for r, g in zip(ref, got):
        np.testing.assert_array_equal(np.asarray(r), np.asarray(g))
    assert any(not np.array_equal(np.asarray(r), np.asarray(a)) for r, a in zip(ref, auto))
    ci.set_conv_backend("lax")
    try:
        np.testing.assert_array_equal(np.asarray(_entry(x, w, case)), np.asarray(ref[0]))
    finally:
        ci.set_conv_backend("auto")
    monkeypatch.setenv("JAXINIT_CONV", "LAX")
    assert ci._env_mode() == "lax"
    monkeypatch.setenv("JAXINIT_CONV", "fast")
    with pytest.raises(ValueError, match="JAXINIT_CONV must be one of"):
        ci._env_mode()
    with pytest.raises(ValueError, match="conv backend must be one of"):
        ci.set_conv_backend("torch")


def test_unsupported_calls_are_plain_lax():
    x, w, _, spec = _data(CASES[7], jnp.float32)
    nhwc = ci.conv_general_dilated(
        x.transpose(0, 2, 3, 1),
        w.transpose(2, 3, 1, 0),
        (1, 1),
        "SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    ref = lax.conv_general_dilated(
        x.transpose(0, 2, 3, 1),
        w.transpose(2, 3, 1, 0),
        (1, 1),
        "SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    np.testing.assert_array_equal(np.asarray(nhwc), np.asarray(ref))


def test_conv2d_layer_goes_through_the_entry_point():
    from jaxinit import nn

    conv = nn.Conv2d(256, 4, 3, padding=1)  # a long contraction on 2x2: im2col_t forward
    params = conv.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (1, 256, 2, 2))
    y = conv(params, x)
    with ci.conv_backend("lax"):
        ref = conv(params, x)
    assert not np.array_equal(np.asarray(y), np.asarray(ref))  # the fast plan ran
    np.testing.assert_allclose(np.asarray(y), np.asarray(ref), atol=2e-5, rtol=2e-5)
