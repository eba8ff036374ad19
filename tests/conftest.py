"""Strict JAX configuration for the whole suite.

* 8 simulated CPU devices, so sharding tests run anywhere (must be set before jax starts);
* strict dtype promotion and rank promotion errors, so an accidental float64/upcast or
  broadcasting bug in jaxinit fails loudly here instead of silently in a user's model.
"""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


import pytest  # noqa: E402


@pytest.fixture(params=[True, False], ids=["partitionable", "original"])
def partitionable(request):
    """Run the test in one jax_threefry_partitionable mode, restoring the old one after."""
    with jax.threefry_partitionable(request.param):
        yield request.param


@pytest.fixture
def path(tmp_path):
    """A checkpoint path in the test's temporary directory (the serialization tests)."""
    return str(tmp_path / "ckpt.msgpack")
