"""``jaxinit convert`` / ``inspect`` with sharded checkpoint directories: every direction
bit for bit, ties kept, counts checked, and arrays streamed one at a time."""

import weakref

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxinit
from jaxinit import cli
from jaxinit.serialization import sharded, sharded_convert


@pytest.fixture
def ckpt(tmp_path):
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:8]).reshape(4, 2), ("a", "b"))
    w = jax.device_put(
        jnp.arange(32 * 8, dtype=jnp.float32).reshape(32, 8),
        jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("a", "b")),
    )
    tree = {
        "enc": {"weight": w, "bias": jnp.arange(8, dtype=jnp.bfloat16)},
        "dec": {"weight": w},
        "bn": {"num_batches_tracked": np.array(3, np.int64)},
    }
    jaxinit.save_sharded(tmp_path / "ck", tree)
    return tmp_path / "ck", tree


@pytest.mark.parametrize("ext", [".msgpack", ".safetensors", ".pt"])
def test_sharded_to_file_and_back(ckpt, tmp_path, ext):
    src, tree = ckpt
    dst = tmp_path / f"model{ext}"
    summary = cli.convert(str(src), str(dst), progress=False)
    assert "3 arrays read, 3 written" in summary
    host = cli.read(str(dst))
    np.testing.assert_array_equal(host["enc"]["weight"], np.asarray(tree["enc"]["weight"]))
    assert host["dec"]["weight"] is host["enc"]["weight"]  # the tie survives
    assert host["enc"]["bias"].dtype == jnp.bfloat16
    assert host["bn"]["num_batches_tracked"].dtype == np.int64  # bit for bit, no JAX cast
    back = tmp_path / "back/"
    assert "3 arrays read, 3 written" in cli.convert(str(dst), str(back) + "/", progress=False)
    loaded = jaxinit.load_sharded(back)
    np.testing.assert_array_equal(loaded["dec"]["weight"], np.asarray(tree["enc"]["weight"]))
    assert loaded["dec"]["weight"] is loaded["enc"]["weight"]


def test_inspect_a_directory(ckpt):
    report = cli.inspect(str(ckpt[0]))
    assert "tied to enc.weight" in report and "3 arrays (+1 tied name)" in report
    assert "directory" in report


def test_lost_array_is_an_error(ckpt, tmp_path, monkeypatch):
    real = sharded_convert.write_safetensors

    def lossy(tree, path, progress):  # a writer that drops an array must not pass silently
        del tree["bn"]
        return real(tree, path, progress)

    monkeypatch.setattr(sharded_convert, "write_safetensors", lossy)
    with pytest.raises(ValueError, match=r"not each read once \(2 reads of 3 arrays\)"):
        cli.convert(str(ckpt[0]), str(tmp_path / "m.safetensors"), progress=False)
    monkeypatch.setattr(cli, "_count_arrays", lambda path: 2)  # the written file lost one
    monkeypatch.setattr(sharded_convert, "write_safetensors", real)
    with pytest.raises(ValueError, match="read 3 arrays but .* holds 2"):
        cli.convert(str(ckpt[0]), str(tmp_path / "m.safetensors"), progress=False)
    assert cli.main(["convert", str(ckpt[0]), str(tmp_path / "x.unknown")]) == 1


class _Tracked(np.ndarray):
    """A restored array whose lifetime is observed (numpy subclasses take weak references)."""


@pytest.mark.parametrize("ext", [".msgpack", ".safetensors"])
def test_streaming_holds_about_one_array_at_a_time(tmp_path, monkeypatch, ext):
    arrays = {f"layer{i}": {"weight": jnp.full((64, 128), float(i))} for i in range(8)}
    jaxinit.save_sharded(tmp_path / "big", arrays)
    real, live, peak = sharded.restore_one, set(), [0]

    def tracked(*args):
        value = real(*args)
        out = _Tracked(value.shape, value.dtype)  # owns its memory: views keep it alive
        out[...] = value
        live.add(id(out))
        weakref.finalize(out, live.discard, id(out))
        peak[0] = max(peak[0], len(live))
        return out

    monkeypatch.setattr(sharded, "restore_one", tracked)
    cli.convert(str(tmp_path / "big"), str(tmp_path / f"big{ext}"), progress=False)
    assert 1 <= peak[0] <= 2, peak  # the whole model would be 8 arrays alive at once
    host = cli.read(str(tmp_path / f"big{ext}"))
    assert float(host["layer7"]["weight"][0, 0]) == 7.0
