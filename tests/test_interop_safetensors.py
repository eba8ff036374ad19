"""jaxinit.interop.safetensors against crafted headers: a tensor named twice, a zero-size shape
whose other dimensions overflow (read without the safetensors package)."""

import pytest

from jaxinit import cli
from jaxinit.interop.safetensors import load_safetensors
from jaxinit.serialization import CheckpointError


def _write(path, header: str, data: bytes = b"") -> None:
    raw = header.encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data)


def test_a_tensor_named_twice_is_refused(tmp_path):
    path = tmp_path / "twice.safetensors"
    entry = '{"dtype": "F32", "shape": [1], "data_offsets": [%d, %d]}'
    _write(path, f'{{"a": {entry % (0, 4)}, "a": {entry % (4, 8)}}}', bytes(8))
    with pytest.raises(CheckpointError, match="'a' appears twice"):
        load_safetensors(path)
    assert cli.main(["inspect", str(path)]) == 1


def test_zero_size_shape_that_overflows_is_refused(tmp_path, capsys):
    path = tmp_path / "overflow.safetensors"
    _write(
        path,
        '{"a": {"dtype": "F32", "shape": [0, 4294967296, 4294967296], "data_offsets": [0, 0]}}',
    )
    with pytest.raises(CheckpointError, match="tensor 'a' has a damaged"):
        load_safetensors(path)
    assert cli.main(["inspect", str(path)]) == 1
    assert capsys.readouterr().err.startswith("jaxinit: error: ")
