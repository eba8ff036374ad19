"""jaxinit.load against crafted and damaged files (second round): structure amplification,
a damaged root that hides the jaxinit entry, version-1 sequences, damage diagnosed as damage,
and save/load edge cases (numpy scalars, 255-byte names)."""

import os
import struct
import subprocess
import sys
import textwrap
import zlib

import msgpack
import numpy as np
import pytest
import xxhash

from jaxinit import cli
from jaxinit.serialization import CheckpointError, load, save

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pack(value):
    return msgpack.packb(value, use_bin_type=True)


def crafted(items: bytes, n: int) -> bytes:
    """A version-3 file with a valid structure checksum: ``{"v": msgpack array of n items}``."""
    body = b"\x82" + _pack("v") + b"\xdd" + struct.pack(">I", n) + items * n
    body += _pack("__jaxinit__") + b"\x86"
    for key, value in [
        ("format", "jaxinit"),
        ("version", 3),
        ("root", "tree"),
        ("sequences", []),
        ("xxh3", []),
    ]:
        body += _pack(key) + _pack(value)
    body += _pack("structure_xxh3")
    return body + _pack(xxhash.xxh3_64_intdigest(body))


def test_millions_of_empty_maps_are_refused_within_a_memory_limit(tmp_path):
    """2M empty maps (a 2 MB file, valid checksum) used to become 2M dicts (MemoryError under
    this limit); now refused after a bounded number, within 100 MB."""
    path = tmp_path / "maps.msgpack"
    path.write_bytes(crafted(b"\x80", 2_000_000))
    script = textwrap.dedent(f"""
        import resource
        import jaxinit
        virtual = int(open("/proc/self/statm").read().split()[0]) * 4096
        resource.setrlimit(resource.RLIMIT_DATA, (virtual + (100 << 20), resource.RLIM_INFINITY))
        try:
            jaxinit.load({str(path)!r})
        except jaxinit.CheckpointError as err:
            print("error:", err)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": REPO},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "maps and lists" in proc.stdout, proc.stdout


def test_a_few_thousand_maps_still_load(path):
    tree = {str(i): {} for i in range(3000)} | {"w": np.ones(2, np.float32)}
    save(tree, path)
    assert list(load(path)) == list(tree)


@pytest.fixture(scope="module")
def clean_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("root") / "ckpt.msgpack")
    save({"w": np.arange(3, dtype=np.float32), "s": [1, 2]}, path)
    return path, open(path, "rb").read()


def test_any_root_header_byte_is_never_read_as_a_flax_file(clean_file, tmp_path, capsys):
    """Byte 0 set to each of its 256 values: load(verify=False) and inspect either raise
    CheckpointError or (the byte unchanged) give the saved tree; never another structure."""
    _, data = clean_file
    path = str(tmp_path / "d.msgpack")
    for value in range(256):
        open(path, "wb").write(bytes([value]) + data[1:])
        if value == data[0]:
            assert load(path, verify=False)["s"] == [1, 2]
            continue
        with pytest.raises(CheckpointError):
            load(path, verify=False)
        assert cli.main(["inspect", path]) == 1
    assert "not where it belongs" in capsys.readouterr().err  # e.g. 0x92: a list root


def _version_1(sequences_path: str) -> bytes:
    """A version-1 file ``{"w": {"0": float32[4]}, "x": {"0": 1}}`` whose entry says the map at
    ``sequences_path`` was a list (the entry lies outside version 1's checksum)."""
    w = np.arange(4, dtype=np.float32)
    record = _pack(msgpack.ExtType(1, _pack(((4,), "float32", w.tobytes()))))
    body = b"\x83" + _pack("w") + b"\x81" + _pack("0") + record + _pack("x") + _pack({"0": 1})
    at = body.index(w.tobytes())
    structure = zlib.crc32(body[at + 16 :], zlib.crc32(body[:at]))
    meta = {
        "format": "jaxinit",
        "version": 1,
        "root": "tree",
        "sequences": [[[sequences_path], "list"]],
        "crc32": [zlib.crc32(w.tobytes())],
        "structure_crc32": structure,
    }
    return body + _pack("__jaxinit__") + _pack(meta)


def test_version_1_sequences_are_refused_unless_asked(path):
    """One byte of a version-1 entry ('w' -> 'x') moves the list elsewhere, silently: such files
    load only with verify=False, which still checks every checksum."""
    open(path, "wb").write(_version_1("w"))
    with pytest.raises(CheckpointError, match="version 1 .* verify=False"):
        load(path)
    got = load(path, verify=False)
    assert isinstance(got["w"], list) and got["x"] == {"0": 1}
    open(path, "wb").write(_version_1("x"))  # the damaged twin: refused the same way
    with pytest.raises(CheckpointError, match="version 1"):
        load(path)


def test_damaged_int64_data_is_corruption_not_a_range_error(path):
    save({"a": np.arange(10, dtype=np.int64)}, path)
    data = bytearray(open(path, "rb").read())
    data[data.index(np.int64(5).tobytes()) + 7] ^= 0x40  # 5 -> 2**62 + 5: out of int32
    open(path, "wb").write(bytes(data))
    with pytest.raises(CheckpointError, match="array data of 'a' is corrupted"):
        load(path)


def test_a_file_cut_inside_a_list_is_truncated_not_overwritten(path):
    save([np.float32(i) for i in range(12)], path)  # a 12-entry checksum list in the entry
    data = open(path, "rb").read()
    for cut in range(1, len(data)):
        open(path, "wb").write(data[:cut])
        with pytest.raises(CheckpointError, match="the file is truncated"):
            load(path)


def test_numpy_scalars_load_into_their_own_result_and_convert(path, tmp_path):
    save({"s": np.int64(3), "w": np.ones(2, np.float32)}, path)
    first = load(path)
    assert type(first["s"]) is np.int64
    again = load(path, like=first)
    assert type(again["s"]) is np.int64 and again["s"] == 3
    out = str(tmp_path / "c.msgpack")
    assert "read 2 named arrays, wrote 2" in cli.convert(path, out, progress=False)


def test_save_to_a_255_byte_file_name(tmp_path):
    target = tmp_path / ("n" * 255)
    save({"a": 1}, target)
    assert load(target) == {"a": 1} and os.listdir(tmp_path) == ["n" * 255]


@pytest.mark.parametrize("name", ["int4", "uint4", "int2", "uint2", "float4_e2m1fn"])
def test_sub_byte_dtypes_round_trip_bit_for_bit(path, name):
    """Every value of a sub-byte dtype comes back with the bits it was saved with: numpy holds
    one value per byte (low bits), jax drops the high bits, so save writes them as zero."""
    import jax.numpy as jnp
    import ml_dtypes

    from jaxinit.serialization import read_host

    dtype = np.dtype(getattr(ml_dtypes, name))
    every_byte = np.arange(256, dtype=np.uint8).view(dtype)  # high bits set in most
    low = np.arange(256, dtype=np.uint8) & (3 if name.endswith("2") else 15)
    save({"numpy": every_byte, "jax": jnp.asarray(every_byte)}, path)
    for tree in (load(path), read_host(path)):
        for key in ("numpy", "jax"):
            got = np.asarray(tree[key])
            assert got.dtype == dtype and (got.view(np.uint8) == low).all(), key
