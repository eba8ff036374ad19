"""torch's own container tests (test/test_nn.py, class TestNN), ported to jaxinit.

torch compares containers with ``assertEqual``, which compares the modules they hold in order;
here ``same(a, b)`` checks the same module objects in the same order. torch indexes with
0-d integer tensors too; a 0-d integer array does the same here.

Not ported, no meaning here: test_ParameterList_replication, test_ParameterDict_replication
(DataParallel replication), test_parameterlistdict_setting_attributes (train()/eval()
warnings), test_parameterlistdict_pickle (torch's legacy pickle fields).
"""

from collections import OrderedDict

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
tnn = torch.nn

from jaxinit import nn  # noqa: E402

KEY = jax.random.key(0)


def same(a, b):
    return [id(m) for m in a] == [id(m) for m in b]


def linears(*sizes):
    return [nn.Linear(i, o) for i, o in zip(sizes, sizes[1:])]


# TestNN.test_Sequential_getitem
def test_Sequential_getitem():
    l1, l2, l3, l4 = linears(10, 20, 30, 40, 50)
    n = nn.Sequential(l1, l2, l3, l4)
    assert n[0] is l1 and n[1] is l2 and n[2] is l3 and n[3] is l4
    assert n[np.int64(3)] is l4
    assert same(n[1:], [l2, l3, l4])
    assert same(n[3:], [l4])
    assert same(n[:-1], [l1, l2, l3])
    assert same(n[:-3], [l1])
    assert same(n[::-1], [l4, l3, l2, l1])


# TestNN.test_Sequential_setitem
def test_Sequential_setitem():
    l1, l2, l3, l4 = linears(10, 20, 30, 40, 50)
    n = nn.Sequential(l1, l2, l3)
    n[0] = l4
    n[-1] = l4
    n[np.int16(1)] = l1
    assert n[0] is l4 and n[1] is l1 and n[2] is l4


# TestNN.test_Sequential_setitem_named
def test_Sequential_setitem_named():
    l1, l2, l3, l4 = linears(10, 20, 30, 40, 50)
    n = nn.Sequential(OrderedDict([("linear1", l1), ("linear2", l2), ("linear3", l3)]))
    n[0] = l4
    n[-1] = l4
    assert n.linear1 is l4 and n.linear3 is l4


# TestNN.test_Sequential_delitem
def test_Sequential_delitem():
    l1, l2, l3, l4 = linears(10, 20, 30, 40, 50)
    n = nn.Sequential(l1, l2, l3, l4)
    del n[-1]
    assert same(n, [l1, l2, l3])
    del n[1::2]
    assert same(n, [l1, l3])
    assert list(n._modules) == ["0", "1"]  # renumbered, as torch


# TestNN.test_Sequential_add
def test_Sequential_add():
    l1, l2, l3, l4 = linears(1, 2, 3, 4, 5)
    assert same(nn.Sequential(l1, l2) + nn.Sequential(l3, l4), [l1, l2, l3, l4])


# TestNN.test_Sequential_iadd
def test_Sequential_iadd():
    l1, l2, l3, l4 = linears(10, 20, 30, 40, 50)
    n = nn.Sequential(l1, l2, l3)
    n2 = nn.Sequential(l4)
    n += n2
    n2 += n
    assert same(n, [l1, l2, l3, l4])
    assert same(n2, [l4, l1, l2, l3, l4])


# TestNN.test_Sequential_mul
def test_Sequential_mul():
    ls = linears(10, 20, 30, 40, 50)
    assert same(nn.Sequential(*ls) * 2, ls + ls)


# TestNN.test_Sequential_rmul
def test_Sequential_rmul():
    ls = linears(10, 20, 30, 40, 50)
    assert same(2 * nn.Sequential(*ls), ls + ls)


# TestNN.test_Sequential_imul
def test_Sequential_imul():
    ls = linears(10, 20, 30, 40, 50)
    n = nn.Sequential(*ls)
    n *= 2
    assert same(n, ls * 2)
    n *= 2
    assert same(n, ls * 4)


# TestNN.test_Sequential_append
def test_Sequential_append():
    l1, l2, l3, l4 = linears(10, 20, 30, 40, 50)
    n = nn.Sequential(l1, l2, l3)
    n2 = n.append(l4)
    assert same(n, [l1, l2, l3, l4]) and same(n2, [l1, l2, l3, l4])
    assert same(nn.Sequential(l1).append(l2).append(l4), [l1, l2, l4])


# TestNN.test_Sequential_pop
def test_Sequential_pop():
    l1, l2, l3, l4 = linears(1, 2, 3, 4, 5)
    n1 = nn.Sequential(l1, l2, l3, l4)
    assert n1.pop(3) is l4
    assert same(n1, [l1, l2, l3])
    for k, mod in zip(range(len(n1)), n1):
        assert n1[k] is mod


# TestNN.test_Sequential_insert
def test_Sequential_insert():
    l1, l2, l3 = linears(1, 2, 3, 4)
    module_1 = nn.Linear(4, 5)
    assert same(nn.Sequential(l1, l2, l3).insert(1, module_1), [l1, module_1, l2, l3])
    module_2 = nn.Linear(5, 6)
    assert same(nn.Sequential(l1, l2, l3).insert(-2, module_2), [l1, module_2, l2, l3])


# TestNN.test_Sequential_insert_fail_case
def test_Sequential_insert_fail_case():
    n1 = nn.Sequential(*linears(1, 2, 3, 4))
    with pytest.raises(IndexError):
        n1.insert(-5, nn.Linear(5, 6))
    with pytest.raises(AssertionError):
        n1.insert(1, [nn.Linear(6, 7)])


# TestNN.test_Sequential_extend
def test_Sequential_extend():
    l1, l2, l3, l4 = linears(10, 20, 30, 40, 50)
    n1, n2, n3 = nn.Sequential(l1, l2), nn.Sequential(l3, l4), nn.Sequential(l1, l2)
    for layer in n2:
        n1.append(layer)
    n3.extend(n2)
    assert same(n3, n1)


# TestNN.test_ModuleList
def test_ModuleList():
    modules = [nn.ReLU(), nn.Linear(5, 5)]
    module_list = nn.ModuleList(modules)

    def check():
        assert len(module_list) == len(modules)
        assert same(module_list, modules)
        assert same(module_list.children(), list(dict.fromkeys(modules)))
        for i in range(len(modules)):
            assert module_list[i] is modules[i]

    check()
    modules += [nn.Conv2d(3, 4, 3)]
    module_list += [modules[-1]]
    check()
    modules = modules + [nn.Conv2d(3, 4, 3, bias=False), nn.GELU()]
    module_list = module_list + nn.ModuleList(modules[-2:])
    check()
    modules.insert(1, nn.Linear(3, 2))
    module_list.insert(1, modules[1])
    check()
    modules.append(nn.Tanh())
    module_list.append(modules[-1])
    check()
    next_modules = [nn.Linear(5, 5), nn.Sigmoid()]
    modules.extend(next_modules)
    module_list.extend(next_modules)
    check()
    modules[2] = nn.Conv2d(5, 3, 2)
    module_list[2] = modules[2]
    check()
    modules[-1] = nn.Conv2d(5, 2, 1)
    module_list[-1] = modules[-1]
    check()
    idx = np.int32(2)
    modules[2] = nn.Conv2d(5, 3, 2)
    module_list[idx] = modules[2]
    assert module_list[idx] is modules[2]
    check()
    for sl in SLICES:
        assert same(module_list[sl], modules[sl])
    del module_list[-1]
    assert same(module_list, modules[:-1])
    del module_list[1::2]
    assert same(module_list, modules[:-1][0::2])
    with pytest.raises(TypeError):
        module_list += nn.ReLU()
    with pytest.raises(TypeError):
        module_list.extend(nn.ReLU())

    l1, l2, l3, l4 = nn.Linear(1, 2), nn.Linear(2, 3), nn.Linear(3, 2), nn.Linear(2, 3)
    subnet = nn.Sequential(l3, l4)
    s = nn.Sequential(OrderedDict([
        ("layer1", l1), ("layer2", l2), ("layer3", l3), ("layer4", l4), ("subnet_layer", subnet),
    ]))  # fmt: skip
    modules = list(s.modules())
    module_list = nn.ModuleList()
    module_list.extend(s.modules())
    check()

    modules = [nn.ReLU(), nn.Linear(5, 5), nn.Conv2d(3, 4, 3)]
    module_list = nn.ModuleList(modules)
    assert modules.pop(1) is module_list.pop(1)
    assert same(module_list, modules)
    for k, mod in zip(range(len(module_list)), module_list):
        assert module_list[k] is mod
    with pytest.raises(NotImplementedError):
        module_list({})
    with pytest.raises(NotImplementedError):
        module_list({}, jnp.ones((1, 3)))


# TestNN.test_ModuleDict
def test_ModuleDict():
    modules = OrderedDict(
        [("act", nn.ReLU()), ("conv", nn.Conv2d(10, 10, 5)), ("fc", nn.Linear(5, 5))]
    )
    module_dict = nn.ModuleDict(modules)

    def check():
        assert len(module_dict) == len(modules)
        assert same(module_dict.children(), list(dict.fromkeys(modules.values())))
        for k1, k2 in zip(modules, module_dict):
            assert modules[k1] is module_dict[k2]
        for k in module_dict:
            assert module_dict[k] is modules[k]
        for k in module_dict.keys():
            assert module_dict[k] is modules[k]
        for k, v in module_dict.items():
            assert modules[k] is v
        assert same(module_dict.values(), modules.values())
        for k in modules.keys():
            assert k in module_dict

    check()
    modules["conv"] = nn.Conv2d(3, 4, 3)
    module_dict["conv"] = modules["conv"]
    check()
    next_modules = [("fc2", nn.Linear(5, 5)), ("act", nn.Sigmoid())]
    modules.update(next_modules)
    module_dict.update(next_modules)
    check()
    next_modules = OrderedDict([("fc3", nn.Linear(5, 5)), ("act2", nn.Sigmoid())])
    modules.update(next_modules)
    module_dict.update(next_modules)
    check()
    next_modules = {"fc4": nn.Linear(5, 5), "act3": nn.Sigmoid()}
    modules.update(next_modules.items())
    module_dict.update(next_modules)
    check()
    next_modules = nn.ModuleDict([("fc5", nn.Linear(5, 5)), ("act4", nn.Sigmoid())])
    modules.update(next_modules)
    module_dict.update(next_modules)
    check()
    del module_dict["fc"]
    del modules["fc"]
    check()
    with pytest.raises(TypeError):
        module_dict.update(nn.ReLU())
    with pytest.raises(TypeError):
        module_dict.update([nn.ReLU()])
    with pytest.raises(ValueError):
        module_dict.update([[nn.ReLU()]])
    with pytest.raises(TypeError):
        module_dict[1] = nn.ReLU()
    s = nn.Sequential(modules)
    module_dict = nn.ModuleDict(s.named_children())
    check()
    c = module_dict.pop("conv")
    assert c is modules["conv"]
    modules.pop("conv")
    check()
    module_dict.clear()
    assert len(module_dict) == 0
    modules.clear()
    check()
    with pytest.raises(NotImplementedError):
        module_dict({})


SLICES = (slice(1, None), slice(3, None), slice(None, -1), slice(None, -3), slice(None, None, -1))


def make_param():
    return nn.Parameter(jnp.ones((2, 2)))


# TestNN.test_ParameterList
def test_ParameterList():
    parameters = [make_param(), make_param()]
    param_list = nn.ParameterList(parameters)

    def check():
        assert len(parameters) == len(param_list)
        assert same(param_list, parameters)
        params = [p for p in parameters if isinstance(p, nn.Parameter)]
        assert same(param_list.parameters(), params)
        for i in range(len(parameters)):
            assert parameters[i] is param_list[i]

    check()
    parameters += [make_param()]
    param_list += [parameters[-1]]
    check()
    parameters.append(make_param())
    param_list.append(parameters[-1])
    check()
    next_params = [make_param(), make_param()]
    parameters.extend(next_params)
    param_list.extend(next_params)
    check()
    parameters[2] = make_param()
    param_list[2] = parameters[2]
    check()
    parameters[-1] = make_param()
    param_list[-1] = parameters[-1]
    check()
    idx = np.int32(2)
    parameters[2] = make_param()
    param_list[idx] = parameters[2]
    assert param_list[idx] is parameters[2]
    check()
    for sl in SLICES:
        assert same(param_list[sl], parameters[sl])
    with pytest.raises(TypeError):
        param_list += make_param()
    with pytest.raises(TypeError):
        param_list.extend(jnp.ones(3))

    l1, l2, l3, l4 = nn.Linear(1, 2), nn.Linear(2, 3), nn.Linear(3, 2), nn.Linear(2, 3)
    s = nn.Sequential(OrderedDict([
        ("layer1", l1), ("layer2", l2), ("layer3", l3), ("layer4", l4),
        ("subnet_layer", nn.Sequential(l3, l4)),
    ]))  # fmt: skip
    parameters = list(s.parameters())
    param_list = nn.ParameterList()
    param_list.extend(s.parameters())
    check()
    param_list.append(jnp.ones((2, 2)))
    assert isinstance(param_list[-1], nn.Parameter)
    parameters.append(param_list[-1])
    param_list.extend([jnp.ones((2, 2)), "foo"])
    assert isinstance(param_list[-2], nn.Parameter) and isinstance(param_list[-1], str)
    parameters.extend(param_list[-2:])
    param_list += ["bar", jnp.ones((2, 2))]
    assert isinstance(param_list[-2], str) and isinstance(param_list[-1], nn.Parameter)
    parameters += param_list[-2:]
    check()


# TestNN.test_ParameterList_meta (its repr part; the meta device has no meaning here)
def test_ParameterList_repr():
    assert str(nn.ParameterList([nn.Parameter(jnp.ones(1))])) == (
        "ParameterList(  (0): Parameter containing: [torch.float32 of size 1])"
    )
    t = tnn.ParameterList([tnn.Parameter(torch.ones(2, 3)), tnn.Parameter(torch.ones(4))])
    j = nn.ParameterList([nn.Parameter(jnp.ones((2, 3))), nn.Parameter(jnp.ones(4))])
    assert repr(j) == repr(t)
    t = tnn.ParameterDict({"b": tnn.Parameter(torch.ones(2)), "a": tnn.Parameter(torch.ones(1))})
    j = nn.ParameterDict({"b": nn.Parameter(jnp.ones(2)), "a": nn.Parameter(jnp.ones(1))})
    assert repr(j) == repr(t)


# TestNN.test_ParameterDict
def test_ParameterDict():
    p = lambda: nn.Parameter(jnp.ones((10, 10)))  # noqa: E731
    parameters = OrderedDict([("p1", p()), ("p2", p()), ("p3", p())])
    parameter_dict = nn.ParameterDict(parameters)

    def check():
        assert len(parameter_dict) == len(parameters)
        for k1, (k2, m2) in zip(parameters, parameter_dict.named_parameters()):
            assert k1 == k2 and parameters[k1] is m2
        for k1, k2 in zip(parameters, parameter_dict):
            assert parameters[k1] is parameter_dict[k2]
        for k in parameter_dict:
            assert parameter_dict[k] is parameters[k]
        for k in parameter_dict.keys():
            assert parameter_dict[k] is parameters[k]
        for k, v in parameter_dict.items():
            assert v is parameters[k]
        assert same(parameter_dict.values(), parameters.values())
        for k in parameters.keys():
            assert k in parameter_dict

    check()
    parameters["p4"] = p()
    parameter_dict["p4"] = parameters["p4"]
    check()
    next_parameters = [("p5", p()), ("p2", p())]
    parameters.update(next_parameters)
    parameter_dict.update(next_parameters)
    check()
    next_parameters = OrderedDict([("p6", p()), ("p5", p())])
    parameters.update(next_parameters)
    parameter_dict.update(next_parameters)
    check()
    next_parameters = {"p8": p(), "p7": p()}
    parameters.update(sorted(next_parameters.items()))  # a plain dict is added sorted
    parameter_dict.update(next_parameters)
    check()
    next_parameters = nn.ParameterDict([("p10", p()), ("p9", p())])
    parameters.update(next_parameters.items())
    parameter_dict.update(next_parameters)
    check()
    del parameter_dict["p3"]
    del parameters["p3"]
    check()
    with pytest.raises(TypeError):
        parameter_dict.update(1)
    with pytest.raises(TypeError):
        parameter_dict.update([1])
    with pytest.raises(ValueError):
        parameter_dict.update([(1, 2, 3)])  # torch: update(Parameter) = pairs of length 10
    assert parameter_dict.pop("p4") is parameters["p4"]
    parameters.pop("p4")
    check()
    forward, backward = list(iter(parameter_dict)), list(reversed(parameter_dict))
    assert forward == backward[::-1]
    copy = parameter_dict.copy()
    for key in parameter_dict:
        assert key in copy and parameter_dict[key] is copy[key]
    parameter_dict["p20"] = p()
    copy["p21"] = nn.Parameter(jnp.ones((9, 10)))
    assert "p20" in parameter_dict and "p20" not in copy
    assert "p21" not in parameter_dict and "p21" in copy
    parameter_dict.pop("p20")
    check()
    q = p()
    parameter_dict["p12"] = q
    assert parameter_dict.popitem() == ("p12", q)
    check()
    parameters["p11"] = p()
    assert parameter_dict.setdefault("p11", parameters["p11"]) is parameters["p11"]
    check()
    assert parameter_dict.setdefault("p11", p()) is parameters["p11"]
    assert parameter_dict.setdefault("p26") is None
    del parameter_dict["p26"]
    check()
    for new in (
        OrderedDict([("p13", p()), ("p2", p()), ("p3", p())]),
        OrderedDict(),
        OrderedDict([("p14", p()), ("p15", p()), ("p13", p())]),
    ):
        parameters.update(new)
        parameter_dict |= nn.ParameterDict(new)
        check()
    parameters2 = OrderedDict([("p20", p()), ("p21", p()), ("p22", p())])
    parameters.update(parameters2)
    parameter_dict = parameter_dict | nn.ParameterDict(parameters2)
    check()
    parameters2 = OrderedDict([("p23", p()), ("p24", p()), ("p25", p())])
    parameter_dict = nn.ParameterDict(parameters2) | parameter_dict
    parameters2.update(parameters)
    parameters = parameters2
    check()
    parameters["p17"] = p()
    parameter_dict["p17"] = parameters["p17"]
    temp_param = p()
    assert parameter_dict.get("p17") is parameters["p17"]
    assert parameter_dict.get("p17", temp_param) is parameters["p17"]
    assert parameter_dict.get("p18") is None
    assert parameter_dict.get("p18", temp_param) is temp_param
    parameter_dict.clear()
    assert len(parameter_dict) == 0
    parameters.clear()
    check()
    assert dict(parameter_dict.fromkeys(["p19", "p20"]).items()) == {"p19": None, "p20": None}
    d = parameter_dict.fromkeys(["p19", "p20"], temp_param)
    assert d["p19"] is temp_param and d["p20"] is temp_param
    parameter_dict["p21"] = jnp.ones((2, 2))
    assert isinstance(parameter_dict["p21"], nn.Parameter)
    parameter_dict.update({"p22": jnp.ones((2, 2)), "foo": "bar"})
    assert isinstance(parameter_dict["p22"], nn.Parameter)
    assert isinstance(parameter_dict["foo"], str)


# torch's state_dict names for ParameterList/ParameterDict inside a model, and the arrays
# they give inside forward
def test_parameter_containers_state_dict_names_and_forward_match_torch():
    def build(lib, arr):
        class Net(lib.Module):
            def __init__(self):
                super().__init__()
                self.scales = lib.ParameterList([lib.Parameter(arr(2)) for _ in range(3)])
                self.bias = lib.ParameterDict(
                    {"z": lib.Parameter(arr(2)), "a": lib.Parameter(arr(2))}
                )

            def forward(self, x):
                for s in self.scales:
                    x = x * s
                return x + self.bias["a"] + self.bias["z"]

        return Net()

    t = build(tnn, lambda n: torch.full((n,), 2.0))
    j = build(nn, lambda n: jnp.full((n,), 2.0))
    v = j.init(KEY)
    assert list(j.state_dict(v)) == list(t.state_dict())
    np.testing.assert_allclose(j(v, jnp.ones(2)), t(torch.ones(2)).detach().numpy())
