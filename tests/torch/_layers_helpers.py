"""Shared pieces of the layer cross-checks (tests/torch/test_layers_torch.py,
test_batchnorm_torch.py, test_layers_misc_torch.py): build a layer pair, load torch's values,
compare outputs and gradients, expect torch's errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
tnn = torch.nn

from jaxinit.nn.batchnorm import BatchNorm1d, BatchNorm2d  # noqa: E402
from jaxinit.nn.conv import Conv1d, Conv2d  # noqa: E402
from jaxinit.nn.dropout import Dropout  # noqa: E402
from jaxinit.nn.normalization import LayerNorm  # noqa: E402
from jaxinit.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d  # noqa: E402
from jaxinit.nn.sparse import Embedding  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:Using padding='same' with even kernel lengths:UserWarning"  # torch's, harmless
)
TOL = dict(rtol=1e-5, atol=1e-5)  # float32, sums of at most a few hundred O(1) products
JAX = {
    "Conv1d": Conv1d,
    "Conv2d": Conv2d,
    "BatchNorm1d": BatchNorm1d,
    "BatchNorm2d": BatchNorm2d,
    "LayerNorm": LayerNorm,
    "Embedding": Embedding,
    "Dropout": Dropout,
    "MaxPool2d": MaxPool2d,
    "AvgPool2d": AvgPool2d,
    "AdaptiveAvgPool2d": AdaptiveAvgPool2d,
}


def pair(name, *args, **kwargs):
    """The same layer built in torch and in jaxinit."""
    return getattr(tnn, name)(*args, **kwargs), JAX[name](*args, **kwargs)


def load(net, tmod):
    """jaxinit variables holding exactly torch's current values."""
    variables, result = net.load_state_dict(None, {k: v for k, v in tmod.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys
    return variables


def randomize(tmod, seed=0):
    """Give every float parameter of a torch module non-trivial values (BN/LN are 1s/0s)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in tmod.parameters():
            p.uniform_(-1.5, 1.5, generator=g)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def check_same(tmod, net, x):
    """Eval outputs, and the input and parameter gradients of a random projection, agree."""
    tmod.eval()
    variables = load(net, tmod)
    assert list(net.state_dict(variables)) == list(tmod.state_dict())
    xt = torch.tensor(x, requires_grad=True)
    yt = tmod(xt)
    g = randn(*yt.shape, seed=1)
    (yt * torch.tensor(g)).sum().backward()

    @jax.jit  # one compilation per layer instead of one per eager op: keeps the file fast
    def run(v, xx):
        y, pullback = jax.vjp(net, v, xx)
        return y, *pullback(jnp.asarray(g))

    y, gv, gx = run(variables, jnp.asarray(x))
    assert tuple(y.shape) == tuple(yt.shape)
    np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(np.asarray(gx), xt.grad.numpy(), **TOL)
    for name, p in tmod.named_parameters():
        np.testing.assert_allclose(np.asarray(net.get(gv, name)), p.grad.numpy(), **TOL)


def raises_like_torch(torch_fn, jax_fn):
    """Both raise; jaxinit's message starts with torch's."""
    with pytest.raises(Exception) as t_err:
        torch_fn()
    with pytest.raises(Exception) as j_err:
        jax_fn()
    assert str(j_err.value).startswith(str(t_err.value)), (str(t_err.value), str(j_err.value))
    return t_err.value, j_err.value
