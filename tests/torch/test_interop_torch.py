"""Cross-checks of jaxinit.interop.torch (and the .pt side of the CLI and of safetensors) against
torch itself: bitwise tensors, dtypes, ties, load_state_dict, outputs, weights_only loading."""

from __future__ import annotations

import os
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from jaxinit import cli  # noqa: E402
from jaxinit.interop import from_torch, load_pt, save_pt, to_torch  # noqa: E402
from jaxinit.serialization import CheckpointError, load, save  # noqa: E402


def torch_bits(t):
    """dtype name, shape and raw bytes of a tensor (bfloat16 through its int16 bits)."""
    t = t.detach().contiguous()
    raw = t.view(torch.int16) if t.dtype == torch.bfloat16 else t
    return str(t.dtype).removeprefix("torch."), tuple(t.shape), raw.numpy().tobytes()


def jax_bits(x):
    x = np.asarray(x)
    return x.dtype.name, x.shape, x.tobytes()


class Net(torch.nn.Module):
    """Parameters and buffers of every kind a checkpoint meets."""

    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(20, 16)
        self.bn = torch.nn.BatchNorm1d(16)
        self.half = torch.nn.Linear(16, 4).to(torch.float16)
        self.brain = torch.nn.Linear(4, 4).to(torch.bfloat16)
        self.register_buffer("mask", torch.tensor([True, False, True]))
        self.register_buffer("ids", torch.arange(5, dtype=torch.int64))
        self.register_buffer("bytes", torch.arange(3, dtype=torch.uint8))


@pytest.fixture
def net():
    torch.manual_seed(0)
    module = Net()
    module.bn(torch.randn(8, 16))  # a training step: running stats and num_batches_tracked = 1
    return module


def test_state_dict_to_variables_and_back_is_bitwise(net):
    sd = net.state_dict()
    v = from_torch(sd)
    assert list(v) == list(dict.fromkeys(k.split(".")[0] for k in sd))  # torch's order
    assert list(v["bn"]) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    for name, tensor in sd.items():
        leaf = v
        for part in name.split("."):
            leaf = leaf[part]
        assert isinstance(leaf, jax.Array)
        want = torch_bits(tensor.to(torch.int32) if tensor.dtype == torch.int64 else tensor)
        assert jax_bits(leaf) == want, name  # int64 -> int32 (x64 off), values exact
    back = to_torch(v)
    assert list(back) == list(sd)
    for name in sd:  # num_batches_tracked is int64 again; other int64 buffers stay int32
        want = sd[name].to(torch.int32) if name == "ids" else sd[name]
        assert torch_bits(back[name]) == torch_bits(want), name
    clone = Net()
    assert repr(clone.load_state_dict(back)) == "<All keys matched successfully>"
    assert torch.equal(clone.ids, net.ids) and clone.ids.dtype == torch.int64


def test_with_x64_every_dtype_round_trips_bitwise(net):
    sd = net.state_dict()
    with jax.enable_x64(True):
        back = to_torch(from_torch(sd))
    for name in sd:
        assert torch_bits(back[name]) == torch_bits(sd[name]), name


def test_seed_003_mlp_same_outputs_through_pt_and_jaxinit_files(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(20, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    X = torch.randn(2, 20)
    torch.save(net.state_dict(), tmp_path / "mlp.params")

    v = load_pt(tmp_path / "mlp.params")
    h = jax.nn.relu(jnp.asarray(X.numpy()) @ v["0"]["weight"].T + v["0"]["bias"][None])
    y = h @ v["2"]["weight"].T + v["2"]["bias"][None]
    # Two float32 matmul implementations: the same up to rounding (sums of 256 O(0.1) terms).
    np.testing.assert_allclose(np.asarray(y), net(X).detach().numpy(), rtol=1e-5, atol=1e-6)

    save(v, tmp_path / "mlp.msgpack")  # torch -> jaxinit file -> torch
    save_pt(load(tmp_path / "mlp.msgpack"), tmp_path / "clone.pt")
    clone = torch.nn.Sequential(torch.nn.Linear(20, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    clone.load_state_dict(torch.load(tmp_path / "clone.pt", weights_only=True))
    for name, tensor in net.state_dict().items():
        assert torch_bits(clone.state_dict()[name]) == torch_bits(tensor)
    assert torch.equal(clone(X), net(X))


def test_ties_are_one_array_and_one_tensor(tmp_path):
    lin = torch.nn.Linear(8, 8)
    seq = torch.nn.Sequential(lin, torch.nn.Linear(8, 8))
    seq[1].weight = lin.weight  # tied across modules: state_dict lists both names
    sd = seq.state_dict()
    v = from_torch(sd)
    assert v["0"]["weight"] is v["1"]["weight"]
    back = to_torch(v)
    assert back["0.weight"].data_ptr() == back["1.weight"].data_ptr()
    save_pt(v, tmp_path / "tied.pt")
    reread = torch.load(tmp_path / "tied.pt", weights_only=True)
    assert reread["0.weight"].data_ptr() == reread["1.weight"].data_ptr()  # stored once
    fresh = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Linear(8, 8))
    fresh[1].weight = fresh[0].weight
    assert repr(fresh.load_state_dict(reread)) == "<All keys matched successfully>"
    # Variables that store the tie once (as jaxinit models do): the alias key of the torch
    # state_dict is not "unexpected", since its tensor is the one loaded under "0.weight".
    once = {
        "0": {"weight": v["0"]["weight"], "bias": v["0"]["bias"]},
        "1": {"bias": v["1"]["bias"]},
    }
    got, keys = from_torch(sd, like=once, strict=False)
    assert keys.unexpected_keys == [] and keys.missing_keys == []
    assert jax_bits(got["0"]["weight"]) == torch_bits(lin.weight)


def test_loading_into_a_template_reports_every_problem(net):
    template = jax.tree_util.tree_map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), from_torch(net.state_dict())
    )
    template["hidden"]["weight"] = jax.ShapeDtypeStruct((16, 21), jnp.float32)
    template["half"]["bias"] = jax.ShapeDtypeStruct((4,), jnp.float32)
    del template["ids"]
    template["extra"] = jax.ShapeDtypeStruct((1,), jnp.float32)
    with pytest.raises(CheckpointError) as info:
        from_torch(net.state_dict(), like=template)
    msg = str(info.value)
    assert msg.startswith("Error(s) in loading state_dict from torch state_dict:\n")
    assert '\tMissing key(s) in state_dict: "extra". \n' in msg
    assert '\tUnexpected key(s) in state_dict: "ids". \n' in msg
    assert "size mismatch for hidden.weight: copying a param with shape (16, 20)" in msg
    assert "dtype mismatch for half.bias: copying a param with dtype float16" in msg
    assert "num_batches_tracked" not in msg  # torch int64 fits the int32 template exactly


def test_pt_files_never_run_code(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"w": Evil()}, f, protocol=2)
    torch.save({"w": torch.ones(2), "x": Evil.__new__(Evil)}, tmp_path / "class.pt")
    for name in ("evil.pt", "class.pt"):
        with pytest.raises(CheckpointError, match=rf"{name}'?: torch.load\(weights_only=True\)"):
            load_pt(tmp_path / name)
    assert not marker.exists()


def test_legacy_and_nested_pt_files(tmp_path):
    x = torch.arange(4)
    torch.save([x, torch.zeros(4)], tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    got = load_pt(tmp_path / "legacy.pt")
    assert isinstance(got, list) and got[0].tolist() == [0, 1, 2, 3]
    torch.save(
        {
            "model": {"0.weight": torch.ones(2, 2)},
            "epoch": 3,
            "optimizer": {"state": {0: {"step": torch.tensor(5.0)}}},
        },
        tmp_path / "ckpt.pt",
    )
    got = load_pt(tmp_path / "ckpt.pt")
    assert got["epoch"] == 3 and got["model"]["0"]["weight"].shape == (2, 2)
    assert float(got["optimizer"]["state"]["0"]["step"]) == 5.0


def test_cli_converts_between_all_three_formats_bitwise(net, tmp_path, capsys):
    pytest.importorskip("safetensors")
    tied = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 4))
    tied[1].weight = tied[0].weight
    sd = {**net.state_dict(), **{f"tied.{k}": t for k, t in tied.state_dict().items()}}
    src = str(tmp_path / "a.pt")
    torch.save(sd, src)
    steps = [
        src,
        str(tmp_path / "b.msgpack"),
        str(tmp_path / "c.safetensors"),
        str(tmp_path / "d.pth"),
    ]
    for a, b in zip(steps, steps[1:]):
        assert cli.main(["convert", a, b, "--no-progress"]) == 0, capsys.readouterr().err
    back = torch.load(steps[-1], weights_only=True)
    assert sorted(back) == sorted(sd)
    for name in sd:  # int64 stays int64: the CLI never narrows
        assert torch_bits(back[name]) == torch_bits(sd[name]), name
    assert back["tied.0.weight"].data_ptr() == back["tied.1.weight"].data_ptr()
    capsys.readouterr()
    assert cli.main(["inspect", src]) == 0
    out = capsys.readouterr().out
    assert "bn.num_batches_tracked  ()" in out and "int64" in out
    assert "tied to tied.0.weight" in out


def test_safetensors_files_work_with_torch(net, tmp_path):
    st = pytest.importorskip("safetensors.torch")
    from jaxinit.interop import load_safetensors, save_safetensors

    sd = net.state_dict()
    st.save_file(sd, tmp_path / "torch.safetensors")
    v = load_safetensors(tmp_path / "torch.safetensors")
    assert jax_bits(v["brain"]["weight"]) == torch_bits(sd["brain.weight"])
    save_safetensors(v, tmp_path / "ours.safetensors")
    reread = st.load_file(tmp_path / "ours.safetensors")
    clone = Net()
    assert repr(clone.load_state_dict(reread)) == "<All keys matched successfully>"
    for name in sd:
        want = sd[name].to(torch.int32) if name == "ids" else sd[name]  # x64 off
        assert torch_bits(reread[name]) == torch_bits(want), name


def test_save_pt_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    save_pt({"w": jnp.ones(2)}, path)

    def broken_save(obj, f):
        f.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="while saving"):
        save_pt({"w": jnp.zeros(2)}, path)
    assert torch.load(path, weights_only=True)["w"].tolist() == [1.0, 1.0]
    assert os.listdir(tmp_path) == ["m.pt"]
