"""``jaxinit port MODULE:CALLABLE --input SHAPE[:DTYPE] ... -o out.py``: the command line form
of :func:`jaxinit.porting.to_source` (``jaxinit/cli.py`` adds the subcommand)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any

from .errors import PortError

__all__ = ["PortError", "add_parser", "parse_input", "run"]

_INT_HIGH = 2  # integer inputs (token ids, indices) are drawn from [0, 2): valid for any table


def add_parser(commands: Any) -> None:
    """Register the ``port`` subcommand on an ``argparse`` subparsers object."""
    p = commands.add_parser("port", help="port a torch model to a jaxinit module file")
    p.add_argument(
        "target",
        metavar="MODULE:CALLABLE",
        help="a module on the path and a callable in it that returns the model",
    )
    p.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="SHAPE[:DTYPE]",
        help="an example input, e.g. 2x3x32x32 or 2x16:int64 (repeat for several)",
    )
    p.add_argument("-o", "--output", required=True, help="the .py file to write")


def parse_input(spec: str) -> Any:
    """``'2x3x32x32'`` -> a float32 ``torch.randn`` tensor; ``'2x16:int64'`` -> integers in
    ``[0, 2)``; ``'4:bool'`` -> random booleans.

    Example: ``parse_input('2x3:float64').dtype == torch.float64``.
    """
    import torch

    shape_s, _, dtype_s = spec.partition(":")
    try:
        shape = tuple(int(d) for d in shape_s.replace(",", "x").split("x") if d)
    except ValueError:
        raise ValueError(
            f"--input {spec!r}: the shape must be integers joined by 'x', e.g. "
            "2x3x32x32 or 2x16:int64"
        ) from None
    dtype = getattr(torch, dtype_s or "float32", None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(
            f"--input {spec!r}: {dtype_s!r} is no torch dtype (float32, int64, bool, ...)"
        )
    g = torch.Generator().manual_seed(0)
    if dtype == torch.bool:
        return torch.rand(shape, generator=g) > 0.5
    if dtype.is_floating_point:
        return torch.randn(shape, generator=g, dtype=dtype)
    return torch.randint(0, _INT_HIGH, shape, generator=g, dtype=dtype)


def _load(target: str) -> Any:
    mod_name, _, attr = target.partition(":")
    if not mod_name or not attr:
        raise ValueError(f"{target!r}: expected MODULE:CALLABLE, e.g. torchvision.models:resnet18")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    fn = importlib.import_module(mod_name)
    for part in attr.split("."):
        fn = getattr(fn, part)
    return fn()


def run(args: argparse.Namespace) -> tuple[int, str]:
    """Build the model, write its port to ``args.output``, return ``(status, report)``: 0
    and the compare report when the port matches torch on the inputs, 1 otherwise (the file
    is written either way, so it can be read and fixed)."""
    from .api import _build, _example, _generate, check_report

    model = _load(args.target).eval()
    inputs = [parse_input(s) for s in args.input]
    source = _generate(model, _example(tuple(inputs), {}))
    with open(args.output, "w") as f:
        f.write(source)
    if not inputs:
        return 0, f"wrote {args.output} (no --input: not checked)"
    net = _build(source, model)
    _, report = check_report(model, net, tuple(inputs), {}, rtol=1e-4, atol=1e-5)
    return (0 if report.ok else 1), f"wrote {args.output}\n{report}"
