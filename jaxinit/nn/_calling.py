"""Calling a module: ``net(variables, x)`` binds the variables and runs ``forward``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax

from .._tree import iter_flat
from . import _binding
from ._binding import Frame, bound, merge_updates
from ._plan import Plan, plan_of
from .tying import check_undeclared_ties


class Calling:
    """Mixin of :class:`~jaxinit.nn.Module`: the root call, ``forward``, ``training``."""

    @property
    def training(self) -> bool:
        """True inside a ``train=True`` call, as torch's ``module.training``."""
        frame = _binding.current()
        return bool(frame is not None and frame.train)

    def next_key(self) -> jax.Array:
        """A fresh PRNG key inside ``forward`` (Dropout): derived from the call's ``key``, this
        module's path and a per-call counter."""
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
        frame = _binding.current()
        if frame is not None and (frame.owns(self) or not self._has_variables()):
            if frame.record is None or not frame.owns(self):
                return self.forward(*args, **kwargs)
            slot = len(frame.record)  # summary(): rows in call order, parents first
            frame.record.append(None)
            out = self.forward(*args, **kwargs)
            frame.record[slot] = (frame.plan.module_paths[id(self)], self, out)
            return out
        if not args or not isinstance(args[0], Mapping):
            if not self._has_variables():  # a parameterless module needs no variables
                return self._call({}, *args, **kwargs)
            raise TypeError(
                f"{type(self).__name__} must be called with its variables first: "
                "net(variables, x) where variables = net.init(key)"
            )
        return self._call(*args, **kwargs)

    def _has_variables(self) -> bool:
        return bool(plan_of(self).entries)

    def _call(
        self,
        variables: Mapping[str, Any],
        *args: Any,
        train: bool = False,
        key: Any = None,
        **kwargs: Any,
    ) -> Any:
        plan = plan_of(self)
        values = self._bind_values(plan, variables)
        frame = Frame(plan, values, "forward", train=train, key=key)
        with bound(frame):
            out = self.forward(*args, **kwargs)
        if not train:
            return out
        return out, merge_updates(variables, frame.updated)

    def _bind_values(self, plan: Plan, variables: Mapping[str, Any]) -> dict[str, Any]:
        flat = dict(iter_flat(variables))
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
                lines.append(
                    "these are buffers: pass net.merge(params, buffers), not params alone"
                )
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

