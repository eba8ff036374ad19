"""Train a LeNet with BatchNorm and a tied layer on real handwritten digits, end to end.

The data is scikit-learn's ``load_digits``: 1797 grey 8x8 images of the digits 0-9 that ship
inside scikit-learn (no download), split 75/25 into train and test sets (stratified). The model
is LeNet-5 adapted to 8x8 inputs: 3x3 convolutions with padding 1 keep each stage's size, so
the two 2x2 max-pools give 8x8 -> 4x4 -> 2x2. (Upsampling to LeNet's 32x32 would add no
information and cost 16x the convolution work on a CPU.) Each convolution is followed by a
BatchNorm2d, and the classifier reuses one hidden ``Linear(84, 84)`` twice, as seed 000's
``net1`` does: a tie, stored once and trained as one array.

What it shows:

* seed-style initialisation by layer type with ``net.apply`` (He init for ReLU layers; seed
  002's ``normal(0, 0.01)`` for every Linear leaves this 4-Linear classifier stuck at chance
  level under SGD: try ``--init seed002``);
* ``params, buffers = net.split(variables)``: gradients and SGD with momentum (optax) see the
  parameters only; BatchNorm's running statistics come back from each ``train=True`` call;
* one ``jax.jit``-compiled training step, a tqdm progress bar (plain prints without tqdm),
  the test accuracy after every epoch (eval mode: running statistics);
* ``jaxinit.save(net.state_dict(variables), path)`` and ``net.load_state_dict(None,
  jaxinit.load(path))``, checked by evaluating the reloaded model.

Run: python examples/train_lenet.py [--epochs 20] [--quick] [--checkpoint lenet.msgpack]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxinit
from jaxinit import init, nn

try:
    from tqdm import tqdm
except ImportError:  # plain prints instead of a progress bar
    tqdm = None


class LeNet(nn.Module):
    """LeNet-5 for 8x8 inputs, with BatchNorm and a hidden layer used twice."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3, padding=1, bias=False)  # 8x8 -> 8x8
        self.bn1 = nn.BatchNorm2d(6)
        self.pool1 = nn.MaxPool2d(2, 2)  # -> 4x4
        self.conv2 = nn.Conv2d(6, 16, 3, padding=1, bias=False)  # 4x4 -> 4x4
        self.bn2 = nn.BatchNorm2d(16)
        self.pool2 = nn.MaxPool2d(2, 2)  # -> 2x2
        shared = nn.Linear(84, 84)  # used at positions 2 and 4: one weight, two names
        self.classifier = nn.Sequential(
            nn.Linear(16 * 2 * 2, 84),
            nn.ReLU(),
            shared,
            nn.ReLU(),
            shared,
            nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        x = self.pool1(jax.nn.relu(self.bn1(self.conv1(x))))
        x = self.pool2(jax.nn.relu(self.bn2(self.conv2(x))))
        return self.classifier(x.reshape(x.shape[0], -1))


def initialize_weights(m: nn.Module, key: jax.Array) -> None:
    """Seed 002's loop by layer type, with He init for the ReLU layers."""
    if isinstance(m, nn.Conv2d):
        m.weight = init.kaiming_normal(key, m.weight.shape, mode="fan_out", nonlinearity="relu")
        if m.bias is not None:
            m.bias = jnp.zeros_like(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        m.weight = jnp.ones_like(m.weight)
        m.bias = jnp.zeros_like(m.bias)
    elif isinstance(m, nn.Linear):
        m.weight = init.kaiming_uniform(key, m.weight.shape, nonlinearity="relu")
        m.bias = jnp.zeros_like(m.bias)


def initialize_weights_seed002(m: nn.Module, key: jax.Array) -> None:
    """Seed 002's choices exactly: xavier_normal convs, normal(0, 0.01) Linears."""
    if isinstance(m, nn.Conv2d):
        m.weight = init.xavier_normal(key, m.weight.shape)
        if m.bias is not None:
            m.bias = jnp.zeros_like(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        m.weight = jnp.ones_like(m.weight)
        m.bias = jnp.zeros_like(m.bias)
    elif isinstance(m, nn.Linear):
        m.weight = init.normal(key, m.weight.shape, mean=0, std=0.01)
        m.bias = jnp.zeros_like(m.bias)


def load_data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits as (N, 1, 8, 8) float32, standardised with the training set's mean and std."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images[:, None].astype(np.float32) / 16.0
    labels = digits.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=0.25, random_state=seed, stratify=labels
    )
    mean, std = x_train.mean(), x_train.std()
    return (x_train - mean) / std, (x_test - mean) / std, y_train, y_test


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="epochs (default 20)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05, help="peak SGD learning rate")
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--init", choices=["he", "seed002"], default="he")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="1 epoch of 5 steps (smoke test)")
    parser.add_argument("--checkpoint", help="where to save the state_dict (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")

    x_train, x_test, y_train, y_test = load_data(args.seed)
    epochs = 1 if args.quick else args.epochs
    steps_per_epoch = len(x_train) // args.batch_size  # the last partial batch is dropped
    if args.quick:
        steps_per_epoch = min(steps_per_epoch, 5)
    print(f"digits: {len(x_train)} train, {len(x_test)} test images of 8x8")

    net = LeNet()
    print(net)
    key = jax.random.key(args.seed)
    variables = net.init(key)
    fn = initialize_weights if args.init == "he" else initialize_weights_seed002
    variables = net.apply(variables, fn, jax.random.fold_in(key, 1))
    params, buffers = net.split(variables)
    n_params = sum(math.prod(p.shape) for p in net.parameters(params))
    print(f"{n_params:,} parameters (the shared Linear counted once); tied: {nn.tied_names(net)}")

    schedule = optax.cosine_decay_schedule(args.lr, epochs * steps_per_epoch)
    optimizer = optax.sgd(schedule, momentum=args.momentum)  # torch.optim.SGD, weight_decay=0
    opt_state = optimizer.init(params)

    def loss_fn(params, buffers, x, y):
        logits, variables = net(net.merge(params, buffers), x, train=True)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, net.split(variables)[1]  # the updated BatchNorm buffers

    @jax.jit
    def train_step(params, buffers, opt_state, x, y):
        (loss, buffers), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, buffers, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), buffers, opt_state, loss

    @jax.jit
    def accuracy(variables, x, y):
        return jnp.mean(jnp.argmax(net(variables, x), axis=-1) == y)  # eval mode

    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x_train))
        batches = range(steps_per_epoch)
        if tqdm is not None:
            batches = tqdm(batches, desc=f"epoch {epoch}/{epochs}", leave=False)
        total = 0.0
        for i in batches:
            idx = order[i * args.batch_size : (i + 1) * args.batch_size]
            params, buffers, opt_state, loss = train_step(
                params, buffers, opt_state, x_train[idx], y_train[idx]
            )
            total += loss
            if tqdm is not None and i % 10 == 0:
                batches.set_postfix(loss=f"{float(loss):.4f}")
        acc = float(accuracy(net.merge(params, buffers), x_test, y_test))
        mean_loss = float(total) / steps_per_epoch
        print(f"epoch {epoch:3d}  train loss {mean_loss:.4f}  test accuracy {acc:.2%}")
    print(f"trained in {time.perf_counter() - start:.1f} s")

    variables = net.merge(params, buffers)
    bn1 = net.get(variables, "bn1")  # its buffers, updated by every train=True step
    print(
        f"bn1 tracked {int(bn1['num_batches_tracked'])} batches; running_mean", bn1["running_mean"]
    )

    # Save a torch-style state_dict (the tied arrays are written once) and load it back.
    with tempfile.TemporaryDirectory() as tmp:
        path = args.checkpoint or os.path.join(tmp, "lenet_digits.msgpack")
        jaxinit.save(net.state_dict(variables), path)
        print(f"checkpoint: {os.path.getsize(path):,} bytes written to {path}")
        reloaded, _ = net.load_state_dict(None, jaxinit.load(path))
    reloaded_acc = float(accuracy(reloaded, x_test, y_test))
    print(f"reloaded checkpoint test accuracy {reloaded_acc:.2%}")
    print(f"final test accuracy {acc:.2%}")
    return acc


if __name__ == "__main__":
    main()
