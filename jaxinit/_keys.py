"""``IncompatibleKeys``: what a state_dict load did not match (torch's ``_IncompatibleKeys``).

A neutral module so that models (:mod:`jaxinit.nn.module`) and checkpoints
(:mod:`jaxinit.serialization`) share one class without importing each other.

Example::

    >>> IncompatibleKeys(missing_keys=[], unexpected_keys=[])
    <All keys matched successfully>
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["IncompatibleKeys"]


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` did not match, as torch's ``_IncompatibleKeys``."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (
            f"_IncompatibleKeys(missing_keys={self.missing_keys}, "
            f"unexpected_keys={self.unexpected_keys})"
        )

    __str__ = __repr__
