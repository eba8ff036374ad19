"""torch's underscore initializers (``kaiming_normal_(tensor, ...)``), for declarations.

``jaxinit.init.X_(decl, ...)`` takes torch's signature and defaults exactly and acts on a
:class:`jaxinit.nn.Parameter` or :class:`jaxinit.nn.Buffer` declaration -- what ``m.weight`` is
inside a module's ``__init__`` -- or on an indexed part of one (``init.zeros_(m.weight[0])``,
Hugging Face's ``_init_weights`` for ``padding_idx``: a patch of that part, drawn with that
part's shape and fans, as torch draws into the slice): the declaration's initializer becomes
``init.X`` with these arguments (a re-initialisation event, replayed in torch's order under
``net.init(TorchGenerator(s))``; see :mod:`jaxinit.nn._ctor_init`), and the declaration is
returned, as torch returns the tensor. Argument errors are raised at the call, as torch's.

A concrete array (numpy, jax, torch; or a bound variable inside ``net.apply``) cannot change
in place: the call raises a TypeError that shows the functional form ``init.X(key, shape, ...)``.

Served lazily by :mod:`jaxinit.init` (``from jaxinit import init; init.kaiming_normal_``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from jaxinit import init as _f
from jaxinit.generator import TorchGenerator

__all__ = [
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "eye_",
    "dirac_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
    "sparse_",
]


class _Stop(Exception):
    pass


class _NoDraw(TorchGenerator):
    """A key that stops an initializer at its first draw: every argument check of
    :mod:`jaxinit.init` runs before it draws, so the checks run now and nothing is drawn."""

    def __init__(self) -> None:  # no generator state: nothing is ever drawn
        pass

    def uniform_(self, *args: Any, **kwargs: Any) -> Any:
        raise _Stop

    def normal_(self, *args: Any, **kwargs: Any) -> Any:
        raise _Stop

    def randperm(self, *args: Any, **kwargs: Any) -> Any:
        raise _Stop


def _checked(fn: Callable, target: Any) -> Callable:
    """``fn`` after running its argument checks on ``target``'s shape and dtype (no draw)."""
    shape = target.shape
    if getattr(fn, "func", fn) in (_f.constant, _f.zeros, _f.ones):
        shape = ()  # only the value conversion is checked: no full-size fill
    try:
        fn(_NoDraw(), shape, target.dtype)
    except _Stop:
        pass
    return fn


def _apply(
    tensor: Any, fn: Callable, name: str, args: str = "", *, random: bool = True, generator=None
) -> Any:
    from jaxinit.nn._ctor_init import _no_generator, _View

    if isinstance(tensor, _View):  # init.zeros_(m.weight[m.padding_idx]): a patch of that part
        _no_generator(generator, f"init.{name}_")
        return tensor._init(_checked(fn, tensor), f"init.{name}_()")
    if not (hasattr(tensor, "_reinit") and hasattr(tensor, "_history")):
        key = "key" if random else "None"
        raise TypeError(
            f"init.{name}_ re-initialises a declaration (an nn.Parameter or nn.Buffer, e.g. "
            f"m.weight inside a Module's __init__), got {type(tensor).__name__}: JAX arrays "
            f"are immutable, so use the functional form, which returns a new array -- "
            f"`m.weight = init.{name}({key}, m.weight.shape{args})` inside "
            f"`net.apply(variables, fn, key)`, or `w = init.{name}({key}, w.shape{args})`"
        )
    if generator is not None:
        raise ValueError(
            f"init.{name}_(..., generator=...) on a declaration: its draws come from the key "
            "given to net.init -- drop generator= (net.init(jaxinit.TorchGenerator(seed)) "
            "replays torch's stream)"
        )
    return tensor._reinit(_checked(fn, tensor))


def uniform_(tensor: Any, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Any:
    """torch's ``nn.init.uniform_``: the declaration is re-initialised with ``init.uniform``,
    U(a, b). Example: ``init.uniform_(self.weight, -0.1, 0.1)`` in ``__init__``."""
    fn = functools.partial(_f.uniform, a=a, b=b)
    return _apply(tensor, fn, "uniform", f", a={a!r}, b={b!r}", generator=generator)


def normal_(tensor: Any, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Any:
    """torch's ``nn.init.normal_``: re-initialised with ``init.normal``, N(mean, std**2).
    Example: ``init.normal_(self.weight, std=0.02)``."""
    fn = functools.partial(_f.normal, mean=mean, std=std)
    return _apply(tensor, fn, "normal", f", mean={mean!r}, std={std!r}", generator=generator)


def trunc_normal_(
    tensor: Any,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: Any = None,
) -> Any:
    """torch's ``nn.init.trunc_normal_``: re-initialised with ``init.trunc_normal`` (``a``,
    ``b`` absolute bounds). Example: ``init.trunc_normal_(self.pos_embed, std=0.02)``."""
    fn = functools.partial(_f.trunc_normal, mean=mean, std=std, a=a, b=b)
    return _apply(tensor, fn, "trunc_normal", f", std={std!r}", generator=generator)


def constant_(tensor: Any, val: float) -> Any:
    """torch's ``nn.init.constant_``: re-initialised with ``init.constant(val=val)``; draws
    nothing. Example: ``init.constant_(m.bias, 0)``."""
    fn = functools.partial(_f.constant, val=val)
    return _apply(tensor, fn, "constant", f", val={val!r}", random=False)


def ones_(tensor: Any) -> Any:
    """torch's ``nn.init.ones_``: re-initialised with ``init.ones``; draws nothing."""
    return _apply(tensor, _f.ones, "ones", random=False)


def zeros_(tensor: Any) -> Any:
    """torch's ``nn.init.zeros_``: re-initialised with ``init.zeros``; draws nothing.
    Example: ``init.zeros_(self.bias)``."""
    return _apply(tensor, _f.zeros, "zeros", random=False)


def eye_(tensor: Any) -> Any:
    """torch's ``nn.init.eye_`` (2-D): re-initialised with ``init.eye``; draws nothing."""
    return _apply(tensor, _f.eye, "eye", random=False)


def dirac_(tensor: Any, groups: int = 1) -> Any:
    """torch's ``nn.init.dirac_`` (3-5-D conv kernels): re-initialised with ``init.dirac``;
    draws nothing."""
    fn = functools.partial(_f.dirac, groups=groups)
    return _apply(tensor, fn, "dirac", f", groups={groups!r}", random=False)


def xavier_uniform_(tensor: Any, gain: float = 1.0, generator: Any = None) -> Any:
    """torch's ``nn.init.xavier_uniform_``: re-initialised with ``init.xavier_uniform``.
    Example: ``init.xavier_uniform_(self.in_proj_weight)``."""
    fn = functools.partial(_f.xavier_uniform, gain=gain)
    return _apply(tensor, fn, "xavier_uniform", f", gain={gain!r}", generator=generator)


def xavier_normal_(tensor: Any, gain: float = 1.0, generator: Any = None) -> Any:
    """torch's ``nn.init.xavier_normal_``: re-initialised with ``init.xavier_normal``."""
    fn = functools.partial(_f.xavier_normal, gain=gain)
    return _apply(tensor, fn, "xavier_normal", f", gain={gain!r}", generator=generator)


def kaiming_uniform_(
    tensor: Any,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Any:
    """torch's ``nn.init.kaiming_uniform_``: re-initialised with ``init.kaiming_uniform``.
    Example: ``init.kaiming_uniform_(self.weight, a=math.sqrt(5))``."""
    fn = functools.partial(_f.kaiming_uniform, a=a, mode=mode, nonlinearity=nonlinearity)
    args = f", mode={mode!r}, nonlinearity={nonlinearity!r}"
    return _apply(tensor, fn, "kaiming_uniform", args, generator=generator)


def kaiming_normal_(
    tensor: Any,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Any:
    """torch's ``nn.init.kaiming_normal_``: re-initialised with ``init.kaiming_normal``.
    Example (torchvision's ResNet)::

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    """
    fn = functools.partial(_f.kaiming_normal, a=a, mode=mode, nonlinearity=nonlinearity)
    args = f", mode={mode!r}, nonlinearity={nonlinearity!r}"
    return _apply(tensor, fn, "kaiming_normal", args, generator=generator)


def orthogonal_(tensor: Any, gain: float = 1, generator: Any = None) -> Any:
    """torch's ``nn.init.orthogonal_``: re-initialised with ``init.orthogonal``."""
    fn = functools.partial(_f.orthogonal, gain=gain)
    return _apply(tensor, fn, "orthogonal", f", gain={gain!r}", generator=generator)


def sparse_(tensor: Any, sparsity: float, std: float = 0.01, generator: Any = None) -> Any:
    """torch's ``nn.init.sparse_``: re-initialised with ``init.sparse`` (2-D)."""
    fn = functools.partial(_f.sparse, sparsity=sparsity, std=std)
    return _apply(tensor, fn, "sparse", f", sparsity={sparsity!r}", generator=generator)
