"""``torch.optim.AdamW``: Adam with decoupled weight decay (default 1e-2)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .adam import Adam


class AdamW(Adam):
    """torch's AdamW: :class:`Adam` with ``decoupled_weight_decay=True`` and
    ``weight_decay=1e-2`` (``p = p * (1 - lr * weight_decay)`` before the Adam step)::

        p = p * (1 - lr * wd);  m, v as Adam
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Example (nanoGPT's ``configure_optimizers``, two groups)::

        decay = [p for n, p in net.named_parameters() if p.dim() >= 2]
        no_decay = [p for n, p in net.named_parameters() if p.dim() < 2]
        optimizer = jaxinit.optim.AdamW(
            [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
            lr=6e-4, betas=(0.9, 0.95))
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )
