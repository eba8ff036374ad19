"""Checkpoints to attack, and exact comparison of loaded results (shared by the fuzz test in
tests/test_serialization_fuzz.py and benchmarks/fuzz_checkpoint.py)."""

from __future__ import annotations

import re

import jax
import ml_dtypes
import numpy as np


def cases() -> dict[str, object]:
    """Small checkpoints covering ties, tuple roots, scalars, empty trees and many dtypes."""
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    return {
        "ties": {"enc": {"weight": w}, "dec": {"weight": w}, "n": np.int64(3)},
        "tuple_root": (np.ones(2, ml_dtypes.bfloat16), [1, 2.5, "x", None], (np.int8(-4),)),
        "scalar": np.float32(1.5),
        "empty": {},
        "dtypes": {
            "bf": np.arange(3, dtype=ml_dtypes.bfloat16),
            "i": np.array([-7, 9], np.int32),
            "f8": np.array([0.5, -2.0], ml_dtypes.float8_e4m3fn),
            "u": np.array([1, 255], np.uint8),
            "c": 1 + 2j,
            "b": b"\x00\xff",
        },
    }


def same(a: object, b: object) -> bool:
    """Exact equality of loaded trees: node types, key order, and array bits."""
    if type(a) in (dict, list, tuple) or type(b) in (dict, list, tuple):
        if type(a) is not type(b) or len(a) != len(b):
            return False
        if isinstance(a, dict):
            return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
        return all(same(x, y) for x, y in zip(a, b))
    if hasattr(a, "dtype") or hasattr(b, "dtype"):
        if not (hasattr(a, "dtype") and hasattr(b, "dtype")):
            return False
        x, y = np.asarray(a), np.asarray(b)
        return (
            x.dtype == y.dtype
            and x.shape == y.shape
            and x.tobytes() == y.tobytes()
            and isinstance(a, np.generic) == isinstance(b, np.generic)
        )
    return type(a) is type(b) and a == b


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


def mutation_strategy():
    """Hypothesis strategy of damage to a file's bytes: ``mutate(data, m)`` applies one (a byte
    set to a value, a truncation, or a range replaced, duplicated or deleted)."""
    from hypothesis import strategies as st

    return st.tuples(
        st.sampled_from(["byte", "truncate", "replace", "duplicate", "delete"]),
        st.floats(0, 1, exclude_max=True),
        st.integers(0, 255),
        st.integers(0, 12),
        st.binary(max_size=12),
    )


def mutate(data: bytes, mutation: tuple) -> bytes:
    """``data`` with one mutation of :func:`mutation_strategy` applied."""
    how, where, value, length, insert = mutation
    i = int(where * len(data))
    if how == "byte":
        return data[:i] + bytes([value]) + data[i + 1 :]
    if how == "truncate":
        return data[:i]
    piece = data[i : i + length]
    if how == "replace":
        return data[:i] + insert + data[i + length :]
    if how == "duplicate":
        return data[:i] + piece + piece + data[i + length :]
    return data[:i] + data[i + length :]
