"""jaxinit/cli.py: `jaxinit inspect` and `jaxinit convert` (torch files: tests/torch/)."""

import os
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

from jaxinit import cli
from jaxinit.serialization import load, save

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bits(x):
    x = np.asarray(x)
    return x.dtype, x.shape, x.tobytes()


@pytest.fixture
def ckpt(tmp_path):
    w = jnp.arange(12, dtype=jnp.float32).reshape(3, 4)
    tree = {
        "0": {"weight": w, "bias": jnp.ones(3, jnp.bfloat16)},
        "1": {"weight": w},
        "bn": {"num_batches_tracked": jnp.array(4, jnp.int32)},
        "epoch": 7,
    }
    path = str(tmp_path / "model.msgpack")
    save(tree, path)
    return path, tree


def test_inspect_lists_names_shapes_dtypes_counts_and_totals(ckpt, capsys):
    path, _ = ckpt
    assert cli.main(["inspect", path]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "shape", "dtype", "numel"]
    assert lines[2].split() == ["0.weight", "(3,", "4)", "float32", "12"]
    assert lines[3].split() == ["0.bias", "(3,)", "bfloat16", "3"]
    assert lines[4].split() == ["1.weight", "(3,", "4)", "float32", "tied", "to", "0.weight"]
    assert lines[5].split() == ["bn.num_batches_tracked", "()", "int32", "1"]
    assert lines[6].split() == ["epoch", "-", "int", "=", "7"]
    size = os.path.getsize(path)
    assert lines[7] == (
        f"3 arrays (+1 tied name), 16 elements (parameters and buffers), 58 bytes "
        f"of data (58 bytes); file {size:,} bytes"
    )


def test_convert_round_trip_through_safetensors_is_bitwise(ckpt, tmp_path, capsys):
    pytest.importorskip("safetensors")
    path, tree = ckpt
    st, back = str(tmp_path / "m.safetensors"), str(tmp_path / "back.msgpack")
    arrays = {"0": tree["0"], "1": tree["1"], "bn": tree["bn"]}  # safetensors holds arrays only
    save(arrays, path)
    assert cli.main(["convert", path, st]) == 0
    assert cli.main(["convert", st, back]) == 0
    assert "converted" in capsys.readouterr().out
    got = load(back)
    assert got["1"]["weight"] is got["0"]["weight"]  # the tie survives both conversions
    for name in ("weight", "bias"):
        assert bits(got["0"][name]) == bits(tree["0"][name])
    assert bits(got["bn"]["num_batches_tracked"]) == bits(tree["bn"]["num_batches_tracked"])


def test_convert_keeps_64_bit_dtypes_exactly(tmp_path):
    """No JAX arrays are made while converting: int64/float64 pass through even with x64 off."""
    src, dst = str(tmp_path / "a.msgpack"), str(tmp_path / "b.jaxinit")
    x = {"ids": np.array([2**40, -3], np.int64), "f": np.array([1 / 3], np.float64)}
    save(x, src)
    assert cli.main(["convert", src, dst, "--no-progress"]) == 0
    from jaxinit.serialization import read_host

    got = read_host(dst)
    assert bits(got["ids"]) == bits(x["ids"]) and bits(got["f"]) == bits(x["f"])


@pytest.mark.parametrize("use_tqdm", [False, True])
def test_progress_bar_on_big_files(ckpt, tmp_path, monkeypatch, capsys, use_tqdm):
    path, _ = ckpt
    monkeypatch.setattr(cli, "PROGRESS_MIN_BYTES", 1)  # every file is "big"
    if not use_tqdm:
        monkeypatch.setitem(sys.modules, "tqdm", None)
    else:
        pytest.importorskip("tqdm")
    assert cli.main(["convert", path, str(tmp_path / "copy.msgpack")]) == 0
    err = capsys.readouterr().err
    assert "reading model.msgpack" in err and "writing copy.msgpack" in err
    assert "100%" in err
    assert ("[" + "#" * 30 + "]" in err) == (not use_tqdm)  # the built-in bar, full
    assert cli.main(["convert", path, str(tmp_path / "quiet.msgpack"), "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


def test_errors_exit_1_with_a_message(tmp_path, capsys):
    assert cli.main(["inspect", str(tmp_path / "missing.msgpack")]) == 1
    assert "No such file" in capsys.readouterr().err
    bad = tmp_path / "bad.msgpack"
    bad.write_bytes(b"not a checkpoint")
    assert cli.main(["inspect", str(bad)]) == 1
    assert "not a jaxinit or flax msgpack checkpoint" in capsys.readouterr().err
    assert cli.main(["convert", str(bad), str(tmp_path / "out.txt")]) == 1
    assert "unknown extension '.txt'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2


def test_runs_as_python_m_jaxinit_cli(ckpt):
    path, _ = ckpt
    out = subprocess.run(
        [sys.executable, "-m", "jaxinit.cli", "inspect", path],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    assert out.returncode == 0, out.stderr
    assert "0.weight" in out.stdout and "3 arrays" in out.stdout


def test_inspect_recognises_a_checkpoint_without_a_known_extension(tmp_path, capsys):
    """seed 003 saves its MLP to 'mlp.params'."""
    import jaxinit

    path = tmp_path / "mlp.params"
    jaxinit.save({"hidden": {"weight": np.ones((3, 2), np.float32)}}, path)
    assert cli.main(["inspect", str(path)]) == 0
    assert "hidden.weight" in capsys.readouterr().out
    (tmp_path / "notes.txt").write_text("hello")
    assert cli.main(["inspect", str(tmp_path / "notes.txt")]) == 1
