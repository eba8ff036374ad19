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


# The modules that take the most CPU (XLA compiles), heaviest first, measured with
# `--durations` and per-test CPU time; see docs/benchmarks.md, "The test suite". They are
# queued first so that pytest-xdist (`--dist loadscope --no-loadscope-reorder`: one module per
# worker at a time, in this order) starts the long ones while the other worker still has many
# short modules to take, instead of ending the run on one worker with a long module (xdist's
# own reordering queues modules by number of tests, which put these few-test modules last).
# Modules not listed keep collection order after these; a missing name is ignored.
HEAVY_FIRST = [
    "torch/test_porting_hf_torch.py",
    "torch/test_porting_vision_torch.py",
    "test_examples.py",
    "torch/test_models_torch.py",
    "test_threefry.py",
    "nn/test_initialize.py",
    "test_docs.py",
    "torch/test_pt_files_torch.py",
    "torch/test_optim_torch.py",
    "nn/test_conv_impl.py",
    "torch/test_padding_torch.py",
    "torch/test_conv_torch.py",
    "nn/test_layers.py",
    "test_init.py",
    "torch/test_loss_torch.py",
    "torch/test_functional_extras_torch.py",
]


def pytest_collection_modifyitems(config, items):
    """Queue the HEAVY_FIRST modules first, in that order (a stable sort: tests within a module
    and the other modules keep their order)."""
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    rank = {os.path.join(tests_dir, *name.split("/")): i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(str(item.path), len(rank)))
