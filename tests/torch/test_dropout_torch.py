"""Dropout family against torch: reprs, attributes, errors, warnings, and alpha dropout's
exact output values (masks are random in both, so values are compared as sets)."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
tnn, tF = torch.nn, torch.nn.functional

from jaxinit import nn  # noqa: E402
from jaxinit.nn import functional as F  # noqa: E402

NAMES = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


@pytest.mark.parametrize("name", NAMES)
def test_reprs_attributes_and_p_errors_as_torch(name):
    for kwargs in ({}, dict(p=0.2, inplace=True)):
        t, j = getattr(tnn, name)(**kwargs), getattr(nn, name)(**kwargs)
        assert repr(j) == repr(t) and (j.p, j.inplace) == (t.p, t.inplace)
    with pytest.raises(ValueError) as t_err:
        getattr(tnn, name)(1.5)
    with pytest.raises(ValueError) as j_err:
        getattr(nn, name)(1.5)
    assert str(j_err.value) == str(t_err.value)


def test_functional_errors_and_warnings_as_torch():
    x = np.ones((2, 3, 4, 5), np.float32)
    with pytest.raises(RuntimeError) as t_err:
        tF.dropout1d(torch.tensor(x))
    with pytest.raises(RuntimeError) as j_err:
        F.dropout1d(jnp.asarray(x), rng=jax.random.key(0))
    assert str(j_err.value) == str(t_err.value)
    for fn, shape in (("dropout2d", (2, 3, 4)), ("dropout2d", (2, 3)), ("dropout3d", (2, 3))):
        with warnings.catch_warnings(record=True) as tw:
            warnings.simplefilter("always")
            getattr(tF, fn)(torch.ones(shape))
        with warnings.catch_warnings(record=True) as jw:
            warnings.simplefilter("always")
            getattr(F, fn)(jnp.ones(shape), rng=jax.random.key(0))
        assert [str(w.message) for w in jw] == [str(w.message) for w in tw]
    for fn in ("dropout", "alpha_dropout"):
        with pytest.raises(ValueError) as t_err:
            getattr(tF, fn)(torch.ones(3), -0.1)
        with pytest.raises(ValueError) as j_err:
            getattr(F, fn)(jnp.ones(3), -0.1)
        assert str(j_err.value) == str(t_err.value)


@pytest.mark.parametrize("p", [0.2, 0.6])
def test_alpha_dropout_values_are_torch_values(p):
    x = np.linspace(0, 2, 4000).astype(np.float32)  # kept a x + b > the dropped b - a alpha
    torch.manual_seed(0)
    yt = tF.alpha_dropout(torch.tensor(x), p, training=True).numpy()
    y = np.asarray(F.alpha_dropout(jnp.asarray(x), p, training=True, rng=jax.random.key(0)))
    dropped_t, dropped_j = np.unique(yt[yt < yt.min() + 1e-6]), np.unique(y[y < y.min() + 1e-6])
    np.testing.assert_allclose(dropped_j, dropped_t, rtol=1e-6)  # the dropped constant
    kept_t, kept_j = yt != dropped_t[0], y != dropped_j[0]
    # kept elements: y = a x + b with torch's a and b (fit from torch's kept values)
    a, b = np.polyfit(x[kept_t], yt[kept_t], 1)
    np.testing.assert_allclose(y[kept_j], a * x[kept_j] + b, rtol=1e-5, atol=1e-5)
