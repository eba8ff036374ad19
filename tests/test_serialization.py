"""jaxinit/serialization.py: save/load, the flax msgpack format, checks, corruption, atomicity,
devices and shardings; and the safetensors interop and torch-less behaviour of jaxinit.interop
(the torch cross-checks are in tests/torch/test_interop_torch.py)."""

import collections
import errno
import os
import re
import subprocess
import sys
import textwrap
import zlib

import flax.serialization
import jax
import jax.numpy as jnp
import ml_dtypes
import msgpack
import numpy as np
import optax
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxinit import serialization
from jaxinit.serialization import CheckpointError, IncompatibleKeys, load, save

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bits(x):
    """The raw bytes of an array: bitwise comparison, NaN payloads and -0.0 included."""
    x = np.asarray(x)
    return x.dtype, x.shape, x.tobytes()


def re_escape(path):
    """A regex matching ``path`` as error messages quote it."""
    return re.escape(repr(path))


def mlp_variables(key, d_in=20, hidden=256, d_out=10):
    """Seed 003's MLP (Linear(20, 256) -> ReLU -> Linear(256, 10)) in torch layout."""
    k = jax.random.split(key, 4)
    return {
        "hidden": {
            "weight": jax.random.normal(k[0], (hidden, d_in)) * 0.1,
            "bias": jax.random.normal(k[1], (hidden,)) * 0.1,
        },
        "output": {
            "weight": jax.random.normal(k[2], (d_out, hidden)) * 0.1,
            "bias": jax.random.normal(k[3], (d_out,)) * 0.1,
        },
    }


def mlp(v, x):
    h = jax.nn.relu(x @ v["hidden"]["weight"].T + v["hidden"]["bias"][None])
    return h @ v["output"]["weight"].T + v["output"]["bias"][None]


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "ckpt.msgpack")


# ----------------------------------------------------------------------------- round trips


def test_seed_003_tensor_list_dict_and_model(tmp_path):
    x = jnp.arange(4)
    save(x, tmp_path / "x-file")
    assert bits(load(tmp_path / "x-file")) == bits(x)

    y = jnp.zeros(4)
    save([x, y], tmp_path / "x-files")
    x2, y2 = load(tmp_path / "x-files")
    assert bits(x2) == bits(x) and bits(y2) == bits(y)

    save({"x": x, "y": y}, tmp_path / "mydict")
    mydict2 = load(tmp_path / "mydict")
    assert list(mydict2) == ["x", "y"] and bits(mydict2["y"]) == bits(y)

    net = mlp_variables(jax.random.key(0))
    X = jax.random.normal(jax.random.key(1), (2, 20))
    save(net, tmp_path / "mlp.params")
    clone = load(tmp_path / "mlp.params", like=mlp_variables(jax.random.key(2)))
    assert np.array_equal(mlp(clone, X), mlp(net, X))


@pytest.mark.parametrize(
    "dtype",
    [
        jnp.float32,
        jnp.float16,
        jnp.bfloat16,
        jnp.int32,
        jnp.int8,
        jnp.uint8,
        jnp.bool_,
        jnp.complex64,
        ml_dtypes.float8_e4m3fn,
    ],
)
def test_dtypes_round_trip_bitwise(path, dtype):
    raw = np.random.default_rng(0).integers(0, 256, size=(3, 5, 8), dtype=np.uint8)
    x = jnp.asarray(raw > 127 if np.dtype(dtype) == np.bool_ else raw.view(np.dtype(dtype)))
    tree = {"x": x, "scalar": x.reshape(-1)[0], "empty": x[:0]}
    save(tree, path)
    back = load(path)
    for name, value in tree.items():
        assert isinstance(back[name], jax.Array) and bits(back[name]) == bits(value), name


def test_64_bit_round_trip_with_x64(path):
    with jax.enable_x64(True):
        tree = {"f": jnp.arange(3, dtype=jnp.float64) / 3, "i": jnp.array(2**40, jnp.int64)}
        save(tree, path)
        back = load(path)
        assert bits(back["f"]) == bits(tree["f"]) and bits(back["i"]) == bits(tree["i"])


def test_64_bit_without_x64_exact_or_refused(path):
    save({"nbt": np.array(7, np.int64), "ids": np.arange(5, dtype=np.int64)}, path)
    back = load(path)
    assert back["nbt"].dtype == jnp.int32 and int(back["nbt"]) == 7
    assert back["ids"].tolist() == [0, 1, 2, 3, 4]
    save({"big": np.array([2**40], np.int64)}, path)
    with pytest.raises(CheckpointError, match="'big' holds int64 values outside the int32 range"):
        load(path)
    save({"f": np.ones(2, np.float64), "g": np.ones(1, np.float64)}, path)
    with pytest.raises(CheckpointError, match="'f', 'g' are 64-bit floats.*enable_x64"):
        load(path)


def test_pytrees_scalars_order_and_containers(path):
    tree = {
        "z": 1,
        "a": [1.5, True, None, "text", b"raw", 3 + 4j, -(2**63), 2**64 - 1],
        "t": (np.float32(2.5), np.int16(-3), jnp.ones(2)),
        "nested": {"b": {}, "a": []},
    }
    save(tree, path)
    back = load(path)
    assert list(back) == ["z", "a", "t", "nested"] and list(back["nested"]) == ["b", "a"]
    assert back["a"] == tree["a"] and back["nested"] == {"b": {}, "a": []}
    assert isinstance(back["t"], tuple) and type(back["t"][0]) is np.float32
    assert back["t"][:2] == tree["t"][:2] and type(back["t"][1]) is np.int16
    save((1, [2, (3,)]), path)
    assert load(path) == (1, [2, (3,)])
    save("just a string", path)
    assert load(path) == "just a string"


def test_optimizer_state_and_namedtuples(path):
    params = mlp_variables(jax.random.key(0))
    opt = optax.adam(1e-3)
    state = opt.init(params)
    state = (
        state[0]._replace(
            count=jnp.array(1, jnp.int32), mu=jax.tree_util.tree_map(lambda p: p * 2, params)
        ),
        state[1],
    )
    save({"params": params, "opt": state}, path)
    plain = load(path)  # no template: pytree nodes come back as dicts of their fields
    assert isinstance(plain["opt"], tuple) and set(plain["opt"][0]) == {"count", "mu", "nu"}
    back = load(path, like={"params": params, "opt": opt.init(params)})
    assert type(back["opt"][0]) is type(state[0]) and int(back["opt"][0].count) == 1
    chex_leaves = jax.tree_util.tree_leaves(back)
    assert [bits(a) for a in chex_leaves] == [
        bits(a) for a in jax.tree_util.tree_leaves({"params": params, "opt": state})
    ]


# --------------------------------------------------------------------------- flax compatibility


def test_flax_reads_our_file_byte_for_byte(path):
    tree = {
        "A": {"0": {"weight": jnp.arange(6.0).reshape(2, 3), "bias": jnp.ones(2, jnp.bfloat16)}},
        "lst": [jnp.ones(3, jnp.int32), 2, "s", None, (1.5, np.float32(2))],
        "flag": jnp.array([True, False]),
        "c": 1 + 2j,
    }
    save(tree, path)
    ours = open(path, "rb").read()
    theirs = flax.serialization.to_bytes(tree)
    # Same bytes as flax, but for the top-level entry count (+1) and the metadata entry at the end.
    assert ours[0] == theirs[0] + 1 and ours[1 : len(theirs)] == theirs[1:]
    restored = flax.serialization.msgpack_restore(ours)
    meta = restored.pop("__jaxinit__")
    assert meta["format"] == "jaxinit" and meta["version"] == 1
    expected = flax.serialization.msgpack_restore(theirs)
    assert jax.tree_util.tree_all(
        jax.tree_util.tree_map(lambda a, b: bits(a) == bits(b), restored, expected)
    )
    target = {"A": jax.tree_util.tree_map(jnp.zeros_like, tree["A"])}
    again = flax.serialization.from_bytes(target, ours)  # flax ignores the extra entries
    assert bits(again["A"]["0"]["bias"]) == bits(tree["A"]["0"]["bias"])


def test_we_read_flax_files(path):
    tree = {
        "params": mlp_variables(jax.random.key(0)),
        "step": np.int32(3),
        "lst": [1, 2],
        "x": np.arange(6, dtype=np.int16).reshape(2, 3),
    }
    with open(path, "wb") as f:
        f.write(flax.serialization.to_bytes(tree))
    back = load(path)  # flax stores lists as dicts keyed "0", "1", ...
    assert bits(back["params"]["hidden"]["weight"]) == bits(tree["params"]["hidden"]["weight"])
    assert back["step"] == 3 and type(back["step"]) is np.int32 and back["lst"] == {"0": 1, "1": 2}
    assert load(path, like=tree)["lst"] == [1, 2]  # a template gives the list back
    with open(path, "wb") as f:  # msgpack_serialize keeps lists as msgpack arrays
        f.write(flax.serialization.msgpack_serialize({"a": [np.ones(2, np.float32), 1]}))
    back = load(path)
    assert isinstance(back["a"], list) and bits(back["a"][0]) == bits(np.ones(2, np.float32))
    with open(path, "wb") as f:  # a bare array at the top
        f.write(flax.serialization.to_bytes(np.arange(3, dtype=np.float32)))
    assert bits(load(path)) == bits(np.arange(3, dtype=np.float32))


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunk arrays over 64 bytes, in flax and in jaxinit (the real limit is 2**30 bytes; a real
    >1 GiB leaf is tested by test_real_chunked_leaf where the machine has the memory)."""
    monkeypatch.setattr(flax.serialization, "MAX_CHUNK_SIZE", 64)
    monkeypatch.setattr(serialization, "MAX_CHUNK_SIZE", 64)


def test_chunked_arrays_match_flax(path, small_chunks):
    tree = {
        "big": jnp.arange(50, dtype=jnp.float32).reshape(5, 10),
        "odd": jnp.arange(17, dtype=jnp.uint8),
        "small": jnp.ones(3),
    }
    save(tree, path)
    ours = open(path, "rb").read()
    theirs = flax.serialization.to_bytes(tree)
    assert ours[1 : len(theirs)] == theirs[1:]
    assert b"__msgpack_chunked_array__" in ours
    restored = flax.serialization.msgpack_restore(ours)
    assert bits(restored["big"]) == bits(tree["big"]) and bits(restored["odd"]) == bits(tree["odd"])
    assert bits(load(path)["big"]) == bits(tree["big"])
    with open(path, "wb") as f:
        f.write(theirs)
    assert bits(load(path)["odd"]) == bits(tree["odd"])


def test_chunked_array_corruption_names_the_leaf(path, small_chunks):
    save({"big": jnp.arange(50, dtype=jnp.float32)}, path)
    data = bytearray(open(path, "rb").read())
    data[data.index(np.float32(40).tobytes())] ^= 1  # a byte in the third chunk
    open(path, "wb").write(bytes(data))
    with pytest.raises(CheckpointError, match="array data of 'big' is corrupted"):
        load(path)


def available_memory() -> int:
    """MemAvailable from /proc/meminfo in bytes (0 where there is none)."""
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return 0


@pytest.mark.skipif(
    available_memory() < 8 * 2**30 or os.environ.get("JAXINIT_BIG_TESTS") == "0",
    reason="needs 8 GiB of free memory (a 1 GiB array saved and read back, ~7 s); "
    "JAXINIT_BIG_TESTS=0 skips it",
)
def test_real_chunked_leaf(path):
    x = np.zeros(2**30 + 7, np.uint8)
    x[::4096], x[-1] = 7, 9
    save({"big": x}, path)
    with open(path, "rb") as f:
        assert b"__msgpack_chunked_array__" in f.read(64)  # flax's layout: two chunks
    back = serialization.read_host(path)["big"]
    assert back.shape == x.shape and back[-1] == 9 and np.array_equal(back[::4096], x[::4096])


# ----------------------------------------------------------------------------------------- ties


def test_ties_written_once_and_restored_as_one_object(path, tmp_path):
    w = jnp.ones((64, 64))
    state_dict = collections.OrderedDict(
        [("0.weight", w), ("1.weight", w), ("1.bias", jnp.ones(64))]
    )
    save(state_dict, path)
    save({"0.weight": w, "1.bias": jnp.ones(64)}, tmp_path / "once.msgpack")
    assert os.path.getsize(path) - os.path.getsize(tmp_path / "once.msgpack") < 100
    back = load(path)
    assert list(back) == ["0.weight", "1.weight", "1.bias"]
    assert back["0.weight"] is back["1.weight"]
    assert flax.serialization.msgpack_restore(open(path, "rb").read())["1.weight"] == {
        "__jaxinit_alias__": ["0.weight"]
    }
    # numpy views of the same memory are one array too; a copy is not
    a = np.arange(4.0, dtype=np.float32)
    save({"a": a, "view": a[:], "copy": a.copy()}, path)
    back = load(path)
    assert back["a"] is back["view"] and back["a"] is not back["copy"]


def test_alias_is_not_unexpected_when_the_model_stores_the_tie_once(path):
    w = jnp.ones((4, 4))
    save({"0": {"weight": w}, "1": {"weight": w}}, path)
    back = load(path, like={"0": {"weight": w}})  # variables store a tie once
    assert bits(back["0"]["weight"]) == bits(w)
    back = load(path, like={"0": {"weight": w}, "1": {"weight": w}})
    assert back["0"]["weight"] is back["1"]["weight"]


# ------------------------------------------------------------------------- loading into a model


def test_all_problems_reported_at_once_in_torch_format(path):
    save(
        {
            "hidden.weight": jnp.ones((128, 20)),
            "hidden.bias": jnp.ones(256),
            "head.weight": jnp.ones(3),
            "output.weight": jnp.ones((10, 256)),
        },
        path,
    )
    f32, sds = jnp.float32, jax.ShapeDtypeStruct
    like = {
        "hidden": {"weight": sds((256, 20), f32), "bias": sds((256,), jnp.bfloat16)},
        "output": {"weight": sds((10, 256), f32), "bias": sds((10,), f32)},
    }
    with pytest.raises(CheckpointError) as info:
        load(path, like=like)
    assert str(info.value) == (
        f"Error(s) in loading state_dict from {path!r}:\n"
        '\tMissing key(s) in state_dict: "output.bias". \n'
        '\tUnexpected key(s) in state_dict: "head.weight". \n'
        "\tsize mismatch for hidden.weight: copying a param with shape (128, 20) from checkpoint, "
        "the shape in current model is (256, 20).\n"
        "\tdtype mismatch for hidden.bias: copying a param with dtype float32 from checkpoint, "
        "the dtype in current model is bfloat16."
    )


def test_non_strict_returns_keys_and_keeps_template_values(path):
    v = mlp_variables(jax.random.key(0))
    save({"hidden": v["hidden"], "extra": jnp.ones(2)}, path)
    current = mlp_variables(jax.random.key(1))
    back, keys = load(path, like=current, strict=False)
    assert keys == IncompatibleKeys(["output.weight", "output.bias"], ["extra"])
    assert back["output"]["weight"] is current["output"]["weight"]
    assert bits(back["hidden"]["weight"]) == bits(v["hidden"]["weight"])
    assert repr(load(path, like={"hidden": v["hidden"]}, strict=False)[1]) == (
        "_IncompatibleKeys(missing_keys=[], unexpected_keys=['extra'])"
    )
    assert repr(load(path, strict=False)[1]) == "<All keys matched successfully>"


def test_size_and_type_mismatches_raise_even_when_not_strict(path):
    save({"w": jnp.ones(3), "s": 5}, path)
    with pytest.raises(CheckpointError, match=r"size mismatch for w: .* \(3,\) .* \(2,\)"):
        load(path, like={"w": jnp.ones(2)}, strict=False)
    with pytest.raises(CheckpointError, match='parameter named "s", expected an array'):
        load(path, like={"s": jnp.ones(())}, strict=False)


def test_flat_state_dict_file_fits_nested_template_and_back(path):
    v = mlp_variables(jax.random.key(0))
    flat = {f"{m}.{p}": a for m, d in v.items() for p, a in d.items()}
    save(flat, path)
    back = load(path, like=v)
    assert list(back) == ["hidden", "output"] and list(back["hidden"]) == ["weight", "bias"]
    assert bits(back["output"]["bias"]) == bits(v["output"]["bias"])
    save(v, path)
    assert list(load(path, like=flat)) == list(flat)


def test_failed_load_returns_nothing(path):
    save({"a": jnp.ones(3), "b": jnp.ones(4)}, path)
    result = "untouched"
    with pytest.raises(CheckpointError):
        result = load(path, like={"a": jnp.ones(3), "b": jnp.ones(5)})
    assert result == "untouched"


# ------------------------------------------------------------------- corrupt and foreign files


def test_flipped_byte_in_array_data_names_file_and_leaf(path):
    save({"layer": {"weight": jnp.arange(100.0), "bias": jnp.ones(3)}}, path)
    data = bytearray(open(path, "rb").read())
    data[data.index(np.float32(50).tobytes()) + 1] ^= 0x10
    open(path, "wb").write(bytes(data))
    with pytest.raises(
        CheckpointError,
        match=rf"{path!r}: the array data of 'layer.weight' is "
        r"corrupted \(crc32 mismatch",
    ):
        load(path)
    # flax would silently return wrong numbers from the same bytes
    wrong = flax.serialization.msgpack_restore(bytes(data))["layer"]["weight"]
    assert wrong[50] != 50.0


def test_flipped_byte_in_structure_is_reported(path):
    save({"weight": jnp.ones(3), "bias": jnp.zeros(2)}, path)
    data = open(path, "rb").read().replace(b"bias", b"bIas")
    open(path, "wb").write(data)
    with pytest.raises(CheckpointError, match="keys, shapes or dtypes do not match"):
        load(path)


def test_any_flipped_bit_is_reported(path):
    """Every single-bit flip, anywhere in the file (data, keys, shapes, metadata), raises."""
    save({"a": jnp.arange(6.0), "b": {"c": [1, 2.5, "x"]}, "d": jnp.ones((2, 3), jnp.bfloat16),
          "t": (np.int32(3),)}, path)
    data = open(path, "rb").read()
    for offset in range(len(data)):
        for bit in (0x01, 0x80):
            damaged = bytearray(data)
            damaged[offset] ^= bit
            open(path, "wb").write(bytes(damaged))
            with pytest.raises(CheckpointError, match=re_escape(path)):
                load(path)


def test_truncated_at_any_offset_is_reported(path):
    save(
        {"a": jnp.arange(40.0), "b": {"c": [1, 2.5, "x"]}, "d": jnp.ones((2, 3), jnp.bfloat16)},
        path,
    )
    data = open(path, "rb").read()
    for cut in range(len(data)):  # every prefix, including the empty file
        open(path, "wb").write(data[:cut])
        with pytest.raises(CheckpointError, match=re_escape(path)) as info:
            load(path)
        assert any(w in str(info.value) for w in ("truncated", "empty", "damaged")), cut


@pytest.mark.parametrize(
    "content, hint",
    [
        (b"PK\x03\x04" + b"\0" * 40, "zip archive, as torch.save writes"),
        (b"\x80\x02}q\x00.", "pickle"),
        (b"\x93NUMPY\x01\x00", "numpy"),
        ((10).to_bytes(8, "little") + b'{"a": {}}  ', "safetensors"),
        (b"hello world\n", "not a jaxinit or flax msgpack checkpoint"),
        (b'{"json": 1}', "not a jaxinit or flax msgpack checkpoint"),
    ],
)
def test_foreign_files_get_a_clear_error(path, content, hint):
    open(path, "wb").write(content)
    with pytest.raises(CheckpointError, match=re_escape(path)) as info:
        load(path)
    assert hint in str(info.value)


def test_trailing_bytes_unknown_extensions_and_object_dtypes(path):
    save({"a": jnp.ones(2)}, path)
    open(path, "ab").write(b"\x00")
    with pytest.raises(CheckpointError, match="1 unexpected bytes after the end"):
        load(path)
    open(path, "wb").write(msgpack.packb({"a": msgpack.ExtType(42, b"xyz")}))
    with pytest.raises(CheckpointError, match="unknown msgpack extension type 42"):
        load(path)
    # an object array would be pointers read from the file: refused, never built
    record = msgpack.packb(((2,), "object", b"\x00" * 16))
    open(path, "wb").write(msgpack.packb({"a": msgpack.ExtType(1, record)}))
    with pytest.raises(CheckpointError, match="'a' has dtype 'object', which jaxinit does not"):
        load(path)
    record = msgpack.packb(((3,), "float32", b"\x00" * 8))
    open(path, "wb").write(msgpack.packb({"a": msgpack.ExtType(1, record)}))
    with pytest.raises(CheckpointError, match="needs 12 bytes, the record holds 8"):
        load(path)


def test_newer_format_version_asks_for_an_upgrade(path):
    save({"a": jnp.ones(2)}, path)
    tree = flax.serialization.msgpack_restore(open(path, "rb").read())
    tree["__jaxinit__"]["version"] = 2
    open(path, "wb").write(flax.serialization.msgpack_serialize(tree))
    with pytest.raises(CheckpointError, match="newer jaxinit .*upgrade jaxinit"):
        load(path)


# ------------------------------------------------------------------------------------ atomicity


def test_full_disk_mid_save_keeps_old_file_and_leaves_no_temp(path, monkeypatch, tmp_path):
    old = {"w": jnp.arange(10.0)}
    save(old, path)
    written = 0

    def write_then_fail(fd, data):
        nonlocal written
        if written > 3000:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = os.write(fd, data[:1000])
        written += n
        return n

    monkeypatch.setattr(serialization, "_os_write", write_then_fail)
    with pytest.raises(OSError, match="No space left on device while saving") as info:
        save({"w": jnp.ones(100_000)}, path)
    assert info.value.errno == errno.ENOSPC and written > 3000
    assert bits(load(path)["w"]) == bits(old["w"])
    assert os.listdir(tmp_path) == ["ckpt.msgpack"]


def test_process_killed_mid_save_keeps_old_file(path):
    old = {"w": jnp.arange(10.0)}
    save(old, path)
    script = textwrap.dedent(f"""
        import os, signal
        import numpy as np
        from jaxinit import serialization
        written = 0
        def write_then_die(fd, data):
            global written
            if written >= 1_000_000:
                os.kill(os.getpid(), signal.SIGKILL)
            n = os.write(fd, data[:250_000])
            written += n
            return n
        serialization._os_write = write_then_die
        serialization.save({{"w": np.ones(4_000_000, np.float32)}}, {path!r})
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr.decode()
    assert bits(load(path)["w"]) == bits(old["w"])
    temps = [f for f in os.listdir(os.path.dirname(path)) if f.endswith(".tmp")]
    assert (
        len(temps) == 1
        and os.path.getsize(os.path.join(os.path.dirname(path), temps[0])) >= 1_000_000
    )


def test_bad_input_fails_before_touching_the_disk(path, tmp_path):
    save({"w": jnp.ones(2)}, path)
    with pytest.raises(TypeError, match="cannot save 'b.c' of type object"):
        save({"a": jnp.ones(2), "b": {"c": object()}}, path)
    with pytest.raises(TypeError, match="dtype <U1 is not a numeric dtype"):
        save({"s": np.array(["x"])}, path)
    with pytest.raises(TypeError, match="dict key 3 is int"):
        save({3: jnp.ones(2)}, path)
    with pytest.raises(ValueError, match="'__jaxinit__' is reserved"):
        save({"__jaxinit__": 1}, path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save({"w": 1}, tmp_path / "no" / "such.msgpack")
    assert os.listdir(tmp_path) == ["ckpt.msgpack"]
    assert bits(load(path)["w"]) == bits(jnp.ones(2))


def test_save_through_a_symlink_replaces_its_target(tmp_path):
    target = tmp_path / "real.msgpack"
    save({"v": 1}, target)
    os.symlink(target, tmp_path / "link.msgpack")
    save({"v": 2}, tmp_path / "link.msgpack")
    assert os.path.islink(tmp_path / "link.msgpack") and load(target) == {"v": 2}


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
    raw = load_file(str(path))  # the library itself reads it; the tie is stored once
    assert sorted(raw) == ["0.bias", "0.weight", "bn.num_batches_tracked"]
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


def test_safetensors_missing_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    from jaxinit.interop import save_safetensors

    with pytest.raises(ImportError, match=r'pip install "jaxinit\[safetensors\]"'):
        save_safetensors({"a": jnp.ones(2)}, tmp_path / "a.safetensors")


def test_checksums_cover_every_record(path):
    """The metadata holds zlib.crc32 of each array's bytes, in file order (documented format)."""
    a, b = jnp.arange(5.0), jnp.ones(3, jnp.int32)
    save({"a": a, "b": b}, path)
    meta = flax.serialization.msgpack_restore(open(path, "rb").read())["__jaxinit__"]
    assert meta["crc32"] == [
        zlib.crc32(np.asarray(a).tobytes()),
        zlib.crc32(np.asarray(b).tobytes()),
    ]
