"""Seed 000 in jaxinit: find, initialise and share the parameters of a network.

The torch tutorial builds ultralytics' ``Conv`` block (Conv2d without bias + BatchNorm2d + SiLU,
with a ``forward_fuse`` for the conv-bn-folded model) and ``Net240302`` (``self.A =
Sequential(Conv(1, 1), Conv(1, 2))``), runs one forward pass in train mode, prints
``net.A[1].state_dict()`` (the running statistics have moved after that single pass), one conv
weight and the ``named_parameters`` of ``A[0]`` and of ``A``, re-initialises ``net.A[0].conv``
alone with ``apply(init_normal)`` and ``apply(init_constant)``, and finally shares one Linear
between layers 2 and 4 of a Sequential: writing through ``net1[2]`` shows through ``net1[4]``.
This file also folds each BatchNorm into its conv (ultralytics' ``model.fuse()``) and checks
the fused model against the unfused one in eval mode.

Run: python examples/seed000_parameter_management.py
"""

from __future__ import annotations

import copy

import jax
import jax.numpy as jnp
import numpy as np

from jaxinit import init, nn
from jaxinit.nn.utils.fusion import fuse_conv_bn_eval


def autopad(k, p=None, d=1):  # kernel, padding, dilation
    """Pad to 'same' shape outputs."""
    if d > 1:
        k = d * (k - 1) + 1 if isinstance(k, int) else [d * (x - 1) + 1 for x in k]
    if p is None:
        p = k // 2 if isinstance(k, int) else [x // 2 for x in k]
    return p


class Conv(nn.Module):
    """Standard convolution with args(ch_in, ch_out, kernel, stride, padding, groups, dilation,
    activation)."""

    default_act = nn.SiLU()  # one SiLU object shared by every Conv, as in ultralytics

    def __init__(self, c1, c2, k=1, s=1, p=None, g=1, d=1, act=True):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, autopad(k, p, d), groups=g, dilation=d, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.act = (
            self.default_act
            if act is True
            else act
            if isinstance(act, nn.Module)
            else nn.Identity()
        )

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))

    def forward_fuse(self, x):
        """The forward pass once ``bn`` has been folded into ``conv``."""
        return self.act(self.conv(x))


class Net240302(nn.Module):
    def __init__(self):
        super().__init__()
        self.A = nn.Sequential(Conv(1, 1, k=1), Conv(1, 2, k=1))

    def forward(self, x):
        return self.A(x)


def fuse(net: nn.Module, variables: dict) -> tuple[nn.Module, dict]:
    """ultralytics' ``model.fuse()``: fold every Conv block's BatchNorm into its conv.

    Returns a new model (``net`` is untouched) whose Conv blocks run ``forward_fuse``, and its
    variables, built from ``net``'s state_dict with each ``bn.*`` replaced by the fused
    ``conv.weight``/``conv.bias``.
    """
    fused = copy.deepcopy(net)
    state = dict(net.state_dict(variables))
    for name, m in list(fused.named_modules()):
        if isinstance(m, Conv):
            m.conv, conv_vars = fuse_conv_bn_eval(
                m.conv, m.bn, net.get(variables, f"{name}.conv"), net.get(variables, f"{name}.bn")
            )
            del m.bn
            m.forward = m.forward_fuse
            state = {k: v for k, v in state.items() if not k.startswith(f"{name}.bn.")}
            state.update({f"{name}.conv.{k}": v for k, v in conv_vars.items()})
    fused_variables, _ = fused.load_state_dict(None, state)
    return fused, fused_variables


def main() -> None:
    np.set_printoptions(precision=4, suppress=True)
    key = jax.random.key(0)

    print("Defining the model")
    x = jax.random.uniform(jax.random.key(1), (1, 1, 2, 2))  # torch.rand(1, 1, 2, 2)
    net = Net240302()
    print(net)
    variables = net.init(key)
    # The seed's net is in train mode (a fresh torch module is): BatchNorm normalises with the
    # batch statistics and updates its running statistics, which come back as new variables.
    y, variables = net(variables, x, train=True)
    print(y)

    # To read the model as torch code does, bind the variables: a read-only view (no copies)
    # where parameters are arrays and the torch methods need no variables argument.
    bound = net.bind(variables)

    print("\nOne block's parameters: net.A[1].state_dict()")
    print(bound.A[1].state_dict())
    # After one forward: running_mean = 0.1 * batch mean and running_var = 0.9 + 0.1 * the
    # unbiased batch variance; num_batches_tracked = 1.

    print("\nOne parameter: net.A[1].conv.weight")
    print(net.A[1].conv.weight)  # on the model itself: the declaration (shape, dtype, init)
    print(bound.A[1].conv.weight)  # on the bound view: its value (torch: .data)

    print("\nAll parameters at once: named_parameters of A[0], then of A")
    print(*[(n, p.shape) for n, p in bound.A[0].named_parameters()])
    print(*[(n, p.shape) for n, p in bound.A.named_parameters()])

    print("\nBuilt-in initialisation of net.A[0].conv only")

    def init_normal(m, key):
        if isinstance(m, nn.Conv2d):
            m.weight = init.normal(key, m.weight.shape, mean=0, std=0.01)

    def init_constant(m, key):
        if isinstance(m, nn.Conv2d):
            m.weight = init.constant(key, m.weight.shape, val=1)

    for fn in (init_normal, init_constant):
        key, k = jax.random.split(key)
        print("before:", net.bind(variables).A[0].conv.weight)
        # torch: net.A[0].conv.apply(fn). Writing is functional: the submodule's apply sees
        # only its own variables and returns new ones, which net.set puts in place.
        sub = net.A[0].conv.apply(net.get(variables, "A.0.conv"), fn, k)
        variables = net.set(variables, "A.0.conv", sub)
        print(f"after {fn.__name__}:", net.bind(variables).A[0].conv.weight)

    print("\nConv-BN fusion (eval mode)")
    fused, fused_variables = fuse(net, variables)
    print(fused.A[1])
    y_eval = net(variables, x)
    y_fused = fused(fused_variables, x)
    print("max |fused - unfused| =", float(jnp.max(jnp.abs(y_fused - y_eval))))
    print("fused == unfused:", bool(jnp.allclose(y_fused, y_eval, atol=1e-6)))

    print("\nSharing parameters: one Linear at positions 2 and 4")
    # We name the shared layer so that we can refer to it.
    shared = nn.Linear(8, 8)
    net1 = nn.Sequential(
        nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(), nn.Linear(8, 1)
    )
    v1 = net1.init(key)
    X = jax.random.uniform(jax.random.key(2), (2, 4))
    net1(v1, X)
    print(net1.get(v1, "2.weight")[0] == net1.get(v1, "4.weight")[0])
    # torch: net1[2].weight.data[0, 0] = 100
    v1 = net1.set(v1, "2.weight", net1.get(v1, "2.weight").at[0, 0].set(100))
    # The same array, not merely equal values: the change shows through net1[4].
    print(net1.get(v1, "2.weight")[0] == net1.get(v1, "4.weight")[0])
    print("4.weight[0, 0] =", float(net1.get(v1, "4.weight")[0, 0]))


if __name__ == "__main__":
    main()
