"""The docs cannot go stale or lie.

* docs/api.md is what ``docs/gen_api.py`` generates from the current docstrings;
* every function and class it lists has a docstring with at least one line of text;
* every ```python block of the "coming from" pages runs, in order, in one namespace per page
  (blocks fenced ```python no-run are shown but not run: the torch side of a comparison).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from _xla_speed import unoptimized_xla  # noqa: F401 -- autouse: this module's compiles

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = ["coming-from-pytorch.md", "coming-from-flax-equinox.md", "training-schedulers.md"]

# A fence opening at the start of a line: ```python or ```python no-run; the block runs to the
# next closing ``` at the start of a line.
_BLOCK = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@pytest.fixture(scope="module")
def gen_api():
    """docs/gen_api.py, imported once for the module's tests."""
    spec = importlib.util.spec_from_file_location("jaxinit_docs_gen_api", DOCS / "gen_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def python_blocks(text: str) -> list[tuple[int, str]]:
    """``(line number, code)`` of every block fenced exactly ```python (not ``no-run``)."""
    blocks = []
    for match in _BLOCK.finditer(text):
        info = match.group(1).split()
        if info[:1] == ["python"] and "no-run" not in info[1:]:
            blocks.append((text.count("\n", 0, match.start()) + 1, match.group(2)))
    return blocks


def test_python_blocks_parser():
    text = (
        "intro\n```python\na = 1\n```\n\n```python no-run\nimport torch\n```\n"
        "```text\nnot code\n```\n```python\nb = a + 1\n```\n"
    )
    assert python_blocks(text) == [(2, "a = 1\n"), (12, "b = a + 1\n")]


def test_api_md_is_up_to_date(gen_api, capsys):
    # the command's own check (`python docs/gen_api.py --check`), run in this process: the
    # output depends only on the code, and a second interpreter would import jax again
    code = gen_api.main(["--check"])
    assert code == 0, capsys.readouterr().err


def test_every_listed_name_has_a_docstring(gen_api):
    sections = gen_api.surface()
    assert sum(len(s.entries) for s in sections) > 100  # the surface was actually found
    missing = gen_api.undocumented(sections)
    assert not missing, "public names without a docstring: " + ", ".join(missing)


@pytest.mark.parametrize("page", PAGES)
def test_page_snippets_run(page, tmp_path, monkeypatch):
    text = (DOCS / page).read_text(encoding="utf-8")
    blocks = python_blocks(text)
    assert len(blocks) >= 5, f"{page}: expected its python snippets, found {len(blocks)}"
    monkeypatch.chdir(tmp_path)  # snippets that save files write here
    namespace: dict = {"__name__": f"docs_{page}"}
    for line, code in blocks:
        try:
            exec(compile(code, f"{page}:{line}", "exec"), namespace)
        except Exception as err:
            raise AssertionError(f"docs/{page}, block at line {line} failed: {err!r}") from err
