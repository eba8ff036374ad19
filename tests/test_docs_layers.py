"""docs/layers.md is exactly what docs/gen_layers.py generates (so it cannot go stale), and
every "supported" row names a class that exists in jaxinit.nn."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

import jaxinit.nn

pytest.importorskip("torch")
DOCS = Path(__file__).resolve().parent.parent / "docs"


def _gen():
    spec = importlib.util.spec_from_file_location("jaxinit_docs_gen_layers", DOCS / "gen_layers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_layers_md_is_up_to_date():
    assert (DOCS / "layers.md").read_text() == _gen().render(), (
        "docs/layers.md is stale: run python docs/gen_layers.py"
    )


def test_every_supported_row_exists_and_every_torch_layer_is_listed():
    text = (DOCS / "layers.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| ([a-z ]+) \|", text, re.M)
    names = {n for n, _ in rows}
    assert names == {n for _, n in _gen().torch_layers()}
    for name, status in rows:
        assert (status == "supported") == isinstance(getattr(jaxinit.nn, name, None), type)
    gen = _gen()
    for name in gen.NOT_APPLICABLE:  # a reason for a class torch no longer has is stale
        assert name in names, name
