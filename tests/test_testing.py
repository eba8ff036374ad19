"""jaxinit.testing's parts that need no torch: tolerances, the difference measure, row
matching, hyper-parameter normalization, the report table, and a torch-free import."""

import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

from jaxinit.testing import CompareReport, HParamMismatch, Row, StateDictDiff, tolerances
from jaxinit.testing.compare import diff, match_rows, worst
from jaxinit.testing.hparams import normalize


def test_importing_jaxinit_testing_does_not_import_torch():
    code = (
        "import sys, jaxinit, jaxinit.testing; jaxinit.testing.compare; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_tolerances_scale_with_dtype():
    assert tolerances(np.float32, 1e-5, 1e-6) == (1e-5, 1e-6)
    assert tolerances(np.float64, 1e-5, 1e-6) == (1e-5, 1e-6)
    assert tolerances(np.float16, 1e-5, 1e-6) == (4 * 2.0**-10, 4 * 2.0**-10)
    assert tolerances(jnp.bfloat16, 1e-5, 1e-6) == (4 * 2.0**-7, 4 * 2.0**-7)
    assert tolerances(jnp.bfloat16, 0.1, 0.1) == (0.1, 0.1)  # never lowered
    assert tolerances(np.int32, 1e-5, 1e-6) == (0.0, 0.0)


def test_diff_is_elementwise_as_torch_testing():
    t = np.array([100.0, 1e-3, -50.0], np.float32)
    j = t + np.array([0.0, 5e-4, 0.0], np.float32)  # 50% off on a value near zero
    max_abs, max_rel, ok = diff(t, j, 1e-5, 1e-6)
    assert max_abs == pytest.approx(5e-4, rel=1e-3) and max_rel == pytest.approx(0.5, rel=1e-3)
    assert not ok  # 5e-4 > 1e-6 + 1e-5 * 1e-3, however large the rest of the output
    assert worst(t, j, 1e-5, 1e-6).startswith("at (1): torch 0.001, jaxinit 0.0015")
    small = t + np.array([5e-4, 0.0, -2e-4], np.float32)  # within rtol of 100 and of 50
    assert diff(t, small, 1e-5, 1e-6)[2]
    assert not diff(t, small * np.float32(1.001), 1e-5, 1e-6)[2]
    inf = np.array([np.inf, 0.0], np.float32)
    assert diff(inf, inf.copy(), 1e-5, 1e-6) == (0.0, 0.0, True)
    nan = np.array([np.nan, 1.0], np.float32)
    assert diff(nan, nan.copy(), 1e-5, 1e-6) == (0.0, 0.0, True)
    assert diff(nan, np.array([0.0, 1.0], np.float32), 1e-5, 1e-6)[0] == np.inf
    ints = np.array([1, 2, 3], np.int32)
    assert not diff(ints, ints + np.array([0, 0, 1], np.int32), 1.0, 1.0)[2]  # exact


def _rows(*names):
    return [(n, "T", [np.full((2,), float(i), np.float32)]) for i, n in enumerate(names)]


def test_rows_match_by_name_and_call_count_with_unmatched_rows_in_place():
    t = _rows("a", "shared", "b", "shared", "")
    j = _rows("a", "shared", "custom", "b", "shared", "")
    j = [
        (n, ty, [ls[0] * 0 + t_val])
        for (n, ty, ls), t_val in zip(j, [0.0, 1.0, 9.0, 2.0, 3.0, 4.0], strict=True)
    ]
    rows = match_rows(t, j, 1e-5, 1e-6)
    assert [r.label for r in rows] == ["a", "shared", "custom", "b", "shared (call 2)", "(model)"]
    assert [r.ok for r in rows] == [True, True, None, True, True, True]
    custom = rows[2]
    assert custom.torch_type is None and "no torch counterpart" in custom.note
    # a torch row the port never produced
    rows = match_rows(_rows("a", "gone", ""), _rows("a", ""), 1e-5, 1e-6)
    assert [(r.label, r.ok, r.jaxinit_type) for r in rows] == [
        ("a", True, "T"),
        ("gone", None, None),
        ("(model)", False, "T"),
    ]


def test_normalize_makes_torch_and_jaxinit_values_comparable():
    assert normalize("stride", [2, 2]) == (2, 2)
    assert normalize("bias", None) is False and normalize("bias", np.zeros(3)) is True
    assert normalize("bias", True) is True  # recurrent layers' flag stays a flag
    assert normalize("activation", np.tanh) == "tanh"
    assert normalize("approximate", "tanh") == "tanh"


def test_the_table_points_at_the_first_mismatch_and_says_what_differs():
    rows = [
        Row(
            "conv1",
            0,
            "Conv2d",
            "Conv2d",
            (2, 4, 8, 8),
            (2, 4, 8, 8),
            "float32",
            "float32",
            0.0,
            0.0,
            True,
        ),
        Row(
            "layer1.0.conv1",
            0,
            "Conv2d",
            "Conv2d",
            (2, 4, 8, 8),
            (2, 4, 6, 6),
            "float32",
            "float32",
            None,
            None,
            False,
            "shape differs",
        ),
        Row("fc", 0, "Linear", "Linear", (2, 5), (2, 5), "float32", "float32", 1.0, 0.5, False),
    ]
    hp = [
        HParamMismatch("layer1.0.conv1", "padding", (1, 1), (0, 0)),
        HParamMismatch("extra", "module", None, "MyLayer"),
    ]
    report = CompareReport(rows, hp, StateDictDiff(num_keys=3))
    assert not report.ok and report.first_mismatch == "layer1.0.conv1"
    text = str(report)
    assert text.splitlines()[0] == (
        "jaxinit.testing.compare: MISMATCH, first at layer1.0.conv1: padding differs "
        "(torch (1, 1), jaxinit (0, 0))"
    )
    assert "extra: jaxinit only (MyLayer)" in text
    line = next(s for s in text.splitlines() if s.strip().startswith("layer1.0.conv1 "))
    assert "(2, 4, 8, 8) vs (2, 4, 6, 6)" in line and line.endswith("<-- first mismatch")
    assert "the 3 keys agree" in text
    # without a differing field, the explanation is the shape, then the values
    report = CompareReport(rows, hp[1:], StateDictDiff(num_keys=3))
    assert report.explain("layer1.0.conv1") == (
        "layer1.0.conv1: output shape differs (torch (2, 4, 8, 8), jaxinit (2, 4, 6, 6))"
    )
    assert report.explain("fc").startswith("fc: values differ (max_abs 1, max_rel 0.5)")
    # a module on one side only is reported, not a failure
    assert CompareReport(rows[:1], hp[1:], StateDictDiff()).ok
