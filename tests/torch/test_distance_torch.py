"""cosine_similarity, pairwise_distance, cdist and their layers against torch: values and
input gradients over broadcasting, dims and norms; reprs and attributes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
tnn, tF = torch.nn, torch.nn.functional

from jaxinit import nn  # noqa: E402
from jaxinit.nn import functional as F  # noqa: E402

TOL = dict(rtol=1e-5, atol=1e-5)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


CASES = [
    ("cosine_similarity", (4, 3), (4, 3), {}),
    ("cosine_similarity", (2, 5, 3), (1, 5, 3), dict(dim=-1)),
    ("cosine_similarity", (3, 4), (4,), dict(dim=1)),
    ("pairwise_distance", (4, 3), (4, 3), {}),
    ("pairwise_distance", (4, 3), (3,), dict(p=1.0, keepdim=True)),
    ("pairwise_distance", (2, 4, 3), (2, 4, 3), dict(p=3.0, eps=1e-3)),
    ("cdist", (5, 3), (4, 3), {}),
    ("cdist", (2, 5, 3), (2, 4, 3), dict(p=1.0)),
    ("cdist", (5, 3), (4, 3), dict(p=float("inf"))),
]


@pytest.mark.parametrize("name,s1,s2,kwargs", CASES, ids=lambda v: str(v))
def test_values_and_gradients_match_torch(name, s1, s2, kwargs):
    a, b = randn(*s1), randn(*s2, seed=1)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    tfn = torch.cdist if name == "cdist" else getattr(tF, name)
    yt = tfn(ta, tb, **kwargs)
    g = randn(*yt.shape, seed=2)
    (yt * torch.tensor(g)).sum().backward()

    @jax.jit
    def go(a, b, g):
        y, pull = jax.vjp(lambda x, z: getattr(F, name)(x, z, **kwargs), a, b)
        return y, *pull(g)

    y, ga, gb = go(jnp.asarray(a), jnp.asarray(b), jnp.asarray(g))
    np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(np.asarray(ga), ta.grad.numpy(), **TOL)
    np.testing.assert_allclose(np.asarray(gb), tb.grad.numpy(), **TOL)


def test_layers_repr_attributes_and_outputs_match_torch():
    a, b = randn(3, 4), randn(3, 4, seed=1)
    for name, kwargs, fields in (
        ("CosineSimilarity", dict(dim=0, eps=1e-6), ("dim", "eps")),
        ("PairwiseDistance", dict(p=1.5, keepdim=True), ("norm", "eps", "keepdim")),
    ):
        t, j = getattr(tnn, name)(**kwargs), getattr(nn, name)(**kwargs)
        assert repr(j) == repr(t)
        for f in fields:
            assert getattr(j, f) == getattr(t, f)
        np.testing.assert_allclose(
            np.asarray(j(jnp.asarray(a), jnp.asarray(b))),
            t(torch.tensor(a), torch.tensor(b)).numpy(),
            **TOL,
        )
