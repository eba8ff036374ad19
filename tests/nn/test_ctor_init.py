"""Constructor-time init on declarations (pure JAX): events, JAX-key draws, errors."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinit import TorchGenerator, init, nn
from jaxinit.nn import _initialize
from jaxinit.nn._binding import name_hash


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.fc = nn.Linear(8, 4)
        self.emb = nn.Embedding(10, 4)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)
        self.apply(self._init_weights)

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=0.02)
            module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(std=0.5)
            module.weight.data[3].fill_(2.0)


def test_underscore_initializer_replaces_the_initializer_and_returns_the_declaration():
    w = nn.Parameter((4, 3), init=init.empty)
    assert init.kaiming_uniform_(w, a=1.0) is w
    assert w.init.func is init.kaiming_uniform and w.init.keywords["a"] == 1.0
    assert w.data is w and w.data.zero_() is w and w.init is init.zeros
    seqs = [seq for seq, _ in w._history]
    assert seqs == sorted(seqs) and len(seqs) == 3  # declaration, kaiming, zero
    assert nn.init is init  # torch's nn.init spelling


def test_jax_key_draws_only_the_last_initializer_once():
    net = Net()
    key = jax.random.key(0)
    v = net.init(key)
    # the batched path gives the plain per-variable draw of the last initializer
    for name in ("conv.weight", "fc.weight"):
        decl = dict(net.named_parameters())[name]
        want = decl.init(jax.random.fold_in(key, name_hash(name)), decl.shape, decl.dtype)
        assert np.array_equal(np.asarray(net.get(v, name)), np.asarray(want)), name
    want = init.normal(jax.random.fold_in(key, name_hash("fc.weight")), (4, 8), std=0.02)
    assert np.array_equal(np.asarray(v["fc"]["weight"]), np.asarray(want))
    assert not np.asarray(v["conv"]["bias"]).any() and not np.asarray(v["fc"]["bias"]).any()
    emb = np.asarray(v["emb"]["weight"])
    assert (emb[3] == 2).all() and 0.3 < emb[np.arange(10) != 3].std() < 0.7
    fast = _initialize._fill(net.fc.bias) is not None and _initialize._one_draw(net.fc.weight)
    assert fast  # zero_ and normal_ stay on the batched fast path


def test_torch_generator_consumes_intermediate_draws_and_zero_draw_inits_nothing():
    def make(reinit):
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Linear(3, 2)
                reinit(self.a)
                self.b = nn.Linear(3, 2)

        return M()

    base = make(lambda m: None).init(TorchGenerator(0))
    zeros = make(lambda m: (init.zeros_(m.weight), m.bias.data.fill_(1))).init(TorchGenerator(0))
    assert np.array_equal(base["b"]["weight"], zeros["b"]["weight"])  # nothing consumed
    drawn = make(lambda m: m.weight.data.normal_().zero_()).init(TorchGenerator(0))
    assert not np.asarray(drawn["a"]["weight"]).any()
    assert not np.array_equal(base["b"]["weight"], drawn["b"]["weight"])  # normal_ consumed


def test_empty_draws_nothing():
    assert np.array_equal(init.empty(None, (2, 3)), np.zeros((2, 3), np.float32))
    p = nn.Parameter((5,), init=init.empty)
    assert _initialize._fill(p) is not None


@pytest.mark.parametrize(
    "value",
    [np.zeros((3, 4), np.float32), jnp.zeros((3, 4))],
    ids=["numpy", "jax"],
)
def test_underscore_initializer_on_an_array_explains_the_functional_form(value):
    with pytest.raises(TypeError, match=r"init\.kaiming_normal\(key, m\.weight\.shape, mode="):
        init.kaiming_normal_(value, mode="fan_out")
    with pytest.raises(TypeError, match=r"init\.zeros\(None, "):
        init.zeros_(value)


def test_underscore_initializer_on_a_bound_array_inside_apply():
    net = nn.Linear(3, 2)
    v = net.init(jax.random.key(0))

    def fn(m, key):
        init.normal_(m.weight, std=0.1)

    with pytest.raises(TypeError, match="net.apply"):
        net.apply(v, fn, jax.random.key(1))


def test_argument_errors_come_at_the_call_and_record_nothing():
    w = nn.Parameter((5,), init=init.empty)
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed"):
        init.kaiming_normal_(w)
    with pytest.raises(ValueError, match="Mode fan_nope not supported"):
        init.kaiming_normal_(nn.Parameter((2, 2), init=init.empty), mode="fan_nope")
    with pytest.raises(ValueError, match="drop generator="):
        init.normal_(w, generator=TorchGenerator(0))
    with pytest.raises(ValueError, match="overflow"):
        nn.Buffer((2,), init=init.zeros, dtype=jnp.int8).fill_(1000)
    with pytest.raises(IndexError):
        w[7].zero_()
    with pytest.raises(TypeError, match="tie it"):
        w.copy_(nn.Parameter((5,), init=init.zeros))
    assert len(w._history) == 1


def test_patches_compose_under_a_jax_key():
    p = nn.Parameter((4, 3), init=functools.partial(init.uniform, a=1.0, b=2.0))
    p.mul_(2).add_(1)[1:3].zero_()
    p[0].normal_(mean=10.0, std=0.1)
    v = np.asarray(p.init(jax.random.key(0), p.shape, p.dtype))
    assert ((v[3] >= 3) & (v[3] < 5)).all() and not v[1:3].any() and abs(v[0].mean() - 10) < 1
    assert "[slice(1, 3, None)].zero_()" in repr(p)


def test_torch_form_apply_visits_children_first_and_returns_self():
    seen = []
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(2, 1)))
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "ReLU", "Linear", "Sequential", "Sequential"]


def test_tied_and_replaced_declarations_keep_their_draws_in_the_replay():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 3)
            self.b = nn.Linear(3, 3)  # b.weight drawn, then replaced by the tie
            self.b.weight = self.a.weight
            self.c = nn.Linear(3, 3)

    class Untied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 3)
            self.b = nn.Linear(3, 3)
            self.c = nn.Linear(3, 3)

    t, u = Tied().init(TorchGenerator(0)), Untied().init(TorchGenerator(0))
    assert np.array_equal(t["c"]["weight"], u["c"]["weight"])
    assert np.array_equal(t["b"]["bias"], u["b"]["bias"])
