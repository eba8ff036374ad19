"""jaxinit.serialization.place: devices and shardings; the safetensors interop and torch-less
behaviour of jaxinit.interop (torch cross-checks are in tests/torch/test_interop_torch.py)."""

import os
import subprocess
import sys

import flax.serialization
import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
import xxhash
from _ckpt_cases import bits
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxinit.serialization import CheckpointError, load, save

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -------------------------------------------------------------------------- devices, shardings


@pytest.fixture
def mesh():
    if len(jax.devices()) < 8:
        pytest.skip("needs 8 devices (XLA_FLAGS=--xla_force_host_platform_device_count=8)")
    return jax.make_mesh((4, 2), ("data", "model"))


def test_sharded_arrays_saved_without_moving_them(path, mesh):
    x = jnp.arange(8 * 6, dtype=jnp.float32).reshape(8, 6)
    tree = {
        spec: jax.device_put(x, NamedSharding(mesh, P(*spec_axes)))
        for spec, spec_axes in [
            ("rows", ("data",)),
            ("cols", (None, "model")),
            ("both", ("data", "model")),
            ("replicated", ()),
        ]
    }
    save(tree, path)
    back = load(path)
    for name in tree:
        assert bits(back[name]) == bits(x), name


def test_load_onto_device_or_sharding(path, mesh):
    x = jnp.arange(8 * 6, dtype=jnp.float32).reshape(8, 6)
    save({"a": {"w": x, "b": x[0]}, "c": x + 1}, path)
    device = jax.devices()[3]
    back = load(path, device=device)
    assert back["a"]["w"].devices() == {device} and bits(back["c"]) == bits(x + 1)
    rows = NamedSharding(mesh, P("data"))
    back = load(
        path,
        sharding={
            "a": {"w": rows, "b": NamedSharding(mesh, P())},
            "c": NamedSharding(mesh, P(None, "model")),
        },
    )
    assert back["a"]["w"].sharding == rows and bits(back["a"]["w"]) == bits(x)
    assert back["c"].sharding.spec == P(None, "model")
    back = load(path, sharding=NamedSharding(mesh, P()))  # one sharding for every leaf
    assert len(back["c"].sharding.device_set) == 8
    with pytest.raises(ValueError, match="sharding= has no entry for 'c'"):
        load(path, sharding={"a": {"w": rows, "b": NamedSharding(mesh, P())}})
    with pytest.raises(ValueError, match="not both"):
        load(path, device=device, sharding=rows)


def test_loaded_cpu_arrays_are_not_copied_twice(path):
    """The buffer jaxinit reads into is 64-byte aligned, so jax's CPU client adopts it."""
    save({"w": jnp.ones((256, 256))}, path)
    w = load(path)["w"]
    assert np.asarray(w).ctypes.data % 64 == 0 and bits(w) == bits(jnp.ones((256, 256)))


# ------------------------------------------------------------------- interop without torch


def test_interop_without_torch_says_how_to_install(monkeypatch, path):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    from jaxinit.interop import from_torch, load_pt, save_pt, to_torch

    for call in (
        lambda: from_torch({}),
        lambda: to_torch({}),
        lambda: load_pt(path),
        lambda: save_pt({}, path),
    ):
        with pytest.raises(ImportError, match=r'pip install "jaxinit\[torch\]".*torch==2.13.0'):
            call()
    save({"still": jnp.ones(2)}, path)  # everything else works
    assert bits(load(path)["still"]) == bits(jnp.ones(2))


def test_importing_jaxinit_never_imports_torch():
    code = (
        "import sys, jaxinit, jaxinit.serialization, jaxinit.interop, jaxinit.cli; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
        timeout=120,
    )
    assert out.stdout.strip() == "False", out.stderr


# ------------------------------------------------------------------------- safetensors interop


def test_safetensors_round_trip_ties_and_checks(tmp_path):
    pytest.importorskip("safetensors")
    from safetensors.numpy import load_file

    from jaxinit.interop import load_safetensors, save_safetensors

    w = jnp.asarray(np.random.default_rng(0).standard_normal((8, 4)), jnp.bfloat16)
    v = {
        "0": {"weight": w, "bias": jnp.ones(8)},
        "1": {"weight": w},
        "bn": {"num_batches_tracked": jnp.array(5, jnp.int32)},
    }
    path = tmp_path / "m.safetensors"
    save_safetensors(v, path, metadata={"note": "hi"})
    raw = load_file(str(path))  # the library itself reads it; the tie is written at both names
    assert sorted(raw) == ["0.bias", "0.weight", "1.weight", "bn.num_batches_tracked"]
    assert raw["bn.num_batches_tracked"].dtype == np.int64  # as torch keeps it
    back = load_safetensors(path)
    assert back["0"]["weight"] is back["1"]["weight"] and bits(back["0"]["weight"]) == bits(w)
    assert bits(back["bn"]["num_batches_tracked"]) == bits(v["bn"]["num_batches_tracked"])
    with pytest.raises(CheckpointError, match=r"size mismatch for 0.bias: .* \(8,\) .* \(9,\)"):
        load_safetensors(path, like={"0": {"bias": jnp.ones(9)}}, strict=False)
    with pytest.raises(TypeError, match="stores arrays only"):
        save_safetensors({"step": 3}, path)
    open(path, "wb").write(b"garbage")
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        load_safetensors(path)


def test_safetensors_are_written_and_read_without_the_package(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    from jaxinit.interop import load_safetensors, save_safetensors

    save_safetensors({"a": jnp.ones(2)}, tmp_path / "a.safetensors")
    assert bits(load_safetensors(tmp_path / "a.safetensors")["a"]) == bits(jnp.ones(2))


def test_checksums_cover_every_record(path):
    """The metadata holds XXH3-64 of each array's bytes, in file order (documented format)."""
    a, b = jnp.arange(5.0), jnp.ones(3, jnp.int32)
    save({"a": a, "b": b}, path)
    meta = flax.serialization.msgpack_restore(open(path, "rb").read())["__jaxinit__"]
    assert meta["version"] == 3 and list(meta)[-2:] == ["xxh3", "structure_xxh3"]
    assert meta["xxh3"] == [
        xxhash.xxh3_64_intdigest(np.asarray(a).tobytes()),
        xxhash.xxh3_64_intdigest(np.asarray(b).tobytes()),
    ]


def test_safetensors_float8_and_every_written_dtype_round_trip(tmp_path):
    from jaxinit.interop.safetensors import read_host, save_safetensors

    arrays = {
        name: np.arange(-3, 5).astype(getattr(ml_dtypes, name))
        for name in (
            "bfloat16",
            "float8_e4m3fn",
            "float8_e5m2",
            "float8_e4m3fnuz",
            "float8_e5m2fnuz",
            "float8_e8m0fnu",
        )
    }
    arrays["i64"] = np.array([2**40, -1], np.int64)
    path = tmp_path / "f8.safetensors"
    save_safetensors(arrays, path)
    back = read_host(path)
    assert all(bits(back[k]) == bits(v) for k, v in arrays.items())


def test_safetensors_collisions_and_metadata_never_override(tmp_path):
    import json

    from safetensors.numpy import save_file

    from jaxinit.interop import load_safetensors, save_safetensors

    path = tmp_path / "c.safetensors"
    save_file({"a.b": np.ones(2, np.float32), "a": np.zeros(2, np.float32)}, str(path))
    with pytest.raises(CheckpointError, match="'a.b' and 'a' collide|'a' and 'a.b' collide"):
        load_safetensors(path)
    with pytest.raises(ValueError, match="collide"):
        save_safetensors({"a.b": jnp.ones(2), "a": {"b": jnp.ones(2)}}, path)
    aliases = json.dumps({"x": "y"})
    save_file(
        {"x": np.ones(2, np.float32), "y": np.zeros(2, np.float32)},
        str(path),
        metadata={"jaxinit.aliases": aliases},
    )
    with pytest.raises(CheckpointError, match="different tensor 'x'"):
        load_safetensors(path)
    save_file(
        {"y": np.zeros(2, np.float32)},
        str(path),
        metadata={"jaxinit.aliases": json.dumps(["x", "y"])},
    )
    with pytest.raises(CheckpointError, match="not a JSON object"):
        load_safetensors(path)


def test_many_small_arrays_are_placed_as_jax_device_put_places_them():
    """The batched path for many small arrays (and the copying one) gives what
    jax.device_put(list) gives: same device, sharding, committed flag, dtype, shape and
    values."""
    from jaxinit._host import device_arrays

    hosts = [
        (np.arange(i % 7 + 1) % 3).astype(d)
        for i in range(40)
        for d in (np.float32, np.int32, np.bool_, ml_dtypes.bfloat16)
    ]
    theirs = jax.device_put(hosts)
    for copy in (False, True):
        for x, y, h in zip(device_arrays(hosts, copy=copy), theirs, hosts):
            assert (x.aval, x.sharding, x.committed) == (y.aval, y.sharding, y.committed)
            assert np.array_equal(np.asarray(x), h)
