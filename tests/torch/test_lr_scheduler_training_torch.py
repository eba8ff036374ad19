"""A ResNet-style training run with a learning-rate schedule, against torch: SGD with Nesterov
momentum and weight decay on two param groups (torchvision's recipe), MultiStepLR stepped
after every batch, 20 jitted steps of a tiny residual network started from torch's weights.
Losses, learning rates and final weights must agree, and the step must compile once."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

torch = pytest.importorskip("torch")
from torch.optim import lr_scheduler as theirs  # noqa: E402

from jaxinit import nn  # noqa: E402
from jaxinit.optim import SGD  # noqa: E402
from jaxinit.optim import lr_scheduler as ours  # noqa: E402

TRAIN_STEPS = 20
# Both sides compute in float32 but sum convolutions in different orders; measured over the
# 20 steps (torch seed 0), the worst differences were: loss 1.8e-7 relative, parameters
# 1.2e-7 absolute. The bounds are ~25x those. (A scheduler slip shows first, and exactly, in
# the lr sequences, which must be equal.)
TRAIN_LOSS_RTOL = 5e-6
TRAIN_PARAM_ATOL = 3e-6


class TorchResNetish(torch.nn.Module):
    def __init__(self):
        super().__init__()
        tnn = torch.nn
        self.conv = tnn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = tnn.BatchNorm2d(8)
        self.conv1 = tnn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn1 = tnn.BatchNorm2d(8)
        self.fc = tnn.Linear(8, 10)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        x = torch.relu(self.bn1(self.conv1(x)) + x)  # a residual block
        return self.fc(x.mean((2, 3)))


class ResNetish(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = jax.nn.relu(self.bn(self.conv(x)))
        x = jax.nn.relu(self.bn1(self.conv1(x)) + x)  # a residual block
        return self.fc(x.mean((2, 3)))


def _groups(named):
    """torchvision's recipe: weight decay on weights, none on BatchNorm and biases."""
    named = list(named)
    return [
        {"params": [p for n, p in named if p.dim() > 1], "weight_decay": 1e-4},
        {"params": [p for n, p in named if p.dim() <= 1], "weight_decay": 0.0},
    ]


@pytest.fixture(scope="module")
def resnet_runs():
    # 4 batches, 5 epochs; labels a model with global pooling can learn (from channel means)
    rng = np.random.default_rng(0)
    xs = rng.normal(0.3, 1.5, size=(4, 8, 3, 8, 8)).astype(np.float32)
    ys = np.argmax(xs.mean((3, 4)) @ rng.normal(size=(3, 10)), -1)
    xs, ys = np.tile(xs, (TRAIN_STEPS // 4, 1, 1, 1, 1)), np.tile(ys, (TRAIN_STEPS // 4, 1))
    torch.manual_seed(0)
    tmodel = TorchResNetish()
    net = ResNetish()
    variables, _ = net.load_state_dict(None, tmodel.state_dict())

    topt = torch.optim.SGD(_groups(tmodel.named_parameters()), lr=0.1, momentum=0.9, nesterov=True)
    tsched = theirs.MultiStepLR(topt, milestones=[6, 12, 16], gamma=0.2)
    tlosses, tlrs = [], []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only contend on a shared machine
    for x, y in zip(xs, ys):
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        topt.step()
        tsched.step()
        tlosses.append(loss.item())
        tlrs.append(tsched.get_last_lr())
    torch.set_num_threads(threads)

    params, buffers = net.split(variables)
    optimizer = SGD(_groups(net.named_parameters()), lr=0.1, momentum=0.9, nesterov=True)
    scheduler = ours.MultiStepLR(optimizer, milestones=[6, 12, 16], gamma=0.2)
    compiles = []

    def loss_fn(params, buffers, x, y):
        logits, variables = net(net.merge(params, buffers), x, train=True)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, net.split(variables)[1]

    @jax.jit
    def train_step(params, buffers, opt_state, x, y):
        compiles.append(None)
        (loss, buffers), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, buffers, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), buffers, opt_state, loss

    jlosses, jlrs = [], []
    with jax.numpy_dtype_promotion("standard"):  # optax's loss mixes weak types
        opt_state = optimizer.init(params)
        for x, y in zip(xs, ys):
            params, buffers, opt_state, loss = train_step(
                params, buffers, opt_state, jnp.asarray(x), jnp.asarray(y, jnp.int32)
            )
            opt_state = scheduler.step(opt_state)
            jlosses.append(float(loss))
            jlrs.append(scheduler.get_last_lr(opt_state))
    return dict(
        tlosses=np.array(tlosses), jlosses=np.array(jlosses), tlrs=tlrs, jlrs=jlrs,
        tmodel=tmodel, sd=net.state_dict(net.merge(params, buffers)), traces=len(compiles),
        compiles=train_step._cache_size(),
    )  # fmt: skip


def test_resnet_style_training_matches_torch(resnet_runs):
    r = resnet_runs
    assert r["jlrs"] == r["tlrs"]
    assert len({tuple(lrs) for lrs in r["tlrs"]}) == 4  # three decays happened
    assert r["traces"] == 1 and r["compiles"] == 1  # traced once, compiled once
    assert r["tlosses"][-1] < r["tlosses"][0] - 0.5  # it learns (2.20 -> 1.32)
    np.testing.assert_allclose(r["jlosses"], r["tlosses"], rtol=TRAIN_LOSS_RTOL)
    for name, p in r["tmodel"].named_parameters():
        np.testing.assert_allclose(
            np.asarray(r["sd"][name]), p.detach().numpy(), rtol=0, atol=TRAIN_PARAM_ATOL
        )
