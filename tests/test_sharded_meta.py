"""jaxinit.serialization.sharded_meta: the checksummed metadata of sharded checkpoints (every
single-bit flip and the edits that used to load silently wrong), and a sharding that cannot fit
an array being the caller's error."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import jaxinit
from jaxinit import CheckpointError
from jaxinit.serialization import sharded, sharded_meta


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    target = str(tmp_path_factory.mktemp("sharded") / "ck")
    w = jnp.arange(8, dtype=jnp.float32)
    jaxinit.save_sharded(
        target,
        {
            "enc": {"weight": w, "bias": jnp.ones(2, jnp.bfloat16)},
            "head": {"weight": w},
            "steps": [np.int32(3), 7, "adam"],
            "lr": 0.5,
        },
    )
    meta, shapes = sharded.stored_arrays(target)
    return target, meta, shapes


def _meta_file(target: str) -> str:
    return os.path.join(target, "jaxinit", "metadata")


def test_every_single_bit_flip_of_the_metadata_is_caught(ckpt):
    """Each flip: the JSON no longer parses (orbax fails: CheckpointError), or the checksum /
    field checks raise, or it decodes to the very same metadata (e.g. a flip in whitespace)."""
    target, meta, shapes = ckpt
    data = open(_meta_file(target), "rb").read()
    caught = same = 0
    for offset in range(len(data)):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[offset] ^= 1 << bit
            try:
                decoded = json.loads(bytes(damaged))
            except ValueError:  # (UnicodeDecodeError, JSONDecodeError)
                caught += 1
                continue
            if decoded == meta:
                same += 1
                continue
            with pytest.raises(CheckpointError, match="metadata"):
                sharded_meta.check(decoded, shapes, target)
            caught += 1
    assert caught + same == 8 * len(data) and caught > same


@pytest.mark.parametrize(
    "old, new",
    [
        ('"enc.weight"]', '"enc.bias"]'),  # a tie moved to another array
        ('["lr"], "value", 0.5', '["lr"], "value", 5.0'),  # a value changed
        ('"list"', '"tuple"'),  # a list turned into a tuple
        ('"root": "tree"', '"root": "value"'),
    ],
)
def test_edits_of_the_metadata_file_fail_naming_it(ckpt, tmp_path, old, new):
    import shutil

    target = str(tmp_path / "edited")
    shutil.copytree(ckpt[0], target)
    text = open(_meta_file(target)).read()
    assert old in text, text
    open(_meta_file(target), "w").write(text.replace(old, new, 1))
    with pytest.raises(CheckpointError, match=r"jaxinit/metadata'.*xxh3 mismatch"):
        jaxinit.load_sharded(target)


def test_orbax_metadata_that_disagrees_is_reported(ckpt):
    target, meta, shapes = ckpt
    renamed = dict(shapes)
    renamed["enc.wieght"] = renamed.pop("enc.weight")
    wrong_dtype = dict(shapes, **{"enc.bias": jax.ShapeDtypeStruct((2,), jnp.float16)})
    for bad in (renamed, wrong_dtype):
        with pytest.raises(CheckpointError, match="orbax's array metadata disagrees"):
            sharded_meta.check(meta, bad, target)


def test_a_sharding_that_cannot_fit_is_the_callers_error(ckpt):
    target = ckpt[0]
    mesh = Mesh(np.array(jax.devices()[:8]).reshape(8), ("x",))
    with pytest.raises(ValueError, match=r"cannot load 'enc.bias' of shape \(2,\)") as info:
        jaxinit.load_sharded(target, sharding=NamedSharding(mesh, P("x")))
    assert not isinstance(info.value, CheckpointError)
    back = jaxinit.load_sharded(target)
    assert back["lr"] == 0.5 and back["head"]["weight"] is back["enc"]["weight"]
