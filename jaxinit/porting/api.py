"""``to_source`` and ``convert``: a torch model as a jaxinit module file, and as a module."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import jax

from ._classes import survey
from ._render import IMPORTS, Builder, ctor_init_notes, render_class
from .errors import PortError


def _header(root: Any, notes: list[str]) -> str:
    import torch

    cls = type(root)
    lines = [
        f'"""{cls.__name__} ({cls.__module__}), ported from torch {torch.__version__} '
        "by jaxinit.porting.to_source.",
        "",
        "build() returns the model: its module tree, names and state_dict keys are torch's.",
        "`variables, _ = build().load_state_dict(None, torch_state_dict)` loads torch's weights.",
        "",
        "What build().init(key) gives: each jaxinit layer's "
        "default init (torch's reset_parameters);",
        "parameters that torch classes "
        "declare themselves start at zero; buffers hold torch's values.",
    ]
    if notes:
        lines += [
            "Not reproduced (torch sets these weights in its constructor; load torch's "
            "weights, or re-initialise as below):"
        ]
        lines += [f"  - {n}" for n in notes]
    lines += [
        "",
        "The forward code relies on implicit broadcasting between arrays of "
        "different ranks, as torch does",
        "(JAX's default jax_numpy_rank_promotion).",
        '"""',
    ]
    return "\n".join(lines)


def _generate(torch_module: Any, example: tuple | None = None) -> str:
    sv = survey(torch_module, example)
    builder = Builder(torch_module, sv)
    root_expr = builder.expr(torch_module, "", "    ")
    ties = builder.ties()
    problems = _dedupe(sv.problems + builder.problems)
    if problems:
        n = len(problems)
        raise PortError(
            f"{type(torch_module).__name__} cannot be ported as it is: {n} "
            f"unsupported {'thing' if n == 1 else 'things'} (extend "
            "jaxinit.porting.table or rewrite these lines):",
            problems,
        )
    parts = [_header(torch_module, ctor_init_notes(torch_module)), "", IMPORTS]
    order = list(sv.classes.values())
    order.reverse()  # children's classes before their parents'
    for info in order:
        parts += ["", "\n".join(render_class(info)), ""]
    body = builder.pre + [f"    model = {root_expr}"] + ties + ["    return model"]
    parts += [
        "",
        "def build():",
        '    """The model with torch\'s hyper-parameters."""',
        "\n".join(body),
        "",
    ]
    return "\n".join(parts)


def _dedupe(problems: list) -> list:
    """One entry per (class, what, where): the first module path, and how many more."""
    first: dict[tuple, list] = {}
    for p in problems:
        first.setdefault((p.torch_class, p.what, p.where), []).append(p)
    out = []
    for (_, what, _), ps in first.items():
        more = f" (and {len(ps) - 1} more instances of the class)" if len(ps) > 1 else ""
        out.append(replace(ps[0], what=what + more))
    return out


def to_source(
    torch_module: Any,
    *example_args: Any,
    check: bool = True,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    **example_kwargs: Any,
) -> str:
    """The torch model as one readable jaxinit module file (a string).

    The file imports jaxinit, jax.numpy and numpy, never torch; it holds one class per torch
    class (torch's class and attribute names, a ``forward`` captured from torch by
    ``torch.fx``, or by ``torch.export`` on the example inputs where fx cannot trace it, as in
    Hugging Face's models; calls spelled by :mod:`jaxinit.porting.table` and
    :mod:`jaxinit.porting.aten`) and ``build()``, which
    returns the model with its hyper-parameters filled in. ``exec``-ing it and calling
    ``build()`` gives the model :func:`convert` returns. With ``check=True`` (and example
    inputs) the port is checked as :func:`convert` checks it (``rtol``, ``atol`` likewise).

    Raises :class:`PortError` listing every unsupported operation, method or module type.

    Example::

        source = jaxinit.porting.to_source(torchvision.models.resnet18(), x)
        open("resnet18_port.py", "w").write(source)
    """
    source = _generate(torch_module, _example(example_args, example_kwargs))
    if check and (example_args or example_kwargs):
        net = _build(source, torch_module)
        _check(torch_module, net, example_args, example_kwargs, rtol, atol)
    return source


def _example(args: tuple, kwargs: dict) -> tuple | None:
    return (tuple(args), dict(kwargs)) if (args or kwargs) else None


def _build(source: str, torch_module: Any) -> Any:
    namespace: dict[str, Any] = {"__name__": f"jaxinit_port_{type(torch_module).__name__}"}
    exec(compile(source, f"<port of {type(torch_module).__name__}>", "exec"), namespace)
    return namespace["build"]()


def load_torch_weights(net: Any, torch_module: Any) -> Any:
    """``net``'s variables holding ``torch_module``'s state_dict (strict; ties kept)."""
    variables, _ = net.load_state_dict(None, torch_module.state_dict())
    return variables


def _positional(torch_module: Any, args: tuple, kwargs: dict) -> tuple:
    """``args`` and ``kwargs`` as one positional tuple of ``forward``'s parameters (defaults
    filling the gaps), since ``jaxinit.testing.compare`` passes inputs positionally."""
    import inspect

    if not kwargs:
        return tuple(args)
    sig = inspect.signature(torch_module.forward)
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as e:
        raise PortError(
            f"the example inputs do not fit {type(torch_module).__name__}.forward{sig}: {e}"
        ) from None
    names = [
        p.name
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if any(k not in names for k in bound.arguments):
        raise PortError(
            "the check passes example inputs positionally: keyword-only or **kwargs "
            "inputs cannot be checked (pass check=False)"
        )
    last = max(names.index(k) for k in bound.arguments)
    return tuple(
        bound.arguments[n] if n in bound.arguments else sig.parameters[n].default
        for n in names[: last + 1]
    )


def check_report(
    torch_module: Any, net: Any, args: tuple, kwargs: dict, rtol: float, atol: float
) -> tuple[Any, Any]:
    """``(variables, report)``: ``net`` loaded with ``torch_module``'s weights, and
    ``jaxinit.testing.compare``'s report of the two on the example inputs (outputs of every
    module, eval mode, and gradients of the outputs on a fixed random direction)."""
    from jaxinit.testing import compare

    inputs = _positional(torch_module, args, kwargs)
    variables = load_torch_weights(net, torch_module)
    with jax.numpy_rank_promotion("allow"), jax.numpy_dtype_promotion("standard"):
        report = compare(
            torch_module,
            net,
            *inputs,
            variables=variables,
            grads=True,
            rtol=rtol,
            atol=atol,
            loss=(_projection_loss_torch, _projection_loss_jax),
        )
    return variables, report


def _check(torch_module: Any, net: Any, args: tuple, kwargs: dict, rtol: float, atol: float) -> Any:
    variables, report = check_report(torch_module, net, args, kwargs, rtol, atol)
    if not report.ok:
        raise PortError(
            "the port differs from torch on the example inputs "
            "(jaxinit.testing.compare):\n" + str(report),
            report=report,
        )
    return variables


def _direction(i: int, shape: tuple) -> Any:
    """A fixed random unit vector of ``shape`` (the ``i``-th output's)."""
    import numpy as np

    r = np.random.RandomState(i).standard_normal(shape)
    return (r / max(float(np.linalg.norm(r)), 1e-30)).astype(np.float32)


def _projection_loss_torch(out: Any) -> Any:
    """The check's loss: each float output projected on a fixed random unit direction, summed.
    (``compare``'s default, the plain sum, and a sum of squares both have gradients that
    cancel through a final LayerNorm or RMSNorm, leaving float32 rounding of 1e-4 of their
    size to compare; a random direction keeps them well-conditioned: 4e-7.)"""
    import torch

    from jaxinit.testing._run import leaves

    floats = [t for t in leaves(out) if t.is_floating_point()]
    return sum(
        (t.float() * torch.as_tensor(_direction(i, tuple(t.shape)))).sum()
        for i, t in enumerate(floats)
    )


def _projection_loss_jax(out: Any) -> Any:
    import jax.numpy as jnp

    from jaxinit.testing._run import leaves

    floats = [t for t in leaves(out) if jnp.issubdtype(t.dtype, jnp.floating)]
    return sum(
        (t.astype(jnp.float32) * _direction(i, tuple(t.shape))).sum() for i, t in enumerate(floats)
    )


def convert(
    torch_module: Any,
    *example_args: Any,
    check: bool = True,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    **example_kwargs: Any,
) -> tuple[Any, Any]:
    """``net, variables = convert(torch_module, *example_args)``: the torch model as a
    native jaxinit module and its weights.

    ``net`` is :func:`to_source`'s file, executed: its module tree and ``state_dict`` keys,
    order, shapes and dtypes are torch's, every torch layer jaxinit has is that jaxinit
    layer with torch's hyper-parameters, and every other module's ``forward`` is captured
    from torch. ``variables`` hold torch's weights and buffers (a tied parameter once).
    ``net(variables, *args, train=..., rng=...)`` is pure and jit-able, on any batch size.
    With ``check=True`` (the default) ``jaxinit.testing.compare`` runs the example inputs
    through both (outputs of every submodule in eval mode, and the gradients of the outputs
    projected on a fixed random direction) and a
    difference raises :class:`PortError` with its report. A value is off when
    ``|port - torch| > atol + rtol * |torch|`` (``compare``'s elementwise rule); the defaults
    are ``compare``'s whole-model tolerances (its own defaults suit a few layers: through a
    deep model, and in gradients summed over a batch, float32 summation order moves values by
    ~1e-4 of their size).

    Example::

        net, variables = jaxinit.porting.convert(torch_net, torch.randn(2, 3, 32, 32))
        y = jax.jit(net)(variables, jnp.ones((8, 3, 32, 32)))
    """
    source = _generate(torch_module, _example(example_args, example_kwargs))
    net = _build(source, torch_module)
    if check and (example_args or example_kwargs):
        variables = _check(torch_module, net, example_args, example_kwargs, rtol, atol)
    else:
        variables = load_torch_weights(net, torch_module)
    net.port_source = source
    return net, variables
