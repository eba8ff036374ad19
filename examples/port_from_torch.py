"""Port a PyTorch model from its checkpoint file, find a porting mistake with
``jaxinit.testing.compare``, fix it, train in JAX, and load the result back into torch.

1. A small torch CNN (conv-BN-ReLU blocks, a GELU head) is built and its ``state_dict`` saved
   with ``torch.save``: the checkpoint a user starts from.
2. The jaxinit port, written by hand with one classic mistake -- the second convolution lost
   its ``padding=1`` -- loads the file (``jaxinit.interop.load_pt``). ``compare`` runs both models
   on one batch and names the layer and the field: ``features.3: padding differs``.
3. The fixed port matches torch layer by layer (outputs, train-mode running statistics and
   gradients).
4. A few SGD steps with optax, ``jaxinit.save``, ``jaxinit.load``, and torch loads the trained
   weights with a strict ``load_state_dict``: its output equals the port's.

Run: python examples/port_from_torch.py [--steps 20]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

import jaxinit
from jaxinit import nn
from jaxinit.interop import load_pt, to_torch
from jaxinit.testing import compare


class TorchNet(torch.nn.Module):
    """The reference: what the checkpoint was trained with."""

    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1, bias=False),
            torch.nn.BatchNorm2d(8),
            torch.nn.ReLU(inplace=True),
            torch.nn.Conv2d(8, 16, 3, padding=1, bias=False),
            torch.nn.BatchNorm2d(16),
            torch.nn.ReLU(inplace=True),
            torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(),
        )
        self.head = torch.nn.Sequential(
            torch.nn.Linear(16, 32), torch.nn.GELU(), torch.nn.Linear(32, 4)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class Net(nn.Module):
    """The port, as torch's code; ``padding`` of the second convolution is the planted bug."""

    def __init__(self, second_padding: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=False),
            nn.BatchNorm2d(8),
            nn.ReLU(inplace=True),
            nn.Conv2d(8, 16, 3, padding=second_padding, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 4))

    def forward(self, x: jax.Array) -> jax.Array:
        return self.head(self.features(x))


def train(net: Net, variables: dict, steps: int) -> tuple[dict, list[float]]:
    """SGD with momentum (torch's convention: buf = 0.9 buf + g) on a synthetic task: the
    class is the quadrant of the image where the bright square is."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3, 8, 8)).astype(np.float32) * 0.1
    y = rng.integers(0, 4, size=64)
    for i, c in enumerate(y):
        r, q = divmod(int(c), 2)
        x[i, :, 4 * r : 4 * r + 4, 4 * q : 4 * q + 4] += 1.0
    params, buffers = net.split(variables)
    tx = optax.sgd(0.1, momentum=0.9)
    opt_state = tx.init(params)

    @jax.jit
    def step(params, buffers, opt_state, xb, yb):
        def loss_fn(p):
            logits, new = net(net.merge(p, buffers), xb, train=True)
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()
            return loss, net.split(new)[1]

        (loss, buffers), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), buffers, opt_state, loss

    losses = []
    for i in range(steps):
        idx = np.arange(16) + 16 * (i % 4)
        params, buffers, opt_state, loss = step(
            params, buffers, opt_state, jnp.asarray(x[idx]), jnp.asarray(y[idx])
        )
        losses.append(float(loss))
    return net.merge(params, buffers), losses


def main(argv: list[str] | None = None) -> dict:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--steps", type=int, default=20)
    steps = args.parse_args(argv).steps

    torch.manual_seed(0)
    reference = TorchNet().eval()
    batch = np.random.default_rng(1).normal(size=(2, 3, 8, 8)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "net.pt"
        torch.save(reference.state_dict(), checkpoint)  # what the user was given

        print("1. The port as first written, loaded from the torch checkpoint:")
        port = Net(second_padding=0)
        variables = load_pt(checkpoint, like=jax.eval_shape(port.init, jax.random.key(0)))
        report = compare(reference, port, batch, variables=variables)
        print(report)
        print(f"\nfirst mismatch: {report.first_mismatch}")

        print("\n2. Fixed (padding=1), checked in eval and in train mode with gradients:")
        port = Net()
        variables = load_pt(checkpoint, like=jax.eval_shape(port.init, jax.random.key(0)))
        fixed = compare(reference, port, batch, variables=variables)
        trained_mode = compare(reference, port, batch, variables=variables, train=True, grads=True)
        print(fixed.headline())
        print(
            trained_mode.headline(),
            f"({len(trained_mode.grads)} gradients, {len(trained_mode.buffers)} buffers compared)",
        )

        print(f"\n3. {steps} SGD steps in JAX:")
        variables, losses = train(port, variables, steps)
        print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}")

        print("\n4. jaxinit.save, jaxinit.load, and back into torch (strict):")
        saved = Path(tmp) / "port.msgpack"
        jaxinit.save(variables, saved)
        restored = jaxinit.load(saved, like=variables)
        back = TorchNet().eval()
        print(back.load_state_dict(to_torch(port.state_dict(restored)), strict=True))
        with torch.no_grad():
            torch_out = back(torch.from_numpy(batch)).numpy()
        with jax.default_matmul_precision("highest"):
            jax_out = np.asarray(port(restored, jnp.asarray(batch)))
        same = bool(np.allclose(torch_out, jax_out, rtol=1e-5, atol=1e-6))
        print(f"torch output == jaxinit output after training: {same}")
    return {"report": report, "fixed": fixed, "train": trained_mode, "losses": losses, "same": same}


if __name__ == "__main__":
    main()
