"""Every ``torch.nn.init`` function in jaxinit, as seeds 003 and 004 use them.

Seed 003 (a Chinese PyTorch tutorial) walks through ``torch.nn.init``: uniform_, normal_,
constant_, ones_, zeros_, eye_, xavier_uniform_ (with ``calculate_gain('sigmoid')``),
xavier_normal_, kaiming_uniform_/kaiming_normal_, trunc_normal_, sparse_ and the fans of
``nn.Linear(3, 5)`` and ``nn.Conv2d(2, 10, (3, 5))``. Seed 004 (a notebook) initialises with
NumPy, writes Xavier's formula by hand, then calls ``init.xavier_uniform_``.

In jaxinit each function returns a new array from a key instead of filling a tensor:
``nn.init.xavier_uniform_(w)`` becomes ``w = init.xavier_uniform(key, w.shape)``. Values are
printed the way torch prints them.

Run: python examples/initializers.py
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxinit import init
from jaxinit.generator import TorchGenerator


def tensor(x) -> str:
    """A jax array printed like a torch tensor: ``tensor([[ 0.1173, -0.0864, ...]])``."""
    x = np.asarray(x)
    body = np.array2string(
        x,
        precision=4,
        separator=", ",
        prefix="tensor(",
        threshold=1000,
        edgeitems=3,
        floatmode="fixed" if x.dtype.kind == "f" else "maxprec",
    )
    dtype = "" if x.dtype in (np.float32, np.int64, np.bool_) else f", dtype={x.dtype}"
    return f"tensor({body}{dtype})"


def main() -> None:
    keys = iter(jax.random.split(jax.random.key(0), 64))

    print("== Seed 004: initialising with NumPy ==")
    # torch: net1 = nn.Sequential(nn.Linear(30, 40), nn.ReLU(), nn.Linear(40, 50), nn.ReLU(),
    #                             nn.Linear(50, 10)); parameters named like its state_dict.
    layers = {"0": (30, 40), "2": (40, 50), "4": (50, 10)}
    params = {}
    for name, (fan_in, fan_out) in layers.items():  # torch's Linear default
        bound = 1 / math.sqrt(fan_in)
        params[f"{name}.weight"] = init.kaiming_uniform(next(keys), (fan_out, fan_in), a=5**0.5)
        params[f"{name}.bias"] = init.uniform(next(keys), (fan_out,), a=-bound, b=bound)
    print("net1[0].weight =", tensor(params["0.weight"]))

    # torch: net1[0].weight.data = torch.from_numpy(np.random.uniform(3, 5, size=(40, 30)))
    # NumPy gives float64; a float32 parameter keeps float32 (JAX's x64 mode is off).
    rng = np.random.default_rng(0)
    params["0.weight"] = jnp.asarray(rng.uniform(3, 5, size=(40, 30)), jnp.float32)
    print("after NumPy U(3, 5):", tensor(params["0.weight"]))

    # torch: for layer in net1: if isinstance(layer, nn.Linear):
    #            layer.weight.data = torch.from_numpy(np.random.normal(0, 0.5, size=shape))
    for name in layers:
        shape = params[f"{name}.weight"].shape
        params[f"{name}.weight"] = jnp.asarray(rng.normal(0, 0.5, size=shape), jnp.float32)
    print(
        "every Linear weight N(0, 0.5**2): std of net1[2].weight =",
        f"{float(params['2.weight'].std()):.4f}",
    )

    # The notebook's exercise: Xavier by hand, w ~ U[-sqrt(6)/sqrt(n_j + n_j+1), +...].
    n_in, n_out = 30, 40
    a = math.sqrt(6) / math.sqrt(n_in + n_out)
    by_hand = jax.random.uniform(next(keys), (n_out, n_in), minval=-a, maxval=a)
    # torch: init.xavier_uniform_(net1[0].weight)
    params["0.weight"] = init.xavier_uniform(next(keys), (n_out, n_in))
    print(
        f"Xavier bound sqrt(6)/sqrt({n_in}+{n_out}) = {a:.4f}; by hand max |w| =",
        f"{float(jnp.abs(by_hand).max()):.4f}, init.xavier_uniform max |w| =",
        f"{float(jnp.abs(params['0.weight']).max()):.4f}",
    )
    print("init.xavier_uniform(key, (40, 30)) =", tensor(params["0.weight"]))

    print("\n== Seed 003: torch.nn.init, function by function ==")
    shape = (3, 5)  # torch.empty(3, 5)
    examples = {
        "uniform_(w)               U(0, 1)": init.uniform(next(keys), shape),
        "uniform_(w, a=-1, b=1)": init.uniform(next(keys), shape, a=-1.0, b=1.0),
        "normal_(w)                N(0, 1)": init.normal(next(keys), shape),
        "normal_(w, mean=0, std=0.01)": init.normal(next(keys), shape, std=0.01),
        "constant_(w, 0.3)": init.constant(None, shape, val=0.3),
        "ones_(w)": init.ones(None, shape),
        "zeros_(w)": init.zeros(None, shape),
        "eye_(w)": init.eye(None, shape),
        "xavier_uniform_(torch.empty(3, 3))": init.xavier_uniform(next(keys), (3, 3)),
        "xavier_uniform_(w, gain=calculate_gain('sigmoid'))": init.xavier_uniform(
            next(keys), shape, gain=init.calculate_gain("sigmoid")
        ),
        "xavier_normal_(w)": init.xavier_normal(next(keys), shape),
        "kaiming_uniform_(w, mode='fan_in', nonlinearity='relu')": init.kaiming_uniform(
            next(keys), shape, mode="fan_in", nonlinearity="relu"
        ),
        "kaiming_normal_(w, mode='fan_out', nonlinearity='relu')": init.kaiming_normal(
            next(keys), shape, mode="fan_out", nonlinearity="relu"
        ),
        "trunc_normal_(w)          N(0, 1) cut to [-2, 2]": init.trunc_normal(next(keys), shape),
        "trunc_normal_(w, std=0.02)  (a, b are absolute)": init.trunc_normal(
            next(keys), shape, std=0.02
        ),
        "orthogonal_(w)": init.orthogonal(next(keys), shape),
        "sparse_(torch.empty(5, 3), sparsity=0.4)": init.sparse(next(keys), (5, 3), sparsity=0.4),
    }
    for call, value in examples.items():
        print(f"nn.init.{call}\n{tensor(value)}")

    w = init.orthogonal(next(keys), shape)
    print("orthogonal: w @ w.T =", tensor(w @ w.T))
    w = init.dirac(None, (3, 16, 5, 5))  # torch: nn.init.dirac_(torch.empty(3, 16, 5, 5))
    print("nn.init.dirac_(torch.empty(3, 16, 5, 5)): w[:, :3, 2, 2] =", tensor(w[:, :3, 2, 2]))
    w = init.dirac(None, (3, 24, 5, 5), groups=3)
    print("nn.init.dirac_(torch.empty(3, 24, 5, 5), 3): w[:, :3, 2, 2] =", tensor(w[:, :3, 2, 2]))

    print("\n== fan_in and fan_out ==")
    linear = (5, 3)  # nn.Linear(3, 5).weight: (out_features, in_features)
    print("Linear(in_features=3, out_features=5, bias=True)")
    print("_calculate_fan_in_and_fan_out(net.weight) =", init.calculate_fan_in_and_fan_out(linear))
    print(
        "_calculate_correct_fan(net.weight, mode='fan_in') =",
        init.calculate_correct_fan(linear, "fan_in"),
    )
    print(
        "_calculate_correct_fan(net.weight, mode='fan_out') =",
        init.calculate_correct_fan(linear, "fan_out"),
    )
    conv = (10, 2, 3, 5)  # nn.Conv2d(2, 10, kernel_size=(3, 5)).weight: (out, in, kh, kw)
    print("Conv2d(2, 10, kernel_size=(3, 5), stride=(1, 1))")
    print("_calculate_fan_in_and_fan_out(net.weight) =", init.calculate_fan_in_and_fan_out(conv))
    print(
        "_calculate_correct_fan(net.weight, mode='fan_in') =",
        init.calculate_correct_fan(conv, "fan_in"),
        "(2*3*5)",
    )
    print(
        "_calculate_correct_fan(net.weight, mode='fan_out') =",
        init.calculate_correct_fan(conv, "fan_out"),
        "(10*3*5)",
    )
    hwio = (3, 5, 2, 10)  # the same kernel in flax's layout
    print(
        "the same kernel as a flax HWIO (3, 5, 2, 10), in_axis=-2, out_axis=-1:",
        init.calculate_fan_in_and_fan_out(hwio, in_axis=-2, out_axis=-1),
    )

    print("\n== calculate_gain ==")
    for nonlinearity, param in [
        ("linear", None),
        ("conv2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
    ]:
        args = repr(nonlinearity) + ("" if param is None else f", {param}")
        print(f"calculate_gain({args}) = {init.calculate_gain(nonlinearity, param)}")

    print("\n== torch's own numbers: a TorchGenerator in place of the key ==")
    # torch.manual_seed(0); nn.Linear(4, 3) draws its weight, then its bias, from one stream.
    g = TorchGenerator(0)
    weight = init.kaiming_uniform(g, (3, 4), a=math.sqrt(5))
    bias = init.uniform(g, (3,), a=-1 / math.sqrt(4), b=1 / math.sqrt(4))
    print("torch.manual_seed(0); nn.Linear(4, 3)")
    print("weight =", tensor(weight))
    print("bias =", tensor(bias))


if __name__ == "__main__":
    main()
