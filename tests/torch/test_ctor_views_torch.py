"""Constructor code on indexed parts of declarations, and model surgery, against torch.

Each model is written once over ``M`` (``torch.nn`` or ``jaxinit.nn``); ``net.init(
TorchGenerator(s))`` must equal ``torch.manual_seed(s); make(torch.nn)`` bit for bit and leave
the generator where torch left it (tests/torch/models.py: ``assert_bitwise``).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models import assert_bitwise  # noqa: E402


def _hf_embedding(M):
    """Hugging Face's ``_init_weights`` for an Embedding (transformers 5.x spelling): every
    underscore initializer on an indexed part of the weight."""
    emb = M.Embedding(6, 4, padding_idx=1)
    M.init.normal_(emb.weight, mean=0.0, std=0.02)
    M.init.zeros_(emb.weight[emb.padding_idx])
    M.init.ones_(emb.weight[0])
    M.init.constant_(emb.weight[2], 0.5)
    M.init.uniform_(emb.weight[3], -0.1, 0.1)
    M.init.normal_(emb.weight[4:], 1.0, 0.5)
    M.init.trunc_normal_(emb.weight[5], std=0.1)
    M.init.xavier_uniform_(emb.weight[2:4])
    M.init.kaiming_normal_(emb.weight[4:, 1:3])
    return emb


@pytest.mark.parametrize("seed", [0, 3])
def test_underscore_initializers_on_indexed_parts_are_torch_bitwise(seed):
    jm, tm = assert_bitwise(_hf_embedding, seed)
    assert np.all(tm.weight.detach().numpy()[1] == 0)


class _Cropped:
    """nanoGPT's ``crop_block_size``, as written: a new Parameter from part of the position
    embedding, and a buffer replaced by part of itself."""

    @staticmethod
    def make(M):
        class Block(M.Module):
            def __init__(self, n):
                super().__init__()
                self.wpe = M.Embedding(n, 3)
                self.head = M.Linear(3, 2)
                mask = torch.tril(torch.ones(n, n)) if M is torch.nn else np.tril(np.ones((n, n)))
                self.register_buffer("bias", mask.reshape(1, 1, n, n))

            def crop_block_size(self, n):
                self.wpe.weight = M.Parameter(self.wpe.weight[:n])
                self.bias = self.bias[:, :, :n, :n]

        net = Block(6)
        net.crop_block_size(4)
        return net


@pytest.mark.parametrize("seed", [0, 5])
def test_crop_block_size_as_written_is_torch_bitwise(seed):
    jm, tm = assert_bitwise(_Cropped.make, seed)
    assert tm.wpe.weight.shape == (4, 3) and jm.wpe.weight.shape == (4, 3)
    assert jm.bias.shape == (1, 1, 4, 4)
