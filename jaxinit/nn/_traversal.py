"""Traversal: modules, children, parameters and buffers by name, in torch's order."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .._tree import iter_flat
from ._derived import declared_value
from ._plan import join, plan_of
from .parameter import Buffer, Parameter

if TYPE_CHECKING:
    from .module import Module


class Traversal:
    """Mixin of :class:`~jaxinit.nn.Module`: ``named_modules``, ``named_parameters``, ..."""

    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """Pre-order ``(name, module)`` pairs, the root named ``''``; a module reached twice
        is listed once (first name) unless ``remove_duplicate=False``. ``memo`` is a set of
        modules already seen (skipped with their subtrees), as torch.

        Example: ``[name for name, _ in net.named_modules(prefix="net")]``."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, child in self._tables()[2].items():
            if child is None:
                continue
            yield from child.named_modules(memo, join(prefix, name), remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """Every distinct module, pre-order, self first (``named_modules`` without names)."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """``(name, child)`` for the direct children, a child reached twice listed once."""
        seen: set[int] = set()
        for name, child in self._tables()[2].items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        """The direct children, deduplicated (``named_children`` without names)."""
        for _, m in self.named_children():
            yield m

    def _named(
        self,
        variables: Mapping[str, Any] | None,
        kind: type,
        prefix: str,
        recurse: bool,
        remove_duplicate: bool,
    ) -> Iterator[tuple[str, Any]]:
        plan = plan_of(self)
        flat = None if variables is None else dict(iter_flat(variables))
        own = self._tables()[0] if kind is Parameter else self._tables()[1]
        seen: set[str] = set()
        for name, canon in plan.all_keys:
            decl = plan.entries[canon]
            if not isinstance(decl, kind):
                continue
            if not recurse and name not in own:
                continue
            if remove_duplicate:
                if canon in seen:
                    continue
                seen.add(canon)
            if flat is None:
                value = decl
            elif canon in flat:
                value = flat[canon]
            elif canon in plan.derived:
                value = declared_value(decl, canon)
            else:
                continue  # e.g. buffers asked of a params-only tree
            yield join(prefix, name), value

    def named_parameters(
        self,
        variables: Mapping[str, Any] | None = None,
        prefix: str = "",
        recurse: bool = True,
        remove_duplicate: bool = True,
    ) -> Iterator[tuple[str, Any]]:
        """``(name, array)`` for every parameter, in torch's order; tied ones once (first
        name) unless ``remove_duplicate=False``. Without ``variables``: ``(name, Parameter)``
        declarations (shape, dtype, init). Works on gradient trees too:
        ``net.named_parameters(grads)``."""
        return self._named(variables, Parameter, prefix, recurse, remove_duplicate)

    def parameters(
        self, variables: Mapping[str, Any] | None = None, recurse: bool = True
    ) -> Iterator[Any]:
        """Every parameter array (or declaration, without ``variables``), tied ones once;
        ``recurse=False``: this module's own only. Example: ``sum(p.size for p in
        net.parameters(variables))``."""
        for _, v in self.named_parameters(variables, recurse=recurse):
            yield v

    def named_buffers(
        self,
        variables: Mapping[str, Any] | None = None,
        prefix: str = "",
        recurse: bool = True,
        remove_duplicate: bool = True,
    ) -> Iterator[tuple[str, Any]]:
        """``(name, array)`` for every buffer, non-persistent ones included, as torch."""
        return self._named(variables, Buffer, prefix, recurse, remove_duplicate)

    def buffers(
        self, variables: Mapping[str, Any] | None = None, recurse: bool = True
    ) -> Iterator[Any]:
        """Every buffer array (or declaration, without ``variables``), non-persistent ones
        included (their declared values when the tree leaves them out); ``recurse=False``:
        this module's own only."""
        for _, v in self.named_buffers(variables, recurse=recurse):
            yield v
