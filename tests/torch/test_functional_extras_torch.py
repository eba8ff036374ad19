"""torch.nn.functional's remaining names against torch: pdist and the *_with_indices pools."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _xla_speed import unoptimized_xla  # noqa: E402, F401 -- autouse: this module's compiles

from jaxinit.nn import functional as F


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_pdist_values_and_gradients_match_torch(p):
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    t = torch.from_numpy(x).requires_grad_(True)
    want = TF.pdist(t, p)
    want.sum().backward()
    got, grad = jax.value_and_grad(lambda a: F.pdist(a, p).sum())(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(F.pdist(x, p)), want.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(float(got), float(want.detach().sum()), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(grad), t.grad.numpy(), rtol=1e-4, atol=1e-6)
    with pytest.raises(RuntimeError, match="pdist only supports 2D tensors"):
        F.pdist(x[0])


@pytest.mark.parametrize(
    "name, shape, arg",
    [
        ("max_pool1d_with_indices", (2, 3, 9), 2),
        ("max_pool2d_with_indices", (2, 3, 6, 5), 2),
        ("max_pool3d_with_indices", (1, 2, 4, 5, 4), 2),
        ("adaptive_max_pool1d_with_indices", (2, 3, 9), 4),
        ("adaptive_max_pool2d_with_indices", (2, 3, 7, 5), (3, 2)),
        ("adaptive_max_pool3d_with_indices", (1, 2, 5, 4, 6), 2),
    ],
)
def test_with_indices_forms_return_torch_values_and_indices(name, shape, arg):
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    y, i = getattr(F, name)(jnp.asarray(x), arg)
    ty, ti = getattr(TF, name)(torch.from_numpy(x), arg)
    np.testing.assert_array_equal(np.asarray(y), ty.numpy())
    np.testing.assert_array_equal(np.asarray(i), ti.numpy())
