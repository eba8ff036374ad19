"""Every checkpoint writer (jaxinit.save, save_pt, save_safetensors, convert) has jaxinit.save's
guarantees: the file fsynced is the file renamed into place, an existing file's mode is kept,
a full disk is an OSError naming the file (the old file intact, no temporary left), and names
that collide ('a' beside 'a.b') are refused at write."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import jaxinit  # noqa: E402
from jaxinit import cli  # noqa: E402
from jaxinit.interop import save_pt, save_safetensors  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WRITERS = {"msgpack": jaxinit.save, "pt": save_pt, "safetensors": save_safetensors}


@pytest.mark.parametrize("ext", list(WRITERS))
def test_fsync_reaches_the_renamed_file_and_mode_is_kept(tmp_path, monkeypatch, ext):
    path = tmp_path / f"m.{ext}"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    synced = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced.append(os.fstat(fd).st_ino)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    WRITERS[ext]({"w": np.arange(3, dtype=np.float32)}, path)
    assert os.stat(path).st_ino in synced
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert sorted(os.listdir(tmp_path)) == [path.name]


def test_full_disk_is_an_oserror_naming_the_file_in_every_writer(tmp_path):
    """A file size limit (RLIMIT_FSIZE, EFBIG) stands in for a full disk."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import os, resource, signal
        import numpy as np
        import jaxinit
        from jaxinit.interop import load_pt, save_pt, save_safetensors
        d = {str(tmp_path)!r}
        save_pt({{"a": np.zeros(2, np.float32)}}, d + "/m.pt")
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, resource.RLIM_INFINITY))
        for save, name in ((save_pt, "m.pt"), (save_safetensors, "m.safetensors"),
                           (jaxinit.save, "m.msgpack")):
            try:
                save({{"a": np.ones(100_000, np.float32)}}, d + "/" + name)
            except OSError as err:
                print(name, err)
        print(sorted(os.listdir(d)), load_pt(d + "/m.pt")["a"].tolist())
    """),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": REPO},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    for name, line in zip(("m.pt", "m.safetensors", "m.msgpack"), lines):
        assert line.startswith(name) and "File too large while saving" in line, line
        assert f"{name}' (any previous file is unchanged)" in line, line
    assert lines[3] == "['m.pt'] [0.0, 0.0]"


def test_names_that_collide_are_refused_at_write(tmp_path, capsys):
    tree = {"a": np.ones(2, np.float32), "a.b": np.zeros(2, np.float32)}
    for save, name in ((save_pt, "c.pt"), (save_safetensors, "c.safetensors")):
        with pytest.raises(ValueError, match="'a' and 'a.b' collide"):
            save(tree, tmp_path / name)
    src = tmp_path / "c.msgpack"
    jaxinit.save(tree, src)  # jaxinit's own files keep nesting: both names fit
    for dst in ("c.pt", "c.safetensors"):
        assert cli.main(["convert", str(src), str(tmp_path / dst), "--no-progress"]) == 1
        assert "collide" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["c.msgpack"]
