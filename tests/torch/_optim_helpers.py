"""A small model built in torch and in jaxinit from the same weights, and a jitted training
step, shared by the optimizer cross-checks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

from jaxinit import nn

IN, HIDDEN, OUT, BATCH = 5, 4, 3, 8


def torch_model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(IN, HIDDEN), torch.nn.Tanh(), torch.nn.Linear(HIDDEN, OUT)
    )


def jax_model(torch_net: torch.nn.Module):
    net = nn.Sequential(nn.Linear(IN, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, OUT))
    variables = net.init(jax.random.key(0))
    variables, _ = net.load_state_dict(variables, torch_net.state_dict())
    params, _ = net.split(variables)
    return net, params


def batches(steps: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        (
            rng.standard_normal((BATCH, IN), dtype=np.float32),
            rng.standard_normal((BATCH, OUT), dtype=np.float32),
        )
        for _ in range(steps)
    ]


def torch_steps(net, opt, data) -> None:
    for x, y in data:
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        opt.step()


def make_step(net, optimizer):
    """One jitted (grad, update, apply) step for ``optimizer``."""

    def loss_fn(params, x, y):
        return jnp.mean((net(params, x) - y) ** 2)

    @jax.jit
    def step(params, opt_state, x, y):
        grads = jax.grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    return step


def jax_steps(step, params, opt_state, data):
    for x, y in data:
        params, opt_state = step(params, opt_state, jnp.asarray(x), jnp.asarray(y))
    return params, opt_state


def flat_params(params) -> dict[str, np.ndarray]:
    from jaxinit.optim.optimizer import _flat

    return {k: np.asarray(v) for k, v in _flat(params).items()}


def max_excess(torch_net, params, rtol: float, atol: float) -> tuple[float, str]:
    """The largest ``|a - b| - (atol + rtol |b|)`` over all parameters and where it is."""
    ours = flat_params(params)
    worst, where = -np.inf, ""
    for name, t in torch_net.named_parameters():
        b = t.detach().numpy()
        excess = float(np.max(np.abs(ours[name] - b) - (atol + rtol * np.abs(b))))
        if excess > worst:
            worst, where = excess, name
    return worst, where
