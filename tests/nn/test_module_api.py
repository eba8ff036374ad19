"""Module API details: the bound view, non-persistent buffers in every loading path, the call's
``rng=``/``key=`` keyword, extra state through jaxinit.save/load, messages for torch habits."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxinit
from jaxinit import init, nn

KEY = jax.random.key(0)


class Conv(nn.Module):
    def __init__(self, c1, c2):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, 1, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Seed000(nn.Module):
    def __init__(self):
        super().__init__()
        self.A = nn.Sequential(Conv(1, 1), Conv(1, 2))


class Masked(nn.Module):
    """A causal mask and position ids as non-persistent buffers (GPT-2's pattern)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.register_buffer("mask", jnp.tril(jnp.ones((3, 3))), persistent=False)
        self.register_buffer("pos", nn.Buffer((3,), init.zeros).init(None, (3,)), persistent=False)

    def forward(self, x):
        return self.lin(x) @ self.mask + self.pos[None]


# -- the bound view ------------------------------------------------------------------------
def test_bound_view_reads_with_torchs_spelling_without_copies():
    net = Seed000()
    v = net.init(KEY)
    bound = net.bind(v)
    assert bound.A[1].conv.weight is v["A"]["1"]["conv"]["weight"]  # the array, no copy
    assert bound.A[-1].conv.weight is v["A"]["1"]["conv"]["weight"]
    sd = bound.A[1].state_dict()
    assert list(sd) == [
        "conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
        "bn.num_batches_tracked",
    ]  # fmt: skip
    assert sd["bn.weight"] is v["A"]["1"]["bn"]["weight"]
    assert [n for n, _ in bound.A[0].named_parameters()] == ["conv.weight", "bn.weight", "bn.bias"]
    x = jnp.ones((1, 1, 4, 4))
    y = bound.A[1].conv(x)
    np.testing.assert_array_equal(y, net.A[1].conv(v["A"]["1"]["conv"], x))
    assert isinstance(bound.A[1].conv, nn.Conv2d) and bound.A[1].conv.stride == (1, 1)
    assert [m.__class__.__name__ for m in bound.A] == ["Conv", "Conv"]
    assert len(bound.A) == 2 and repr(bound.A[0].act) == "SiLU()"
    assert bound.get_parameter("A.1.conv.weight") is v["A"]["1"]["conv"]["weight"]
    assert int(bound.get_buffer("A.0.bn.num_batches_tracked")) == 0
    module, variables = bound.A[1].unbind()
    assert module is net.A[1] and variables["conv"]["weight"] is v["A"]["1"]["conv"]["weight"]


def test_bound_view_is_read_only_and_names_the_functional_calls():
    net = Seed000()
    bound = net.bind(net.init(KEY))
    with pytest.raises(AttributeError, match=r"read-only .*net\.set\(variables.*net\.apply"):
        bound.A[1].conv.weight = jnp.zeros((2, 1, 1, 1))
    with pytest.raises(AttributeError, match="read-only"):
        bound.A[0] = nn.Identity()
    with pytest.raises(AttributeError, match="read-only"):
        bound.A[1].load_state_dict({})


def test_bound_view_checks_the_variables_and_resolves_ties():
    shared = nn.Linear(2, 2)
    net = nn.Sequential(shared, nn.ReLU(), shared)
    v = net.init(KEY)
    bound = net.bind(v)
    assert bound[2].weight is bound[0].weight is v["0"]["weight"]
    assert list(bound.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    with pytest.raises(ValueError, match="missing: 0.bias"):
        net.bind({"0": {"weight": v["0"]["weight"]}})


# -- non-persistent buffers --------------------------------------------------------------------
def test_non_persistent_buffers_come_from_declarations_in_every_path(tmp_path):
    net = Masked()
    v = net.init(KEY)
    assert set(v) == {"lin"}  # not stored: a checkpoint has no place for them either
    x = jnp.ones((2, 3))
    y = net(v, x)
    assert [n for n, _ in net.named_buffers(v)] == ["mask", "pos"]
    np.testing.assert_array_equal(net.get(v, "mask"), np.tril(np.ones((3, 3))))
    # net.load_state_dict(None, net.state_dict(v))
    v2, result = net.load_state_dict(None, net.state_dict(v))
    assert str(result) == "<All keys matched successfully>"
    np.testing.assert_array_equal(net(v2, x), y)
    # jaxinit.load(f, like=jax.eval_shape(net.init, key)), from a state_dict and from variables
    for i, tree in enumerate([net.state_dict(v), v]):
        path = tmp_path / f"m{i}.msgpack"
        jaxinit.save(tree, path)
        loaded = jaxinit.load(path, like=jax.eval_shape(net.init, KEY))
        np.testing.assert_array_equal(net(loaded, x), y)
    # a tree that does hold one (an older tree, or a forward that updated it) is used as given
    held = {**v, "mask": jnp.zeros((3, 3))}
    np.testing.assert_array_equal(net(held, x), jnp.zeros((2, 3)))


def test_load_strict_false_never_returns_an_abstract_leaf(tmp_path):
    net = Masked()
    other = nn.Module()
    other.lin = nn.Linear(3, 3)
    other.extra = nn.Linear(3, 1)
    path = tmp_path / "m.msgpack"
    jaxinit.save(net.state_dict(net.init(KEY)), path)
    tree, keys = jaxinit.load(path, like=jax.eval_shape(other.init, KEY), strict=False)
    assert sorted(keys.missing_keys) == ["extra.bias", "extra.weight"]
    leaves = jax.tree.leaves(tree)
    assert leaves and all(isinstance(x, jax.Array) for x in leaves)
    assert set(tree) == {"lin"}  # the missing module is left out, not a ShapeDtypeStruct


def test_non_persistent_buffer_with_a_random_initializer_is_refused_with_the_fix():
    m = nn.Module()
    with pytest.raises(ValueError, match=r"register it with an array"):
        m.register_buffer("noise", nn.Buffer((3,), init.normal), persistent=False)
    m.register_buffer("zero", nn.Buffer((3,), init.zeros), persistent=False)  # a fill is fine
    np.testing.assert_array_equal(m.get({}, "zero"), np.zeros(3))


# -- rng= and key= -----------------------------------------------------------------------------
def test_rng_is_the_prng_key_and_key_goes_to_forward_when_forward_takes_it():
    class Attn(nn.Module):
        def forward(self, query, key, value):
            return query + key + value

    class Noisy(nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(0.5)

        def forward(self, x):
            return self.drop(x)

    one = jnp.ones(3)
    np.testing.assert_array_equal(Attn()({}, one, key=one, value=one), 3 * one)
    a, _ = Noisy()({}, jnp.ones(64), train=True, rng=KEY)
    b, _ = Noisy()({}, jnp.ones(64), train=True, key=KEY)  # key= still the PRNG key here
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="got both rng= and key="):
        Noisy()({}, jnp.ones(4), train=True, rng=KEY, key=KEY)


# -- extra state -------------------------------------------------------------------------------
class Tokenized(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embed = nn.Embedding(4, 2)
        self.vocab = vocab

    def get_extra_state(self):
        return {"vocab": self.vocab, "version": 3}

    def set_extra_state(self, state):
        self.vocab = state["vocab"]


def test_extra_state_round_trips_through_state_dict_and_jaxinit_save_load(tmp_path):
    net = nn.Sequential(Tokenized(["<pad>", "a", "b", "c"]))
    v = net.init(KEY)
    sd = net.state_dict(v)
    assert list(sd) == ["0._extra_state", "0.embed.weight"]
    jaxinit.save(sd, tmp_path / "tok.msgpack")
    fresh = nn.Sequential(Tokenized([]))
    v2, result = fresh.load_state_dict(None, jaxinit.load(tmp_path / "tok.msgpack"))
    assert str(result) == "<All keys matched successfully>"
    assert fresh[0].vocab == ["<pad>", "a", "b", "c"]
    np.testing.assert_array_equal(v2["0"]["embed"]["weight"], v["0"]["embed"]["weight"])


# -- TorchGenerator where a key is taken ---------------------------------------------------------
def test_torch_generator_is_accepted_by_apply_map_parameters_and_reset_parameters():
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    v = net.init(KEY)
    g = jaxinit.TorchGenerator(0)
    v1 = net.apply(v, lambda m, k: m.reset_parameters(k) if isinstance(m, nn.Linear) else None, g)
    assert v1["0"]["weight"].shape == (4, 3)
    v2 = net.map_parameters(v, lambda n, w, k: init.normal(k, w.shape), jaxinit.TorchGenerator(0))
    assert not np.array_equal(v2["0"]["weight"], v2["1"]["weight"][:, :3][:3])


def test_load_state_dict_copies_host_arrays_and_compiles_nothing():
    """Host arrays go onto the device without a program compiled per shape (jnp.asarray
    stages each new shape through a compiled copy), and later changes to the caller's numpy
    arrays (a torch tensor's .numpy() view, say) do not show in the loaded variables, whether
    or not their buffers are 64-byte aligned (jax's CPU client adopts aligned ones)."""
    from jax import monitoring

    def at_offset(shape, dtype, offset):  # an array of ones `offset` bytes past alignment
        n = int(np.prod(shape)) * np.dtype(dtype).itemsize
        raw = np.empty(n + 128, np.uint8)
        start = (-raw.ctypes.data) % 64 + offset
        out = raw[start : start + n].view(dtype).reshape(shape)
        out[...] = 1
        return out

    net = nn.Sequential(nn.Linear(3, 5), nn.Linear(5, 7), nn.BatchNorm1d(7))
    variables = net.state_dict(net.init(KEY)).items()
    sd = {k: at_offset(np.shape(a), np.asarray(a).dtype, 0) for k, a in variables}
    sd["1.weight"] = at_offset(sd["1.weight"].shape, np.float32, 4)  # and one unaligned
    assert sd["0.weight"].ctypes.data % 64 == 0
    compiles = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(event)

    monitoring.register_event_duration_secs_listener(listener)
    try:
        v, _ = net.load_state_dict(None, sd)
    finally:
        monitoring.unregister_event_duration_listener(listener)
    assert compiles == []
    for a in sd.values():
        a[...] = 9
    for a in jax.tree_util.tree_leaves(v):
        assert np.all(np.asarray(a) == 1)


# -- messages for torch habits -------------------------------------------------------------------
def test_load_state_dict_without_variables_says_what_to_pass():
    net = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"net\.load_state_dict\(None, state_dict\)"):
        net.load_state_dict(net.state_dict(net.init(KEY)))


def test_empty_parameter_and_reprs():
    assert nn.Parameter().shape == (0,)
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.SiLU(inplace=True)) == "SiLU(inplace=True)"
    assert repr(nn.LeakyReLU(0.2, True)) == "LeakyReLU(negative_slope=0.2, inplace=True)"


def test_a_torch_generator_as_the_calls_rng_is_refused_with_the_fix():
    with pytest.raises(TypeError, match=r"rng must be a JAX PRNG key"):
        nn.Dropout(0.5)({}, jnp.ones(4), train=True, rng=jaxinit.TorchGenerator(0))


def test_bound_view_of_parameter_containers_gives_arrays():
    net = nn.Module()
    net.scales = nn.ParameterList([nn.Parameter(jnp.full(2, float(i))) for i in range(3)])
    net.bias = nn.ParameterDict({"cls": nn.Parameter(jnp.ones(2))})
    v = net.init(KEY)
    bound = net.bind(v)
    assert bound.scales[1] is v["scales"]["1"]
    assert [float(s[0]) for s in bound.scales] == [0.0, 1.0, 2.0]
    assert bound.bias["cls"] is v["bias"]["cls"]
