"""What ``self.next_key()`` returns in an eval call that was given no ``rng``.

torch code asks for randomness unconditionally and lets the probability decide
(torchvision's ``StochasticDepth``, an attention layer's ``dropout_p`` that is 0 in eval), so
an eval call must be able to hand out *something*. :data:`NO_KEY` is that something: every
``rng=`` consumer of :mod:`jaxinit.nn.functional` treats it as ``None`` (it draws nothing in
eval or with ``p == 0``, and raises its own "needs randomness" message where it would draw),
and any ``jax.random`` function given it raises a message that says to pass ``rng=`` to the
call -- randomness that would really be drawn is never drawn from a made-up key.
"""

from __future__ import annotations

from typing import Any


class NoKey:
    """The falsy placeholder key of an eval call without ``rng`` (see the module docstring).

    Example::

        key = self.next_key()      # in net(variables, x): NO_KEY
        F.dropout(x, 0.1, self.training, rng=key)   # eval: fine, draws nothing
        jax.random.normal(key, (3,))                 # ValueError: pass rng= to the call
    """

    __slots__ = ("owner",)

    def __init__(self, owner: str = "this module") -> None:
        self.owner = owner

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"NoKey({self.owner!r})"

    def __jax_array__(self) -> Any:
        raise self._error()

    @property
    def ndim(self) -> int:  # the first thing jax.random reads of a key
        raise self._error()

    def _error(self) -> ValueError:
        return ValueError(
            f"{self.owner} draws random numbers in an eval call that was given no PRNG key: "
            "pass one, e.g. net(variables, x, rng=jax.random.key(0)) (self.next_key() "
            "returns this placeholder in eval so that layers which draw nothing there run)"
        )


def is_no_key(rng: Any) -> bool:
    """``rng`` is ``None`` or the eval placeholder: nothing to draw from."""
    return rng is None or isinstance(rng, NoKey)
