"""torch's constructor checks, with torch's messages (ValueError), shared by the optimizers."""

from __future__ import annotations

from typing import Any


def _value(v: Any) -> float:
    return float(v)


def non_negative(group: dict[str, Any], key: str, label: str) -> None:
    """``ValueError(f"Invalid {label}: {value}")`` unless ``0 <= group[key]``.

    Example: ``non_negative(group, "lr", "learning rate")``.
    """
    if not 0.0 <= _value(group[key]):
        raise ValueError(f"Invalid {label}: {group[key]}")


def common(group: dict[str, Any], *keys: str) -> None:
    """torch's checks of ``lr``, ``eps`` and ``weight_decay`` (those of ``keys`` the optimizer
    has), in torch's order, then ``betas`` in [0, 1).

    Example: ``common(group, "lr", "eps", "betas", "weight_decay")``.
    """
    labels = {
        "lr": "learning rate",
        "eps": "epsilon value",
        "momentum": "momentum value",
        "weight_decay": "weight_decay value",
    }
    for key in keys:
        if key == "betas":
            for index, beta in enumerate(group["betas"]):
                if not 0.0 <= _value(beta) < 1.0:
                    raise ValueError(f"Invalid beta parameter at index {index}: {beta}")
        else:
            non_negative(group, key, labels[key])
