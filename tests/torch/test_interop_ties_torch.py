"""A tied model's variables through .pt and safetensors, as torch writes and reads them:
``save_pt``/``save_safetensors`` with ``net=`` write every name (torch's strict
``load_state_dict`` works), and a file from safetensors' own ``save_model`` (the tie under one
name only) loads with ``load_safetensors(like=..., net=...)``, as ``load_model`` reads it."""

import jax
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from jaxinit import CheckpointError, nn  # noqa: E402
from jaxinit.interop import load_safetensors, save_pt, save_safetensors  # noqa: E402


def _gpt(M):
    """nanoGPT's tie: the embedding takes the head's weight (the head is declared later)."""

    class GPT(M.Module):
        def __init__(self):
            super().__init__()
            self.wte = M.Embedding(7, 4)
            self.lm_head = M.Linear(4, 7, bias=False)
            self.wte.weight = self.lm_head.weight

        def forward(self, idx):
            return self.lm_head(self.wte(idx))

    return GPT()


@pytest.fixture(scope="module")
def tied():
    net = _gpt(nn)
    variables = net.init(jax.random.key(0))
    assert list(variables) == ["wte"]  # stored once, under its first name
    return net, variables


@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
def test_saving_with_net_writes_every_name_for_a_strict_torch_load(tied, tmp_path, fmt):
    from safetensors.torch import load_file

    net, variables = tied
    path = tmp_path / f"gpt.{fmt}"
    save = save_pt if fmt == "pt" else save_safetensors
    save(variables, path, net=net)
    sd = torch.load(path, weights_only=True) if fmt == "pt" else load_file(str(path))
    assert sorted(sd) == ["lm_head.weight", "wte.weight"]
    tm = _gpt(torch.nn)
    assert str(tm.load_state_dict(sd, strict=True)) == "<All keys matched successfully>"
    np.testing.assert_array_equal(tm.lm_head.weight.detach().numpy(), variables["wte"]["weight"])
    # without net= the variables hold the tie once: torch's strict load names the alias
    save(variables, path)
    sd = torch.load(path, weights_only=True) if fmt == "pt" else load_file(str(path))
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "lm_head.weight"'):
        _gpt(torch.nn).load_state_dict(sd, strict=True)


def test_a_save_model_file_loads_with_the_models_tie(tied, tmp_path):
    from safetensors.torch import load_model, save_model

    net, _ = tied
    torch.manual_seed(0)
    tm = _gpt(torch.nn)
    path = tmp_path / "save_model.safetensors"
    save_model(tm, str(path))  # keeps one name of the tie: 'lm_head.weight'
    assert load_model(_gpt(torch.nn), str(path)) == (set(), [])  # torch reads it
    template = jax.eval_shape(net.init, jax.random.key(0))
    with pytest.raises(CheckpointError, match="wte.weight"):
        load_safetensors(path, like=template)  # the model's names are needed to resolve it
    variables = load_safetensors(path, like=template, net=net)
    np.testing.assert_array_equal(variables["wte"]["weight"], tm.lm_head.weight.detach().numpy())
    x = np.array([[1, 2, 3]])
    np.testing.assert_allclose(
        net(variables, x), tm(torch.from_numpy(x)).detach().numpy(), rtol=1e-6, atol=1e-6
    )
    # our own every-name file loads with net= too (the copy is checked and dropped)
    save_safetensors(variables, tmp_path / "every.safetensors", net=net)
    again = load_safetensors(tmp_path / "every.safetensors", like=template, net=net)
    np.testing.assert_array_equal(again["wte"]["weight"], variables["wte"]["weight"])
