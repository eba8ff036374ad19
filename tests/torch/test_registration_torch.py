"""torch's own registration tests (test/test_nn.py, class TestNN: register_*, add_module,
__setattr__ assignment, buffers' persistence), ported to jaxinit, plus side-by-side checks of
the same rules against torch.

Each test names the torch test it comes from; see test_module_api_torch.py for the conventions
and the list of TestNN tests that have no meaning here.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
tnn = torch.nn

from jaxinit import init, nn  # noqa: E402

KEY = jax.random.key(0)


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
