"""Fuzzing jaxinit.serialization's reader: single-byte changes, truncations and structured
mutations of several checkpoints either raise CheckpointError or load exactly the saved value.
(A longer run: benchmarks/fuzz_checkpoint.py.) The safetensors reader, which has no checksums,
must raise CheckpointError or return arrays of the header's shapes and dtypes (the .pt reader:
tests/torch/test_serialization_fuzz_torch.py)."""

import os
import sys

import jax
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxinit.serialization import CheckpointError, load, save

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _ckpt_cases import cases, mutate, mutation_strategy, same  # noqa: E402

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


FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(
    name=st.sampled_from(sorted(CASES)),
    where=st.floats(0, 1, exclude_max=True),
    value=st.integers(0, 255),
)
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
@given(
    name=st.sampled_from(sorted(CASES)),
    start=st.floats(0, 1),
    length=st.integers(0, 12),
    insert=st.binary(max_size=12),
    how=st.sampled_from(["replace", "duplicate", "delete"]),
)
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


@pytest.fixture(scope="module")
def safetensors_file(tmp_path_factory):
    import jax.numpy as jnp
    import numpy as np

    from jaxinit.interop import save_safetensors

    path = str(tmp_path_factory.mktemp("fuzz_st") / "m.safetensors")
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    save_safetensors(
        {
            "enc": {"weight": w, "bias": jnp.ones(3, jnp.bfloat16)},
            "head": {"weight": w},
            "n": np.array(7, np.int64),
        },
        path,
    )
    return path, open(path, "rb").read()


@FUZZ
@given(mutation=mutation_strategy())
def test_safetensors_reader_raises_checkpoint_error_or_reads_what_the_header_says(
    safetensors_file, mutation
):
    from jaxinit.interop.safetensors import read_header, read_host
    from jaxinit.serialization.paths import dotted, walk

    path, original = safetensors_file
    victim = path + ".victim.safetensors"
    with open(victim, "wb") as f:
        f.write(mutate(original, mutation))
    try:
        header, _ = read_header(victim)
        tree = read_host(victim)
    except CheckpointError:
        return
    described = {name: (shape, dtype) for name, shape, dtype in header}
    for p, leaf in walk(tree):
        if dotted(p) in described:
            assert (leaf.shape, leaf.dtype.name) == described[dotted(p)]
