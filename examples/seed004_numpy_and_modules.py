"""Seed 004 in jaxinit: initialise parameters from NumPy, and loop over modules to do it.

The torch notebook replaces ``net1[0].weight.data`` of a ``Sequential(Linear(30, 40), ReLU,
Linear(40, 50), ReLU, Linear(50, 10))`` with a NumPy array (U(3, 5)), then re-initialises every
Linear of the Sequential with NumPy's normal(0, 0.5); builds ``sim_net`` from three nested
Sequentials (initialising ``l1[0]`` directly in ``__init__``), contrasts ``children()`` (the
three Sequentials) with ``modules()`` (everything, recursively), loops over ``modules()`` to
initialise every Linear, and ends with ``torch.nn.init.xavier_uniform_``, the Glorot bound
``sqrt(6) / sqrt(n_in + n_out)``.

NumPy arrays are float64. torch's ``.data = tensor`` keeps float64 (the notebook prints
``dtype=torch.float64``); ``net.set`` copies like ``param.copy_``: the value is cast to the
parameter's dtype, float32. ``net.set(..., cast=False)`` keeps the array's own dtype, and
float64 needs JAX's x64 mode, so that part runs under ``jax.enable_x64(True)``.

Run: python examples/seed004_numpy_and_modules.py
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxinit import init, nn


class sim_net(nn.Module):  # the seed's (lower-case) name
    def __init__(self):
        super().__init__()
        self.l1 = nn.Sequential(nn.Linear(30, 40), nn.ReLU())
        # torch: self.l1[0].weight.data = torch.randn(40, 30). A module holds declarations,
        # not arrays: declare how this weight is initialised instead.
        self.l1[0].weight = nn.Parameter((40, 30), init.normal)
        self.l2 = nn.Sequential(nn.Linear(40, 50), nn.ReLU())
        self.l3 = nn.Sequential(nn.Linear(50, 10), nn.ReLU())

    def forward(self, x):
        x = self.l1(x)
        x = self.l2(x)
        return self.l3(x)


def main() -> None:
    np.set_printoptions(precision=4, suppress=True, threshold=20, edgeitems=3)
    rng = np.random.default_rng(0)  # the notebook uses np.random's global state
    key = jax.random.key(0)

    print("1. Initialising with NumPy")
    net1 = nn.Sequential(
        nn.Linear(30, 40), nn.ReLU(), nn.Linear(40, 50), nn.ReLU(), nn.Linear(50, 10)
    )
    variables = net1.init(key)
    w1 = net1.get(variables, "0.weight")  # torch: net1[0].weight
    b1 = net1.get(variables, "0.bias")
    print(w1, w1.dtype, b1.shape)

    # torch: net1[0].weight.data = torch.from_numpy(np.random.uniform(3, 5, size=(40, 30)))
    values = rng.uniform(3, 5, size=(40, 30))
    print("numpy dtype:", values.dtype)
    variables = net1.set(variables, "0.weight", values)  # copied like param.copy_(values)
    print(net1.get(variables, "0.weight"), net1.get(variables, "0.weight").dtype)

    with jax.enable_x64(True):  # float64 arrays exist in JAX only in x64 mode
        v64 = net1.set(variables, "0.weight", values, cast=False)  # keep float64, as .data =
        print("cast=False under x64:", net1.get(v64, "0.weight").dtype)

    print("\nEvery Linear of the Sequential: normal(0, 0.5) from NumPy")
    for name, layer in net1.named_children():
        if isinstance(layer, nn.Linear):  # is it a linear layer?
            param_shape = layer.weight.shape  # the declaration knows the shape
            variables = net1.set(variables, f"{name}.weight", rng.normal(0, 0.5, size=param_shape))
    for name, w in net1.named_parameters(variables):
        if "weight" in name:
            print(name, w.shape, f"std={float(jnp.std(w)):.3f}")

    print("\n2. A Module of nested Sequentials: children() vs modules()")
    net2 = sim_net()
    v2 = net2.init(jax.random.key(1))
    print(f"l1.0.weight std={float(jnp.std(net2.get(v2, 'l1.0.weight'))):.3f} (randn)")
    print("-- children()")
    for i in net2.children():  # the three Sequentials only
        print(i)
    print("-- modules()")
    for i in net2.modules():  # the network, each Sequential and everything inside
        print(i)

    for name, layer in net2.named_modules():  # modules() reaches the Linears inside
        if isinstance(layer, nn.Linear):
            param_shape = layer.weight.shape
            v2 = net2.set(v2, f"{name}.weight", rng.normal(0, 0.5, size=param_shape))
    for name, w in net2.named_parameters(v2):
        if "weight" in name:
            print(name, w.shape, f"std={float(jnp.std(w)):.3f}")

    print("\n3. torch.nn.init: xavier_uniform")
    key, k = jax.random.split(key)
    # torch: init.xavier_uniform_(net1[0].weight)
    variables = net1.set(variables, "0.weight", init.xavier_uniform(k, (40, 30)))
    w = net1.get(variables, "0.weight")
    print(w)
    bound = math.sqrt(6) / math.sqrt(30 + 40)
    print(f"bound sqrt(6)/sqrt(30+40) = {bound:.4f}, max |w| = {float(jnp.max(jnp.abs(w))):.4f}")


if __name__ == "__main__":
    main()
