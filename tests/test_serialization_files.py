"""jaxinit.serialization.files: atomic writes, targets, special files."""

import errno
import os
import stat
import subprocess
import sys
import textwrap

import jax.numpy as jnp
import numpy as np
import pytest
from _ckpt_cases import bits

from jaxinit import serialization
from jaxinit.serialization import load, save

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ------------------------------------------------------------------------------------ atomicity


def test_full_disk_mid_save_keeps_old_file_and_leaves_no_temp(path, monkeypatch, tmp_path):
    old = {"w": jnp.arange(10.0)}
    save(old, path)
    written = 0

    def write_then_fail(fd, data):
        nonlocal written
        if written > 3000:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = os.write(fd, data[:1000])
        written += n
        return n

    monkeypatch.setattr(serialization.write, "_os_write", write_then_fail)
    with pytest.raises(OSError, match="No space left on device while saving") as info:
        save({"w": jnp.ones(100_000)}, path)
    assert info.value.errno == errno.ENOSPC and written > 3000
    assert bits(load(path)["w"]) == bits(old["w"])
    assert os.listdir(tmp_path) == ["ckpt.msgpack"]


def test_process_killed_mid_save_keeps_old_file(path):
    old = {"w": jnp.arange(10.0)}
    save(old, path)
    script = textwrap.dedent(f"""
        import os, signal
        import numpy as np
        from jaxinit import serialization
        written = 0
        def write_then_die(fd, data):
            global written
            if written >= 1_000_000:
                os.kill(os.getpid(), signal.SIGKILL)
            n = os.write(fd, data[:250_000])
            written += n
            return n
        serialization.write._os_write = write_then_die
        serialization.save({{"w": np.ones(4_000_000, np.float32)}}, {path!r})
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr.decode()
    assert bits(load(path)["w"]) == bits(old["w"])
    temps = [f for f in os.listdir(os.path.dirname(path)) if f.endswith(".tmp")]
    assert (
        len(temps) == 1
        and os.path.getsize(os.path.join(os.path.dirname(path), temps[0])) >= 1_000_000
    )


def test_bad_input_fails_before_touching_the_disk(path, tmp_path):
    save({"w": jnp.ones(2)}, path)
    with pytest.raises(TypeError, match="cannot save 'b.c' of type object"):
        save({"a": jnp.ones(2), "b": {"c": object()}}, path)
    with pytest.raises(TypeError, match="dtype <U1 is not a numeric dtype"):
        save({"s": np.array(["x"])}, path)
    with pytest.raises(TypeError, match="dict key 3 is int"):
        save({3: jnp.ones(2)}, path)
    with pytest.raises(ValueError, match="'__jaxinit__' is reserved"):
        save({"__jaxinit__": 1}, path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save({"w": 1}, tmp_path / "no" / "such.msgpack")
    assert os.listdir(tmp_path) == ["ckpt.msgpack"]
    assert bits(load(path)["w"]) == bits(jnp.ones(2))


def test_save_through_a_symlink_replaces_its_target(tmp_path):
    target = tmp_path / "real.msgpack"
    save({"v": 1}, target)
    os.symlink(target, tmp_path / "link.msgpack")
    save({"v": 2}, tmp_path / "link.msgpack")
    assert os.path.islink(tmp_path / "link.msgpack") and load(target) == {"v": 2}


# ----------------------------------------------------------------- special files and targets


def _run(script, timeout=60):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


def test_fifo_directory_and_device_fail_at_once(tmp_path):
    """In a subprocess with a timeout: a FIFO with no writer must not block the load."""
    fifo = tmp_path / "pipe.msgpack"
    os.mkfifo(fifo)
    proc = _run(
        f"""
        import jaxinit
        for target, kind in [({str(fifo)!r}, "FIFO"), ({str(tmp_path)!r}, "directory"),
                             ("/dev/zero", "character device")]:
            try:
                jaxinit.load(target)
            except jaxinit.CheckpointError as err:
                assert kind in str(err), err
            else:
                raise SystemExit("no error for " + target)
        print("ok")
    """,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_file_truncated_while_read_is_an_error_not_a_signal(tmp_path):
    """The file shrinks between parsing and reading the data: CheckpointError, never SIGBUS."""
    path = str(tmp_path / "ckpt.msgpack")
    proc = _run(f"""
        import os, numpy as np, jaxinit
        from jaxinit.serialization import verify
        jaxinit.save({{"a": np.ones(1_000_000, np.float32), "b": np.ones(10, np.float32)}},
                     {path!r})
        real = verify.DataReader.__call__
        def cut_then_read(self, ref):
            os.truncate({path!r}, 1000)
            return real(self, ref)
        verify.DataReader.__call__ = cut_then_read
        try:
            jaxinit.load({path!r})
        except jaxinit.CheckpointError as err:
            print("error:", err)
    """)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert "became shorter" in proc.stdout or "changed size" in proc.stdout


def test_save_keeps_permission_bits_and_new_files_follow_umask(tmp_path):
    path = tmp_path / "private.msgpack"
    path.write_bytes(b"old")
    os.chmod(path, 0o600)
    save({"w": np.ones(2, np.float32)}, path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    fresh = tmp_path / "fresh.msgpack"
    old_umask = os.umask(0o022)
    try:
        save({"w": 1}, fresh)
    finally:
        os.umask(old_umask)
    assert os.stat(fresh).st_mode & 0o777 == 0o644


def test_save_refuses_to_replace_special_files(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(FileExistsError, match="FIFO"):
        save({"w": 1}, fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    with pytest.raises(IsADirectoryError, match="directory"):
        save({"w": 1}, tmp_path)
    os.symlink(fifo, tmp_path / "link")  # a link to a FIFO: the FIFO is refused too
    with pytest.raises(FileExistsError, match="FIFO"):
        save({"w": 1}, tmp_path / "link")
    assert sorted(os.listdir(tmp_path)) == ["link", "pipe"]


def test_save_through_a_dangling_symlink_creates_its_target(tmp_path):
    os.symlink(tmp_path / "real.msgpack", tmp_path / "link.msgpack")
    save({"v": 1}, tmp_path / "link.msgpack")
    assert os.path.islink(tmp_path / "link.msgpack")
    assert load(tmp_path / "real.msgpack") == {"v": 1}
