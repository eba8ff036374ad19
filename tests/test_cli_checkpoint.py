"""jaxinit.cli against hostile and damaged files: one-line errors, exit status 1, no traceback,
escaped names, and convert's read/written counts."""

import os
import subprocess
import sys

import numpy as np

from jaxinit import cli
from jaxinit.serialization import save

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "jaxinit.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


def test_damaged_fifo_and_list_valued_aliases_give_one_line_errors(tmp_path, capsys):
    path = tmp_path / "a.msgpack"
    save({"w": np.ones(4, np.float32)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    fifo = tmp_path / "p.msgpack"
    os.mkfifo(fifo)
    bad_st = tmp_path / "b.safetensors"
    header = b'{"__metadata__": {"jaxinit.aliases": "[1, 2]"}}'
    bad_st.write_bytes(len(header).to_bytes(8, "little") + header)
    for args in (["inspect", str(path)], ["inspect", str(fifo)]):
        assert cli.main(args) == 1
        err = capsys.readouterr().err
        assert err.startswith("jaxinit: error: ") and len(err.strip().splitlines()) == 1, err
    proc = run_cli("convert", str(bad_st), str(tmp_path / "o.msgpack"))  # the real process
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jaxinit: error: "), proc.stderr


def test_inspect_escapes_control_characters_in_names(tmp_path):
    path = tmp_path / "evil.msgpack"
    save({"\x1b[31mred\x07": np.ones(2, np.float32), "ok": "\x1b]0;title\x07"}, path)
    out = cli.inspect(str(path))
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[31mred\\x07" in out


def test_convert_reports_counts_read_and_written(tmp_path):
    w = np.ones((2, 2), np.float32)
    src = tmp_path / "t.msgpack"
    save({"a": w, "b": w, "c": np.zeros(3, np.float32)}, src)
    summary = cli.convert(str(src), str(tmp_path / "t.safetensors"), progress=False)
    assert "read 3 named arrays, wrote 3 (2 distinct)" in summary


def test_flax_files_convert_only_when_asked(tmp_path):
    import flax.serialization

    src = tmp_path / "f.msgpack"
    src.write_bytes(flax.serialization.to_bytes({"w": np.ones(2, np.float32)}))
    dst = str(tmp_path / "f.safetensors")
    proc = run_cli("convert", str(src), dst, "--no-progress")
    assert proc.returncode == 1 and "verify=False" in proc.stderr
    assert cli.main(["convert", str(src), dst, "--no-progress", "--unverified"]) == 0


def test_warnings_never_split_the_one_line_report(tmp_path, capsys, monkeypatch):
    """A library warning (torch warns while reading some files) is dropped on an error and
    shown as one line on success; the error itself stays one line."""
    import warnings

    path = tmp_path / "w.msgpack"
    save({"w": np.ones(2, np.float32)}, path)
    real = cli.entries

    def warn_then(fail):
        def entries(p):
            warnings.warn("first line\nsecond line", UserWarning, stacklevel=1)
            if fail:
                raise ValueError("bad\nfile")
            return real(p)

        return entries

    monkeypatch.setattr(cli, "entries", warn_then(True))
    assert cli.main(["inspect", str(path)]) == 1
    assert capsys.readouterr().err == "jaxinit: error: bad file\n"
    monkeypatch.setattr(cli, "entries", warn_then(False))
    assert cli.main(["inspect", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.err == "jaxinit: warning: first line second line\n"
    assert captured.out.startswith("name")
