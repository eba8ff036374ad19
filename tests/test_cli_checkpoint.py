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
    return subprocess.run([sys.executable, "-m", "jaxinit.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)


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
