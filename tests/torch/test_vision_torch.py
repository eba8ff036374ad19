"""F.grid_sample and F.affine_grid against torch: values and gradients for the input and the
grid over modes x padding modes x align_corners (4-d and 5-d), errors and warnings."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from _xla_speed import unoptimized_xla  # noqa: E402, F401 -- autouse: this module's compiles

from jaxinit.nn import functional as F  # noqa: E402

TOL = dict(rtol=1e-4, atol=1e-4)  # bicubic sums 16 taps of cubic weights


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


CASES = [  # every mode x padding mode, align_corners both ways, 4-d and 5-d
    (4, "bilinear", "zeros", False),
    (4, "bilinear", "border", True),
    (4, "bilinear", "reflection", False),
    (4, "bilinear", "reflection", True),
    (4, "nearest", "zeros", True),
    (4, "nearest", "reflection", False),
    (4, "bicubic", "zeros", False),
    (4, "bicubic", "border", True),
    (4, "bicubic", "reflection", True),
    (5, "bilinear", "zeros", True),
    (5, "bilinear", "reflection", False),
    (5, "nearest", "border", False),
]


@pytest.mark.parametrize("ndim,mode,padding_mode,align_corners", CASES)
def test_grid_sample_matches_torch(ndim, mode, padding_mode, align_corners):
    x = randn(2, 3, *(5, 6, 7)[: ndim - 2])
    grid = 1.3 * randn(2, *(4, 3, 5)[: ndim - 2], ndim - 2, seed=2)  # some points outside
    xt = torch.tensor(x, requires_grad=True)
    gt = torch.tensor(grid, requires_grad=True)
    yt = TF.grid_sample(xt, gt, mode, padding_mode, align_corners)
    cot = randn(*yt.shape, seed=1)
    (yt * torch.tensor(cot)).sum().backward()

    @jax.jit
    def run(a, b):
        y, pullback = jax.vjp(
            lambda a, b: F.grid_sample(a, b, mode, padding_mode, align_corners), a, b
        )
        return y, *pullback(cot)

    y, gx, gg = run(jnp.asarray(x), jnp.asarray(grid))
    np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(np.asarray(gx), xt.grad.numpy(), **TOL)
    np.testing.assert_allclose(np.asarray(gg), gt.grad.numpy(), **TOL)


@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 3, 4, 5, 3), (2, 1, 1, 6)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_matches_torch(size, align_corners):
    theta = randn(2, len(size) - 2, len(size) - 1)
    with pytest.warns(UserWarning) if align_corners and min(size[2:]) == 1 else _nothing():
        got = F.affine_grid(jnp.asarray(theta), size, align_corners=align_corners)
    want = TF.affine_grid(torch.tensor(theta), size, align_corners=align_corners)
    np.testing.assert_allclose(np.asarray(got), want.numpy(), rtol=1e-6, atol=1e-6)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def raises_like_torch(torch_fn, jax_fn):
    with pytest.raises(Exception) as t_err:
        torch_fn()
    with pytest.raises(Exception) as j_err:
        jax_fn()
    assert type(j_err.value) is type(t_err.value)
    assert str(j_err.value).startswith(str(t_err.value)), (str(t_err.value), str(j_err.value))


@pytest.mark.parametrize(
    "xs,gs,kwargs",
    [
        ((1, 1, 4, 4), (1, 2, 2, 2), dict(mode="cubic")),
        ((1, 1, 4, 4), (1, 2, 2, 2), dict(padding_mode="wrap")),
        ((1, 1, 4, 4), (2, 2, 2, 2), {}),
        ((1, 1, 4, 4, 4), (1, 2, 2, 2, 3), dict(mode="bicubic")),
    ],
)
def test_grid_sample_errors_as_torch(xs, gs, kwargs):
    x, g = np.ones(xs, np.float32), np.zeros(gs, np.float32)
    raises_like_torch(
        lambda: TF.grid_sample(torch.tensor(x), torch.tensor(g), align_corners=False, **kwargs),
        lambda: F.grid_sample(jnp.asarray(x), jnp.asarray(g), align_corners=False, **kwargs),
    )


def test_affine_grid_errors_and_default_warning_as_torch():
    theta = np.zeros((1, 2, 3), np.float32)
    for size in ((1, 3, 4), (1, 3, 0, 4)):
        raises_like_torch(
            lambda size=size: TF.affine_grid(torch.tensor(theta), size, False),
            lambda size=size: F.affine_grid(jnp.asarray(theta), size, False),
        )
    # a wrong theta: torch's message with the shape written as a tuple, not torch.Size
    with pytest.raises(ValueError) as t_err:
        TF.affine_grid(torch.tensor(theta), (1, 3, 4, 4, 4), False)
    with pytest.raises(ValueError) as j_err:
        F.affine_grid(jnp.asarray(theta), (1, 3, 4, 4, 4), False)
    assert str(j_err.value) == str(t_err.value).replace("torch.Size([1, 2, 3])", "(1, 2, 3)")
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.affine_grid(jnp.asarray(theta), (1, 3, 4, 4))
