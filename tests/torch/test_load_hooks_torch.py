"""An overridden ``_load_from_state_dict`` runs in ``load_state_dict`` as in torch, with
torch's arguments (torchvision's ``FrozenBatchNorm2d`` drops ``num_batches_tracked`` there)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _torchvision import import_torchvision  # noqa: E402

from jaxinit import init, nn  # noqa: E402


class FrozenBatchNorm2d(nn.Module):
    """torchvision.ops.misc.FrozenBatchNorm2d, ported as written."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", nn.Buffer((num_features,), init.ones))
        self.register_buffer("bias", nn.Buffer((num_features,), init.zeros))
        self.register_buffer("running_mean", nn.Buffer((num_features,), init.zeros))
        self.register_buffer("running_var", nn.Buffer((num_features,), init.ones))

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        num_batches_tracked_key = prefix + "num_batches_tracked"
        if num_batches_tracked_key in state_dict:
            del state_dict[num_batches_tracked_key]
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def forward(self, x):
        scale = self.weight * (self.running_var + self.eps) ** -0.5
        bias = self.bias - self.running_mean * scale
        return x * scale.reshape(1, -1, 1, 1) + bias.reshape(1, -1, 1, 1)


def _make(M, norm):
    return M.Sequential(M.Conv2d(2, 3, 1), norm(3))


def test_frozen_batchnorm_loads_a_batchnorm_checkpoint_as_torch_does():
    tv = import_torchvision()
    torch.manual_seed(0)
    trained = _make(torch.nn, torch.nn.BatchNorm2d)
    trained[1].running_mean.uniform_(-1, 1)
    sd = trained.state_dict()  # has 1.num_batches_tracked
    frozen = _make(torch.nn, tv.ops.misc.FrozenBatchNorm2d)
    assert not frozen.load_state_dict(sd, strict=True).unexpected_keys
    net = _make(nn, FrozenBatchNorm2d)
    variables, result = net.load_state_dict(None, sd, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = np.random.RandomState(0).randn(2, 2, 4, 4).astype(np.float32)
    want = frozen(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(net(variables, x), want, rtol=1e-6, atol=1e-6)


def test_the_hook_gets_torchs_arguments_and_its_reports_count():
    seen = []

    class Reporting(nn.Linear):
        def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, *lists):
            missing, unexpected, errors = lists
            seen.append((prefix, local_metadata, strict))
            state_dict[prefix + "weight"] = state_dict.pop(prefix + "old_weight")  # a rename
            unexpected.append(prefix + "note")
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, *lists)

    net = nn.Sequential(nn.Identity(), Reporting(2, 1))
    torch_sd = torch.nn.Sequential(torch.nn.Identity(), torch.nn.Linear(2, 1)).state_dict()
    sd = {"1.old_weight": torch_sd["1.weight"], "1.bias": torch_sd["1.bias"]}
    sd = type(torch_sd)(sd)
    sd._metadata = torch_sd._metadata
    variables, result = net.load_state_dict(None, sd, strict=False)
    assert seen == [("1.", {"version": 1}, True)]
    assert result.unexpected_keys == ["1.note"]
    np.testing.assert_array_equal(variables["1"]["weight"], torch_sd["1.weight"].numpy())
    assert "1.old_weight" in sd and "1.weight" not in sd  # the caller's dict is untouched
    with pytest.raises(RuntimeError, match='Unexpected key\\(s\\) in state_dict: "1.note"'):
        net.load_state_dict(None, sd, strict=True)
