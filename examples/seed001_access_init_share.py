"""Seed 001 in jaxinit: access, initialise and share model parameters.

The torch notebook builds ``nn.Sequential(Linear(4, 3), ReLU(), Linear(3, 1))``, lists its
parameters, contrasts a registered Parameter with a plain tensor, reads data and gradients,
re-initialises by name (normal weights, zero biases, a custom uniform-then-threshold rule,
``bias += 1``) and finally shares one Linear twice (y = 9, gradient 6).

Run: python examples/seed001_access_init_share.py
"""

import jax
import jax.numpy as jnp

from jaxinit import init, nn


def main() -> None:
    key = jax.random.key(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1))
    print(net)
    variables = net.init(key)
    X = jax.random.uniform(jax.random.key(1), (2, 4))

    print("\n1. Accessing parameters: named_parameters()")
    for name, param in net.named_parameters(variables):
        print(name, param.shape)
    for name, param in net[0].named_parameters(variables["0"]):
        print(name, param.shape, type(param).__name__)

    class MyModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight1 = nn.Parameter((20, 20), init.uniform)  # registered
            self.weight2 = jnp.ones((20, 20))  # a plain array: not a parameter

    n = MyModel()
    for name, _ in n.named_parameters():
        print(name)  # only weight1

    weight_0 = next(iter(net[0].named_parameters(variables["0"])))
    print(weight_0[1])  # the data
    grads = jax.grad(lambda v: net(v, X).sum())(variables)  # Y.backward()
    print(net.get(grads, "0.weight"))  # the gradient, found under the same name

    print("\n2. Initialising by name")

    def normal_weights(name, param, key):
        return init.normal(key, param.shape, mean=0, std=0.01) if "weight" in name else param

    def zero_biases(name, param, key):
        return init.constant(key, param.shape, val=0) if "bias" in name else param

    key, k1 = jax.random.split(key)
    variables = net.map_parameters(variables, normal_weights, k1)
    variables = net.map_parameters(variables, zero_biases)
    print("2.bias", variables["2"]["bias"])

    print("\n3. A custom initializer: U(-10, 10), then zero where |w| < 5; then bias += 1")

    def init_weight_(name, w, key):
        if "weight" not in name:
            return w
        w = init.uniform(key, w.shape, a=-10, b=10)
        return jnp.where(jnp.abs(w) >= 5, w, 0.0)

    key, k2 = jax.random.split(key)
    variables = net.map_parameters(variables, init_weight_, k2)
    for name, w in net.named_parameters(variables):
        if "weight" in name:
            print(name, w)
    variables = net.map_parameters(variables, lambda name, b, k: b + 1 if "bias" in name else b)
    for name, b in net.named_parameters(variables):
        if "bias" in name:
            print(name, b)

    print("\n4. Sharing parameters: one Linear used twice")
    linear = nn.Linear(1, 1, bias=False)
    net = nn.Sequential(linear, linear)
    print(net)
    variables = net.init(key)
    for name, param in net.named_parameters(variables):
        variables = net.set(variables, name, init.constant(None, param.shape, val=3))
        print(name, net.get(variables, name))
    print(net[0] is net[1])  # True: the same layer object
    print(net.get(variables, "0.weight") is net.get(variables, "1.weight"))  # True: one array
    x = jnp.ones((1, 1))
    y, grads = jax.value_and_grad(lambda v: net(v, x).sum())(variables)
    print(y)  # 9.0 = 3 * (3 * 1)
    print(net.get(grads, "0.weight"))  # [[6.]]: the two uses' gradients add up


if __name__ == "__main__":
    main()
