"""The report of :func:`jaxinit.testing.compare_training`: one row per step, the optimizer's
hyper-parameter differences, and a printed summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StepRow:
    """One training step on both sides. ``param`` is the first parameter (in torch's
    ``named_parameters`` order) whose value departs after the step, ``None`` when all agree;
    ``max_abs`` its largest elementwise difference; ``reason`` what departed with it (an
    optimizer state entry, a learning rate), when the comparison can tell. ``state``: when
    the parameters agree but an optimizer state entry already departs, which
    (``'fc.weight: state 'exp_avg' departs by 3e-05'``)."""

    step: int
    torch_loss: float
    jaxinit_loss: float
    param: str | None = None
    max_abs: float = 0.0
    reason: str | None = None
    state: str | None = None

    @property
    def ok(self) -> bool:
        return self.param is None and self.state is None

    def describe(self) -> str:
        """``'step 3: loss 0.512 / 0.512; fc.weight departs by 2.1e-03 (state exp_avg ...)'``."""
        head = (
            f"step {self.step}: loss torch {self.torch_loss:.6g}, jaxinit {self.jaxinit_loss:.6g}"
        )
        if self.ok:
            return head + "; parameters agree"
        if self.param is None:
            return f"{head}; parameters agree, optimizer state departs ({self.state})"
        why = f" ({self.reason})" if self.reason else ""
        return f"{head}; {self.param} departs by {self.max_abs:.3g}{why}"


@dataclass(frozen=True)
class TrainingReport:
    """``compare_training``'s result: ``hparams`` lists the optimizer options that differ
    per group (``'group 1: weight_decay torch 0.1, jaxinit 0.0'``), ``steps`` one
    :class:`StepRow` per batch. ``ok`` when no option differs and every step agrees;
    ``first_departure`` is the first failing row. ``variables`` and ``opt_state`` are the
    port's after the last step (to continue training or save a checkpoint)."""

    optimizer: str
    hparams: list[str] = field(default_factory=list)
    steps: list[StepRow] = field(default_factory=list)
    rtol: float = 0.0
    atol: float = 0.0
    variables: Any = field(default=None, repr=False, compare=False)
    opt_state: Any = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.hparams and all(row.ok for row in self.steps)

    @property
    def first_departure(self) -> StepRow | None:
        return next((row for row in self.steps if not row.ok), None)

    def __str__(self) -> str:
        verdict = "agree" if self.ok else "DEPART"
        lines = [
            f"compare_training ({self.optimizer}, {len(self.steps)} steps, "
            f"|a - b| <= {self.atol:g} + {self.rtol:g} |b|): {verdict}"
        ]
        if self.hparams:
            lines.append("optimizer options differ:")
            lines += [f"  {h}" for h in self.hparams]
        first = self.first_departure
        if first is None:
            lines.append("every step: parameters agree")
        else:
            lines.append(f"first departure: {first.describe()}")
        lines += ["  " + row.describe() for row in self.steps]
        return "\n".join(lines)
