"""The naming plan of a module tree: which variables exist, under which names, who ties to whom.

One walk over the tree, in torch's ``state_dict`` order (a module's parameters, then its
buffers, then its children), gives everything naming needs:

* ``entries``: canonical name -> declaration, the variables that are stored (one per distinct
  declaration: a tied parameter is stored once, under the first name that reaches it);
* ``aliases``: every other name of a stored variable -> its canonical name;
* ``module_paths``: each distinct module -> the first path that reaches it;
* ``slots``: each distinct module -> {local name: canonical name} for its own variables;
* ``state_keys``: ``state_dict`` keys in order, aliases included, with their canonical names
  (``None`` for a module's ``_extra_state`` key; ``extra_state`` maps that key to the module);
* ``derived``: the non-persistent buffers: their values come from their declarations, so a
  variables tree may leave them out (``init`` does) and every consumer fills them in.

Plans are cached per root and rebuilt whenever any module anywhere registers something new
(a global structure version), so they are always true to the current tree.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .parameter import Buffer, Parameter, _Declaration

if TYPE_CHECKING:
    from .module import Module

_structure_version = 0


def structure_changed() -> None:
    global _structure_version
    _structure_version += 1


def join(prefix: str, name: str) -> str:
    if not name:
        return prefix
    return f"{prefix}.{name}" if prefix else name


@dataclass
class Plan:
    entries: dict[str, _Declaration] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    module_paths: dict[int, str] = field(default_factory=dict)
    modules: dict[str, Module] = field(default_factory=dict)  # canonical path -> module
    module_aliases: dict[str, str] = field(default_factory=dict)  # later path -> first path
    slots: dict[int, dict[str, str]] = field(default_factory=dict)
    state_keys: list[tuple[str, str | None]] = field(default_factory=list)
    extra_state: dict[str, Module] = field(default_factory=dict)  # '<prefix>_extra_state'
    derived: dict[str, _Declaration] = field(default_factory=dict)
    all_keys: list[tuple[str, str]] = field(default_factory=list)  # incl. non-persistent

    def canonical(self, name: str) -> str:
        """Resolve a variable or module name through aliases (longest aliased prefix)."""
        if name in self.entries or name in self.modules:
            return name
        if name in self.aliases:
            return self.aliases[name]
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            head = ".".join(parts[:i])
            if head in self.module_aliases:
                return self.canonical(join(self.module_aliases[head], ".".join(parts[i:])))
        return name

    def is_parameter(self, name: str) -> bool:
        return isinstance(self.entries.get(name), Parameter)

    def is_buffer(self, name: str) -> bool:
        return isinstance(self.entries.get(name), Buffer)


def has_extra_state(module: Module) -> bool:
    """torch's rule: a module has an ``_extra_state`` slot when its class overrides
    ``get_extra_state`` (saved) or ``set_extra_state`` (expected when loading)."""
    cls = type(module)
    return not (
        getattr(cls.get_extra_state, "_base_default", False)
        and getattr(cls.set_extra_state, "_base_default", False)
    )


_cache: weakref.WeakKeyDictionary[Module, tuple[int, Plan]] = weakref.WeakKeyDictionary()


def plan_of(root: Module) -> Plan:
    hit = _cache.get(root)
    if hit is not None and hit[0] == _structure_version:
        return hit[1]
    plan = _build(root)
    _cache[root] = (_structure_version, plan)
    return plan


def _build(root: Module) -> Plan:
    plan = Plan()
    canonical_of: dict[int, str] = {}  # id(declaration) -> canonical name

    def visit(module: Module, prefix: str) -> None:
        first = id(module) not in plan.module_paths
        if first:
            plan.module_paths[id(module)] = prefix
            plan.modules[prefix] = module
            plan.slots[id(module)] = {}
        else:
            plan.module_aliases[prefix] = plan.module_paths[id(module)]
        local = module.__dict__
        for table in (local["_parameters"], local["_buffers"]):
            for lname, decl in table.items():
                if decl is None:
                    continue
                full = join(prefix, lname)
                canon = canonical_of.setdefault(id(decl), full)
                if canon == full:
                    plan.entries[full] = decl
                    if isinstance(decl, Buffer) and not decl.persistent:
                        plan.derived[full] = decl
                else:
                    plan.aliases[full] = canon
                if first:
                    plan.slots[id(module)][lname] = canon
                plan.all_keys.append((full, canon))
                if not isinstance(decl, Buffer) or decl.persistent:
                    plan.state_keys.append((full, canon))
        if has_extra_state(module):
            key = join(prefix, "_extra_state")
            plan.extra_state[key] = module
            plan.state_keys.append((key, None))
        for cname, child in local["_modules"].items():
            if child is not None:
                visit(child, join(prefix, cname))

    visit(root, "")
    return plan
