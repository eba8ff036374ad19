"""Interop that loses nothing, checked against torch itself: a tied state_dict through
safetensors loads strictly in plain torch, colliding .pt names are errors naming both keys,
float8 survives .pt -> safetensors -> msgpack bit for bit, and odd .pt files give clean CLI
errors."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from jaxinit import cli  # noqa: E402
from jaxinit.interop import from_torch, load_pt, save_safetensors  # noqa: E402
from jaxinit.serialization import CheckpointError, load  # noqa: E402


class Tied(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(10, 4)
        self.head = torch.nn.Linear(4, 10, bias=False)
        self.head.weight = self.emb.weight


def test_tied_state_dict_through_safetensors_loads_strictly_in_torch(tmp_path):
    from safetensors.torch import load_file

    torch.manual_seed(0)
    net = Tied()
    variables = from_torch(net.state_dict())
    assert variables["emb"]["weight"] is variables["head"]["weight"]
    path = tmp_path / "tied.safetensors"
    save_safetensors(variables, path)
    fresh = Tied()
    assert str(fresh.load_state_dict(load_file(str(path)), strict=True)) == (
        "<All keys matched successfully>"
    )
    assert torch.equal(fresh.emb.weight, net.emb.weight)


def test_colliding_pt_names_are_an_error_naming_both(tmp_path):
    path = tmp_path / "c.pt"
    torch.save({"a.b": torch.ones(2), "a": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="'a.b' and 'a' collide"):
        load_pt(path)
    assert cli.main(["convert", str(path), str(tmp_path / "c.msgpack"), "--no-progress"]) == 1


@pytest.mark.parametrize("dtype", ["float8_e4m3fn", "float8_e5m2", "bfloat16"])
def test_float8_round_trips_through_every_format(tmp_path, dtype):
    x = torch.arange(-8, 8, dtype=torch.float32).to(getattr(torch, dtype))
    torch.save({"x": x}, tmp_path / "a.pt")
    cli.convert(str(tmp_path / "a.pt"), str(tmp_path / "a.safetensors"), progress=False)
    cli.convert(str(tmp_path / "a.safetensors"), str(tmp_path / "a.msgpack"), progress=False)
    cli.convert(str(tmp_path / "a.msgpack"), str(tmp_path / "b.pt"), progress=False)
    back = torch.load(tmp_path / "b.pt", weights_only=True)["x"]
    assert back.dtype == x.dtype and torch.equal(
        back.view(torch.uint8 if x.itemsize == 1 else torch.int16),
        x.view(torch.uint8 if x.itemsize == 1 else torch.int16),
    )
    assert str(load(tmp_path / "a.msgpack")["x"].dtype) == dtype


def test_sparse_pt_is_a_clean_cli_error(tmp_path, capsys):
    path = tmp_path / "s.pt"
    torch.save({"s": torch.eye(3).to_sparse()}, path)
    assert cli.main(["convert", str(path), str(tmp_path / "s.msgpack"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("jaxinit: error: ") and len(err.strip().splitlines()) == 1
