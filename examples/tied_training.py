"""Tied parameters through training: seeds 001 and 000's sharing sections, then a tied model
trained with optax.

Seed 001 reuses one ``Linear(1, 1, bias=False)`` twice: with the weight set to 3, ``y = 3 * (3 *
1) = 9`` and the gradient is ``6``, the two uses' gradients added up. Seed 000 puts one
``shared = Linear(8, 8)`` at positions 2 and 4 of a Sequential: writing ``net1[2].weight[0, 0]``
shows through ``net1[4]``. Then that ``net1`` is trained with Adam under ``jit`` on synthetic
regression data, and the tie is checked after training:

* the shared weight is stored once (no ``'4'`` subtree; ``nn.tied_names`` lists the aliases)
  and has one Adam state;
* ``state_dict`` still lists both keys, ``'2.weight'`` and ``'4.weight'``, holding the same
  array object, as torch's state_dict holds two views of one storage;
* its gradient is the sum of the gradients the two uses would get separately (measured on an
  untied twin of the model carrying the same values).

Run: python examples/tied_training.py [--steps 300]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import optax

from jaxinit import init, nn


def seed001_sharing() -> None:
    print("Seed 001: one Linear used twice")
    linear = nn.Linear(1, 1, bias=False)
    net = nn.Sequential(linear, linear)
    print(net)
    variables = net.init(jax.random.key(0))
    for name, param in net.named_parameters(variables):
        variables = net.set(variables, name, init.constant(None, param.shape, val=3))
        print(name, net.get(variables, name))
    print(net[0] is net[1])  # True: the same layer object
    print(net.get(variables, "0.weight") is net.get(variables, "1.weight"))  # True: one array
    x = jnp.ones((1, 1))
    y, grads = jax.value_and_grad(lambda v: net(v, x).sum())(variables)
    print(y)  # 9.0 = 3 * (3 * 1)
    print(net.get(grads, "0.weight"))  # [[6.]]: each use contributes 3


def seed000_net() -> tuple[nn.Sequential, nn.Linear]:
    # We name the shared layer so that we can refer to its parameters.
    shared = nn.Linear(8, 8)
    net1 = nn.Sequential(
        nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(), nn.Linear(8, 1)
    )
    return net1, shared


def seed000_sharing() -> None:
    print("\nSeed 000: one Linear at positions 2 and 4")
    net1, _ = seed000_net()
    variables = net1.init(jax.random.key(0))
    X = jax.random.uniform(jax.random.key(1), (2, 4))
    net1(variables, X)
    print(net1.get(variables, "2.weight")[0] == net1.get(variables, "4.weight")[0])
    # torch: net1[2].weight.data[0, 0] = 100
    variables = net1.set(variables, "2.weight", net1.get(variables, "2.weight").at[0, 0].set(100))
    print(net1.get(variables, "2.weight")[0] == net1.get(variables, "4.weight")[0])


def untied_twin() -> nn.Sequential:
    """seed000_net with two independent Linear(8, 8) at positions 2 and 4."""
    return nn.Sequential(
        nn.Linear(4, 8),
        nn.ReLU(),
        nn.Linear(8, 8),
        nn.ReLU(),
        nn.Linear(8, 8),
        nn.ReLU(),
        nn.Linear(8, 1),
    )


def train(steps: int) -> bool:
    """Train seed 000's tied net1 with Adam; return whether every tie check passed."""
    print(f"\nTraining the tied net1 with Adam under jit for {steps} steps")
    net1, _ = seed000_net()
    variables = net1.init(jax.random.key(0))
    print("stored:", list(variables), "aliases:", nn.tied_names(net1))

    # Synthetic regression: 4 features -> 1 target from a fixed random function.
    kx, kw = jax.random.split(jax.random.key(42))
    X = jax.random.uniform(kx, (256, 4), minval=-1, maxval=1)
    Y = jnp.sin(X @ jax.random.normal(kw, (4, 1)))

    def loss_fn(params, x, y):
        return jnp.mean((net1(params, x) - y) ** 2)

    optimizer = optax.adam(1e-2)
    opt_state = optimizer.init(variables)  # one Adam state per stored array: one for `shared`

    @jax.jit
    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    for i in range(1, steps + 1):
        variables, opt_state, loss = step(variables, opt_state, X, Y)
        if i == 1 or i % 50 == 0 or i == steps:
            print(f"step {i:4d}  loss {float(loss):.5f}")

    print("\nThe tie after training")
    adam_mu = optax.tree_utils.tree_get(opt_state, "mu")  # Adam's first moments, one per leaf
    stored_once = "4" not in variables and "4" not in adam_mu
    print("shared weight stored once (params and Adam state):", stored_once)
    sd = net1.state_dict(variables)
    same_object = sd["2.weight"] is sd["4.weight"] and sd["2.bias"] is sd["4.bias"]
    print("state_dict keys:", list(sd))
    print("state_dict['2.weight'] is state_dict['4.weight']:", same_object)

    # The shared gradient = the gradient of use 2 + the gradient of use 4, measured separately
    # on an untied twin that carries the same values.
    twin = untied_twin()
    twin_variables, _ = twin.load_state_dict(None, sd)
    g_tied = jax.grad(loss_fn)(variables, X, Y)
    g_twin = jax.grad(lambda p: jnp.mean((twin(p, X) - Y) ** 2))(twin_variables)
    sums_match = all(
        bool(jnp.allclose(g_tied["2"][n], g_twin["2"][n] + g_twin["4"][n], rtol=1e-5, atol=1e-7))
        for n in ("weight", "bias")
    )
    print("grad(shared) == grad(use at 2) + grad(use at 4):", sums_match)
    holds = stored_once and same_object and sums_match
    print("tie holds:", holds)
    return holds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="Adam steps (default 300)")
    args = parser.parse_args(argv)
    seed001_sharing()
    seed000_sharing()
    if not train(args.steps):
        raise SystemExit("the tie did not hold")


if __name__ == "__main__":
    main()
