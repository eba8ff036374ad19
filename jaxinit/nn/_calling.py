"""Calling a module: ``net(variables, x)`` binds the variables and runs ``forward``."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import jax

from .._tree import iter_flat
from . import _binding
from ._binding import Frame, bound, merge_updates
from ._derived import fill_derived
from ._nokey import NoKey
from ._plan import Plan, plan_of
from .tying import check_undeclared_ties


def _forward_takes(module: Any, name: str) -> bool:
    """Whether ``module.forward`` has a parameter called ``name`` (not just ``**kwargs``)."""
    try:
        params = inspect.signature(type(module).forward).parameters
    except (TypeError, ValueError):
        return False
    p = params.get(name)
    return p is not None and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)


def _is_torch_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _reject_torch_tensors(module: Any, args: tuple, kwargs: dict) -> None:
    """A torch habit: passing a ``torch.Tensor`` as input. Say how to convert it."""
    inputs = args[1:] if args and isinstance(args[0], Mapping) else args
    named = [(f"input {i}", a) for i, a in enumerate(inputs)] + [
        (f"argument {k!r}", v) for k, v in kwargs.items()
    ]
    for where, value in named:
        if _is_torch_tensor(value):
            raise TypeError(
                f"{type(module).__name__} got a torch.Tensor as {where}: jaxinit modules take "
                "JAX or numpy arrays. Convert it with jnp.asarray(t.detach().cpu().numpy()) "
                "or np.asarray(t.detach()) (jaxinit.interop.torch converts bfloat16 and "
                "float8 bit-exactly)"
            )


class Calling:
    """Mixin of :class:`~jaxinit.nn.Module`: the root call, ``forward``, ``training``."""

    @property
    def training(self) -> bool:
        """True inside a ``train=True`` call, as torch's ``module.training``."""
        frame = _binding.current()
        return bool(frame is not None and frame.train)

    def next_key(self) -> jax.Array | NoKey:
        """A fresh PRNG key inside ``forward`` (Dropout): derived from the call's ``rng``, this
        module's path and a per-call counter.

        In an eval call without ``rng`` it returns a placeholder (:class:`NoKey`, falsy) that
        every ``rng=`` consumer of :mod:`jaxinit.nn.functional` accepts where it draws nothing
        (eval, ``p == 0``) and refuses where it would draw, as ``jax.random`` does, with a
        message saying to pass ``rng=``; so torch code that asks for a key unconditionally
        (torchvision's ``StochasticDepth``) runs in eval. A training call without ``rng`` still
        raises here.

        Example::

            def forward(self, x):
                return F.dropout(x, self.p, self.training, rng=self.next_key())
        """
        frame = _binding.current()
        if frame is None or not frame.owns(self):
            raise RuntimeError("next_key() is only available inside a call of the model")
        return frame.next_key(self)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation, written as in torch; called by ``net(variables, *args)`` with the
        variables bound (``self.weight`` is the array, ``self.conv(x)`` the bound child)."""
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``net(variables, *args, train=False, rng=None, **kwargs)``: run ``forward`` with
        ``variables`` bound (see :meth:`_call`). Inside another module's ``forward``, a child is
        called as in torch: ``self.conv(x)``."""
        frame = _binding.current()
        if frame is not None and (frame.owns(self) or not self._has_variables()):
            if frame.record is None or not frame.owns(self):
                return self.forward(*args, **kwargs)
            slot = len(frame.record)  # summary(): rows in call order, parents first
            frame.record.append(None)
            out = self.forward(*args, **kwargs)
            frame.record[slot] = (frame.plan.module_paths[id(self)], self, out)
            return out
        _reject_torch_tensors(self, args, kwargs)
        if not args or not isinstance(args[0], Mapping):
            if not self._has_variables():  # a parameterless module needs no variables
                return self._call({}, *args, **kwargs)
            raise TypeError(
                f"{type(self).__name__} must be called with its variables first: "
                "net(variables, x) where variables = net.init(key)"
            )
        return self._call(*args, **kwargs)

    def _has_variables(self) -> bool:
        plan = plan_of(self)
        return len(plan.entries) > len(plan.derived)

    def _call(
        self,
        variables: Mapping[str, Any],
        *args: Any,
        train: bool = False,
        rng: Any = None,
        **kwargs: Any,
    ) -> Any:
        """The root call: ``out = net(variables, *args, **kwargs)`` (eval), or ``out,
        variables = net(variables, *args, train=True, rng=key)`` with the buffers that
        ``forward`` updated (BatchNorm statistics) merged into the returned variables.

        ``rng`` is the PRNG key for randomness inside ``forward`` (Dropout: each
        ``self.next_key()`` folds in the module's path and a counter). ``key=`` is accepted as
        the PRNG key too, for code written before ``rng=``, *unless* ``forward`` has a parameter
        named ``key`` -- then ``key=`` goes to ``forward``, as in
        ``mha(variables, query, key=k, value=v)`` for ``MultiheadAttention``.

        Example::

            y = net(variables, x)
            y, variables = net(variables, x, train=True, rng=jax.random.key(1))
        """
        if "key" in kwargs and not _forward_takes(self, "key"):
            if rng is not None:
                raise TypeError(
                    f"{type(self).__name__} got both rng= and key=: pass the PRNG key once, as rng="
                )
            rng = kwargs.pop("key")
        plan = plan_of(self)
        values = self._bind_values(plan, variables)
        frame = Frame(plan, values, "forward", train=train, key=rng)
        with bound(frame):
            out = self.forward(*args, **kwargs)
        if not train:
            return out
        return out, merge_updates(variables, frame.updated)

    def _bind_values(self, plan: Plan, variables: Mapping[str, Any]) -> dict[str, Any]:
        flat = fill_derived(plan, dict(iter_flat(variables)))
        missing = [n for n in plan.entries if n not in flat]
        unexpected = [n for n in flat if n not in plan.entries]
        if missing or unexpected:
            raise ValueError(self._structure_message(plan, missing, unexpected))
        check_undeclared_ties(flat)
        return flat

    def _structure_message(self, plan: Plan, missing: list[str], unexpected: list[str]) -> str:
        lines = [f"variables do not match {type(self).__name__}:"]
        if missing:
            lines.append("missing: " + ", ".join(missing))
            if all(plan.is_buffer(m) for m in missing):
                lines.append("these are buffers: pass net.merge(params, buffers), not params alone")
        for name in unexpected:
            canon = plan.canonical(name)
            if canon != name and canon in plan.entries:
                lines.append(
                    f"unexpected: {name} is a tied alias of {canon}; a tied variable is "
                    f"stored once, under its first name: drop {name!r}"
                )
            else:
                lines.append(f"unexpected: {name}")
        lines.append("build variables with net.init(key) or net.load_state_dict(...)")
        return "\n  ".join(lines)
