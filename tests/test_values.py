"""jaxinit/_values.py through Module.load_state_dict: values that do not fit the target dtype
and a wrongly typed ``_metadata`` are refused with messages naming them."""

from collections import OrderedDict

import jax
import numpy as np
import pytest

from jaxinit import nn
from jaxinit._values import value_error


@pytest.fixture
def bn():
    net = nn.BatchNorm1d(3)
    return net, net.init(jax.random.key(0))


def state(net, variables, **changes):
    sd = OrderedDict((k, np.asarray(v)) for k, v in net.state_dict(variables).items())
    sd.update(changes)
    return sd


def test_out_of_range_int_is_refused_in_torch_format(bn):
    net, v = bn
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(v, state(net, v, num_batches_tracked=np.array(2**40, np.int64)))
    assert (
        'While copying the parameter named "num_batches_tracked", whose dimensions in the '
        "model are torch.Size([]) and whose dimensions in the checkpoint are torch.Size([]), "
        "an exception occurred : ('value 1099511627776 does not fit in int32',)."
    ) in str(info.value)
    ok, _ = net.load_state_dict(v, state(net, v, num_batches_tracked=np.array(7, np.int64)))
    assert int(ok["num_batches_tracked"]) == 7


@pytest.mark.parametrize(
    "bad", [np.array([None, "2.5", 3], dtype=object), np.array(["1", "2", "3"])]
)
def test_object_and_string_arrays_are_refused(bn, bad):
    net, v = bn
    with pytest.raises(
        RuntimeError,
        match=r'parameter named "weight".*cannot copy an array of '
        r"dtype (object|<U1)",
    ):
        net.load_state_dict(v, state(net, v, weight=bad))


def test_wrongly_typed_metadata_names_it(bn):
    net, v = bn
    sd = state(net, v)
    del sd["num_batches_tracked"]
    sd._metadata = "version 2"
    with pytest.raises(TypeError, match="state_dict._metadata must be a dict"):
        net.load_state_dict(v, sd)
    sd._metadata = {"": {"version": "2"}}
    with pytest.raises(TypeError, match="_metadata"):
        net.load_state_dict(v, sd)


def test_floats_into_ints_truncate_within_range_only():
    assert value_error("n", np.array([3.9]), np.int8, (1,)) is None
    assert "does not fit in int8" in value_error("n", np.array([300.0]), np.int8, (1,))
    assert "non-finite" in value_error("n", np.array([np.nan]), np.int32, (1,))
