"""Cross-checking a jaxinit port against its PyTorch reference, layer by layer.

``jaxinit.testing.compare(torch_module, net, x)`` runs both models on the same input and
returns a :class:`CompareReport` naming the first submodule whose output differs and the
hyper-parameters that differ; :func:`assert_matches_torch` is the pytest form.
``compare_training(torch_module, torch_optimizer, net, optimizer, batches)`` trains both
step by step and returns a :class:`TrainingReport` naming, per step, the first parameter
that departs and why (optimizer options, state). torch is
imported only when one of these functions runs.
"""

from __future__ import annotations

from .compare import assert_matches_torch, compare, tolerances
from .report import CompareReport, HParamMismatch, Row, StateDictDiff, ValueRow
from .training import compare_training
from .training_report import StepRow, TrainingReport

__all__ = [
    "CompareReport",
    "HParamMismatch",
    "Row",
    "StateDictDiff",
    "StepRow",
    "TrainingReport",
    "ValueRow",
    "assert_matches_torch",
    "compare",
    "compare_training",
    "tolerances",
]
