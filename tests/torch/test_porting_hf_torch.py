"""Hugging Face transformers' models converted automatically (jaxinit.porting): GPT-2, BERT
(padding mask, two segments), Llama (rotary embeddings, grouped-query attention, RMSNorm),
T5 and BART (encoder-decoder) and ViT, tiny random configs, no download.

transformers' forwards branch in Python on shapes, masks and the configuration, so torch.fx
cannot trace them; convert captures them with torch.export on the example inputs. Each model:
strict state_dict equality both ways, train-mode outputs and gradients of every module, other
batch sizes and lengths in eval, one jitted SGD step against torch's, and the generated source
run where torch cannot be imported; ``convert``'s own check runs on Llama and GPT-2.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from _hf_models import MODELS, build, hidden, projection, torch_inputs  # noqa: E402
from _porting_helpers import (  # noqa: E402
    relaxed,
    sgd_step_matches,
    sources_run_without_torch,
    state_dicts_agree,
)
from _xla_speed import unoptimized_xla  # noqa: E402, F401 -- autouse: this module's compiles

from jaxinit import porting  # noqa: E402
from jaxinit.porting.api import _positional  # noqa: E402
from jaxinit.testing import assert_matches_torch  # noqa: E402

NAMES = list(MODELS)


# convert's own check (eval outputs of every module, gradients) runs on Llama here and on
# GPT-2 with dropout below; on the others it would repeat what the tests below assert more
# strictly (train-mode outputs and gradients of every module, eval on other shapes)
CHECKED = ("llama",)


@pytest.fixture(scope="module")
def ported():
    out = {}
    for name in NAMES:
        tm = build(name)
        check = name in CHECKED
        net, variables = porting.convert(tm, check=check, **torch_inputs(MODELS[name][1]))
        out[name] = (tm, net, variables)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_both_ways(ported, name):
    tm, net, variables = ported[name]
    state_dicts_agree(tm, net, variables)


@pytest.mark.parametrize("name", NAMES)
def test_train_mode_outputs_and_gradients(ported, name):
    tm, net, variables = ported[name]
    inputs = _positional(tm, (), torch_inputs(MODELS[name][1]))  # as convert's check
    with relaxed():
        assert_matches_torch(
            tm,
            net,
            *inputs,
            variables=variables,
            train=True,
            grads=True,
            loss=projection,
            rtol=1e-4,
            atol=1e-5,
        )


@pytest.mark.parametrize("name", NAMES)
def test_other_batch_size_and_length(ported, name):
    tm, net, variables = ported[name]
    other = MODELS[name][2]
    with torch.no_grad():
        want = hidden(tm(**torch_inputs(other))).numpy()
    with relaxed():
        got = jax.jit(lambda v, kw: hidden(net(v, **kw)))(
            variables, {k: jnp.asarray(v) for k, v in other.items()}
        )
    assert got.shape == want.shape
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_jitted_training_step_equals_torch(ported, name):
    tm, net, variables = ported[name]
    inputs = MODELS[name][1]

    def loss_t(out):
        return projection(out, torch)

    def loss_j(out):
        return projection(out, jnp)

    sgd_step_matches(tm, net, variables, (), loss_t, loss_j, kwargs=inputs)


def test_sources_run_without_torch(ported, tmp_path):
    ids = ((2, 6), "int32", 3)
    cases = [
        (ported["gpt2"][1].port_source, {"input_ids": ids}),
        (
            ported["bert"][1].port_source,
            {
                "input_ids": ids,
                "attention_mask": ((2, 6), "int32", 1),
                "token_type_ids": ((2, 6), "int32", 1),
            },
        ),
        (ported["llama"][1].port_source, {"input_ids": ids}),
        (ported["t5"][1].port_source, {"input_ids": ids, "decoder_input_ids": ids}),
        (ported["bart"][1].port_source, {"input_ids": ids, "decoder_input_ids": ids}),
        (ported["vit"][1].port_source, {"pixel_values": ((1, 3, 16, 16), "float32", 0.5)}),
    ]
    sources_run_without_torch(tmp_path, cases)


def test_gpt2_head_stays_tied_to_the_embedding(ported):
    tm, net, variables = ported["gpt2"]
    assert "model.lm_head.weight = model.transformer.wte.weight" in net.port_source
    sd = net.state_dict(variables)
    assert sd["lm_head.weight"] is sd["transformer.wte.weight"]
    assert list(sd) == list(tm.state_dict())


def test_source_is_one_class_per_torch_class(ported):
    src = ported["llama"][1].port_source
    for cls in (
        "LlamaForCausalLM",
        "LlamaModel",
        "LlamaDecoderLayer",
        "LlamaAttention",
        "LlamaMLP",
        "LlamaRMSNorm",
        "LlamaRotaryEmbedding",
    ):
        assert f"class {cls}(" in src, cls
    assert "self.q_proj = q_proj" in src and "q_proj=nn.Linear(32, 32, bias=False)" in src
    assert "import torch" not in src
    # the docstring says build().init does not replay transformers' _init_weights
    assert "LlamaModel.__init__ sets weights itself (post_init" in src
    # the repeated decoder layers are one class with one forward
    assert src.count("class LlamaDecoderLayer") == 1


def test_dropout_draws_from_rng_and_eval_matches_torch():
    tm = build("gpt2", p=0.1)
    ids = MODELS["gpt2"][1]["input_ids"]
    net, variables = porting.convert(tm, torch.as_tensor(ids))  # the check runs eval
    assert "rng=self.next_key() if self.training else None" in net.port_source
    with relaxed():
        f = jax.jit(lambda v, k: hidden(net(v, jnp.asarray(ids), train=True, rng=k)[0]))
        a, b, c = (f(variables, jax.random.key(k)) for k in (0, 0, 1))
    assert np.array_equal(a, b) and not np.allclose(a, c)


class ShapeBranch(torch.nn.Module):
    """Plain torch code torch.fx cannot trace (a branch on a shape): torch.export takes it."""

    def __init__(self, unsupported=False):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)
        self.unsupported = unsupported

    def forward(self, x):
        if x.shape[1] > 2:
            x = self.lin(x)
        if self.unsupported:
            return torch.fft.rfft(x).abs() + torch.special.entr(x)[..., :3]
        return x.softmax(-1)


def test_plain_code_with_a_shape_branch_converts():
    torch.manual_seed(0)
    tm = ShapeBranch().eval()
    net, variables = porting.convert(tm, torch.randn(2, 5, 4))
    assert "aten" not in net.port_source and "self.lin(x)" in net.port_source
    x = np.random.RandomState(0).randn(3, 7, 4).astype(np.float32)
    with relaxed():
        got = net(variables, jnp.asarray(x))
    np.testing.assert_allclose(got, tm(torch.as_tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_export_path_lists_every_unsupported_operation():
    with pytest.raises(porting.PortError) as info:
        porting.convert(ShapeBranch(unsupported=True), torch.randn(2, 5, 4))
    problems = info.value.problems
    what = " ".join(p.what for p in problems)
    assert "aten.fft_rfft" in what and "aten.special_entr" in what, str(info.value)
    assert all("test_porting_hf_torch.py:" in p.where for p in problems), str(info.value)


def test_export_path_warns_about_axes_of_size_one():
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match=r"fixes axes of size 1 .*input 0 axis 0"):
        porting.convert(ShapeBranch().eval(), torch.randn(1, 5, 4))
