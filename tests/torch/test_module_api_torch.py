"""torch's own nn.Module unit tests (test/test_nn.py, class TestNN), ported to jaxinit.

Each test names the torch test it comes from and is translated to the functional API:
``module.state_dict()`` becomes ``net.state_dict(variables)``, ``load_state_dict(sd)`` becomes
``variables, result = net.load_state_dict(variables, sd)``, ``torch.rand(n)`` an array.
Where torch compares a module's tensor, the translation compares the declared or bound value.

Not ported, no meaning here: test_requires_grad_, test_zero_grad, test_no_grad (autograd
flags: gradients are jax.grad of a pure function); test_share_memory, test_to, test_type,
test_module_to_argparse, test_overwrite_module_params_on_conversion,
test_module_apply_inplace_op (device/dtype conversion and in-place storage identity: variables
are immutable arrays); test_train_errors_for_invalid_mode (no train()/eval(): the mode is the
call's ``train=``); test_getattr_with_property (an expectedFailure in torch).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
tnn = torch.nn

from jaxinit import init, nn  # noqa: E402

KEY = jax.random.key(0)


def create_basic_net():
    """torch.testing._internal.common_nn._create_basic_net, in jaxinit."""

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer_dummy_param = nn.Parameter((3, 5), init.zeros)
            self.layer_dummy_buf = nn.Buffer(jnp.zeros((1, 3, 3, 7)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1 = Layer()
            self.dummy_param = nn.Parameter((3, 5), init.zeros)
            self.dummy_buf = nn.Buffer(jnp.zeros((7, 3, 3, 1)))

    layer = Layer()
    n = Net()
    s = nn.Sequential(n)
    return layer, n, s


def names(pairs):
    return [k for k, _ in pairs]


# TestNN.test_module_super_init
def test_module_super_init():
    class MyMixin:
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.mixin_init = True

    class MyModuleWithMixinBefore(MyMixin, nn.Module):
        pass

    class MyModuleWithMixinAfter(nn.Module, MyMixin):
        pass

    assert hasattr(MyModuleWithMixinBefore(), "mixin_init")
    assert not hasattr(MyModuleWithMixinAfter(), "mixin_init")
    nn.Module.call_super_init = True
    try:
        assert hasattr(MyModuleWithMixinBefore(), "mixin_init")
        assert hasattr(MyModuleWithMixinAfter(), "mixin_init")
    finally:
        nn.Module.call_super_init = False
    MyModuleWithMixinBefore.call_super_init = True
    MyModuleWithMixinAfter.call_super_init = True
    assert hasattr(MyModuleWithMixinBefore(), "mixin_init")
    assert hasattr(MyModuleWithMixinAfter(), "mixin_init")


# TestNN.test_parameters_and_named_parameters
def test_parameters_and_named_parameters():
    layer, n, s = create_basic_net()
    assert len(list(layer.parameters())) == 1
    assert names(layer.named_parameters()) == ["layer_dummy_param"]
    assert len(list(n.parameters())) == 2
    assert names(n.named_parameters()) == ["dummy_param", "l1.layer_dummy_param"]
    assert len(list(n.parameters(recurse=False))) == 1
    assert names(n.named_parameters(recurse=False)) == ["dummy_param"]
    assert len(list(s.parameters())) == 2
    assert names(s.named_parameters()) == ["0.dummy_param", "0.l1.layer_dummy_param"]
    v = s.init(KEY)  # the same with variables: arrays instead of declarations
    assert names(s.named_parameters(v)) == ["0.dummy_param", "0.l1.layer_dummy_param"]
    assert len(list(n.parameters(v["0"], recurse=False))) == 1


# TestNN.test_named_parameters_remove_duplicate
def test_named_parameters_remove_duplicate():
    class M1(nn.Module):
        def __init__(self):
            super().__init__()
            self.param1 = nn.Parameter((3, 3), init.zeros)
            self.param2 = self.param1

    m1 = M1()
    assert names(m1.named_parameters()) == ["param1"]
    assert names(m1.named_parameters(remove_duplicate=False)) == ["param1", "param2"]

    class M2(nn.Module):
        def __init__(self):
            super().__init__()
            self.mod1 = nn.Linear(3, 4, bias=False)
            self.mod2 = self.mod1

    m2 = M2()
    assert names(m2.named_parameters()) == ["mod1.weight"]
    assert names(m2.named_parameters(remove_duplicate=False)) == ["mod1.weight", "mod2.weight"]


# TestNN.test_buffers_and_named_buffers
def test_buffers_and_named_buffers():
    layer, n, s = create_basic_net()
    assert len(list(layer.buffers())) == 1
    assert names(layer.named_buffers()) == ["layer_dummy_buf"]
    assert len(list(n.buffers())) == 2
    assert names(n.named_buffers()) == ["dummy_buf", "l1.layer_dummy_buf"]
    assert len(list(n.buffers(recurse=False))) == 1
    assert names(n.named_buffers(recurse=False)) == ["dummy_buf"]
    assert len(list(s.buffers())) == 2
    assert names(s.named_buffers()) == ["0.dummy_buf", "0.l1.layer_dummy_buf"]

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.buffer1 = nn.Buffer(jnp.zeros((3, 5)))
            self.buffer2 = self.buffer1

    m = M()
    assert names(m.named_buffers()) == ["buffer1"]
    assert names(m.named_buffers(remove_duplicate=False)) == ["buffer1", "buffer2"]


# TestNN.test_buffer_bad_module_subclass
def test_buffer_bad_module_subclass():
    class MyBadModule(nn.Linear):
        def __init__(self):
            super().__init__(2, 2)
            self.bar = nn.Buffer(jnp.ones((2, 2)))

        def register_buffer(self, name, value):  # persistent is explicitly missing
            super().register_buffer(name, value, True)

    foo = MyBadModule()
    assert foo.bar is not None


# TestNN.test_call_supports_python_dict_output (its backward hook has no meaning here)
def test_call_supports_python_dict_output():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1 = nn.Linear(10, 20)

        def forward(self, inputs):
            return {"output": self.l1(inputs).sum()}

    net = Net()
    v = net.init(KEY)
    out = net(v, jnp.ones((5, 10)))
    grads = jax.grad(lambda v: net(v, jnp.ones((5, 10)))["output"])(v)
    assert out["output"].shape == () and grads["l1"]["weight"].shape == (20, 10)


# TestNN.test_children
def test_children():
    l1, l2, l3, l4 = (nn.Linear(2, 2) for _ in range(4))
    subnet = nn.Sequential(l3, l4)
    s = nn.Sequential(l1, l2, l1, l2, subnet)
    assert [id(m) for m in s.children()] == [id(l1), id(l2), id(subnet)]


# TestNN.test_dir
def test_dir():
    linear = nn.Linear(2, 2)
    linear._test_submodule = nn.Linear(2, 2)
    linear._test_parameter = nn.Parameter((2, 2), init.zeros)
    linear._test_buffer = nn.Buffer(jnp.zeros((2, 2)))
    keys = dir(linear)
    assert {"_test_submodule", "_test_parameter", "_test_buffer"} <= set(keys)
    for key in keys:
        assert hasattr(linear, key)


# TestNN.test_repr
def test_repr():
    assert repr(nn.Sequential()) == "Sequential()"
    linear = nn.Linear(1, 1)
    assert repr(linear) == "Linear(in_features=1, out_features=1, bias=True)"
    assert repr(nn.Sequential(linear)) == (
        "Sequential(\n  (0): Linear(in_features=1, out_features=1, bias=True)\n)"
    )


# TestNN.test_dir_digit
def test_dir_digit():
    assert "0" not in dir(nn.Sequential(nn.Linear(2, 2)))


# TestNN.test_named_children
def test_named_children():
    l1, l2, l3, l4 = (nn.Linear(2, 2) for _ in range(4))
    subnet = nn.Sequential(l3, l4)
    s = nn.Sequential()
    with pytest.raises(KeyError):
        s.add_module("", l1)
    with pytest.raises(KeyError):
        s.add_module("name.with.dot", l1)
    s.add_module("layer1", l1)
    s.add_module("layer2", l2)
    s.add_module("layer3", l1)
    s.add_module("layer4", l2)
    s.add_module("subnet", subnet)
    got = [(k, id(m)) for k, m in s.named_children()]
    assert got == [("layer1", id(l1)), ("layer2", id(l2)), ("subnet", id(subnet))]


class _Net(nn.Module):
    def __init__(self, shared, block=None):
        super().__init__()
        self.l1 = shared
        self.l2 = shared
        self.param = jnp.zeros((3, 5))  # a plain array attribute: not a variable
        if block is not None:
            self.block = block


# TestNN.test_modules
def test_modules():
    lin = nn.Linear(10, 20)
    n = _Net(lin)
    s = nn.Sequential(n, n, n, n)
    assert [id(m) for m in s.modules()] == [id(s), id(n), id(lin)]


# TestNN.test_named_modules
def test_named_modules():
    lin, l1, l2 = nn.Linear(10, 20), nn.Linear(10, 20), nn.Linear(10, 20)
    block = nn.Sequential()
    block.add_module("linear1", l1)
    block.add_module("linear2", l2)
    n = _Net(lin, block)
    s = nn.Sequential(n, n)
    got = [(k, id(m)) for k, m in s.named_modules()]
    assert got == [
        ("", id(s)), ("0", id(n)), ("0.l1", id(lin)), ("0.block", id(block)),
        ("0.block.linear1", id(l1)), ("0.block.linear2", id(l2)),
    ]  # fmt: skip
    got = [(k, id(m)) for k, m in s.named_modules(remove_duplicate=False)]
    assert got == [
        ("", id(s)), ("0", id(n)), ("0.l1", id(lin)), ("0.l2", id(lin)),
        ("0.block", id(block)), ("0.block.linear1", id(l1)), ("0.block.linear2", id(l2)),
        ("1", id(n)), ("1.l1", id(lin)), ("1.l2", id(lin)),
        ("1.block", id(block)), ("1.block.linear1", id(l1)), ("1.block.linear2", id(l2)),
    ]  # fmt: skip
    # memo and prefix, as torch's signature: a memoised module is skipped with its subtree
    memo = {block}
    assert names(s.named_modules(memo, "net")) == ["net", "net.0", "net.0.l1"]


# TestNN.test_register_buffer_raises_error_if_name_is_not_string
def test_register_buffer_raises_error_if_name_is_not_string():
    m = nn.Module()
    with pytest.raises(TypeError, match="buffer name should be a string. Got int"):
        m.register_buffer(1, jnp.ones(5))
    with pytest.raises(TypeError, match="buffer name should be a string. Got NoneType"):
        m.register_buffer(None, jnp.ones(5))


# TestNN.test_register_buffer_raises_error_if_attr_exists
def test_register_buffer_raises_error_if_attr_exists():
    m = nn.Module()
    m.attribute_name = 5
    with pytest.raises(KeyError):
        m.register_buffer("attribute_name", jnp.ones(5))
    with pytest.raises(KeyError):
        m.attribute_name = nn.Buffer(jnp.ones(5))
    del m.attribute_name
    m.register_parameter("attribute_name", nn.Parameter())
    with pytest.raises(KeyError):
        m.register_buffer("attribute_name", jnp.ones(5))
    del m.attribute_name
    m.add_module("attribute_name", nn.Module())
    with pytest.raises(KeyError):
        m.register_buffer("attribute_name", jnp.ones(5))


# TestNN.test_register_buffer_raises_error_if_not_tensor
def test_register_buffer_raises_error_if_not_tensor():
    with pytest.raises(TypeError):
        nn.Module().register_buffer("attribute_name", 5)


def _value(decl):
    return None if decl is None else np.asarray(decl.init(None, decl.shape, decl.dtype))


# TestNN.test_register_buffer_allows_overwriting_with_same_name
def test_register_buffer_allows_overwriting_with_same_name():
    m = nn.Module()
    buffer1 = np.random.default_rng(0).random(5).astype(np.float32)
    buffer2 = buffer1 + 5
    m.register_buffer("buffer_name", buffer1)
    np.testing.assert_array_equal(_value(m.buffer_name), buffer1)
    m.register_buffer("buffer_name", buffer2)
    np.testing.assert_array_equal(_value(m.buffer_name), buffer2)
    m.register_buffer("buffer_name", None)
    assert m.buffer_name is None
    m.buffer_name = nn.Buffer(buffer1)
    np.testing.assert_array_equal(_value(m.buffer_name), buffer1)
    m.buffer_name = nn.Buffer(buffer2)
    np.testing.assert_array_equal(_value(m.buffer_name), buffer2)
    # torch's last step, Buffer(None), makes an empty buffer; a declaration needs a value here
    m.buffer_name = None
    assert m.buffer_name is None


# TestNN.test_get_buffer
def test_get_buffer():
    m = nn.Module()
    buffer1, buffer2 = np.ones((2, 3), np.float32), np.full((4, 5), 2, np.float32)
    m.foo = nn.Buffer(buffer1)
    m.register_buffer("bar", buffer2)
    np.testing.assert_array_equal(_value(m.get_buffer("foo")), buffer1)
    np.testing.assert_array_equal(_value(m.get_buffer("bar")), buffer2)
    v = m.init(KEY)  # and the arrays, through the bound view
    np.testing.assert_array_equal(m.bind(v).get_buffer("bar"), buffer2)


# TestNN.test_get_buffer_from_submodules
def test_get_buffer_from_submodules():
    class SubSub(nn.Module):
        def __init__(self, bar):
            super().__init__()
            self.bar = nn.Buffer(bar)

    class Sub(nn.Module):
        def __init__(self, foo, bar):
            super().__init__()
            self.foo = nn.Buffer(foo)
            self.subsub = SubSub(bar)

    class MyModule(nn.Module):
        def __init__(self, foo, bar):
            super().__init__()
            self.sub = Sub(foo, bar)

    foo, bar = np.ones((2, 3), np.float32), np.full((4, 5), 3, np.float32)
    m = MyModule(foo, bar)
    np.testing.assert_array_equal(_value(m.get_buffer("sub.foo")), foo)
    np.testing.assert_array_equal(_value(m.get_buffer("sub.subsub.bar")), bar)
    with pytest.raises(AttributeError, match="`foo2` is not a buffer"):
        m.sub.foo2 = 1
        m.get_buffer("sub.foo2")


# TestNN.test_buffer_not_persistent
def test_buffer_not_persistent():
    m = nn.Module()
    m.buf = nn.Buffer(jnp.ones(5), persistent=False)
    v = m.init(KEY)
    assert len(list(m.buffers(v))) == 1
    assert len(m.state_dict(v)) == 0


# TestNN.test_buffer_not_persistent_del
def test_buffer_not_persistent_del():
    m = nn.Module()
    m.buf = nn.Buffer(jnp.ones(5), persistent=False)
    del m.buf
    assert len(list(m.buffers())) == 0


# TestNN.test_buffer_not_persistent_overwrite
def test_buffer_not_persistent_overwrite():
    m = nn.Module()
    m.buf = nn.Buffer(jnp.ones(5), persistent=False)
    m.buf = nn.Buffer(jnp.ones(5))
    assert len(list(m.buffers())) == 1
    assert len(m.state_dict(m.init(KEY))) == 1
    m.buf = nn.Buffer(jnp.ones(5), persistent=False)
    assert len(list(m.buffers())) == 1
    assert len(m.state_dict(m.init(KEY))) == 0


# TestNN.test_buffer_not_persistent_assign
def test_buffer_not_persistent_assign():
    m = nn.Module()
    m.buf = nn.Buffer(jnp.ones(5), persistent=False)
    assert len(list(m.buffers())) == 1
    assert len(m.state_dict(m.init(KEY))) == 0
    m.buf = None  # empties the slot, which keeps its persistence
    assert len(list(m.buffers())) == 0
    assert len(m.state_dict(m.init(KEY))) == 0
    m.buf = jnp.ones(5)
    assert len(list(m.buffers())) == 1
    assert len(m.state_dict(m.init(KEY))) == 0
    m.buf = nn.Parameter(jnp.ones(5))  # a Parameter replaces the buffer
    assert len(list(m.buffers())) == 0
    assert len(m.state_dict(m.init(KEY))) == 1


# TestNN.test_buffer_not_persistent_load
def test_buffer_not_persistent_load():
    m = nn.Module()
    m.buf = nn.Buffer(jnp.ones(5), persistent=False)
    v, result = m.load_state_dict(None, {})
    assert not result.missing_keys and not result.unexpected_keys
    np.testing.assert_array_equal(m.bind(v).buf, np.ones(5))


# TestNN.test_register_parameter_raises_error_if_name_is_not_string
def test_register_parameter_raises_error_if_name_is_not_string():
    m = nn.Module()
    with pytest.raises(TypeError, match="parameter name should be a string. Got int"):
        m.register_parameter(1, nn.Parameter())
    with pytest.raises(TypeError, match="parameter name should be a string. Got NoneType"):
        m.register_parameter(None, nn.Parameter())


# TestNN.test_register_parameter_raises_error_if_attr_exists
def test_register_parameter_raises_error_if_attr_exists():
    m = nn.Module()
    m.attribute_name = 5
    with pytest.raises(KeyError):
        m.register_parameter("attribute_name", nn.Parameter())
    del m.attribute_name
    m.register_buffer("attribute_name", jnp.ones(5))
    with pytest.raises(KeyError):
        m.register_parameter("attribute_name", nn.Parameter())
    del m.attribute_name
    m.attribute_name = nn.Buffer(jnp.ones(5))
    with pytest.raises(KeyError):
        m.register_parameter("attribute_name", nn.Parameter())
    del m.attribute_name
    m.add_module("attribute_name", nn.Module())
    with pytest.raises(KeyError):
        m.register_parameter("attribute_name", nn.Parameter())


# TestNN.test_register_parameter_allows_overwriting_with_same_name
def test_register_parameter_allows_overwriting_with_same_name():
    m = nn.Module()
    param1 = nn.Parameter(jnp.ones(5))
    param2 = nn.Parameter(jnp.ones(5) + 5)
    m.register_parameter("param_name", param1)
    assert m.param_name is param1
    m.register_parameter("param_name", param2)
    assert m.param_name is param2
    m.register_parameter("param_name", None)
    assert m.param_name is None


# TestNN.test_add_module_raises_error_if_attr_exists
@pytest.mark.parametrize("fn", ["add_module", "register_module"])
def test_add_module_raises_error_if_attr_exists(fn):
    m = nn.Module()
    m.attribute_name = 5
    with pytest.raises(KeyError):
        getattr(m, fn)("attribute_name", nn.Module())
    del m.attribute_name
    m.register_buffer("attribute_name", jnp.ones(5))
    with pytest.raises(KeyError):
        getattr(m, fn)("attribute_name", nn.Module())
    del m.attribute_name
    m.register_parameter("attribute_name", nn.Parameter())
    with pytest.raises(KeyError):
        getattr(m, fn)("attribute_name", nn.Module())


# TestNN.test_add_module
@pytest.mark.parametrize("fn", ["add_module", "register_module"])
def test_add_module(fn):
    lin = nn.Linear(10, 20)
    net = nn.Module()
    net.l = lin
    net.l2 = lin
    getattr(net, fn)("empty", None)
    assert net.l is lin and net.l2 is lin and net.empty is None
    getattr(net, fn)("l3", lin)
    assert net.l3 is lin
    l3 = nn.Linear(20, 10)
    getattr(net, fn)("l", l3)
    assert net.l is l3
    with pytest.raises(TypeError):
        getattr(net, fn)("x", "non-module")
    with pytest.raises(TypeError, match="module name should be a string. Got int"):
        getattr(net, fn)(1, lin)
    with pytest.raises(TypeError, match="module name should be a string. Got NoneType"):
        getattr(net, fn)(None, lin)


# TestNN.test_set_submodule
def test_set_submodule():
    A = nn.Module()
    A.set_submodule("net_b", nn.Module())
    A.set_submodule("net_b.net_c", nn.Module())
    A.set_submodule("net_b.net_c.conv", nn.Conv2d(3, 3, 3))
    A.set_submodule("net_b.linear", nn.Linear(3, 3))
    new_linear = nn.Linear(1, 1)
    A.set_submodule("net_b.net_c.conv", new_linear)
    assert A.get_submodule("net_b.net_c.conv") is new_linear
    new_linear = nn.Linear(1, 2)
    A.set_submodule("net_b.net_c.conv", new_linear, True)
    assert A.get_submodule("net_b.net_c.conv") is new_linear
    new_conv = nn.Conv2d(1, 1, 1)
    with pytest.raises(AttributeError):
        A.set_submodule("net_b.conv", new_conv, True)
    A.set_submodule("net_b.conv", new_conv)
    assert A.get_submodule("net_b.conv") is new_conv

    net = nn.Module()
    net.t = nn.Module()
    lin = nn.Linear(1, 2)
    net.t.l = lin
    assert net.get_submodule("t.l") is lin
    l2 = nn.Linear(2, 1)
    net.set_submodule("t.l", l2)
    assert net.get_submodule("t.l") is l2
    with pytest.raises(ValueError):
        net.set_submodule("", lin)
    with pytest.raises(AttributeError):
        net.set_submodule("a.l", lin)
    with pytest.raises(AttributeError):
        net.set_submodule("0", lin, True)
    net.set_submodule("0", lin, False)
    assert net.get_submodule("0") is lin
    l3 = nn.Linear(1, 1)
    net.set_submodule("0", l3, True)
    assert net.get_submodule("0") is l3
    net.foo = "bar"
    with pytest.raises(AttributeError):
        net.set_submodule("foo", lin)
    with pytest.raises(ValueError):
        net.set_submodule("t.l", "bazz")


# TestNN.test_non_leaf_parameters
def test_non_leaf_parameters():
    l2 = nn.Linear(10, 10)
    with pytest.raises(TypeError, match="cannot assign 'ArrayImpl' as parameter 'weight'"):
        l2.weight = jnp.ones((10, 10)) + 2
    l2.weight = nn.Parameter(jnp.ones((10, 10)))  # this works


# TestNN.test_state_dict
def test_state_dict():
    lin = nn.Linear(5, 5)
    block = nn.Module()
    block.conv = nn.Conv2d(3, 3, 3, bias=False)
    net = nn.Module()
    net.linear1 = lin
    net.linear2 = lin
    net.bn = nn.BatchNorm2d(2)
    net.block = block
    net.add_module("empty", None)
    v = net.init(KEY)
    state_dict = net.state_dict(v)
    assert len(state_dict) == 10
    assert len(state_dict._metadata) == 6
    assert {"", "linear1", "linear2", "block", "block.conv", "bn"} == set(state_dict._metadata)
    for k in ["linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias"]:
        assert k in state_dict
    assert "block.conv.weight" in state_dict and "block.conv.bias" not in state_dict
    for k in ["weight", "bias", "running_var", "running_mean", "num_batches_tracked"]:
        assert "bn." + k in state_dict
    assert not any(k.startswith("empty") for k in state_dict)
    bound = net.bind(v)
    for k, value in state_dict.items():  # torch: same storage; here: the same array object
        getter = bound.get_buffer if k.startswith("bn.r") or k.endswith("_tracked") else (
            bound.get_parameter
        )
        assert value is getter(k)
    lin = nn.Linear(5, 5)
    v = lin.init(KEY)
    state_dict = lin.state_dict(v)
    assert len(state_dict) == 2 and list(state_dict._metadata) == [""]
    assert state_dict._metadata[""]["version"] >= 0
    assert state_dict["weight"] is v["weight"] and state_dict["bias"] is v["bias"]
    lin.state_dict(v, destination={})  # a destination without _metadata is fine


class _Sub(nn.Module):
    def __init__(self, foo):
        super().__init__()
        self.foo = foo

    def get_extra_state(self):
        return {"foo": self.foo}

    def set_extra_state(self, state):
        self.foo = state["foo"]


class _WithExtra(nn.Module):
    def __init__(self, foo, bar):
        super().__init__()
        self.sub = _Sub(foo)
        self.bar = bar

    def get_extra_state(self):
        return {"bar": self.bar}

    def set_extra_state(self, state):
        self.bar = state["bar"]


# TestNN.test_extra_state
def test_extra_state():
    m = _WithExtra(3, "something")
    m2 = _WithExtra(5, "something else")
    m2.load_state_dict({}, m.state_dict({}))
    assert m.state_dict({}) == m2.state_dict({})
    assert m2.bar == m.bar and m2.sub.foo == m.sub.foo
    assert list(m.state_dict({})) == ["_extra_state", "sub._extra_state"]  # torch's keys


# TestNN.test_extra_state_non_dict
@pytest.mark.parametrize("state", ["something", 5, "module"])
def test_extra_state_non_dict(state):
    class MyModule(nn.Module):
        def __init__(self, foo):
            super().__init__()
            self.foo = foo

        def get_extra_state(self):
            return self.foo

        def set_extra_state(self, state):
            self.foo = state

    state = MyModule(3) if state == "module" else state
    m = MyModule(state)
    m2 = MyModule("something else")
    m2.load_state_dict({}, m.state_dict({}))
    assert m.state_dict({}) == m2.state_dict({})
    assert m.foo is m2.foo


# TestNN.test_extra_state_missing_set_extra_state
def test_extra_state_missing_set_extra_state():
    class MyModule(nn.Module):
        def get_extra_state(self):
            return {"foo": 5}

    m = MyModule()
    with pytest.raises(RuntimeError, match="Unexpected key"):
        m.load_state_dict({}, m.state_dict({}))


# TestNN.test_extra_state_missing_get_extra_state
def test_extra_state_missing_get_extra_state():
    class MyModule(nn.Module):
        def set_extra_state(self):
            pass

    m = MyModule()
    with pytest.raises(RuntimeError, match="Missing key"):
        m.load_state_dict({}, m.state_dict({}))


# TestNN.test_parameter_assignment
def test_parameter_assignment():
    lin = nn.Linear(5, 5)

    def num_params():
        return len(list(lin.parameters()))

    assert num_params() == 2
    new_param = nn.Parameter((5, 5), init.normal)
    lin.param_name = new_param
    assert num_params() == 3
    assert any(p is new_param for p in lin.parameters())
    var = jnp.ones((5, 5))
    lin.var_name = var
    assert num_params() == 3
    assert all(p is not var for p in lin.parameters())
    lin.variable_attr = jnp.zeros((5, 5))
    assert num_params() == 3
    lin.param_attr = nn.Parameter((5, 5), init.zeros)
    assert num_params() == 4
    with pytest.raises(TypeError):
        lin.param_attr = jnp.zeros((5, 5))
    lin.param_attr = None
    assert num_params() == 3


# TestNN.test_assignment
@pytest.mark.parametrize("kind", ["parameters", "children"])
def test_assignment(kind):
    m = nn.Module()
    if kind == "parameters":
        a, b, c = (nn.Parameter(jnp.ones(n)) for n in (2, 3, 4))

        def get_list():
            return [id(p) for p in m.parameters()]
    else:
        a, b, c = nn.Linear(4, 4), nn.Linear(5, 5), nn.Linear(6, 6)

        def get_list():
            return [id(x) for x in m.children()]

    m.a = None  # None can be shadowed
    assert m.a is None and "a" in m.__dict__
    m.a = a
    assert m.a is a and get_list() == [id(a)] and "a" not in m.__dict__
    m.b = None
    assert m.b is None and "b" in m.__dict__
    m.b = b
    assert m.b is b and get_list() == [id(a), id(b)] and "b" not in m.__dict__
    m.a = None  # remove and add back: the order is unchanged
    assert m.a is None and get_list() == [id(b)]
    m.a = a
    assert get_list() == [id(a), id(b)]
    m.a = c  # replace (any shape): the order is unchanged
    assert m.a is c and get_list() == [id(c), id(b)]
    del m.a  # remove and reassign: it comes last
    assert not hasattr(m, "a")
    m.a = a
    assert get_list() == [id(b), id(a)]
    del m.a, m.b
    assert get_list() == []


# TestNN.test_assignment (its buffer part)
def test_assignment_buffer():
    m = nn.Module()
    buf = nn.Buffer(jnp.arange(10.0))
    m.buf = buf
    assert m.buf is buf
    m.buf = None
    assert m.buf is None and "buf" not in m.__dict__  # stored in the buffer table
    m.buf = buf
    sd = m.state_dict(m.init(KEY))
    assert "buf" in sd
    np.testing.assert_array_equal(sd["buf"], np.arange(10.0))


# torch-semantics.md D: the same registration rules, checked against torch side by side
@pytest.mark.parametrize(
    "steps",
    [
        ["param a", "buffer a"],  # a Buffer over a parameter: TypeError in both
        ["buffer a", "param a"],  # a Parameter replaces a buffer
        ["module a", "param a"],  # a Parameter replaces a module
        ["param a", "module a"],  # a module over a parameter: TypeError
        ["module a", "buffer a"],  # a Buffer over a module: TypeError
        ["plain a", "buffer a"],  # KeyError: attribute exists
        ["none a", "param a"],
        ["buffer a", "array a", "none a", "array a"],
    ],
)
def test_registration_rules_match_torch(steps):
    def run(lib):
        m = lib.Module()
        for step in steps:
            what, name = step.split()
            value = {
                "param": (lambda: tnn.Parameter(torch.ones(2)))
                if lib is tnn
                else (lambda: nn.Parameter(jnp.ones(2))),
                "buffer": (lambda: tnn.Buffer(torch.ones(3)))
                if lib is tnn
                else (lambda: nn.Buffer(jnp.ones(3))),
                "module": lambda: lib.Linear(1, 1),
                "array": (lambda: torch.ones(4)) if lib is tnn else (lambda: jnp.ones(4)),
                "plain": lambda: 3,
                "none": lambda: None,
            }[what]()
            try:
                setattr(m, name, value)
            except (TypeError, KeyError) as e:
                return type(e).__name__
        return (list(m._parameters), list(m._buffers), list(m._modules))

    assert run(nn) == run(tnn)


# TestNN.test_register_buffer_raises_error_if_not_tensor / torch's message wording
def test_registration_messages_match_torch():
    for lib, arr in ((tnn, torch.ones(1)), (nn, jnp.ones(1))):
        m = lib.Module()
        with pytest.raises(TypeError, match=r"cannot assign 'list' object to buffer 'q'"):
            m.register_buffer("q", [1])
        m.p = lib.Parameter(arr)
        with pytest.raises(TypeError, match=r"cannot assign '.*' as parameter 'p'"):
            m.p = arr
        with pytest.raises(KeyError, match=r"module name can.*contain.*got: x.y"):
            m.register_module("x.y", lib.Linear(1, 1))
    assert nn.Parameter().shape == tuple(tnn.Parameter().shape)
