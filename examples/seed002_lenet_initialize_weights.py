"""Seed 002 in jaxinit: the three parts of a model, and weight initialisation by layer type.

The torch tutorial defines LeNet (``__init__`` declares the layers, ``forward`` assembles them),
gives it an ``initialize_weights`` method that walks ``self.modules()`` and initialises each layer
by type (xavier_normal for Conv2d with a zero bias if there is one, ones/zeros for BatchNorm2d,
normal(0, 0.01) with a zero bias for Linear), prints ``net.modules()`` and every module it
yields, then checks the first convolution: its output shape on a (16, 3, 10, 10) input and its
parameter count (6*3*5*5 weights + 6 biases). This file ends with ``nn.summary`` on a
(16, 3, 32, 32) input, torchinfo's table.

Run: python examples/seed002_lenet_initialize_weights.py
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxinit import init, nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool1(jax.nn.relu(self.conv1(x)))  # torch: F.relu
        x = self.pool2(jax.nn.relu(self.conv2(x)))
        x = x.reshape(-1, 16 * 5 * 5)  # torch: x.view(-1, 16 * 5 * 5)
        x = jax.nn.relu(self.fc1(x))
        x = jax.nn.relu(self.fc2(x))
        return self.fc3(x)

    def initialize_weights(self, variables, key):
        """The seed's loop over ``self.modules()``, written with ``apply``: ``fn(m, key)`` sees
        each module with its variables bound, and assigning ``m.weight`` records the new value.
        Returns the new variables (torch changes the tensors in place)."""

        def fn(m, key):
            if isinstance(m, nn.Conv2d):
                m.weight = init.xavier_normal(key, m.weight.shape)
                if m.bias is not None:
                    m.bias = jnp.zeros_like(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight = jnp.ones_like(m.weight)  # m.weight.data.fill_(1)
                m.bias = jnp.zeros_like(m.bias)
            elif isinstance(m, nn.Linear):
                m.weight = init.normal(key, m.weight.shape, mean=0, std=0.01)
                m.bias = jnp.zeros_like(m.bias)

        return self.apply(variables, fn, key)


def main() -> None:
    key = jax.random.key(0)
    net = Net()
    variables = net.init(key)
    variables = net.initialize_weights(variables, jax.random.key(1))

    print(net.modules())  # a generator, as in torch
    for m in net.modules():  # first the whole network, then every layer
        print(m)

    print("\nThe first convolution")
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            print(m)
            break
    x = jnp.ones((16, 3, 10, 10))
    out = net.conv1(variables["conv1"], x)  # a submodule runs on its own variables
    print(x.shape)
    print(out.shape)  # (16, 6, 6, 6): 10 - 5 + 1 = 6

    print("\nIts parameters")
    for name, m in net.named_modules():
        if isinstance(m, nn.Conv2d):
            print(m)
            print(net.get(variables, f"{name}.weight").shape)  # (6, 3, 5, 5)
            print(net.get(variables, f"{name}.bias").shape)  # (6,)
            break
    n_conv1 = sum(math.prod(p.shape) for p in net.conv1.parameters(variables["conv1"]))
    print("conv1 parameters:", n_conv1, "= 6*3*5*5 + 6")
    n_total = sum(math.prod(p.shape) for p in net.parameters(variables))
    print("all parameters:", n_total)

    print()
    print(nn.summary(net, (16, 3, 32, 32)))


if __name__ == "__main__":
    main()
