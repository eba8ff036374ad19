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

import jaxinit  # noqa: E402
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
        getter = (
            bound.get_buffer
            if k.startswith("bn.r") or k.endswith("_tracked")
            else (bound.get_parameter)
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


# torch's net.apply(fn) re-initialisation, replayed bitwise through apply with a TorchGenerator
def test_apply_with_torch_generator_replays_torchs_apply_bitwise():

    def t_fn(m):
        if isinstance(m, tnn.Linear):
            tnn.init.xavier_normal_(m.weight)
            tnn.init.normal_(m.bias, std=0.01)

    def j_fn(m, key):
        if isinstance(m, nn.Linear):
            m.weight = init.xavier_normal(key, m.weight.shape)
            m.bias = init.normal(key, m.bias.shape, std=0.01)

    t = tnn.Sequential(tnn.Linear(3, 4), tnn.ReLU(), tnn.Sequential(tnn.Linear(4, 2)))
    torch.manual_seed(7)
    t.apply(t_fn)
    j = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 2)))
    v = j.apply(j.init(KEY), j_fn, jaxinit.TorchGenerator(7))
    for name, value in j.state_dict(v).items():
        np.testing.assert_array_equal(np.asarray(value), t.state_dict()[name].numpy())


# a loop over torch's named_parameters drawing in place, replayed by map_parameters
def test_map_parameters_with_torch_generator_replays_a_named_parameters_loop():

    t = tnn.Sequential(tnn.Linear(3, 4), tnn.Linear(4, 2))
    torch.manual_seed(3)
    with torch.no_grad():
        for _, p in t.named_parameters():
            p.normal_(0, 0.02)
    j = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    rule = lambda name, w, key: init.normal(key, w.shape, std=0.02)  # noqa: E731
    v = j.map_parameters(j.init(KEY), rule, jaxinit.TorchGenerator(3))
    for name, value in j.state_dict(v).items():
        np.testing.assert_array_equal(np.asarray(value), t.state_dict()[name].numpy())


@pytest.mark.parametrize(
    "make", [lambda M: M.ReLU(inplace=True), lambda M: M.SiLU(inplace=True),
             lambda M: M.LeakyReLU(0.2, inplace=True), lambda M: M.LeakyReLU(),
             lambda M: M.ModuleList([M.ReLU(), M.ReLU(), M.Linear(2, 2)])],
)  # fmt: skip
def test_reprs_match_torch(make):
    assert repr(make(nn)) == repr(make(tnn))


def test_torch_tensor_input_gets_a_conversion_hint():
    net = nn.Linear(2, 2)
    v = net.init(KEY)
    with pytest.raises(TypeError, match=r"torch\.Tensor as input 0.*np\.asarray\(t\.detach\(\)\)"):
        net(v, torch.ones(1, 2))
