"""jaxinit.testing.compare against real torch modules: it passes a correct port, and it finds
each classic porting mistake at exactly the layer that has it.

Every model here is written once over ``M`` (``torch.nn`` or ``jaxinit.nn``), so the port is
the torch code itself; the planted mistakes are constructor arguments.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _xla_speed import unoptimized_xla  # noqa: E402, F401 -- autouse: this module's compiles

from jaxinit import nn  # noqa: E402
from jaxinit.testing import assert_matches_torch, compare, tolerances  # noqa: E402


def xp_of(M):
    return torch if M is torch.nn else jnp


def net_of(M, pad=1, eps=1e-5, approximate="none", dtype=None, momentum=0.1):
    """conv-bn-relu, a residual block of two convs, a GELU head: 11 submodule calls."""
    kw = {} if dtype is None else {"dtype": dtype}

    class Block(M.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = M.Conv2d(4, 4, 3, padding=pad, bias=False, **kw)
            self.bn1 = M.BatchNorm2d(4, eps=eps, momentum=momentum, **kw)
            self.relu = M.ReLU(inplace=True)
            self.conv2 = M.Conv2d(4, 4, 3, padding=1, bias=False, **kw)
            self.bn2 = M.BatchNorm2d(4, **kw)

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))  # relu is called twice: two rows
            return self.relu(self.bn2(self.conv2(out)) + x)

    class Net(M.Module):
        def __init__(self):
            super().__init__()
            self.stem = M.Sequential(M.Conv2d(3, 4, 3, padding=1, **kw), M.BatchNorm2d(4, **kw))
            self.block = Block()
            self.act = M.GELU(approximate=approximate)
            self.head = M.Linear(4, 5, **kw)

        def forward(self, x):
            y = self.act(self.block(self.stem(x)))
            return self.head(y.mean((2, 3)))

    return Net()


X = np.random.RandomState(0).randn(2, 3, 8, 8).astype(np.float32)


@pytest.fixture(scope="module")
def reference():
    torch.manual_seed(0)
    tm = net_of(torch.nn)
    with torch.no_grad():  # non-trivial running statistics for eval
        for m in tm.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
    return tm


def test_a_correct_port_is_ok_in_eval_and_train_with_gradients(reference):
    for x in (X, jnp.asarray(X), torch.from_numpy(X)):  # numpy, jax and torch inputs
        report = assert_matches_torch(reference, net_of(nn), x)
    names = [r.label for r in report.rows]
    assert names == [
        "stem.0",
        "stem.1",
        "stem",
        "block.conv1",
        "block.bn1",
        "block.relu",
        "block.conv2",
        "block.bn2",
        "block.relu (call 2)",
        "block",
        "act",
        "head",
        "(model)",
    ]
    assert report.first_mismatch is None and report.hparam_mismatches == []
    assert all(r.torch_type == r.jaxinit_type for r in report.rows)
    assert report.rows[-1].torch_shape == (2, 5) and report.rows[-1].torch_dtype == "float32"
    assert str(report).startswith("jaxinit.testing.compare: OK")

    before = {k: v.clone() for k, v in reference.state_dict().items()}
    modes = [m.training for m in reference.modules()]
    report = compare(reference, net_of(nn), X, train=True, grads=True)
    assert report.ok, str(report)
    assert [b.name for b in report.buffers][:3] == [
        "stem.1.running_mean",
        "stem.1.running_var",
        "stem.1.num_batches_tracked",
    ]
    assert {g.name for g in report.grads} == {n for n, _ in reference.named_parameters()}
    # the torch module was left as it was: weights, buffers, mode and no .grad
    assert all(torch.equal(before[k], v) for k, v in reference.state_dict().items())
    assert [m.training for m in reference.modules()] == modes
    assert reference.head.weight.grad is None


@pytest.mark.parametrize(
    "mistake,name,field,values",
    [
        (dict(pad=0), "block.conv1", "padding", ((1, 1), (0, 0))),
        (dict(eps=1e-3), "block.bn1", "eps", (1e-5, 1e-3)),
        (dict(approximate="tanh"), "act", "approximate", ("none", "tanh")),
    ],
)
def test_a_planted_mistake_is_found_at_its_layer(reference, mistake, name, field, values):
    report = compare(reference, net_of(nn, **mistake), X)
    assert not report.ok
    assert report.first_mismatch == name
    first = [r.name for r in report.rows].index(name)
    assert all(r.ok for r in report.rows[:first])  # no earlier false alarm
    assert [
        (m.module, m.field, m.torch_value, m.jaxinit_value) for m in report.hparam_mismatches
    ] == [(name, field, *values)]
    text = str(report)
    want = f"{name}: {field} differs (torch {values[0]!r}, jaxinit {values[1]!r})"
    assert f"MISMATCH, first at {want}" in text.splitlines()[0]
    assert "<-- first mismatch" in next(
        line for line in text.splitlines() if line.strip().startswith(name + " ")
    )
    with pytest.raises(AssertionError, match="first mismatch"):
        assert_matches_torch(reference, net_of(nn, **mistake), X)


def test_gradients_and_running_statistics_find_a_wrong_eps_in_train_mode(reference):
    report = compare(reference, net_of(nn, eps=1e-3), X, train=True, grads=True)
    assert report.first_mismatch == "block.bn1"
    bad = {g.name for g in report.grads if not g.ok}
    assert "block.bn1.weight" in bad and "head.bias" not in bad
    assert not {b.name for b in report.buffers if not b.ok} & {"stem.1.running_mean"}


def test_a_flax_style_momentum_shows_in_the_running_statistics_only(reference):
    report = compare(reference, net_of(nn, momentum=0.9), X, train=True)
    assert report.first_mismatch is None  # train-mode outputs use batch statistics
    assert not report.ok
    assert str(report).splitlines()[0] == (
        "jaxinit.testing.compare: MISMATCH, block.bn1: momentum differs (torch 0.1, jaxinit 0.9)"
    )
    bad = [b.name for b in report.buffers if not b.ok]
    assert bad == ["block.bn1.running_mean", "block.bn1.running_var"]


def test_loss_as_one_callable_or_a_pair(reference):
    one = compare(reference, net_of(nn), X, grads=True, loss=lambda out, xp: xp.mean(out**2))
    pair = compare(
        reference,
        net_of(nn),
        X,
        grads=True,
        loss=(lambda t: (t**2).mean(), lambda j: jnp.mean(j**2)),
    )
    assert one.ok and pair.ok
    assert [g.max_abs for g in one.grads] == [g.max_abs for g in pair.grads]
    with pytest.raises(TypeError, match="pair"):
        compare(reference, net_of(nn), X, grads=True, loss=(lambda t: t,))


def test_tuple_and_dict_outputs_and_a_custom_layer_without_counterpart():
    def make(M, custom=False):
        xp = xp_of(M)

        class Split(M.Module):  # a tuple
            def forward(self, x):
                return x[:, :2], xp.tanh(x[:, 2:])

        class Heads(M.Module):  # a dict, keys not in sorted order
            def __init__(self):
                super().__init__()
                self.b = M.Linear(2, 3)
                self.a = M.Linear(2, 1)

            def forward(self, x):
                return {"score": self.b(x), "gate": self.a(x)}

        class Swish(M.Module):  # the port's own layer where torch calls a function
            def forward(self, x):
                return x * jax.nn.sigmoid(x)

        class Net(M.Module):
            def __init__(self):
                super().__init__()
                self.fc = M.Linear(3, 4)
                self.halves = Split()
                self.heads = Heads()
                if custom:
                    self.swish = Swish()

            def forward(self, x):
                h = self.fc(x)
                h = self.swish(h) if custom else torch.nn.functional.silu(h)
                a, b = self.halves(h)
                out = self.heads(a + b)
                return out["score"].sum(-1) + out["gate"][:, 0]

        return Net()

    torch.manual_seed(1)
    tm = make(torch.nn)
    x = np.random.RandomState(1).randn(2, 3).astype(np.float32)
    report = compare(tm, make(nn, custom=True), x, grads=True)
    assert report.ok, str(report)
    rows = {r.label: r for r in report.rows}
    assert rows["halves"].torch_shape == [(2, 2), (2, 2)]
    assert rows["heads"].torch_shape == [(2, 1), (2, 3)]  # sorted keys: gate, score
    swish = rows["swish"]
    assert (swish.ok, swish.torch_type, swish.jaxinit_type) == (None, None, "Swish")
    assert [r.label for r in report.rows][:2] == ["fc", "swish"]  # in its place
    assert [m.describe() for m in report.hparam_mismatches] == ["swish: jaxinit only (Swish)"]
    assert "jaxinit only: no torch counterpart" in str(report)


def test_a_shared_module_called_twice_has_a_row_per_call():
    def make(M, bias=True):
        class Net(M.Module):
            def __init__(self):
                super().__init__()
                self.fc = M.Linear(4, 4, bias=bias)
                self.again = self.fc  # one module under two names
                self.out = M.Linear(4, 2)

            def forward(self, x):
                return self.out(self.again(self.fc(x)))

        return Net()

    torch.manual_seed(2)
    tm = make(torch.nn)
    x = np.random.RandomState(2).randn(3, 4).astype(np.float32)
    report = compare(tm, make(nn), x, grads=True)
    assert report.ok, str(report)
    assert [r.label for r in report.rows] == ["fc", "fc (call 2)", "out", "(model)"]
    # a missing bias: the hyper-parameter and the state_dict both say so
    report = compare(tm, make(nn, bias=False), x)
    assert not report.ok
    assert ("fc", "bias", True, False) in [
        (m.module, m.field, m.torch_value, m.jaxinit_value) for m in report.hparam_mismatches
    ]
    assert report.state_dict.missing == ["fc.bias", "again.bias"]  # torch lists aliases
    assert "missing in the port: fc.bias" in str(report)


def test_bfloat16_ports_use_bfloat16_tolerances():
    torch.manual_seed(3)
    tm = net_of(torch.nn).to(torch.bfloat16)
    xb = torch.from_numpy(X).to(torch.bfloat16)
    report = compare(tm, net_of(nn, dtype=jnp.bfloat16), xb, train=True)
    assert report.ok, str(report)
    assert report.rows[-1].torch_dtype == "bfloat16"
    worst = max(r.max_rel for r in report.rows)
    assert worst > tolerances(np.float32, 1e-5, 1e-6)[0]  # float32 tolerances would fail
    assert tolerances(jnp.bfloat16, 1e-5, 1e-6) == (4 * 2.0**-7, 4 * 2.0**-7)
    # a wrong padding is still found, at its layer
    assert compare(tm, net_of(nn, pad=0, dtype=jnp.bfloat16), xb).first_mismatch == "block.conv1"


def test_train_mode_refuses_dropout_and_eval_compares_it():
    def make(M):
        return M.Sequential(M.Linear(4, 4), M.Dropout(0.5), M.Linear(4, 2))

    torch.manual_seed(4)
    tm = make(torch.nn)
    x = np.ones((2, 4), np.float32)
    assert compare(tm, make(nn), x).ok
    with pytest.raises(ValueError, match=r"compare in eval.*1 \(Dropout, p=0.5\)"):
        compare(tm, make(nn), x, train=True)


def test_own_variables_and_a_wrong_weight():
    torch.manual_seed(5)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    net = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1))
    variables, _ = net.load_state_dict(None, tm.state_dict())
    x = np.random.RandomState(5).randn(2, 3).astype(np.float32)
    assert compare(tm, net, x, variables=variables).ok
    wrong = net.set(variables, "2.bias", variables["2"]["bias"] + 1e-3)
    report = compare(tm, net, x, variables=wrong)
    assert report.first_mismatch == "2" and report.hparam_mismatches == []
    assert "2: values differ (max_abs 0.001" in str(report).splitlines()[0]


def _gelu_net(M, act):
    class Net(M.Module):
        def __init__(self):
            super().__init__()
            self.fc = M.Linear(4, 4)
            self.act = act

        def forward(self, x):
            return self.act(self.fc(x) * 50.0)  # outputs up to ~100: a large output scale

    return Net()


def test_elementwise_rule_finds_a_tanh_gelu_and_names_the_foreign_layer_type():
    from jaxinit.nn import functional as F

    class GELU(nn.Module):  # the port's own GELU: the tanh formula by mistake
        def forward(self, x):
            return F.gelu(x, approximate="tanh")

    class MyGELU(GELU):
        pass

    torch.manual_seed(0)
    tm = _gelu_net(torch.nn, torch.nn.GELU())
    x = np.random.RandomState(0).randn(8, 4).astype(np.float32)
    # under the old rule (|d| <= atol + rtol * max|torch|, ~1e-3 here) the tanh formula's
    # error (~1e-4 near |x| ~ 2) passed; elementwise it does not
    report = compare(tm, _gelu_net(nn, GELU()), x)
    assert report.first_mismatch == "act", str(report)
    row = next(r for r in report.rows if r.name == "act")
    scale = np.abs(tm(torch.from_numpy(x)).detach().numpy()).max()
    assert row.max_abs <= 1e-6 + 1e-5 * scale  # what the old rule allowed
    assert "worst at (" in report.headline()
    assert "torch.testing's rule" in str(report)
    # a module of another type at that name: the first line says it is the likely cause
    report = compare(tm, _gelu_net(nn, MyGELU()), x)
    line = str(report).splitlines()[0]
    assert "first at act" in line and "likely cause: act is a MyGELU where torch has a GELU" in line


def test_non_array_outputs_are_listed_not_dropped():
    class Cache:  # stands for Hugging Face's DynamicCache
        pass

    def make(M):
        class WithCache(M.Module):
            def __init__(self):
                super().__init__()
                self.fc = M.Linear(3, 2)

            def forward(self, x):
                return {"logits": self.fc(x), "past_key_values": Cache(), "attentions": None}

        return WithCache()

    torch.manual_seed(0)
    report = compare(make(torch.nn), make(nn), np.ones((2, 3), np.float32))
    assert report.ok, str(report)
    text = str(report)
    assert "not compared (not arrays): torch (model) output['past_key_values']: Cache" in text
    assert "jaxinit (model) output['past_key_values']: Cache" in text
    assert "attentions" not in text  # None is nothing to compare


def test_train_mode_names_random_layers_as_the_cause():
    from tests.torch._torchvision import import_torchvision

    tv = import_torchvision()

    class StochasticDepth(nn.Module):  # torchvision's, ported: asks for a key unconditionally
        def __init__(self, p, mode):
            super().__init__()
            self.p, self.mode = p, mode

        def forward(self, x):
            key = self.next_key()
            if not self.training or self.p == 0.0:
                return x
            keep = jax.random.bernoulli(key, 1 - self.p, (x.shape[0], 1))
            return jnp.where(keep, x / (1 - self.p), jnp.zeros((), x.dtype))

    def make(M, depth):
        class Net(M.Module):
            def __init__(self):
                super().__init__()
                self.fc = M.Linear(4, 4)
                self.drop = depth

            def forward(self, x):
                return self.drop(self.fc(x)) + x

        return Net()

    torch.manual_seed(0)
    tm = make(torch.nn, tv.ops.StochasticDepth(0.5, "row"))
    net = make(nn, StochasticDepth(0.5, "row"))
    x = np.random.RandomState(1).randn(16, 4).astype(np.float32)
    assert compare(tm, net, x).ok  # eval: next_key() without rng is fine
    report = compare(tm, net, x, train=True)
    assert not report.ok
    line = report.headline()
    assert "draw random numbers (drop (StochasticDepth), drop (next_key))" in line, line
    assert "compare in eval" in line
