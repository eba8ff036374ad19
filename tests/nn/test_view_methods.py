"""Ported-model friction in the module layer: methods other than ``forward`` through the
bound view (nanoGPT's ``generate``), ``next_key`` in eval (torchvision's StochasticDepth),
model surgery on declarations (nanoGPT's ``crop_block_size``) and torch's one-argument
``apply(fn)`` after ``init`` (DCGAN's ``weights_init``)."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxinit import TorchGenerator, init, nn
from jaxinit.nn import functional as F

KEY = jax.random.key(0)


class TinyGPT(nn.Module):
    def __init__(self, n=6, vocab=7):
        super().__init__()
        self.block_size = n
        self.wte = nn.Embedding(vocab, 4)
        self.wpe = nn.Embedding(n, 4)
        self.drop = nn.Dropout(0.1)
        self.head = nn.Linear(4, vocab, bias=False)
        self.register_buffer("bias", np.tril(np.ones((n, n), np.float32))[None, None])

    def forward(self, idx):
        t = idx.shape[1]
        x = self.drop(self.wte(idx) + self.wpe(jnp.arange(t))[None])
        att = jnp.where(self.bias[0, 0, :t, :t] > 0, x @ x.swapaxes(1, 2), -jnp.inf)
        x = F.dropout(jax.nn.softmax(att, -1), 0.1, self.training, rng=self.next_key()) @ x
        return self.head(x)

    @property
    def n_params(self):
        return sum(p.size for p in self.parameters())

    def generate(self, idx, steps, key):
        for _ in range(steps):
            logits = self(idx[:, -self.block_size :])[:, -1]
            key, sub = jax.random.split(key)
            idx = jnp.concatenate([idx, jax.random.categorical(sub, logits)[:, None]], 1)
        return idx

    def crop_block_size(self, n):
        self.block_size = n
        self.wpe.weight = nn.Parameter(self.wpe.weight[:n])
        self.bias = self.bias[:, :, :n, :n]


@pytest.fixture(scope="module")
def gpt():
    net = TinyGPT()
    return net, net.init(KEY)


def test_a_method_through_the_view_sees_its_variables(gpt):
    net, v = gpt
    idx = jnp.zeros((2, 1), jnp.int32)
    out = net.bind(v).generate(idx, 3, jax.random.key(1))
    # the same loop by hand, one root call per step
    want, key = idx, jax.random.key(1)
    for _ in range(3):
        logits = net(v, want)[:, -1]
        key, sub = jax.random.split(key)
        want = jnp.concatenate([want, jax.random.categorical(sub, logits)[:, None]], 1)
    np.testing.assert_array_equal(out, want)
    assert net.bind(v).n_params == 7 * 4 + 6 * 4 + 7 * 4  # a property reading self.weight


def test_a_method_through_a_child_view_and_its_writes_are_refused():
    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)
            self.register_buffer("count", jnp.zeros(()))

        def logits(self, x):
            return self.lin(x) * 2

        def bump(self):
            self.count = self.count + 1

    net = nn.Sequential(nn.Identity(), Head())
    v = net.init(KEY)
    x = jnp.ones((1, 2))
    lin = net[1].lin
    want = (x @ v["1"]["lin"]["weight"].T + v["1"]["lin"]["bias"][None]) * 2
    np.testing.assert_allclose(net.bind(v)[1].logits(x), want, rtol=1e-6)
    assert lin.weight is not None and not isinstance(lin.weight, jax.Array)  # still unbound
    with pytest.raises(AttributeError, match="read-only"):
        net.bind(v)[1].bump()


def test_next_key_in_eval_is_a_placeholder_every_consumer_takes(gpt):
    net, v = gpt
    x = jnp.zeros((1, 3), jnp.int32)
    y = net(v, x)  # Dropout and F.dropout ask for keys unconditionally
    np.testing.assert_array_equal(y, jax.jit(net)(v, x))
    with pytest.raises(ValueError, match="pass a PRNG key"):
        net(v, x, train=True)  # training without rng= still refuses
    out, _ = net(v, x, train=True, rng=KEY)
    assert out.shape == y.shape

    class Draws(nn.Module):  # randomness really drawn in eval: still an error
        def forward(self, x):
            return x + jax.random.normal(self.next_key(), x.shape)

    with pytest.raises(ValueError, match="Draws draws random numbers in an eval call"):
        Draws()(jnp.zeros(2))
    with pytest.raises(ValueError, match="needs randomness"):
        F.dropout(jnp.ones(2), 0.5, True, rng=nn._nokey.NoKey("x"))


def test_crop_block_size_crops_the_draw_and_the_variables_follow():
    net = TinyGPT()
    full = net.init(KEY)
    torch_gen = net.init(TorchGenerator(0))
    net.crop_block_size(4)
    v = net.init(KEY)  # the same key draws the uncropped values, cropped
    np.testing.assert_array_equal(v["wpe"]["weight"], full["wpe"]["weight"][:4])
    np.testing.assert_array_equal(v["wte"]["weight"], full["wte"]["weight"])
    np.testing.assert_array_equal(
        net.init(TorchGenerator(0))["wpe"]["weight"], torch_gen["wpe"]["weight"][:4]
    )
    assert "bias" in dict(net.named_buffers(v)) and v["bias"].shape == (1, 1, 4, 4)
    # the variables one holds (a checkpoint): the functional surgery, then they fit
    held = net.set(full, "wpe.weight", full["wpe"]["weight"][:4])
    held = net.set(held, "bias", full["bias"][:, :, :4, :4])
    assert net(held, jnp.zeros((1, 4), jnp.int32)).shape == (1, 4, 7)
    with pytest.raises(TypeError, match="not both"):
        nn.Parameter(net.wte.weight[:2], init=init.zeros)


def test_one_argument_apply_after_init_warns_with_the_functional_form():
    def weights_init(m):
        if isinstance(m, nn.Linear):
            m.weight.data.normal_(0.0, 0.02)

    net = nn.Sequential(nn.Linear(2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.apply(weights_init)  # before init: constructor-style, silent
    net.init(KEY)
    with pytest.warns(UserWarning, match=r"variables = net.apply\(variables, fn, key\)"):
        assert net.apply(weights_init) is net


def test_underscore_initializers_take_indexed_parts():
    emb = nn.Embedding(4, 3, padding_idx=2)
    init.normal_(emb.weight, 0.0, 0.02)
    init.zeros_(emb.weight[emb.padding_idx])
    init.constant_(emb.weight[0, :2], 5.0)
    w = np.asarray(emb.init(KEY)["weight"])
    assert np.all(w[2] == 0) and np.all(w[0, :2] == 5.0) and np.all(np.abs(w[1]) < 0.2)
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed"):
        init.kaiming_uniform_(emb.weight[1])  # a 1-D part: torch's error
    with pytest.raises(ValueError, match="generator="):
        init.normal_(emb.weight[1], generator=object())
