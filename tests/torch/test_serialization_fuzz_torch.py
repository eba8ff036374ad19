"""Fuzzing the .pt reader (load_pt, and jaxinit inspect's reading): damaged torch.save files
raise CheckpointError or load; never another exception, a hang or a signal. (.pt files have no
checksums of their data, so a changed byte in a tensor's data loads as a changed value.)"""

import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings

torch = pytest.importorskip("torch")

from jaxinit import cli  # noqa: E402
from jaxinit.interop import load_pt  # noqa: E402
from jaxinit.serialization import CheckpointError  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _ckpt_cases import mutate, mutation_strategy  # noqa: E402

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def pt_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("fuzz_pt") / "m.pt")
    w = torch.arange(6.0).reshape(2, 3)
    torch.save(
        {
            "enc.weight": w,
            "head.weight": w,
            "enc.bias": torch.ones(3, dtype=torch.bfloat16),
            "bn.num_batches_tracked": torch.tensor(7),
            "steps": [1, 2.5, "x"],
        },
        path,
    )
    return path, open(path, "rb").read()


@FUZZ
@given(mutation=mutation_strategy())
def test_pt_reader_raises_checkpoint_error_or_loads(pt_file, mutation):
    path, original = pt_file
    victim = path + ".victim.pt"
    with open(victim, "wb") as f:
        f.write(mutate(original, mutation))
    try:
        tree = load_pt(victim)
    except CheckpointError:
        return
    assert isinstance(tree, dict)


@FUZZ
@given(mutation=mutation_strategy())
def test_pt_inspect_fails_in_one_line_or_lists(pt_file, mutation, capsys):
    path, original = pt_file
    victim = path + ".victim2.pt"
    with open(victim, "wb") as f:
        f.write(mutate(original, mutation))
    status = cli.main(["inspect", victim])
    out, err = capsys.readouterr()
    if status:
        assert err.startswith("jaxinit: error: ") and err.count("\n") == 1, err
    else:
        assert out.startswith("name") and not err, err
