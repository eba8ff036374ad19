"""Shared helpers of the jaxinit.init cross-checks against torch.nn.init."""

from unittest import mock

import jax
import jax.numpy as jnp
import pytest
import torch

from jaxinit import init

T = torch.nn.init
KEY = jax.random.key(0)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """torch's small ops are faster on one thread on this 2-core machine; restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tensor(shape, dtype=torch.float32):
    return torch.empty(shape, dtype=dtype)


def as_numpy(t):
    t = t.detach()
    return (t.float() if t.dtype in (torch.bfloat16, torch.float16) else t).numpy()


def recorded(torch_fn, ours_fn, shape, **kwargs):
    """The (low, high) or (mean, std) each side hands to its sampler: torch's calls to
    Tensor.uniform_/normal_, and ours to init._draw_uniform/_draw_normal, the one place every
    uniform- or normal-based initializer passes its bounds through (stubbed: no draw)."""
    calls = {"torch": [], "ours": []}
    uniform_, normal_ = torch.Tensor.uniform_, torch.Tensor.normal_

    def torch_uniform(self, a=0.0, b=1.0, generator=None):
        calls["torch"].append((a, b))
        return uniform_(self, a, b, generator=generator)

    def torch_normal(self, mean=0.0, std=1.0, generator=None):
        calls["torch"].append((mean, std))
        return normal_(self, mean, std, generator=generator)

    def ours_draw(key, shape, dt, low, high):
        calls["ours"].append((low, high))
        return jnp.zeros(shape, dt)

    with (
        mock.patch.object(torch.Tensor, "uniform_", torch_uniform),
        mock.patch.object(torch.Tensor, "normal_", torch_normal),
        mock.patch.object(init, "_draw_uniform", ours_draw),
        mock.patch.object(init, "_draw_normal", ours_draw),
    ):
        torch_fn(tensor(shape), **kwargs)
        ours_fn(KEY, shape, **kwargs)
    return calls["torch"], calls["ours"]
