"""jaxinit.serialization.mapped: ``load(path, mmap=True)``."""

import os
import signal
import subprocess
import sys
import textwrap

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _ckpt_cases import bits, cases, same

from jaxinit import serialization
from jaxinit.serialization import CheckpointError, load, save
from jaxinit.serialization.files import open_regular
from jaxinit.serialization.parse import FileBytes, parse

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("name", list(cases()))
def test_mapped_load_equals_the_default_load(path, name):
    save(cases()[name], path)
    assert same(load(path, mmap=True), load(path))


def test_template_and_strict_false_as_the_default_load(path):
    save({"w": np.arange(6.0, dtype=np.float32), "extra": np.ones(2, np.int32)}, path)
    like = {"w": jax.ShapeDtypeStruct((6,), np.float32), "b": jnp.zeros(2)}
    tree, keys = load(path, like=like, strict=False, mmap=True)
    assert keys.missing_keys == ["b"] and keys.unexpected_keys == ["extra"]
    assert bits(tree["w"]) == bits(np.arange(6.0, dtype=np.float32))
    with pytest.raises(CheckpointError, match="Missing key"):
        load(path, like=like, mmap=True)


def test_chunked_array_is_joined(path, monkeypatch):
    monkeypatch.setattr(serialization.format, "MAX_CHUNK_SIZE", 64)
    tree = {"big": np.arange(50, dtype=np.float32).reshape(5, 10)}
    save(tree, path)
    assert bits(load(path, mmap=True)["big"]) == bits(tree["big"])


def _data_offset(path, index=0):
    with open_regular(path) as f:
        return parse(FileBytes(f, "x")).records[index][0]


def _flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 1]))


def test_damaged_data_raises_when_verified_and_is_read_as_is_without(path):
    """mmap=True checks every array's checksum by default; verify=False reads nothing but the
    framing up front, so a damaged array loads as it is (torch's mmap behaviour)."""
    w = np.arange(64, dtype=np.float32)
    save({"w": w}, path)
    _flip(path, _data_offset(path) + 5)
    with pytest.raises(CheckpointError, match=r"array data of 'w' is corrupted"):
        load(path, mmap=True)
    damaged = np.asarray(load(path, mmap=True, verify=False)["w"])
    assert (damaged != w).sum() == 1


def test_damaged_structure_raises_even_unverified(path):
    save({"weight": np.ones(4, np.float32)}, path)
    with open(path, "rb") as f:
        offset = f.read().index(b"weight")
    _flip(path, offset)
    with pytest.raises(CheckpointError):
        load(path, mmap=True, verify=False)


def test_flax_file_loads_unverified(path):
    tree = {"a": {"w": jnp.arange(5.0)}, "n": 3}
    with open(path, "wb") as f:
        f.write(flax.serialization.to_bytes(tree))
    with pytest.raises(CheckpointError, match="not a verifiable"):
        load(path, mmap=True)
    assert same(load(path, mmap=True, verify=False), load(path, verify=False))


def _aligned_file(path):
    """A checkpoint whose one array's bytes start on a 64-byte boundary of the file (found by
    lengthening the key), and that array."""
    w = np.arange(1024, dtype=np.float32)
    for n in range(1, 65):
        save({"k" * n: w}, path)
        if _data_offset(path) % 64 == 0:
            return "k" * n, w
    raise AssertionError("no key length aligns the record")


def test_aligned_array_is_the_files_pages(path):
    """Zero copy: a 64-byte aligned record is adopted by jax as the mapped page, so a change of
    the file shows in the loaded array (as documented); the default load is a copy."""
    key, w = _aligned_file(path)
    mapped, copied = load(path, mmap=True)[key], load(path)[key]
    with open(path, "r+b") as f:
        f.seek(_data_offset(path))
        f.write(np.float32(-1).tobytes())
    assert float(mapped[0]) == -1.0 and float(copied[0]) == 0.0
    assert bits(mapped[1:]) == bits(w[1:])


def test_misaligned_array_is_copied(path):
    key, w = _aligned_file(path)
    save({key + "x": w}, path)  # one more key byte: the record moves off the boundary
    assert _data_offset(path) % 64 != 0
    mapped = load(path, mmap=True)[key + "x"]
    with open(path, "r+b") as f:
        f.seek(_data_offset(path))
        f.write(np.float32(-1).tobytes())
    assert float(mapped[0]) == 0.0


def test_a_file_replaced_by_save_leaves_a_mapped_load_intact(path):
    """jaxinit.save writes a new file and renames it: the mapped old file's pages live on."""
    key, w = _aligned_file(path)
    mapped = load(path, mmap=True)[key]
    save({key: -w}, path)
    assert bits(mapped) == bits(w)
    os.unlink(path)
    assert bits(mapped) == bits(w)


def test_truncating_a_mapped_file_kills_with_sigbus_as_documented(path):
    """The documented cost of mmap=True: a zero-copy array over a truncated file raises SIGBUS
    on access (in a child process; the default load turns truncation into CheckpointError)."""
    key, _ = _aligned_file(path)
    script = textwrap.dedent(f"""
        import os, numpy as np, jaxinit
        w = jaxinit.load({str(path)!r}, mmap=True)[{key!r}]
        os.truncate({str(path)!r}, 0)
        print(float(np.asarray(w).sum()))
    """)
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": REPO}
    child = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert child.returncode == -signal.SIGBUS, child.stderr.decode()
