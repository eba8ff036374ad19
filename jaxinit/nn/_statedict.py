"""``state_dict`` and ``load_state_dict`` with torch's keys, order and messages."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from .._host import device_arrays
from .._keys import IncompatibleKeys
from .._tree import iter_flat, unflatten
from .._values import check_metadata, value_error
from ._derived import declared_value, fill_derived
from ._plan import Plan, plan_of
from .parameter import _as_numpy, _is_array

Variables = dict[str, Any]


class _Required:
    """The default of ``load_state_dict``'s ``state_dict``: a one-argument torch-style call
    (``net.load_state_dict(sd)``) gets a message instead of a bare TypeError."""

    def __repr__(self) -> str:
        return "<required>"


_NO_STATE_DICT: Any = _Required()


def _shape_str(shape: tuple) -> str:
    return str(tuple(shape))


def _overrides(module: Any, method: str) -> bool:
    return not getattr(getattr(type(module), method), "_base_default", False)


def _is_fill(decl: Any) -> bool:
    try:
        declared_value(decl, "")
    except ValueError:
        return False
    return True


class StateDict:
    """Mixin of :class:`~jaxinit.nn.Module`: torch's checkpoint dictionaries."""

    def state_dict(
        self,
        variables: Mapping[str, Any],
        destination: dict | None = None,
        prefix: str = "",
        keep_vars: bool = False,
    ) -> OrderedDict:
        """torch's ``state_dict``: every key, tied aliases included (the same array object
        under each alias), per module its parameters, then its persistent buffers, then its
        ``_extra_state`` (if its class defines ``get_extra_state``), then its children;
        non-persistent buffers are left out. The result carries torch's ``_metadata``
        (``{module prefix: {'version': cls._version}}``), so BatchNorm's version-2 rules
        apply when it is loaded, here or in torch.

        ``destination``: a dict to add the entries to (returned); ``prefix``: prepended to
        every key; ``keep_vars`` is accepted for torch's signature (arrays are values here:
        there is nothing to detach).

        Example::

            sd = net.state_dict(variables)           # OrderedDict: 'A.1.conv.weight', ...
            sd._metadata["A.1.bn"]                    # {'version': 2}
        """
        del keep_vars
        plan = plan_of(self)
        flat = fill_derived(plan, dict(iter_flat(variables)))
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()  # type: ignore[attr-defined]
        metadata = getattr(destination, "_metadata", None)
        if metadata is not None:
            for path, module in self.named_modules(remove_duplicate=False):
                metadata[(prefix + path) if path else prefix[:-1]] = {"version": module._version}
        for name, canon in plan.state_keys:
            if canon is None:
                module = plan.extra_state[name]
                if _overrides(module, "get_extra_state"):
                    destination[prefix + name] = module.get_extra_state()
            else:
                destination[prefix + name] = flat[canon]
        return destination

    def get_extra_state(self) -> Any:
        """torch's hook for state that is not a parameter or buffer: override it (with
        :meth:`set_extra_state`) and ``state_dict`` gets a ``'<prefix>_extra_state'`` entry
        holding its return value, which ``load_state_dict`` hands back to
        ``set_extra_state``. Keep it picklable and, for ``jaxinit.save``, made of arrays,
        numbers, strings, lists and dicts.

        Example::

            class Tagged(nn.Module):
                def get_extra_state(self):
                    return {"vocab": self.vocab}

                def set_extra_state(self, state):
                    self.vocab = state["vocab"]
        """
        raise RuntimeError(
            "Reached a code path in Module.get_extra_state() that should never be called. "
            "Please file an issue at https://github.com/pytorch/pytorch/issues/new?template="
            "bug-report.yml to report this bug."
        )

    get_extra_state._base_default = True  # type: ignore[attr-defined]

    def set_extra_state(self, state: Any) -> None:
        """Restore what :meth:`get_extra_state` returned (called by ``load_state_dict``); the
        module object keeps it, as in torch -- it is configuration, not a variable."""
        raise RuntimeError(
            "Reached a code path in Module.set_extra_state() that should never be called. "
            "Please file an issue at https://github.com/pytorch/pytorch/issues/new?template="
            "bug-report.yml to report this bug."
        )

    set_extra_state._base_default = True  # type: ignore[attr-defined]

    def _load_from_state_dict(
        self,
        state_dict: dict,
        prefix: str,
        local_metadata: dict,
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        """torch's per-module loading hook, with torch's arguments. ``load_state_dict`` calls
        an override of it for each module, pre-order, before any value is read, on a copy of
        the state_dict it then loads from: an override may drop, rename or convert entries
        (torchvision's ``FrozenBatchNorm2d`` deletes ``prefix + 'num_batches_tracked'``) and
        append to ``missing_keys``, ``unexpected_keys`` and ``error_msgs``, which are
        reported as torch reports them. This base version does nothing (the values are
        copied functionally afterwards), so ``super()._load_from_state_dict(...)`` is safe.

        Example::

            def _load_from_state_dict(self, state_dict, prefix, *args):
                state_dict.pop(prefix + "num_batches_tracked", None)
                super()._load_from_state_dict(state_dict, prefix, *args)
        """

    _load_from_state_dict._base_default = True  # type: ignore[attr-defined]

    def _run_load_hooks(
        self, state_dict: Mapping[str, Any], metadata: Any
    ) -> tuple[Mapping[str, Any], list[str], list[str], list[str]]:
        """Every overridden ``_load_from_state_dict``, pre-order as torch's ``load`` walks the
        tree: ``(state_dict they changed (a copy), missing, unexpected, error_msgs)``."""
        hooked = [
            (path, m)
            for path, m in self.named_modules(remove_duplicate=False)
            if _overrides(m, "_load_from_state_dict")
        ]
        if not hooked:
            return state_dict, [], [], []
        sd = OrderedDict(state_dict)
        sd._metadata = metadata  # type: ignore[attr-defined]
        missing: list[str] = []
        unexpected: list[str] = []
        errors: list[str] = []
        for path, module in hooked:
            local = {} if metadata is None else metadata.get(path, {})
            prefix = f"{path}." if path else ""
            module._load_from_state_dict(sd, prefix, local, True, missing, unexpected, errors)
        return sd, missing, unexpected, errors

    def load_state_dict(
        self,
        variables: Mapping[str, Any] | None,
        state_dict: Mapping[str, Any] = _NO_STATE_DICT,  # type: ignore[assignment]
        strict: bool = True,
    ) -> tuple[Variables, IncompatibleKeys]:
        """Functional ``load_state_dict``: ``variables, result = net.load_state_dict(variables,
        state_dict)``.

        Values (numpy, jax or torch tensors) are cast to the current dtype, as torch's
        ``copy_``; every alias key of a tied parameter is read (the last one wins). Missing
        and unexpected keys are always collected and raise if ``strict``; size mismatches
        and non-array values raise even with ``strict=False``, in torch's message format.
        ``variables=None`` loads into a model with no values yet (then every key must be
        present). Non-persistent buffers are never expected: their values come from their
        declarations. An ``_extra_state`` entry goes to the module's ``set_extra_state`` (as
        in torch, while walking the tree, before errors are raised: extra state is module
        configuration, not a variable). An overridden ``_load_from_state_dict`` runs first,
        as in torch (:meth:`_load_from_state_dict`). No variables are returned unless
        everything succeeded.

        Example::

            variables, result = net.load_state_dict(None, torch_model.state_dict())
            variables, result = net.load_state_dict(variables, sd, strict=False)
        """
        if state_dict is _NO_STATE_DICT:
            raise TypeError(
                "load_state_dict takes the current variables first (jaxinit is functional): "
                "variables, result = net.load_state_dict(variables, state_dict), or "
                "net.load_state_dict(None, state_dict) to build the variables from the "
                "state_dict alone"
            )
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        plan = plan_of(self)
        current = None if variables is None else dict(iter_flat(variables))
        metadata = check_metadata(getattr(state_dict, "_metadata", None))
        state_dict, hook_missing, hook_unexpected, errors = self._run_load_hooks(
            state_dict, metadata
        )
        new: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        missing: list[str] = []
        unexpected_extra: list[str] = []
        for name, canon in plan.state_keys:
            if canon is None:
                module = plan.extra_state[name]
                if _overrides(module, "set_extra_state"):
                    if name in state_dict:
                        extra[name] = state_dict[name]
                    elif strict:
                        missing.append(name)
                elif strict and name in state_dict:
                    unexpected_extra.append(name)
                continue
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
            try:
                value = _as_numpy(value)
            except TypeError as err:  # a meta, sparse or quantized torch tensor
                errors.append(f'While copying the parameter named "{name}": {err}')
                continue
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
            if (problem := value_error(name, value, target.dtype, shape)) is not None:
                errors.append(problem)
                continue
            new[canon] = value.astype(target.dtype) if value.dtype != target.dtype else value
        for name, state in extra.items():  # as torch: handed over during the walk
            plan.extra_state[name].set_extra_state(state)
        if extra and plan_of(self).state_keys != plan.state_keys:  # a new tree (torch
            return self.load_state_dict(variables, state_dict, strict)  # walks the new one)
        known = {name for name, _ in plan.state_keys}
        unexpected = [k for k in state_dict if k not in known or k in unexpected_extra]
        missing += [k for k in hook_missing if k not in missing]
        unexpected += [k for k in hook_unexpected if k not in unexpected]
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
        placed = dict(zip(new, device_arrays(new.values())))  # one copy, no compile
        values: dict[str, Any] = {}
        for canon, decl in plan.entries.items():
            if canon in placed:
                values[canon] = placed[canon]
            elif current is not None and canon in current:
                values[canon] = current[canon]
            elif canon in plan.derived:
                continue  # comes from its declaration whenever it is needed
            elif canon not in missing and _is_fill(decl):
                values[canon] = declared_value(decl, canon)  # BatchNorm's legacy counter
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
