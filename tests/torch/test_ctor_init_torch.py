"""Constructor-time init code, run as written, against torch.

Each model is written ONCE, over a module namespace ``M`` that is ``torch.nn`` or
``jaxinit.nn`` (``M.init`` is ``torch.nn.init`` / ``jaxinit.init``), so the constructor code
that runs in jaxinit is literally torch's. ``net.init(TorchGenerator(s))`` must equal
``torch.manual_seed(s); Model()`` bit for bit for every tensor, and leave the generator where
torch's construction left it (every intermediate draw consumed).
"""

import math

import jax
import numpy as np
import pytest

torch = pytest.importorskip("torch")
tnn = torch.nn

from _ks import ks_statistic, ks_threshold  # noqa: E402
from models import assert_bitwise, gpt2, resnet18  # noqa: E402

from jaxinit import TorchGenerator, init, nn  # noqa: E402


@pytest.mark.parametrize("seed,zero_init_residual", [(0, False), (1, True)])
def test_resnet18_constructor_init_is_torch_bitwise(seed, zero_init_residual):
    jm, _ = assert_bitwise(lambda M: resnet18(M, zero_init_residual), seed)
    assert "kaiming_normal" in repr(jm.layer3[0].conv1.weight)


def test_resnet18_jax_key_distributions_match_torch():
    torch.manual_seed(0)
    tsd = resnet18(tnn).state_dict()
    jm = resnet18(nn)
    v = jm.init(jax.random.key(0))
    # conv1: 9408 values N(0, 2/(64*49)); layer3.0.conv1: 294912 values N(0, 2/(256*9));
    # fc (not re-initialised): torch's Linear default U(+-1/sqrt(512))
    for name in ("conv1.weight", "layer3.0.conv1.weight", "fc.weight"):
        t, j = tsd[name].numpy(), np.asarray(jm.get(v, name))
        crit = ks_threshold(t.size, j.size)
        assert ks_statistic(t, j) < crit, name
        # power: a spread 10% off (25% for conv1's 9408 values) is rejected
        assert ks_statistic(t, (1.25 if t.size < 10**4 else 1.1) * j) > crit, name
    for name, value in jm.state_dict(v).items():  # the constant_ fills exactly
        if name.endswith(("bn1.weight", "bn2.weight")):
            assert (np.asarray(value) == 1).all(), name
        elif "bn" in name and name.endswith("bias"):
            assert (np.asarray(value) == 0).all(), name


# ResNet-18 and GPT-2 live in models.py (shared with test_models_torch.py).


@pytest.mark.parametrize("seed", [0, 7])
def test_gpt2_init_weights_via_apply_is_torch_bitwise(seed):
    jm, _ = assert_bitwise(gpt2, seed)
    with pytest.warns(UserWarning, match="declarations only"):  # after init: a warning
        assert jm.apply(lambda m: None) is jm  # torch's form returns the module


def test_gpt2_jax_key_draws_the_last_initializer():
    jm = gpt2(nn)
    v = jm.init(jax.random.key(0))
    w = np.asarray(v["h"]["0"]["mlp"]["c_proj"]["weight"])
    assert abs(w.std() / (0.02 / 2) - 1) < 0.05  # 4096 values: the c_proj rescale won
    # lm_head's normal_ (on the tied weight) came after wte's padding-row zero_: in torch too,
    # the padding row ends up drawn, not zero
    assert np.asarray(v["wte"]["weight"])[0].all()
    assert jm.wte.weight.init.func is init.normal and len(jm.wte.weight._history) == 4
    assert (np.asarray(v["ln_f"]["weight"]) == 1).all()
    assert "lm_head" not in v  # tied: stored once


# ---------------------------------------------------------------------------------------------
# Every underscore initializer and tensor method on a declaration, vs torch on a tensor.


def _with(fn, shape=(6, 5, 3)):
    def make(M):
        class Net(M.Module):
            def __init__(self):
                super().__init__()
                self.fc = M.Linear(4, 3)  # a default draw before
                if M is tnn:
                    self.w = M.Parameter(torch.empty(*shape))
                else:
                    self.w = M.Parameter(shape, init.empty)
                fn(M, self.w)
                self.after = M.Linear(2, 2)  # and one after

        return Net()

    return make


CASES = {
    "uniform_": lambda M, w: M.init.uniform_(w, -0.5, 2.0),
    "normal_": lambda M, w: M.init.normal_(w, 1.0, 0.1),
    "trunc_normal_": lambda M, w: M.init.trunc_normal_(w, std=0.02),
    "trunc_normal_narrow": lambda M, w: M.init.trunc_normal_(w, a=0.5, b=0.6),
    "constant_": lambda M, w: M.init.constant_(w, 0.25),
    "ones_": lambda M, w: M.init.ones_(w),
    "zeros_": lambda M, w: M.init.zeros_(w),
    "dirac_": lambda M, w: M.init.dirac_(w),
    "xavier_uniform_": lambda M, w: M.init.xavier_uniform_(w, gain=2.0),
    "xavier_normal_": lambda M, w: M.init.xavier_normal_(w),
    "kaiming_uniform_": lambda M, w: M.init.kaiming_uniform_(w, a=math.sqrt(5)),
    "kaiming_normal_": lambda M, w: M.init.kaiming_normal_(w, mode="fan_out"),
    "twice": lambda M, w: M.init.zeros_(M.init.normal_(M.init.uniform_(w))),
    ".data.normal_": lambda M, w: w.data.normal_(0.0, 0.02),
    ".uniform_": lambda M, w: w.data.uniform_(-1, 1),
    ".uniform_kw": lambda M, w: w.data.uniform_(**{"from": 2, "to": 3}),
    ".zero_": lambda M, w: w.data.zero_(),
    ".fill_": lambda M, w: w.data.fill_(-1.5),
    ".copy_": lambda M, w: w.data.copy_(torch.arange(3.0)),  # jaxinit takes torch's too
    ".mul_.add_": lambda M, w: w.data.normal_().mul_(0.5).add_(1.0, alpha=2),
    ".div_.clamp_": lambda M, w: w.data.uniform_().div_(3).clamp_(0.1, 0.2),
    "[1].zero_": lambda M, w: w.data.normal_()[1].zero_(),
    "[:, 2].fill_": lambda M, w: w.data.zero_()[:, 2].fill_(7.0),
    "[2:].normal_": lambda M, w: w.data.normal_()[2:].normal_(5.0, 0.5),
    "[0].uniform_": lambda M, w: w.data.fill_(2)[0].uniform_(3, 4),
}


@pytest.mark.parametrize("case", CASES)
def test_reinit_on_a_declaration_is_torch_bitwise(case):
    assert_bitwise(_with(CASES[case]), 3)


@pytest.mark.parametrize(
    "name,shape,fn",
    [
        ("eye_", (4, 6), lambda M, w: M.init.eye_(w)),
        ("sparse_", (10, 4), lambda M, w: M.init.sparse_(w, 0.3)),  # torch: global generator
    ],
)
def test_two_dimensional_initializers_are_torch_bitwise(name, shape, fn):
    assert_bitwise(_with(fn, shape), 4)


def test_orthogonal_draws_as_torch():
    torch.manual_seed(2)
    tm = _with(lambda M, w: M.init.orthogonal_(w, gain=2.0), (4, 6))(tnn)
    jm = _with(lambda M, w: M.init.orthogonal_(w, gain=2.0), (4, 6))(nn)
    gen = TorchGenerator(2)
    v = jm.init(gen)
    np.testing.assert_allclose(np.asarray(v["w"]), tm.w.detach().numpy(), atol=1e-6)  # QR
    assert np.array_equal(np.asarray(v["after"]["weight"]), tm.after.weight.detach().numpy())
    assert np.array_equal(gen.get_state(), torch.get_rng_state().numpy())


def test_multihead_attention_style_empty_then_reinit():
    """torch's nn.MultiheadAttention declares in_proj_weight with torch.empty (no draw), then
    its _reset_parameters re-initialises: xavier_uniform_, constant_ 0, out_proj bias 0."""

    def make(M):
        class MHA(M.Module):
            def __init__(self, e=8):
                super().__init__()
                if M is tnn:
                    self.in_proj_weight = M.Parameter(torch.empty((3 * e, e)))
                    self.in_proj_bias = M.Parameter(torch.empty(3 * e))
                else:
                    self.in_proj_weight = M.Parameter((3 * e, e), init.empty)
                    self.in_proj_bias = M.Parameter((3 * e,), init.empty)
                self.out_proj = M.Linear(e, e)
                M.init.xavier_uniform_(self.in_proj_weight)
                M.init.constant_(self.in_proj_bias, 0.0)
                M.init.constant_(self.out_proj.bias, 0.0)

        return MHA()

    assert_bitwise(make, 0)


def test_underscore_errors_match_torch():
    w = tnn.Parameter(torch.empty(5))
    d = nn.Parameter((5,), init.empty)
    for call in (
        lambda M, x: M.init.kaiming_normal_(x),
        lambda M, x: M.init.xavier_uniform_(x),
        lambda M, x: M.init.eye_(x),
        lambda M, x: M.init.uniform_(x, 1.0, 0.0),
    ):
        with pytest.raises(Exception) as t_err:
            call(tnn, w)
        with pytest.raises(Exception) as j_err:
            call(nn, d)
        t_msg, j_msg = str(t_err.value), str(j_err.value)
        assert j_msg.startswith(t_msg.split(".")[0].split(",")[0][:40]), (t_msg, j_msg)
    assert d.init is init.empty  # nothing recorded by a failed call
    with pytest.raises(TypeError, match="unexpected keyword argument 'a'"):
        torch.empty(2).uniform_(a=0, b=1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'a'"):
        d.uniform_(a=0, b=1)
