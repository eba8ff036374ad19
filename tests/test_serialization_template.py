"""jaxinit.serialization.template: loading into a model (names, shapes, dtypes vs like=)."""

import os

import jax
import jax.numpy as jnp
import pytest
from _ckpt_cases import bits, mlp_variables

from jaxinit.serialization import CheckpointError, IncompatibleKeys, load, save

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
