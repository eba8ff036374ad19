"""Reading ``.pt`` files with jaxinit.load's guarantees: no hang, no signal, a bounded walk,
nothing lost to colliding keys (load_pt, inspect, convert).

Hangs and signals are checked in subprocesses with timeouts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

from jaxinit import cli  # noqa: E402
from jaxinit.interop import load_pt  # noqa: E402
from jaxinit.interop.bounded import check_tree  # noqa: E402
from jaxinit.serialization import CheckpointError  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(script: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": REPO},
    )


def test_shared_children_and_cycles_are_refused_at_once(tmp_path, capsys):
    """2**40 paths through 41 lists (a 2 KB file): refused before any walk by path; a list
    inside itself: a clear error, not RecursionError."""
    x = [torch.ones(1)]
    for _ in range(40):
        x = [x, x]
    wide = tmp_path / "wide.pt"
    torch.save(x, wide)
    assert os.path.getsize(wide) < 4096
    with pytest.raises(CheckpointError, match="shared so often"):
        load_pt(wide)
    cyclic = [torch.ones(1)]
    cyclic.append(cyclic)
    loop = tmp_path / "loop.pt"
    torch.save(cyclic, loop)
    with pytest.raises(CheckpointError, match="holds itself"):
        load_pt(loop)
    for path in (wide, loop):
        assert cli.main(["inspect", str(path)]) == 1
        assert cli.main(["convert", str(path), str(tmp_path / "o.msgpack"), "--no-progress"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 2 and all(line.startswith("jaxinit: error: ") for line in err)


def test_check_tree_counts_shared_containers_at_every_place():
    shared = (0.9, 0.999)  # pickle shares one tuple between param groups: fine
    groups = [{"betas": shared, "lr": 1.0}, {"betas": shared, "lr": 2.0}]
    assert check_tree({"param_groups": groups}, "'x'") == 1 + 1 + 2 * (1 + 2 + 1 + 1)
    deep: list = []
    node = deep
    for _ in range(200):
        node.append([])
        node = node[0]
    with pytest.raises(CheckpointError, match="deeper than 128"):
        check_tree(deep, "'x'")


def test_int_and_str_keys_that_collide_are_an_error(tmp_path):
    path = tmp_path / "k.pt"
    torch.save({0: torch.ones(1), "0": torch.zeros(1)}, path)
    with pytest.raises(CheckpointError, match="keys 0 and '0' collide"):
        load_pt(path)
    dst = tmp_path / "k.msgpack"
    assert cli.main(["convert", str(path), str(dst), "--no-progress"]) == 1
    assert not dst.exists()


def test_fifo_named_pt_fails_at_once_in_every_reader(tmp_path):
    fifo = tmp_path / "pipe.pt"
    os.mkfifo(fifo)
    proc = _run(
        f"""
        from jaxinit import cli, CheckpointError
        from jaxinit.interop import load_pt
        try:
            load_pt({str(fifo)!r})
        except CheckpointError as err:
            assert "FIFO" in str(err), err
        assert cli.main(["inspect", {str(fifo)!r}]) == 1
        assert cli.main(["convert", {str(fifo)!r}, {str(tmp_path / "o.msgpack")!r}]) == 1
        print("ok")
    """,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_pt_truncated_while_read_is_an_error_not_a_signal(tmp_path):
    """The file is cut right after torch.load returns, before any tensor's data is touched:
    with a memory-mapped reader this was SIGBUS; now the data is in memory and the change of
    size is reported."""
    path = str(tmp_path / "big.pt")
    torch.save({"w": torch.ones(1 << 20), "b": torch.ones(4)}, path)
    proc = _run(f"""
        import os, torch
        from jaxinit import CheckpointError
        from jaxinit.interop import load_pt
        real = torch.load
        def load_then_cut(*args, **kwargs):
            result = real(*args, **kwargs)
            os.truncate({path!r}, 100)
            return result
        torch.load = load_then_cut
        try:
            load_pt({path!r})
        except CheckpointError as err:
            print("error:", err)
    """)
    assert proc.returncode != -signal.SIGBUS, "SIGBUS"
    assert proc.returncode == 0 and "changed size" in proc.stdout, (
        proc.returncode,
        proc.stderr[-2000:],
    )


def test_meta_sparse_and_quantized_tensors_say_what_to_do():
    import warnings

    import jax

    from jaxinit import nn
    from jaxinit.interop import from_torch

    net = nn.Linear(2, 2)
    variables = net.init(jax.random.key(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch deprecates quantized tensors
        quantized = torch.quantize_per_tensor(torch.ones(2, 2), 0.1, 0, torch.qint8)
    for tensor, hint in (
        (torch.empty(2, 2, device="meta"), "meta tensor"),
        (torch.eye(2).to_sparse(), r"to_dense\(\)"),
        (quantized, r"dequantize\(\)"),
    ):
        state_dict = {"weight": tensor, "bias": torch.ones(2)}
        with pytest.raises(RuntimeError, match=f'parameter named "weight": .*{hint}'):
            net.load_state_dict(variables, state_dict)
        with pytest.raises(TypeError, match=f"cannot convert 'weight': .*{hint}"):
            from_torch(state_dict)


def test_sparse_pt_is_listed_by_inspect_and_refused_by_convert_naming_file_and_key(
    tmp_path, capsys
):
    path = tmp_path / "legacy.pt"  # torch's legacy (pickle) format, read the same way
    torch.save(
        {"a": torch.ones(2), "s": torch.eye(2).to_sparse()},
        path,
        _use_new_zipfile_serialization=False,
    )
    assert cli.main(["inspect", str(path)]) == 0
    assert "\ns     (2, 2)  float32      4\n" in capsys.readouterr().out
    assert cli.main(["convert", str(path), str(tmp_path / "o.msgpack"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"{str(path)!r}: cannot convert 's': it is a torch.sparse_coo tensor" in err, err


def test_a_pickle_of_millions_of_empty_dicts_is_refused_before_unpickling(tmp_path):
    """2M empty dicts in a 2 MB torch zip took torch.load ~50 s and ~800 MB; the pickle is now
    scanned first (no object built) and refused within a 100 MB limit."""
    import pickle
    import zipfile

    good = tmp_path / "good.pt"
    torch.save({"a": torch.ones(1)}, good)
    crafted = tmp_path / "dicts.pt"
    body = pickle.PROTO + b"\x02" + b"](" + b"}" * 2_000_000 + b"e."
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(crafted, "w") as zout:
        for info in zin.infolist():
            data = body if info.filename.endswith("/data.pkl") else zin.read(info)
            zout.writestr(info.filename, data)
    proc = _run(f"""
        import resource
        from jaxinit import CheckpointError
        from jaxinit.interop import load_pt
        assert load_pt({str(good)!r})["a"].shape == (1,)
        virtual = int(open("/proc/self/statm").read().split()[0]) * 4096
        resource.setrlimit(resource.RLIMIT_DATA, (virtual + (100 << 20), resource.RLIM_INFINITY))
        try:
            load_pt({str(crafted)!r})
        except CheckpointError as err:
            print("error:", err)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "its pickle builds more than" in proc.stdout, proc.stdout


def test_a_legacy_pt_of_millions_of_empty_dicts_is_refused_before_unpickling(tmp_path):
    """torch's legacy (non-zip) format is five pickles before the storages: they are scanned
    as a zip's data.pkl is, so the same 2M empty dicts are refused within a 100 MB limit."""
    import io
    import pickle

    good = tmp_path / "good.pt"
    torch.save({"a": torch.ones(1)}, good, _use_new_zipfile_serialization=False)
    buf = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001}):
        pickle.dump(header, buf, protocol=2)
    buf.write(pickle.PROTO + b"\x02" + b"](" + b"}" * 2_000_000 + b"e.")
    pickle.dump([], buf, protocol=2)
    crafted = tmp_path / "dicts.pt"
    crafted.write_bytes(buf.getvalue())
    proc = _run(f"""
        import resource
        from jaxinit import CheckpointError
        from jaxinit.interop import load_pt
        assert load_pt({str(good)!r})["a"].shape == (1,)
        virtual = int(open("/proc/self/statm").read().split()[0]) * 4096
        resource.setrlimit(resource.RLIMIT_DATA, (virtual + (100 << 20), resource.RLIM_INFINITY))
        try:
            load_pt({str(crafted)!r})
        except CheckpointError as err:
            print("error:", err)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "its pickle builds more than" in proc.stdout, proc.stdout
