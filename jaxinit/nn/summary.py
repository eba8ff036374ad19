"""``summary``: each layer's output shape and parameter count for a given input, like torchinfo.

Nothing is computed: the forward pass is traced abstractly with ``jax.eval_shape``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from .._tree import iter_flat
from ._binding import Frame, bound
from ._derived import fill_derived
from ._plan import plan_of
from .module import Module
from .parameter import Buffer, Parameter


@dataclass(frozen=True)
class LayerRow:
    name: str  # dotted path ('' for the model)
    type: str
    depth: int
    output_shape: Any  # tuple, or a pytree of tuples for several outputs
    num_params: int  # parameters owned by this module and its children (tied: first owner)


@dataclass(frozen=True)
class Summary:
    """The result of :func:`summary`; ``print`` it for the table."""

    rows: list[LayerRow]
    total_params: int
    trainable_params: int
    buffer_elements: int
    param_bytes: int
    buffer_bytes: int
    input_bytes: int
    output_bytes: int

    def __str__(self) -> str:
        width = max([len(self._label(r)) for r in self.rows] + [30]) + 2
        rule = "=" * (width + 42)
        lines = [rule, f"{'Layer (type)':<{width}}{'Output Shape':<28}{'Param #':>14}", rule]
        for r in self.rows:
            shape = _fmt_shape(r.output_shape)
            count = f"{r.num_params:,}" if r.num_params else "--"
            lines.append(f"{self._label(r):<{width}}{shape:<28}{count:>14}")
        mb = 1024**2
        lines += [
            rule,
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.total_params - self.trainable_params:,}",
            f"Buffer elements: {self.buffer_elements:,}",
            rule,
            f"Input size (MB): {self.input_bytes / mb:.2f}",
            f"Output size (MB): {self.output_bytes / mb:.2f}",
            f"Params size (MB): {self.param_bytes / mb:.2f}",
            f"Buffers size (MB): {self.buffer_bytes / mb:.2f}",
            rule,
        ]
        return "\n".join(lines)

    @staticmethod
    def _label(r: LayerRow) -> str:
        if not r.name:
            return r.type
        return "  " * (r.depth - 1) + f"├─{r.name}: {r.type}"


def _fmt_shape(shape: Any) -> str:
    if isinstance(shape, tuple) and all(isinstance(d, int) for d in shape):
        return str(list(shape))
    return str(shape)


def summary(
    net: Module,
    input: Any,
    *,
    variables: Any = None,
    dtype: Any = jnp.float32,
    train: bool = False,
) -> Summary:
    """Layer-by-layer output shapes and parameter counts of ``net`` on ``input``.

    ``input`` is an array, a ``jax.ShapeDtypeStruct``, or a shape tuple (then ``dtype``
    applies). Parameters are counted once per stored array, so a tied layer's second use shows
    ``--``. ``variables`` defaults to the abstract result of ``net.init``.

    Example::

        print(summary(net, (16, 3, 32, 32)))
    """
    if isinstance(input, Sequence) and all(isinstance(d, int) for d in input):
        input = jax.ShapeDtypeStruct(tuple(input), dtype)
    if variables is None:
        variables = jax.eval_shape(net.init, jax.random.key(0))
    plan = plan_of(net)
    record: list = []

    def run(v, x):
        flat = fill_derived(plan, dict(iter_flat(v)))  # non-persistent buffers: declared values
        frame = Frame(plan, flat, "forward", train=train, key=jax.random.key(0), record=record)
        with bound(frame):
            return net.forward(x)

    out = jax.eval_shape(run, variables, input)

    # parameters per stored array, credited to the module that owns it under its first name
    sizes = {n: math.prod(d.shape) for n, d in plan.entries.items()}
    seen_paths = set()
    rows = []
    for path, module, value in [("", net, out)] + [r for r in record if r[0] != ""]:
        first = path not in seen_paths
        seen_paths.add(path)
        owned = sum(
            s
            for n, s in sizes.items()
            if isinstance(plan.entries[n], Parameter) and (path == "" or n.startswith(path + "."))
        )
        rows.append(
            LayerRow(
                name=path,
                type=type(module).__name__,
                depth=0 if not path else path.count(".") + 1,
                output_shape=jax.tree.map(lambda a: tuple(a.shape), value),
                num_params=owned if first else 0,
            )
        )
    params = [d for d in plan.entries.values() if isinstance(d, Parameter)]
    bufs = [d for d in plan.entries.values() if isinstance(d, Buffer)]
    nbytes = lambda tree: sum(math.prod(a.shape) * a.dtype.itemsize for a in jax.tree.leaves(tree))  # noqa: E731
    total = sum(p.size for p in params)
    return Summary(
        rows=rows,
        total_params=total,
        trainable_params=total,
        buffer_elements=sum(b.size for b in bufs),
        param_bytes=sum(p.nbytes for p in params),
        buffer_bytes=sum(b.nbytes for b in bufs),
        input_bytes=nbytes(input),
        output_bytes=nbytes(out),
    )
