"""jaxinit.serialization: save/load round trips, the flax msgpack format (byte for byte), ties."""

import collections
import os

import flax.serialization
import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import optax
import pytest
from _ckpt_cases import bits, mlp, mlp_variables

from jaxinit import serialization
from jaxinit.serialization import CheckpointError, load, save

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
    assert meta["format"] == "jaxinit" and meta["version"] == 3
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
    back = load(path, verify=False)  # flax stores lists as dicts keyed "0", "1", ...
    assert bits(back["params"]["hidden"]["weight"]) == bits(tree["params"]["hidden"]["weight"])
    assert back["step"] == 3 and type(back["step"]) is np.int32 and back["lst"] == {"0": 1, "1": 2}
    assert load(path, like=tree, verify=False)["lst"] == [1, 2]  # a template gives the list back
    with open(path, "wb") as f:  # msgpack_serialize keeps lists as msgpack arrays
        f.write(flax.serialization.msgpack_serialize({"a": [np.ones(2, np.float32), 1]}))
    back = load(path, verify=False)
    assert isinstance(back["a"], list) and bits(back["a"][0]) == bits(np.ones(2, np.float32))
    with open(path, "wb") as f:  # a bare array at the top
        f.write(flax.serialization.to_bytes(np.arange(3, dtype=np.float32)))
    assert bits(load(path, verify=False)) == bits(np.arange(3, dtype=np.float32))


def test_flax_files_are_read_only_when_asked(path):
    """A file with no __jaxinit__ entry cannot be verified: refused unless verify=False."""
    with open(path, "wb") as f:
        f.write(flax.serialization.to_bytes({"w": np.ones(2, np.float32)}))
    with pytest.raises(CheckpointError, match="not a verifiable jaxinit checkpoint.*verify=False"):
        load(path)
    assert bits(load(path, verify=False)["w"]) == bits(np.ones(2, np.float32))


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunk arrays over 64 bytes, in flax and in jaxinit (the real limit is 2**30 bytes; a real
    >1 GiB leaf is tested by test_real_chunked_leaf where the machine has the memory)."""
    monkeypatch.setattr(flax.serialization, "MAX_CHUNK_SIZE", 64)
    monkeypatch.setattr(serialization.format, "MAX_CHUNK_SIZE", 64)


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
    assert bits(load(path, verify=False)["odd"]) == bits(tree["odd"])


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
