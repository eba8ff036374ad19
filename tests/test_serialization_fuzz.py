"""Fuzzing jaxinit.serialization's reader: single-byte changes, truncations and structured
mutations of several checkpoints either raise CheckpointError or load exactly the saved value.
(A longer run: benchmarks/fuzz_checkpoint.py.)"""

import os
import sys

import jax
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxinit.serialization import CheckpointError, load, save

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _ckpt_cases import cases, same  # noqa: E402

CASES = cases()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    out = {}
    for name, obj in CASES.items():
        path = str(root / f"{name}.msgpack")
        save(obj, path)
        out[name] = (open(path, "rb").read(), jax.device_get(load(path)))
    return out, str(root / "victim.msgpack")


def check(files, name, data):
    table, victim = files
    original, expected = table[name]
    with open(victim, "wb") as f:
        f.write(data)
    try:
        got = jax.device_get(load(victim))
    except CheckpointError:
        return
    assert data == original or same(got, expected), (name, data)


FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(name=st.sampled_from(sorted(CASES)), where=st.floats(0, 1, exclude_max=True),
       value=st.integers(0, 255))
def test_single_byte_changes(files, name, where, value):
    data = bytearray(files[0][name][0])
    data[int(where * len(data))] = value
    check(files, name, bytes(data))


@FUZZ
@given(name=st.sampled_from(sorted(CASES)), where=st.floats(0, 1, exclude_max=True))
def test_truncations(files, name, where):
    data = files[0][name][0]
    check(files, name, data[: int(where * len(data))])


@FUZZ
@given(name=st.sampled_from(sorted(CASES)), start=st.floats(0, 1), length=st.integers(0, 12),
       insert=st.binary(max_size=12), how=st.sampled_from(["replace", "duplicate", "delete"]))
def test_structured_mutations(files, name, start, length, insert, how):
    data = files[0][name][0]
    i = int(start * len(data))
    piece = data[i : i + length]
    if how == "replace":
        data = data[:i] + insert + data[i + length :]
    elif how == "duplicate":
        data = data[:i] + piece + piece + data[i + length :]
    else:
        data = data[:i] + data[i + length :]
    check(files, name, data)


def test_every_single_byte_change_of_a_tuple_root_is_caught(files):
    """Exhaustive over positions: three values per byte (the issue's first-byte, sequences and
    __jaxinit__-key attacks included)."""
    original, expected = files[0]["tuple_root"]
    for i in range(len(original)):
        for value in {0x00, original[i] ^ 0x01, original[i] ^ 0x80} - {original[i]}:
            data = bytearray(original)
            data[i] = value
            check(files, "tuple_root", bytes(data))
