"""jaxinit/nn/module.py: registration, calling, init, naming, state_dict, get/set/apply."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinit import init, nn

KEY = jax.random.key(0)


class Sub(nn.Module):
    """A BatchNorm-like leaf: two parameters, three buffers."""

    def __init__(self, c):
        super().__init__()
        self.weight = nn.Parameter((c,), init.ones)
        self.bias = nn.Parameter((c,), init.zeros)
        self.running_mean = nn.Buffer((c,), init.zeros)
        self.running_var = nn.Buffer((c,), init.ones)
        self.count = nn.Buffer((), init.zeros, jnp.int32)

    def forward(self, x):
        if self.training:
            self.running_mean = 0.9 * self.running_mean + 0.1 * x.mean(0)
            self.count = self.count + 1
        return x * self.weight[None] + self.bias[None]


class Mixed(nn.Module):
    """torch-semantics.md section D's ordering example."""

    def __init__(self):
        super().__init__()
        self.register_buffer("zbuf", jnp.zeros(2))
        self.w = nn.Parameter((2,), init.ones)
        self.register_buffer("tmp", jnp.ones(2), persistent=False)
        self.sub = Sub(2)
        self.a = nn.Parameter((2,), init.zeros)

    def forward(self, x):
        return self.sub(x * self.w[None] + self.a[None]) + self.zbuf[None] + self.tmp[None]


def test_naming_order_follows_torch_section_d():
    net = Mixed()
    v = net.init(KEY)
    assert [n for n, _ in net.named_parameters(v)] == ["w", "a", "sub.weight", "sub.bias"]
    assert [n for n, _ in net.named_buffers(v)] == [
        "zbuf",
        "tmp",
        "sub.running_mean",
        "sub.running_var",
        "sub.count",
    ]
    assert list(net.state_dict(v)) == [
        "w",
        "a",
        "zbuf",
        "sub.weight",
        "sub.bias",
        "sub.running_mean",
        "sub.running_var",
        "sub.count",
    ]
    assert [n for n, _ in net.named_parameters(v, recurse=False)] == ["w", "a"]
    assert [n for n, _ in net.named_modules()] == ["", "sub"]
    assert [n for n, _ in net.named_parameters(v, prefix="model")][0] == "model.w"


def test_declarations_without_variables():
    net = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 1, bias=False))
    shapes = [(n, p.shape) for n, p in net.named_parameters()]
    assert shapes == [("0.weight", (5, 3)), ("0.bias", (5,)), ("2.weight", (1, 5))]
    assert "kaiming_uniform" in repr(net[0].weight)


def test_registration_errors_match_torch():
    m = nn.Module()
    with pytest.raises(KeyError, match=r'contain "\."'):
        m.register_parameter("a.b", nn.Parameter((1,), init.zeros))
    with pytest.raises(KeyError, match="empty string"):
        m.register_parameter("", nn.Parameter((1,), init.zeros))
    m.x = 3
    with pytest.raises(KeyError, match="attribute 'x' already exists"):
        m.register_parameter("x", nn.Parameter((1,), init.zeros))
    with pytest.raises(TypeError, match="Parameter or None required"):
        m.register_parameter("y", jnp.zeros(2))
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="as parameter 'weight'"):
        lin.weight = jnp.zeros((2, 2))
    with pytest.raises(TypeError, match="to buffer 'b'"):
        m.register_buffer("b", [1, 2])
    with pytest.raises(TypeError, match="needs an initializer"):
        nn.Parameter((2, 2))


def test_module_before_init_call_is_explained():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Bad()


def test_constant_attributes_are_not_variables():
    """seed 001's MyModel: weight1 is a Parameter, weight2 a plain array."""

    class MyModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight1 = nn.Parameter((20, 20), init.uniform)
            self.weight2 = jnp.ones((20, 20))

    net = MyModel()
    assert [n for n, _ in net.named_parameters()] == ["weight1"]
    assert list(net.init(KEY)) == ["weight1"]


def test_parameter_from_array_casts_float64_like_jnp():
    p = nn.Parameter(np.random.default_rng(0).normal(size=(4, 3)))
    assert p.dtype == np.float32 and p.shape == (4, 3)
    with pytest.raises(ValueError, match="jax_enable_x64"):
        nn.Parameter((2,), init.zeros, jnp.float64)


def test_call_eval_and_train_updates_buffers_only():
    net = Mixed()
    v = net.init(KEY)
    x = jnp.arange(6.0).reshape(3, 2)
    y = net(v, x)
    y2, v2 = net(v, x, train=True)
    np.testing.assert_array_equal(y, y2)
    assert int(v2["sub"]["count"]) == 1 and v2["sub"]["count"].dtype == jnp.int32
    np.testing.assert_allclose(v2["sub"]["running_mean"], 0.1 * (x * 1.0).mean(0))
    assert v2["w"] is v["w"] and v2["sub"]["weight"] is v["sub"]["weight"]
    assert int(v["sub"]["count"]) == 0  # the input is untouched


def test_call_is_pure_under_jit_and_grad():
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    v = net.init(KEY)
    x = jnp.ones((2, 4))
    np.testing.assert_allclose(jax.jit(net)(v, x), net(v, x), rtol=1e-6)
    g = jax.grad(lambda v: net(v, x).sum())(v)
    assert jax.tree.structure(g) == jax.tree.structure(v)
    assert [n for n, _ in net.named_parameters(g)] == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_call_errors_say_what_to_pass():
    net = Mixed()
    v = net.init(KEY)
    params, buffers = net.split(v)
    with pytest.raises(ValueError, match="net.merge\\(params, buffers\\)"):
        net(params, jnp.ones((1, 2)))
    with pytest.raises(TypeError, match="variables first"):
        net(jnp.ones((1, 2)))
    with pytest.raises(ValueError, match="unexpected: extra"):
        net({**v, "extra": jnp.zeros(1)}, jnp.ones((1, 2)))


def test_split_merge_roundtrip():
    net = Mixed()
    v = net.init(KEY)
    params, buffers = net.split(v)
    names = sorted(n for n, _ in net.named_parameters(params))
    assert names == ["a", "sub.bias", "sub.weight", "w"]
    assert "w" not in buffers and "zbuf" in buffers
    merged = net.merge(params, buffers)
    assert jax.tree.structure(merged) == jax.tree.structure(v)
    assert list(merged) == list(v)


def test_parameterless_module_needs_no_variables():
    class CenteredLayer(nn.Module):
        def forward(self, x):
            return x - x.mean()

    layer = CenteredLayer()
    np.testing.assert_allclose(layer(jnp.array([1.0, 2, 3, 4, 5])), [-2, -1, 0, 1, 2])
    net = nn.Sequential(nn.Linear(8, 128), CenteredLayer())
    y = net(net.init(KEY), jax.random.uniform(KEY, (4, 8)))
    assert abs(float(y.mean())) < 1e-6


def test_init_is_deterministic_and_keyed_by_name():
    small = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    big = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.ReLU(), nn.Linear(2, 2))
    a, b = small.init(KEY), big.init(KEY)
    for name in ("0", "2"):
        for leaf in ("weight", "bias"):
            np.testing.assert_array_equal(a[name][leaf], b[name][leaf])
    c = small.init(jax.random.key(1))
    assert not np.array_equal(a["0"]["weight"], c["0"]["weight"])
    np.testing.assert_array_equal(a["0"]["weight"], small.init(KEY)["0"]["weight"])
    shapes = jax.eval_shape(small.init, KEY)
    assert shapes["0"]["weight"].shape == (4, 3)
    with pytest.raises(TypeError, match="jax.random.key"):
        small.init(0)


def test_init_with_raw_key_matches_typed_key_data():
    net = nn.Linear(3, 2)
    raw = net.init(jax.random.PRNGKey(0))
    typed = net.init(jax.random.wrap_key_data(jax.random.PRNGKey(0)))
    np.testing.assert_array_equal(raw["weight"], typed["weight"])


def test_get_and_set_by_dotted_name():
    net = nn.Sequential(nn.Sequential(nn.Linear(2, 3)), nn.Linear(3, 1))
    v = net.init(KEY)
    assert net.get(v, "0.0.weight").shape == (3, 2)
    assert set(net.get(v, "0.0")) == {"weight", "bias"}
    w64 = np.full((3, 2), 0.5)  # float64, as numpy makes it
    v2 = net.set(v, "0.0.weight", w64)
    assert v2["0"]["0"]["weight"].dtype == jnp.float32
    np.testing.assert_array_equal(v2["0"]["0"]["weight"], 0.5)
    assert v2["1"] is v["1"]  # copy-on-write: untouched subtrees are shared
    with pytest.raises(ValueError, match="size mismatch for 0.0.weight"):
        net.set(v, "0.0.weight", np.zeros((2, 3)))
    with pytest.raises(KeyError, match="not a variable or module"):
        net.get(v, "0.1.weight")
    v3 = net.set(v, "1", {"weight": np.ones((1, 3)), "bias": np.zeros(1)})
    np.testing.assert_array_equal(v3["1"]["weight"], 1.0)


def test_apply_is_post_order_and_binds_variables():
    seen = []

    def fn(m, key):
        seen.append(type(m).__name__)
        if isinstance(m, nn.Linear):
            m.weight = jnp.ones_like(m.weight)
            if m.bias is not None:
                m.bias = jnp.zeros_like(m.bias)

    net = nn.Sequential(nn.Sequential(nn.Linear(2, 3), nn.ReLU()), nn.Linear(3, 1, bias=False))
    v = net.apply(net.init(KEY), fn, KEY)
    assert seen == ["Linear", "ReLU", "Sequential", "Linear", "Sequential"]
    np.testing.assert_array_equal(v["0"]["0"]["weight"], 1.0)
    np.testing.assert_array_equal(v["0"]["0"]["bias"], 0.0)
    np.testing.assert_array_equal(v["1"]["weight"], 1.0)


def test_apply_keys_differ_per_module_and_reset_parameters():
    net = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))

    def fn(m, key):
        if isinstance(m, nn.Linear):
            m.weight = init.normal(key, m.weight.shape, std=0.01)

    v = net.apply(net.init(KEY), fn, KEY)
    assert not np.array_equal(v["0"]["weight"], v["1"]["weight"])
    assert float(jnp.abs(v["0"]["weight"]).max()) < 0.1

    v2 = net.apply(v, lambda m, k: m.reset_parameters(k) if isinstance(m, nn.Linear) else None, KEY)
    assert float(jnp.abs(v2["0"]["weight"]).max()) > 0.1
    with pytest.raises(RuntimeError, match="inside net.apply"):
        net[0].reset_parameters(KEY)


def test_parameters_are_read_only_in_forward():
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter((2,), init.ones)

        def forward(self, x):
            self.w = self.w * 2
            return x

    net = Bad()
    with pytest.raises(AttributeError, match="read-only in forward"):
        net(net.init(KEY), jnp.ones(2))


def test_map_parameters_rules_by_name():
    """seed 001: weights ~ N(0, 0.01), biases 0, then a custom keyed init and bias += 1."""
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1))
    v = net.init(KEY)

    def rule(name, p, key):
        if "weight" in name:
            return init.normal(key, p.shape, std=0.01)
        return jnp.zeros_like(p)

    v = net.map_parameters(v, rule, KEY)
    assert float(jnp.abs(v["0"]["weight"]).max()) < 0.05
    np.testing.assert_array_equal(v["2"]["bias"], 0.0)

    def init_weight(name, w, key):
        if "weight" not in name:
            return w + 1
        w = init.uniform(key, w.shape, a=-10, b=10)
        return jnp.where(jnp.abs(w) >= 5, w, 0.0)

    v = net.map_parameters(v, init_weight, KEY)
    w = np.asarray(v["0"]["weight"])
    assert np.all((w == 0) | (np.abs(w) >= 5)) and np.any(w != 0)
    np.testing.assert_array_equal(v["0"]["bias"], 1.0)
    with pytest.raises(ValueError, match="size mismatch"):
        net.map_parameters(v, lambda n, p, k: jnp.zeros(7))


def test_load_state_dict_formats_errors_like_torch():
    net = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    v = net.init(KEY)
    sd = {k: np.asarray(a) for k, a in net.state_dict(v).items()}
    v2, result = net.load_state_dict(None, sd)
    assert repr(result) == "<All keys matched successfully>"
    np.testing.assert_array_equal(v2["1"]["weight"], v["1"]["weight"])

    bad = dict(sd)
    del bad["1.bias"]
    bad["extra"] = np.zeros(1)
    bad["0.bias"] = np.zeros(7)
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(v, bad)
    assert str(err.value) == (
        "Error(s) in loading state_dict for Sequential:\n"
        '\tMissing key(s) in state_dict: "1.bias". \n'
        '\tUnexpected key(s) in state_dict: "extra". \n'
        "\tsize mismatch for 0.bias: copying a param with shape (7,) from checkpoint, "
        "the shape in current model is (3,)."
    )
    del bad["0.bias"]
    v3, result = net.load_state_dict(v, bad, strict=False)
    assert result.missing_keys == ["0.bias", "1.bias"] and result.unexpected_keys == ["extra"]
    assert v3["1"]["bias"] is v["1"]["bias"]
    with pytest.raises(ValueError, match="pass variables=net.init"):
        net.load_state_dict(None, bad, strict=False)
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        net.load_state_dict(v, [1, 2])
    with pytest.raises(RuntimeError, match='While copying the parameter named "0.bias"'):
        net.load_state_dict(v, {**sd, "0.bias": [1.0, 2.0, 3.0]})


def test_load_state_dict_casts_and_unwraps_like_copy_():
    class Scalar(nn.Module):
        def __init__(self):
            super().__init__()
            self.s = nn.Parameter((), init.zeros)

    net = Scalar()
    v, _ = net.load_state_dict(net.init(KEY), {"s": np.array([2.5], dtype=np.float64)})
    assert v["s"].shape == () and v["s"].dtype == jnp.float32 and float(v["s"]) == 2.5


def test_repr_matches_torch_style():
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Linear(in_features=3, out_features=1, bias=True)\n"
        ")"
    )


def test_containers_index_like_torch():
    seq = nn.Sequential(nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 2))
    assert isinstance(seq[-1], nn.Linear) and len(seq) == 3
    sliced = seq[1:]
    assert [n for n, _ in sliced.named_children()] == ["1", "2"]
    with pytest.raises(IndexError):
        seq[3]
    ml = nn.ModuleList([nn.Linear(1, 1)]).append(nn.Linear(1, 1))
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    md = nn.ModuleDict({"z": nn.Linear(1, 1), "a": nn.Linear(1, 1)})
    assert [n for n, _ in md.named_parameters()][:2] == ["z.weight", "z.bias"]
    assert isinstance(md["a"], nn.Linear) and "z" in md


def test_next_key_inside_forward():
    class Noisy(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter((3,), init.ones)

        def forward(self, x):
            return x * self.w + jax.random.normal(self.next_key(), x.shape)

    net = Noisy()
    v = net.init(KEY)
    a = net(v, jnp.zeros(3), rng=KEY)
    b = net(v, jnp.zeros(3), key=KEY)  # key= still names the PRNG key (forward has no `key`)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="pass a PRNG key"):
        net(v, jnp.zeros(3), train=True)
    # eval hands out a placeholder that jax.random refuses, saying to pass rng=
    with pytest.raises(ValueError, match="given no PRNG key: pass one"):
        net(v, jnp.zeros(3))


def test_partial_initializers_share_one_compiled_sampler():
    from jaxinit.nn import _initialize

    a = nn.Parameter((5, 5), functools.partial(init.uniform, a=-0.5, b=0.5))
    b = nn.Parameter((5, 5), functools.partial(init.uniform, a=-0.5, b=0.5))
    assert _initialize._sampler(a.init, a.shape, a.dtype) is _initialize._sampler(
        b.init, b.shape, b.dtype
    )


def test_set_without_cast_refuses_a_silent_float32():
    net = nn.Linear(2, 1)
    v = net.init(KEY)
    with pytest.raises(ValueError, match="jax_enable_x64"):
        net.set(v, "weight", np.zeros((1, 2)), cast=False)
