"""Seed 003 in jaxinit: custom layers, saving and loading, initializers, devices.

The torch tutorial writes a parameterless ``CenteredLayer`` and a ``MyLinear`` with its own
parameters; saves a tensor, a list and a dict of tensors and an MLP's ``state_dict``, reloads
the MLP into a fresh instance and checks ``Y_clone == Y``; lists ``torch.nn.init``'s
functions and fans; and finally puts tensors and a network on a GPU (falling back to the CPU).
Every initializer of the list is shown in detail by examples/initializers.py.

Run: python examples/seed003_layers_files_gpu.py
"""

import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp

import jaxinit
from jaxinit import init, nn
from jaxinit.devices import devices_of, to_device, try_all_gpus, try_gpu


class CenteredLayer(nn.Module):
    """Subtracts the mean: no parameters, so no boilerplate."""

    def forward(self, X):
        return X - X.mean()


class MyLinear(nn.Module):
    """A layer with its own parameters: weight (in_units, units) ~ N(0, 1), like torch.randn."""

    def __init__(self, in_units, units):
        super().__init__()
        self.weight = nn.Parameter((in_units, units), init.normal)
        self.bias = nn.Parameter((units,), init.normal)

    def forward(self, X):
        return jax.nn.relu(X @ self.weight + self.bias[None])


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(20, 256)
        self.output = nn.Linear(256, 10)

    def forward(self, x):
        return self.output(jax.nn.relu(self.hidden(x)))


def main(workdir: str | None = None) -> None:
    key = jax.random.key(0)
    out = Path(workdir or tempfile.mkdtemp(prefix="jaxinit-seed003-"))

    print("== Custom layers ==")
    layer = CenteredLayer()
    print(layer(jnp.array([1.0, 2, 3, 4, 5])))
    net = nn.Sequential(nn.Linear(8, 128), CenteredLayer())
    Y = net(net.init(key), jax.random.uniform(key, (4, 8)))
    print("mean after CenteredLayer:", float(Y.mean()))  # ~0, up to float rounding

    linear = MyLinear(5, 3)
    lv = linear.init(key)
    print(lv["weight"])
    print(linear(lv, jax.random.uniform(key, (2, 5))))
    net = nn.Sequential(MyLinear(64, 8), MyLinear(8, 1))
    print(net(net.init(key), jax.random.uniform(key, (2, 64))))

    print("\n== Saving and loading arrays ==")
    x = jnp.arange(4)
    jaxinit.save(x, out / "x-file")
    print(jaxinit.load(out / "x-file"))
    y = jnp.zeros(4)
    jaxinit.save([x, y], out / "x-files")
    x2, y2 = jaxinit.load(out / "x-files")
    print((x2, y2))
    jaxinit.save({"x": x, "y": y}, out / "mydict")
    print(jaxinit.load(out / "mydict"))

    print("\n== Saving and loading a model ==")
    net = MLP()
    variables = net.init(key)
    X = jax.random.normal(jax.random.key(1), (2, 20))
    Y = net(variables, X)
    jaxinit.save(net.state_dict(variables), out / "mlp.params")
    clone = MLP()  # a fresh instance of the same architecture
    clone_variables, result = clone.load_state_dict(None, jaxinit.load(out / "mlp.params"))
    print(result)
    Y_clone = clone(clone_variables, X)  # eval semantics: torch's clone.eval()
    print(Y_clone == Y)

    print("\n== Initializers (see examples/initializers.py for each one) ==")
    w = init.xavier_uniform(key, (3, 3))
    print("xavier_uniform (3, 3):\n", w)
    print("gain for sigmoid:", init.calculate_gain("sigmoid"))
    fc, conv = nn.Linear(3, 5), nn.Conv2d(kernel_size=(3, 5), in_channels=2, out_channels=10)
    print(fc, init.calculate_fan_in_and_fan_out(fc.weight.shape))  # (3, 5)
    print(conv, init.calculate_fan_in_and_fan_out(conv.weight.shape))  # (30, 150)
    print("fan_in:", init.calculate_correct_fan(conv.weight.shape, "fan_in"))  # 30
    print("fan_out:", init.calculate_correct_fan(conv.weight.shape, "fan_out"))  # 150

    print("\n== Devices ==")
    print(jax.devices("cpu")[0], try_gpu(), try_gpu(10), try_all_gpus())
    X = jax.device_put(jnp.ones((2, 3)), try_gpu())
    print(X, X.devices())
    net = nn.Sequential(nn.Linear(3, 1))
    variables = to_device(net.init(key), try_gpu())  # torch: net.to(device=try_gpu())
    print(net(variables, X))
    print(devices_of(variables))  # torch: net[0].weight.data.device


if __name__ == "__main__":
    main()
