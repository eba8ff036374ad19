"""torch's own load_state_dict tests (test/nn/test_load_state_dict.py, TestLoadStateDict),
ported to jaxinit's functional ``variables, result = net.load_state_dict(variables, sd)``.

torch's ``state_dict`` values share storage with the parameters, so after torch loads
``linear1.weight`` its tied alias ``linear2.weight`` in the same dict reads the new value too;
here a state_dict holds values, so the translation sets both alias keys.

Not ported, no meaning here: the ``swap`` parametrisation and TestLoadStateDictSwap (tensor
subclasses' ``module_load``), test_load_state_dict_assign_* and test_load_state_dict_warn_assign
(``assign=`` and the meta device: loading always builds new arrays),
test_load_state_dict_ref_cycle (Python reference cycles of tensors),
test_load_state_dict_custom (``_save_to_state_dict`` overrides; extra state is the supported
hook), the pre-hook half of test_load_state_dict_child, and the numpy half of
test_load_state_dict_invalid (a numpy array is a valid value here).
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
tnn = torch.nn

from jaxinit import nn  # noqa: E402

KEY = jax.random.key(0)


# TestLoadStateDict.test_load_state_dict_invalid
def test_load_state_dict_invalid():
    m = nn.Linear(2, 2, bias=False)
    v = m.init(KEY)
    with pytest.raises(RuntimeError, match="expected an array from checkpoint but received"):
        m.load_state_dict(v, {"weight": ((1.0, 1.0), (2.0, 2.0))})


# TestLoadStateDict.test_load_state_dict_type
def test_load_state_dict_type():
    m = nn.Module()
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like, got"):
        m.load_state_dict({}, "")
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like, got"):
        m.load_state_dict({}, 2)


def _net():
    lin = nn.Linear(5, 5)
    block = nn.Module()
    block.conv1 = nn.Conv2d(3, 3, 3, bias=True)
    block.conv2 = nn.Conv2d(3, 3, 3, bias=False)
    net = nn.Module()
    net.linear1 = lin
    net.linear2 = lin
    net.bn = nn.BatchNorm2d(2)
    net.block = block
    net.add_module("empty", None)
    return net


# TestLoadStateDict.test_load_state_dict (the DDP-prefix half needs torch's
# consume_prefix_in_state_dict_if_present, which is not part of jaxinit)
def test_load_state_dict():
    net = _net()
    v = net.init(KEY)
    new = {
        "linear1.weight": jnp.ones((5, 5)),
        "linear2.weight": jnp.ones((5, 5)),  # the alias (see the module docstring)
        "block.conv1.bias": jnp.arange(1.0, 4.0),
        "bn.running_mean": jnp.full((2,), 0.5),
    }
    state_dict = net.state_dict(v)
    state_dict.update(new)
    v, incompatible_keys = net.load_state_dict(v, state_dict)
    assert not incompatible_keys.missing_keys and not incompatible_keys.unexpected_keys
    assert "Incompatible" not in str(incompatible_keys)
    bound = net.bind(v)
    np.testing.assert_array_equal(bound.linear1.weight, new["linear1.weight"])
    np.testing.assert_array_equal(bound.block.conv1.bias, new["block.conv1.bias"])
    np.testing.assert_array_equal(bound.bn.running_mean, new["bn.running_mean"])

    state_dict = net.state_dict(v)
    state_dict.update({"extra": jnp.ones(5)})
    with pytest.raises(RuntimeError):
        net.load_state_dict(v, state_dict)
    _, incompatible_keys = net.load_state_dict(v, state_dict, strict=False)
    assert incompatible_keys.missing_keys == [] and incompatible_keys.unexpected_keys == ["extra"]
    assert "Incompatible" in str(incompatible_keys)

    state_dict = net.state_dict(v)
    state_dict.update({"extra.param": jnp.ones(5)})
    with pytest.raises(RuntimeError):
        net.load_state_dict(v, state_dict)
    _, keys = net.load_state_dict(v, state_dict, strict=False)
    assert keys.missing_keys == [] and keys.unexpected_keys == ["extra.param"]

    state_dict = net.state_dict(v)
    del state_dict["linear1.weight"]
    with pytest.raises(RuntimeError):
        net.load_state_dict(v, state_dict)
    _, keys = net.load_state_dict(v, state_dict, strict=False)
    assert keys.missing_keys == ["linear1.weight"] and keys.unexpected_keys == []
    state_dict.update({"extra.param": jnp.ones(5)})
    with pytest.raises(RuntimeError):
        net.load_state_dict(v, state_dict)
    _, keys = net.load_state_dict(v, state_dict, strict=False)
    assert keys.missing_keys == ["linear1.weight"] and keys.unexpected_keys == ["extra.param"]

    state_dict = net.state_dict(v)
    state_dict.update({"bn.running_mean": jnp.ones((14, 4))})  # wrong size
    with pytest.raises(RuntimeError):
        net.load_state_dict(v, state_dict)
    with pytest.raises(RuntimeError):
        net.load_state_dict(v, state_dict, strict=False)

    old_state_dict = net.state_dict(v)
    state_dict = {
        "linear1.weight": jnp.full((5, 5), 2.0),
        "block.conv1.bias": jnp.arange(2.0, 5.0),
        "bn.running_mean": jnp.full((2,), 0.25),
        "nonexistent_key": jnp.ones(3),
    }
    v, _ = net.load_state_dict(v, state_dict, strict=False)
    bound = net.bind(v)
    np.testing.assert_array_equal(bound.linear1.weight, state_dict["linear1.weight"])
    np.testing.assert_array_equal(bound.block.conv1.bias, state_dict["block.conv1.bias"])
    np.testing.assert_array_equal(bound.bn.running_mean, state_dict["bn.running_mean"])
    new_state_dict = net.state_dict(v)
    for k in ["linear1.weight", "linear2.weight", "block.conv1.bias", "bn.running_mean"]:
        del old_state_dict[k]
    for k, value in old_state_dict.items():
        np.testing.assert_array_equal(value, new_state_dict[k])


# TestLoadStateDict.test_load_state_dict_BC
def test_load_state_dict_BC():
    bn = nn.BatchNorm2d(3)
    v = bn.init(KEY)
    state_dict = bn.state_dict(v)
    del state_dict["num_batches_tracked"]
    state_dict._metadata[""]["version"] = 1  # version 1
    v2, _ = bn.load_state_dict(v, state_dict)
    assert v2["num_batches_tracked"].dtype == v["num_batches_tracked"].dtype
    assert int(v2["num_batches_tracked"]) == 0
    del state_dict._metadata[""]["version"]  # no version
    v2, _ = bn.load_state_dict(None, state_dict)  # no current value: torch's default 0
    assert int(v2["num_batches_tracked"]) == 0
    # and against torch: the metadata jaxinit writes makes torch apply the same rule
    t = tnn.BatchNorm2d(3)
    sd = bn.state_dict(v)
    assert sd._metadata == {"": {"version": 2}}
    del sd["num_batches_tracked"]
    tsd = type(sd)((k, torch.tensor(np.asarray(x))) for k, x in sd.items())
    tsd._metadata = sd._metadata
    with pytest.raises(RuntimeError, match=re.escape('Missing key(s) in state_dict: "num_b')):
        t.load_state_dict(tsd)
    with pytest.raises(RuntimeError, match=re.escape('Missing key(s) in state_dict: "num_b')):
        bn.load_state_dict(v, sd)


# TestLoadStateDict.test_load_state_dict_child (the state_dict round trip of a deep tree)
def test_load_state_dict_child():
    model = nn.Linear(1, 1)
    for _ in range(3):
        model = nn.Sequential(*[model for _ in range(4)])
    v = model.init(KEY)
    v2, result = model.load_state_dict(v, model.state_dict(v), strict=True)
    assert str(result) == "<All keys matched successfully>"
    assert len(model.state_dict(v2)) == 2 * 4**3


# TestLoadStateDict.test_load_state_dict_with_unexpected_key
def test_load_state_dict_with_unexpected_key():
    class MyModule(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(5, 10)

    m = MyModule()
    v = m.init(KEY)
    state_dict = m.state_dict(v)
    state_dict["fc1.bad_suffix"] = jnp.ones((5, 10))
    with pytest.raises(RuntimeError, match="Unexpected key"):
        m.load_state_dict(v, state_dict)
    _, result = m.load_state_dict(v, state_dict, strict=False)
    assert "fc1.bad_suffix" in result.unexpected_keys
    state_dict = m.state_dict(v)
    state_dict["fc1.weight.bad_suffix"] = jnp.ones((5, 10))
    with pytest.raises(RuntimeError, match="Unexpected key"):
        m.load_state_dict(v, state_dict)
    _, result = m.load_state_dict(v, state_dict, strict=False)
    assert "fc1.weight.bad_suffix" in result.unexpected_keys
