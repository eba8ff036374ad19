"""Training parity with torch: one LeNet with BatchNorm and a tied hidden layer, built in torch
and in jaxinit, started from torch's initial weights (load_state_dict), trained for the same
steps on the same batches with SGD + momentum. The loss curves, the parameters and the
BatchNorm running statistics must agree."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

torch = pytest.importorskip("torch")
tnn = torch.nn

from jaxinit import nn  # noqa: E402

STEPS, BATCH, LR, MOMENTUM = 8, 16, 0.1, 0.9
# Tolerances. Both sides compute in float32 but sum convolutions and matmuls in different
# orders, so one forward/backward differs by a few ulp, and each SGD step carries that into the
# weights. Measured over 8 steps for torch seeds 0-3, the worst differences were: loss 2.2e-7
# relative, parameters 6.0e-8, running stats 1.8e-7, eval logits 1.2e-7 (absolute). The bounds
# are ~50x those. What a semantic slip does to the same run (measured): Nesterov momentum moves
# the loss by 1.5e-2 relative; an untied shared layer moves the loss by 1.5e-4 and parameters by
# 9e-2; BatchNorm momentum 0.09 instead of 0.1 moves the stats by 2.7e-2; eps 1e-4 instead of
# 1e-5 moves the stats by 2.2e-5 and the eval logits by 1.2e-5. All fail these bounds.
LOSS_RTOL = 1e-5
PARAM_ATOL = 5e-6
STATS_ATOL = 1e-5
EVAL_ATOL = 5e-6


class TorchLeNet(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(1, 6, 3, padding=1, bias=False)
        self.bn1 = tnn.BatchNorm2d(6)
        self.pool1 = tnn.MaxPool2d(2, 2)
        self.conv2 = tnn.Conv2d(6, 16, 3, padding=1)
        self.bn2 = tnn.BatchNorm2d(16)
        self.pool2 = tnn.MaxPool2d(2, 2)
        shared = tnn.Linear(32, 32)
        self.classifier = tnn.Sequential(
            tnn.Linear(64, 32),
            tnn.ReLU(),
            shared,
            tnn.ReLU(),
            shared,
            tnn.ReLU(),
            tnn.Linear(32, 10),
        )

    def forward(self, x):
        x = self.pool1(torch.relu(self.bn1(self.conv1(x))))
        x = self.pool2(torch.relu(self.bn2(self.conv2(x))))
        return self.classifier(x.flatten(1))


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(6)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.pool2 = nn.MaxPool2d(2, 2)
        shared = nn.Linear(32, 32)
        self.classifier = nn.Sequential(
            nn.Linear(64, 32), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(), nn.Linear(32, 10)
        )

    def forward(self, x):
        x = self.pool1(jax.nn.relu(self.bn1(self.conv1(x))))
        x = self.pool2(jax.nn.relu(self.bn2(self.conv2(x))))
        return self.classifier(x.reshape(x.shape[0], -1))


def batches():
    """STEPS batches of (BATCH, 1, 8, 8) inputs, not centred (so BN's statistics matter), and
    learnable labels (the argmax of a fixed random projection), from a fixed numpy generator."""
    rng = np.random.default_rng(0)
    xs = rng.normal(0.5, 2.0, size=(STEPS, BATCH, 1, 8, 8)).astype(np.float32)
    projection = rng.normal(size=(64, 10))
    ys = np.argmax(xs.reshape(STEPS, BATCH, 64) @ projection, axis=-1).astype(np.int64)
    return xs, ys


def train_torch(model, xs, ys):
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=0)
    model.train()
    losses = []
    for x, y in zip(xs, ys):
        opt.zero_grad()
        loss = tnn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses)


def train_jaxinit(net, variables, xs, ys):
    params, buffers = net.split(variables)
    optimizer = optax.sgd(LR, momentum=MOMENTUM)  # torch's SGD: buf = m * buf + g; p -= lr * buf

    def loss_fn(params, buffers, x, y):
        logits, variables = net(net.merge(params, buffers), x, train=True)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, net.split(variables)[1]

    @jax.jit
    def step(params, buffers, opt_state, x, y):
        (loss, buffers), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, buffers, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), buffers, opt_state, loss

    losses = []
    with jax.numpy_dtype_promotion("standard"):  # optax mixes weak types; conftest is strict
        opt_state = optimizer.init(params)
        for x, y in zip(xs, ys):
            params, buffers, opt_state, loss = step(
                params, buffers, opt_state, jnp.asarray(x), jnp.asarray(y, jnp.int32)
            )
            losses.append(float(loss))
    return np.array(losses), net.merge(params, buffers)


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    tmodel = TorchLeNet()
    net = LeNet()
    variables, result = net.load_state_dict(None, tmodel.state_dict())
    assert not result.missing_keys and not result.unexpected_keys
    xs, ys = batches()
    jax_losses, variables = train_jaxinit(net, variables, xs, ys)
    torch_losses = train_torch(tmodel, xs, ys)
    return net, variables, tmodel, jax_losses, torch_losses, xs


def test_loss_curves_agree(trained):
    _, _, _, jax_losses, torch_losses, _ = trained
    assert np.all(np.isfinite(jax_losses))
    assert torch_losses[-1] < torch_losses[0] - 0.05  # it learns (2.30 -> 2.16 for seed 0)
    np.testing.assert_allclose(jax_losses, torch_losses, rtol=LOSS_RTOL)


def test_parameters_and_tie_agree_after_training(trained):
    net, variables, tmodel, *_ = trained
    sd = net.state_dict(variables)
    tsd = tmodel.state_dict()
    assert list(sd) == list(tsd)  # same keys, same order, both alias keys of the tie
    assert sd["classifier.2.weight"] is sd["classifier.4.weight"]
    for name, p in tmodel.named_parameters():
        np.testing.assert_allclose(
            np.asarray(sd[name]), p.detach().numpy(), rtol=0, atol=PARAM_ATOL, err_msg=name
        )


def test_batchnorm_running_stats_agree(trained):
    net, variables, tmodel, *_ = trained
    sd = net.state_dict(variables)
    for bn in ("bn1", "bn2"):
        assert int(sd[f"{bn}.num_batches_tracked"]) == STEPS
        assert int(getattr(tmodel, bn).num_batches_tracked) == STEPS
        for stat in ("running_mean", "running_var"):
            theirs = getattr(getattr(tmodel, bn), stat).numpy()
            np.testing.assert_allclose(
                np.asarray(sd[f"{bn}.{stat}"]), theirs, rtol=0, atol=STATS_ATOL, err_msg=bn
            )


def test_eval_outputs_agree_after_training(trained):
    net, variables, tmodel, _, _, xs = trained
    tmodel.eval()
    with torch.no_grad():
        theirs = tmodel(torch.from_numpy(xs[0])).numpy()
    ours = np.asarray(net(variables, jnp.asarray(xs[0])))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=EVAL_ATOL)
