"""docs/porting-coverage.md is exactly what docs/gen_porting.py generates from the op table, and
every spelling in the table names a function that exists."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from jaxinit.nn import functional as F
from jaxinit.porting import ops, table, vision_ops

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _gen():
    spec = importlib.util.spec_from_file_location(
        "jaxinit_docs_gen_porting", DOCS / "gen_porting.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_porting_coverage_md_is_up_to_date():
    assert (DOCS / "porting-coverage.md").read_text() == _gen().render(), (
        "docs/porting-coverage.md is stale: run python docs/gen_porting.py"
    )


def test_every_spelling_exists():
    from jaxinit.nn.utils import rnn as rnn_utils

    spaces = {"F": F, "ops": ops, "vision_ops": vision_ops, "rnn_utils": rnn_utils}
    spellings = list(table.function_table().values()) + list(table.method_table().values())
    for s in spellings:
        space, name = s.split(".", 1)
        assert callable(getattr(spaces[space], name, None)), s
    assert set(table.RANDOM) <= set(spellings)


def test_every_aten_spelling_exists():
    from jaxinit.porting import aten

    spaces = {"F": F, "ops": ops}
    for name, s in aten.RENAMED.items():
        space, fn = s.split(".", 1)
        assert callable(getattr(spaces[space], fn, None)), (name, s)
    assert not set(aten.OPERATORS) & set(aten.RENAMED)
