"""jaxinit.serialization.parse/verify: corrupt, crafted and foreign files."""

import os
import zlib

import flax.serialization
import jax.numpy as jnp
import ml_dtypes
import msgpack
import numpy as np
import pytest
from _ckpt_cases import bits, re_escape

from jaxinit.serialization import CheckpointError, load, save

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ------------------------------------------------------------------- corrupt and foreign files


def test_flipped_byte_in_array_data_names_file_and_leaf(path):
    save({"layer": {"weight": jnp.arange(100.0), "bias": jnp.ones(3)}}, path)
    data = bytearray(open(path, "rb").read())
    data[data.index(np.float32(50).tobytes()) + 1] ^= 0x10
    open(path, "wb").write(bytes(data))
    with pytest.raises(
        CheckpointError,
        match=rf"{path!r}: the array data of 'layer.weight' is "
        r"corrupted \(xxh3 mismatch",
    ):
        load(path)
    # flax would silently return wrong numbers from the same bytes
    wrong = flax.serialization.msgpack_restore(bytes(data))["layer"]["weight"]
    assert wrong[50] != 50.0


def test_flipped_byte_in_structure_is_reported(path):
    save({"weight": jnp.ones(3), "bias": jnp.zeros(2)}, path)
    data = open(path, "rb").read().replace(b"bias", b"bIas")
    open(path, "wb").write(data)
    with pytest.raises(CheckpointError, match="keys, shapes, dtypes or .* do not match"):
        load(path)


def test_any_flipped_bit_is_reported(path):
    """Every single-bit flip, anywhere in the file (data, keys, shapes, metadata), raises."""
    save(
        {
            "a": jnp.arange(6.0),
            "b": {"c": [1, 2.5, "x"]},
            "d": jnp.ones((2, 3), jnp.bfloat16),
            "t": (np.int32(3),),
        },
        path,
    )
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
    tree["__jaxinit__"]["version"] = 4
    open(path, "wb").write(flax.serialization.msgpack_serialize(tree))
    with pytest.raises(CheckpointError, match="newer jaxinit .*upgrade jaxinit"):
        load(path)


def _record(shape, dtype="float32", data=b""):
    return msgpack.ExtType(1, msgpack.packb((shape, dtype, data)))


@pytest.mark.parametrize(
    "shape, match",
    [
        ([0, 2**63], "bad shape|too large"),
        ([0, 2**62], "too large"),
        ([1] * 70, "70 dimensions"),
        ([[1, 2]], "bad shape"),
    ],
)
def test_crafted_shapes_are_checkpoint_errors(path, shape, match):
    record = msgpack.ExtType(1, msgpack.packb((shape, "float32", b"")))
    open(path, "wb").write(msgpack.packb({"a": record}))
    with pytest.raises(CheckpointError, match=match):
        load(path, verify=False)


def test_records_nested_in_shapes_and_deep_nesting_are_bounded(path):
    """The depth limit is global: a record inside a shape field, or 10k nested maps, is an error
    (never RecursionError)."""
    inner = msgpack.ExtType(1, msgpack.packb(([1], "float32", b"\0" * 4)))
    open(path, "wb").write(
        msgpack.packb({"a": msgpack.ExtType(1, msgpack.packb(([inner], "float32", b"")))})
    )
    with pytest.raises(CheckpointError, match="bad shape"):
        load(path, verify=False)
    open(path, "wb").write(b"\x81\xa1a" * 10_000 + b"\xc0")
    with pytest.raises(CheckpointError, match="nesting deeper than"):
        load(path, verify=False)


def test_a_long_list_of_nils_parses_in_linear_time(path):
    """The issue's 20 MB list of nils took 71 s; parsing is now linear with a small constant."""
    import time

    n = 2_000_000
    open(path, "wb").write(b"\x81\xa1a\xdd" + n.to_bytes(4, "big") + b"\xc0" * n)
    start = time.perf_counter()
    assert len(load(path, verify=False)["a"]) == n
    assert time.perf_counter() - start < 15  # about 1.5 s on 2 busy cores


@pytest.mark.parametrize("attack", ["first byte", "sequences", "meta key", "root"])
def test_issue_attacks_on_structure_are_reported(path, attack):
    """The attacks that used to pass: map header -> array header, a bit in __jaxinit__.sequences,
    the __jaxinit__ key damaged, the root kind changed."""
    save((jnp.ones(2), [1, 2]), path)
    data = bytearray(open(path, "rb").read())
    if attack == "first byte":
        data[0] = 0x90 | (data[0] & 0x0F)
    elif attack == "sequences":
        i = data.index(b"tuple")
        data[i : i + 5] = b"tuplf"
    elif attack == "meta key":
        i = data.index(b"__jaxinit__")
        data[i] ^= 1
    else:
        i = data.index(b"\xa4tree")
        data[i + 1 : i + 5] = b"Tree"
    open(path, "wb").write(bytes(data))
    with pytest.raises(CheckpointError, match=re_escape(path)):
        load(path)


def test_save_refuses_what_load_cannot_read(path):
    with pytest.raises(TypeError, match="float6_e2m3fn"):
        save({"a": np.zeros(3, ml_dtypes.float6_e2m3fn)}, path)
    assert not os.path.exists(path)


def test_version_1_files_still_load(path):
    """A version-1 file (structure checksum before __jaxinit__ only), as jaxinit 1 wrote it."""
    w = np.arange(4, dtype=np.float32)
    body = (
        b"\x82"
        + msgpack.packb("w")
        + msgpack.packb(
            msgpack.ExtType(1, msgpack.packb(((4,), "float32", w.tobytes()))), use_bin_type=True
        )
    )
    data_at = body.index(w.tobytes())
    structure = zlib.crc32(body[data_at + 16 :], zlib.crc32(body[:data_at]))
    meta = {
        "format": "jaxinit",
        "version": 1,
        "root": "tree",
        "sequences": [],
        "crc32": [zlib.crc32(w.tobytes())],
        "structure_crc32": structure,
    }
    open(path, "wb").write(body + msgpack.packb("__jaxinit__") + msgpack.packb(meta))
    assert bits(load(path)["w"]) == bits(w)
    damaged = bytearray(open(path, "rb").read())
    damaged[data_at] ^= 1
    open(path, "wb").write(bytes(damaged))
    with pytest.raises(CheckpointError, match="array data of 'w'"):
        load(path)


def test_version_2_files_still_load(path):
    """A version-2 file (zlib.crc32 checksums, keys crc32 / structure_crc32) loads and is fully
    verified: array data and structure."""
    from jaxinit.serialization.files import atomic_write
    from jaxinit.serialization.write import plan, write_checkpoint

    tree = {"w": jnp.arange(4.0), "t": (np.int32(3), "s")}
    atomic_write(path, lambda fd, _: write_checkpoint(fd, plan(tree), None, version=2))
    meta = flax.serialization.msgpack_restore(open(path, "rb").read())["__jaxinit__"]
    assert meta["version"] == 2 and list(meta)[-2:] == ["crc32", "structure_crc32"]
    assert meta["crc32"][0] == zlib.crc32(np.arange(4.0, dtype=np.float32).tobytes())
    got = load(path)
    assert bits(got["w"]) == bits(tree["w"]) and got["t"] == (3, "s")
    clean = open(path, "rb").read()
    for at, match in (
        (clean.index(np.float32(2).tobytes()), r"crc32 mismatch"),
        (clean.index(b"\xa1t") + 1, "keys, shapes, dtypes"),
    ):
        damaged = bytearray(clean)
        damaged[at] ^= 1
        open(path, "wb").write(bytes(damaged))
        with pytest.raises(CheckpointError, match=match):
            load(path)
