"""``state_dict`` and ``load_state_dict`` with torch's keys, order and messages."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp

from .._state import IncompatibleKeys
from .._tree import iter_flat, unflatten
from ._plan import Plan, plan_of
from .parameter import _as_numpy, _is_array

Variables = dict[str, Any]


def _shape_str(shape: tuple) -> str:
    return str(tuple(shape))


class StateDict:
    """Mixin of :class:`~jaxinit.nn.Module`: torch's checkpoint dictionaries."""

    def state_dict(self, variables: Mapping[str, Any], prefix: str = "") -> OrderedDict:
        """torch's ``state_dict``: every key, tied aliases included (the same array object
        under each alias), parameters before buffers per module, non-persistent buffers left
        out."""
        plan = plan_of(self)
        flat = dict(iter_flat(variables))
        out = OrderedDict()
        for name, canon in plan.state_keys:
            out[prefix + name] = flat[canon]
        return out

    def load_state_dict(
        self,
        variables: Mapping[str, Any] | None,
        state_dict: Mapping[str, Any],
        strict: bool = True,
    ) -> tuple[Variables, IncompatibleKeys]:
        """Functional ``load_state_dict``: ``variables, result = net.load_state_dict(variables,
        state_dict)``.

        Values (numpy, jax or torch tensors) are cast to the current dtype, as torch's
        ``copy_``; every alias key of a tied parameter is read (the last one wins). Missing
        and unexpected keys are always collected and raise if ``strict``; size mismatches
        and non-array values raise even with ``strict=False``, in torch's message format.
        ``variables=None`` loads into a model with no values yet (then every key must be
        present). Nothing is returned unless everything succeeded.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        plan = plan_of(self)
        current = None if variables is None else dict(iter_flat(variables))
        metadata = getattr(state_dict, "_metadata", None)
        new: dict[str, Any] = {}
        missing: list[str] = []
        errors: list[str] = []
        for name, canon in plan.state_keys:
            if name not in state_dict:
                if not self._legacy_key_ok(plan, name, metadata):
                    missing.append(name)
                continue
            value = state_dict[name]
            if not _is_array(value):
                errors.append(
                    f'While copying the parameter named "{name}", expected an array from '
                    f"checkpoint but received {type(value)}"
                )
                continue
            value = _as_numpy(value)
            decl = plan.entries[canon]
            target = current[canon] if current is not None and canon in current else decl
            shape = tuple(target.shape)
            if shape == () and value.shape == (1,):
                value = value.reshape(())
            if value.shape != shape:
                errors.append(
                    f"size mismatch for {name}: copying a param with shape "
                    f"{_shape_str(value.shape)} from checkpoint, the shape in current model "
                    f"is {_shape_str(shape)}."
                )
                continue
            new[canon] = value.astype(target.dtype) if value.dtype != target.dtype else value
        known = {name for name, _ in plan.state_keys}
        unexpected = [k for k in state_dict if k not in known]
        if (strict and (missing or unexpected)) or errors:
            lines = []
            if strict and missing:
                lines.append(
                    "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". "
                )
            if strict and unexpected:
                lines.append(
                    "Unexpected key(s) in state_dict: "
                    + ", ".join(f'"{k}"' for k in unexpected)
                    + ". "
                )
            lines.extend(errors)
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(lines)
            )
        values: dict[str, Any] = {}
        for canon in plan.entries:
            if canon in new:
                values[canon] = jnp.asarray(new[canon])
            elif current is not None and canon in current:
                values[canon] = current[canon]
            else:
                raise ValueError(
                    f"{canon!r} is missing from the state_dict and there are no current "
                    "variables to keep it from: pass variables=net.init(key) (or a state_dict "
                    "with every key)"
                )
        return unflatten(values), IncompatibleKeys(missing, unexpected)

    def _legacy_key_ok(self, plan: Plan, name: str, metadata: Any) -> bool:
        """torch's BatchNorm rule: a checkpoint without version-2 metadata may lack
        ``num_batches_tracked``; the current value is kept."""
        prefix, _, local = name.rpartition(".")
        module = plan.modules.get(plan.canonical(prefix) if prefix else "")
        if module is None or local not in type(module)._legacy_optional:
            return False
        version = None if metadata is None else metadata.get(prefix, {}).get("version")
        return version is None or version < type(module)._version

