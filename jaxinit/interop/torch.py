"""PyTorch state_dicts and ``.pt`` files <-> jaxinit variables, bit for bit.

A torch ``state_dict`` (``OrderedDict[str, Tensor]`` keyed by dotted names) becomes nested jaxinit
variables (``v['A']['1']['conv']['weight']``), and back. Both sides use torch's layouts, so nothing
is transposed; values are copied exactly (bfloat16 and float8 by their bits). State_dict keys whose
tensors share storage (tied weights: torch lists every alias) become one jax array at every name,
and ``to_torch`` gives one tensor at every name again, as ``state_dict()`` does.

dtypes: BatchNorm's ``num_batches_tracked`` is int64 in torch, and JAX has no 64-bit types while
``jax_enable_x64`` is off. int64 tensors then load as int32 (exactly: a value that does not fit is
an error), and ``to_torch`` / ``save_pt`` turn ``num_batches_tracked`` back into int64; other
int64 buffers stay int32 (``load_state_dict`` copies them into torch's int64 buffers exactly).
With x64 on, every dtype round-trips unchanged. float64 tensors need x64.

torch is optional and imported only when one of these functions runs; without it they raise
an ImportError that says how to install it. ``.pt`` files are read with
``torch.load(weights_only=True)``, which never runs code from the file.
"""

from __future__ import annotations

import io
import os
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import jax
import ml_dtypes
import numpy as np

from jaxinit import serialization as _ser
from jaxinit._tree import unflatten
from jaxinit.interop.bounded import check_pickle, check_tree

__all__ = ["from_torch", "load_pt", "save_pt", "to_torch"]

INSTALL_HINT = (
    'this needs PyTorch, an optional dependency of jaxinit: pip install "jaxinit[torch]" '
    "(torch==2.13.0; the CPU build is enough: "
    "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu)"
)

_NUM_BATCHES_TRACKED = "num_batches_tracked"


def _torch() -> Any:
    try:
        import torch
    except ImportError as err:
        raise ImportError(f"jaxinit.interop.torch: {INSTALL_HINT}") from err
    return torch


@cache
def _dtypes(torch: Any) -> dict[Any, np.dtype]:
    """torch dtype -> numpy dtype, for every dtype both sides have."""
    names = [
        "bool",
        "uint8",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
        "complex64",
        "complex128",
    ]
    table = {getattr(torch, n): np.dtype(n) for n in names if hasattr(torch, n)}
    for name in ("bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz"):
        if hasattr(torch, name) and hasattr(ml_dtypes, name):
            table[getattr(torch, name)] = np.dtype(getattr(ml_dtypes, name))
    return table


def _native(dtype: np.dtype) -> bool:
    """Whether torch's numpy bridge knows ``dtype`` (ml_dtypes' types, whose numpy kind may be
    'f' or 'V', go by their bits)."""
    return type(dtype).__module__.startswith("numpy") and dtype.type.__module__ == "numpy"


def _bits(torch: Any, itemsize: int) -> tuple[Any, np.dtype]:
    """A same-size integer type, to move dtypes numpy lacks (bfloat16, float8) by their bits."""
    return {1: (torch.uint8, np.dtype(np.uint8)), 2: (torch.int16, np.dtype(np.int16))}[itemsize]


def tensor_to_numpy(tensor: Any, *, copy: bool = True) -> np.ndarray:
    """A torch tensor as a new, 64-byte aligned numpy array with the same bits.

    The copy is the array's own memory: training the torch model afterwards cannot change it.
    ``copy=False`` (for tensors nobody else holds, e.g. just read from a file) returns a view
    of the tensor's memory instead when it is C-contiguous and 64-byte aligned (so jax adopts
    it without a copy either).
    """
    torch = _torch()
    table = _dtypes(torch)
    check_tensor(tensor)
    if tensor.dtype not in table:
        raise TypeError(f"torch dtype {tensor.dtype} has no numpy/JAX equivalent")
    dtype = table[tensor.dtype]
    tensor = tensor.detach().cpu().resolve_conj().resolve_neg()
    if _native(dtype):
        source = tensor.numpy()
    else:
        int_type, _ = _bits(torch, dtype.itemsize)
        source = tensor.view(int_type).numpy().view(dtype)
    if not copy and source.flags.c_contiguous and source.ctypes.data % 64 == 0:
        return source
    out = _ser.aligned_empty(source.nbytes).view(dtype).reshape(source.shape)
    np.copyto(out, source)
    return out


def check_tensor(tensor: Any) -> None:
    """Raise a TypeError saying what to do when ``tensor`` has no plain data to copy: a meta
    tensor (no data at all), a sparse or other non-strided layout, a quantized tensor.

    Example::

        >>> check_tensor(torch.empty(2, device="meta"))  # TypeError: ... meta tensor ...
    """
    torch = _torch()
    if tensor.is_meta:
        raise TypeError(
            "it is a meta tensor, which has no data (made on device='meta', e.g. "
            "by a model built without weights): load real weights into the model "
            "first (module.to_empty(device='cpu'), then load_state_dict)"
        )
    if tensor.layout != torch.strided:
        raise TypeError(f"it is a {tensor.layout} tensor; call .to_dense() first")
    if tensor.is_quantized:
        raise TypeError(
            f"it is a quantized tensor ({tensor.dtype}); call .dequantize() first "
            "(or .int_repr() for its stored integers)"
        )


def numpy_to_tensor(array: Any) -> Any:
    """A numpy or jax array as a new torch tensor with the same bits."""
    torch = _torch()
    array = np.asarray(array)
    reverse = {v: k for k, v in _dtypes(torch).items()}
    if array.dtype not in reverse:
        raise TypeError(f"dtype {array.dtype} has no torch equivalent")
    if _native(array.dtype):
        return torch.from_numpy(np.array(array, copy=True))
    _, np_int = _bits(torch, array.dtype.itemsize)
    return torch.from_numpy(np.array(array.view(np_int), copy=True)).view(reverse[array.dtype])


def _storage_key(t: Any) -> tuple | None:
    if t.numel() == 0:
        return None
    return (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride(), t.dtype)


def torch_to_host(
    obj: Any, *, progress: Callable[[int, int], None] | None = None, copy: bool = True
) -> Any:
    """Tensors anywhere in ``obj`` (dicts, lists, tuples) -> numpy arrays, dtypes unchanged;
    dicts keyed by dotted names -> nested dicts; tensors sharing storage -> one array.
    ``copy=False``: arrays may share the tensors' memory (see :func:`tensor_to_numpy`)."""
    torch = _torch()
    memo: dict[tuple, np.ndarray] = {}
    tensors = {}
    for path, leaf in _ser._walk(obj):
        if isinstance(leaf, torch.Tensor):
            try:
                check_tensor(leaf)  # (before its storage is touched)
            except TypeError as err:
                raise TypeError(f"cannot convert '{_ser._dotted(path)}': {err}") from err
            tensors[_storage_key(leaf) or id(leaf)] = leaf
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    done = 0

    def convert(x: Any, path: tuple[str, ...]) -> Any:
        nonlocal done
        name = ".".join(path) or "<root>"
        if isinstance(x, torch.Tensor):
            key = _storage_key(x)
            if key is not None and key in memo:
                return memo[key]
            try:
                array = tensor_to_numpy(x, copy=copy)
            except TypeError as err:
                raise TypeError(f"cannot convert '{name}': {err}") from err
            if key is not None:
                memo[key] = array
            done += array.nbytes
            if progress is not None:
                progress(done, total)
            return array
        if isinstance(x, Mapping):
            out, original = {}, {}
            for key, value in x.items():
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise TypeError(f"cannot convert '{name}': key {key!r} is not a string")
                if str(key) in out:  # the int 0 beside the str "0": one would be lost
                    raise ValueError(
                        f"keys {original[str(key)]!r} and {key!r} collide in "
                        f"'{name}': both are named {str(key)!r}; rename one"
                    )
                original[str(key)] = key
                out[str(key)] = convert(value, (*path, str(key)))
            return unflatten(out)
        if isinstance(x, (list, tuple)):
            return type(x)(convert(v, (*path, str(i))) for i, v in enumerate(x))
        if x is None or isinstance(x, (bool, int, float, str, complex, bytes)):
            return x
        raise TypeError(
            f"cannot convert '{name}' of type {type(x).__qualname__}: expected "
            "tensors in dicts, lists and tuples"
        )

    return convert(obj, ())


def host_to_torch(obj: Any) -> Any:
    """Arrays anywhere in ``obj`` -> torch tensors (the same object at every alias); nested
    dicts -> one flat dict with dotted keys; ``num_batches_tracked`` int32 -> int64."""
    torch = _torch()
    memo: dict[tuple, Any] = {}

    def convert(x: Any, path: tuple[str, ...]) -> Any:
        if isinstance(x, (np.ndarray, np.generic, jax.Array)):
            key = _ser._identity(x) if not isinstance(x, np.generic) else None
            if key is not None and key in memo:
                return memo[key]
            tensor = numpy_to_tensor(x)
            if (
                path
                and path[-1].rsplit(".", 1)[-1] == _NUM_BATCHES_TRACKED
                and (tensor.dtype == torch.int32)
            ):
                tensor = tensor.to(torch.int64)
            if key is not None:
                memo[key] = tensor
            return tensor
        if isinstance(x, Mapping):
            flat: OrderedDict[str, Any] = OrderedDict()
            for key, value in x.items():
                converted = convert(value, (*path, str(key)))
                pairs = (
                    [(f"{key}.{k}", v) for k, v in converted.items()]
                    if isinstance(value, Mapping)
                    else [(str(key), converted)]
                )
                for name, v in pairs:
                    if name in flat:
                        full = ".".join((*path, name))
                        raise ValueError(
                            f"keys {full!r} (dotted) and {full!r} (nested) collide "
                            "in the flat state_dict; rename one"
                        )
                    flat[name] = v
            if not path:  # 'a' beside 'a.b': refused at write, not when read back
                unflatten(dict.fromkeys(flat))
            return flat
        if isinstance(x, (list, tuple)):
            return type(x)(convert(v, (*path, str(i))) for i, v in enumerate(x))
        return x

    return convert(obj, ())


def read_pt(path: str | os.PathLike) -> Any:
    """``torch.load(path, map_location='cpu', weights_only=True)`` with jaxinit's guarantees:
    errors that name the file, no hang and no signal.

    The file is opened as :func:`jaxinit.load` opens its own (non-blocking, ``fstat``: a FIFO,
    device or directory fails at once) and read with plain read calls, never memory-mapped (a
    file truncated under a mapping kills the process with SIGBUS); a file that changes size
    while it is read is an error. The result is checked by
    :func:`jaxinit.interop.bounded.check_tree` (no cycles, no exponential sharing), so any walk
    through its names ends.
    """
    torch = _torch()
    source = repr(os.fspath(path))
    with _ser.open_regular(path) as raw:
        size = os.fstat(raw.fileno()).st_size
        check_pickle(raw, size, source)  # bounded before torch builds anything
        # torch's own reader (faster than through a Python file object), on the descriptor
        # checked above: the regular file already open, never a path swapped meanwhile
        by_fd = f"/proc/self/fd/{raw.fileno()}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch's warnings would split one-line errors
                obj = torch.load(
                    by_fd if os.path.exists(by_fd) else raw,
                    map_location="cpu",
                    weights_only=True,
                    mmap=False,
                )
        except Exception as err:
            changed = os.fstat(raw.fileno()).st_size != size
            first = str(err).splitlines()[0] if str(err) else ""
            raise _ser.CheckpointError(
                f"{source}: the file changed size while it was read (was it overwritten?)"
                if changed
                else f"{source}: torch.load(weights_only=True) cannot read it "
                f"({type(err).__name__}: {first}). jaxinit reads only tensors, "
                "containers and numbers, never arbitrary pickled objects"
            ) from err
        if os.fstat(raw.fileno()).st_size != size:
            raise _ser.CheckpointError(
                f"{source}: the file changed size while it was read (was it overwritten?)"
            )
    check_tree(obj, source)
    return obj


def from_torch(
    state_dict_or_path: Any,
    *,
    like: Any = None,
    strict: bool = True,
    device: Any = None,
    sharding: Any = None,
) -> Any:
    """A torch ``state_dict`` (or a ``.pt`` file) as nested jaxinit variables.

    ``{'hidden.weight': W, 'hidden.bias': b}`` -> ``{'hidden': {'weight': w, 'bias': b}}`` with
    ``w`` a jax array with the same shape (torch layout) and bits as ``W``. Any mix of dicts,
    lists and tuples of tensors converts the same way (every dict's dotted keys are nested).
    Tensors sharing storage (ties) become one array object. int64 -> int32 while x64 is off.

    ``like``, ``strict``, ``device`` and ``sharding`` are those of :func:`jaxinit.load`: with a
    template every name, shape and dtype is checked and all problems are reported at once, in
    torch's ``load_state_dict`` format; ``strict=False`` returns ``(variables, IncompatibleKeys)``.

    Example::

        >>> net = torch.nn.Sequential(torch.nn.Linear(20, 256), torch.nn.ReLU(),
        ...                           torch.nn.Linear(256, 10))
        >>> variables = from_torch(net.state_dict())
        >>> variables['0']['weight'].shape
        (256, 20)
    """
    from_file = isinstance(state_dict_or_path, (str, os.PathLike))
    if from_file:
        source = repr(os.fspath(state_dict_or_path))
        obj = read_pt(state_dict_or_path)
    else:
        source, obj = "torch state_dict", state_dict_or_path
    try:
        host = torch_to_host(obj, copy=not from_file)  # a file's tensors are ours alone
    except ValueError as err:  # colliding names
        raise _ser.CheckpointError(f"{source}: {err}") from err
    except TypeError as err:  # what a file holds is the file's problem, named as such
        if source == "torch state_dict":
            raise
        raise _ser.CheckpointError(f"{source}: {err}") from err
    return _ser.assemble(
        host, like=like, strict=strict, device=device, sharding=sharding, source=source
    )


def load_pt(
    path: str | os.PathLike,
    *,
    like: Any = None,
    strict: bool = True,
    device: Any = None,
    sharding: Any = None,
) -> Any:
    """Read a ``.pt`` / ``.pth`` / ``.bin`` file written by ``torch.save`` as jaxinit variables.

    Same as ``from_torch(path, ...)``. The file is read with ``torch.load(weights_only=True)``:
    no code from the file runs.

    Example::

        >>> torch.save(net.state_dict(), "mlp.pt")
        >>> variables = load_pt("mlp.pt", like=template)
    """
    return from_torch(os.fspath(path), like=like, strict=strict, device=device, sharding=sharding)


def to_torch(variables: Any) -> OrderedDict:
    """jaxinit variables -> a torch ``state_dict``: ``OrderedDict[str, torch.Tensor]``.

    Nested dicts become dotted keys in order; each array becomes a new CPU tensor with the same
    shape and bits (bfloat16 included); one array object at several names becomes one tensor at
    every name (as torch's state_dict lists tied weights). ``num_batches_tracked`` (int32 while
    x64 is off) becomes int64, as torch keeps it. A jaxinit model stores a tie once; its
    ``net.state_dict(variables)`` lists every alias, as ``load_state_dict(strict=True)`` on the
    torch side expects.

    Example::

        >>> net.load_state_dict(to_torch(variables))
        <All keys matched successfully>
    """
    if not isinstance(variables, Mapping):
        raise TypeError(f"to_torch takes a dict of variables, got {type(variables).__name__}")
    return host_to_torch(variables)


def save_pt(variables: Any, path: str | os.PathLike, *, net: Any = None) -> None:
    """``torch.save(to_torch(variables), path)``, written atomically.

    A tie (one array object at several names) is one tensor at every name (torch.save keeps
    shared storage). A model's variables hold a tie once, under its first name: pass ``net``
    (or save ``net.state_dict(variables)``) to write every name, as torch's ``state_dict``
    lists them and its strict ``load_state_dict`` expects. The file loads with
    ``torch.load(path, weights_only=True)`` and ``module.load_state_dict``.

    Example::

        >>> save_pt(variables, "gpt.pt", net=net)
        >>> torch_gpt.load_state_dict(torch.load("gpt.pt", weights_only=True))
    """
    if net is not None:
        variables = net.state_dict(variables)
    write_pt(to_torch(variables), path)


def write_pt(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save(obj, path)`` through a temporary file, fsync and rename.

    A failed write (a full disk) raises the ``OSError`` itself, naming the file and saying the
    previous file is unchanged (torch would report an "enforce fail" RuntimeError)."""
    torch = _torch()

    def write(fd: int, _: str) -> None:
        with _Recording(fd) as file:
            try:
                torch.save(obj, file)
            except RuntimeError:
                if file.error is not None:
                    raise file.error from None
                raise

    _ser.atomic_write(path, write)


class _Recording(io.FileIO):
    """A file whose first write error is kept: torch.save reports it only as a RuntimeError."""

    error: OSError | None = None

    def __init__(self, fd: int):
        super().__init__(fd, "wb", closefd=False)

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        try:
            done = 0
            while done < len(view):  # every byte, as a buffered file writes them
                done += super().write(view[done:])
            return done
        except OSError as err:
            self.error = self.error or err
            raise
