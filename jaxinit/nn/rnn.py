"""Recurrent layers with torch's names, layouts, init and errors: ``RNN``, ``LSTM``, ``GRU`` and
their cells.

Parameters are declared in torch's order (layer, then direction, then ``weight_ih``,
``weight_hh``, ``bias_ih``, ``bias_hh``, ``weight_hr``), each U(-1/sqrt(hidden), 1/sqrt(hidden))
as torch's ``reset_parameters``, so ``net.init(TorchGenerator(s))`` is bitwise torch's and a
torch ``state_dict`` loads as is. The recurrence is ``lax.scan`` over time
(:func:`jaxinit.nn.functional.rnn.rnn_forward`).
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings
from typing import Any

import jax
import jax.numpy as jnp

from .. import init
from .functional import rnn as _F
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _uniform_init(hidden_size: int) -> Any:
    stdv = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0
    return functools.partial(init.uniform, a=-stdv, b=stdv)


class RNNBase(Module):
    """Shared constructor, checks and forward of ``RNN``, ``LSTM`` and ``GRU`` (torch's
    ``RNNBase``); ``mode`` is ``'RNN_TANH'``, ``'RNN_RELU'``, ``'LSTM'`` or ``'GRU'``."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        if (
            not isinstance(dropout, numbers.Number)
            or isinstance(dropout, bool)
            or not 0 <= dropout <= 1
        ):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of "
                "an element being zeroed"
            )
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                "dropout expects num_layers greater than 1, but got "
                f"dropout={dropout} and num_layers={num_layers}",
                stacklevel=2,
            )
        for name, value in (("bias", bias), ("batch_first", batch_first)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} should be of type bool, got: {type(value).__name__}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int):
                raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{name} must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError(
                "proj_size should be a positive integer or zero to disable projections"
            )
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        gate_size = _GATES[mode] * hidden_size
        dirs = 2 if bidirectional else 1
        real_hidden = proj_size if proj_size > 0 else hidden_size
        uniform = _uniform_init(hidden_size)
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            for direction in range(dirs):
                layer_input = input_size if layer == 0 else real_hidden * dirs
                shapes = [(gate_size, layer_input), (gate_size, real_hidden)]
                names = ["weight_ih_l{}{}", "weight_hh_l{}{}"]
                if bias:
                    shapes += [(gate_size,), (gate_size,)]
                    names += ["bias_ih_l{}{}", "bias_hh_l{}{}"]
                if proj_size > 0:
                    shapes.append((proj_size, hidden_size))
                    names.append("weight_hr_l{}{}")
                suffix = "_reverse" if direction == 1 else ""
                names = [n.format(layer, suffix) for n in names]
                for name, shape in zip(names, shapes):
                    setattr(self, name, Parameter(shape, uniform, dtype))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)

    # -- torch's checks ------------------------------------------------------------------------
    def _expected_hidden_size(self, batch: int) -> tuple[int, int, int]:
        dirs = 2 if self.bidirectional else 1
        size = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * dirs, batch, size)

    def _check_input(self, x: jax.Array) -> None:
        if x.ndim != 3:
            raise RuntimeError(f"input must have 3 dimensions, got {x.ndim}")
        if x.shape[-1] != self.input_size:
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                f"got {x.shape[-1]}"
            )

    @staticmethod
    def _check_hidden(hx: jax.Array, expected: tuple, msg: str) -> None:
        if tuple(hx.shape) != expected:
            raise RuntimeError(msg.format(expected, list(hx.shape)))

    def _layer_weights(self) -> list[tuple]:
        out = []
        for names in self._all_weights:
            get = {n.split("_l")[0]: getattr(self, n) for n in names}
            out.append(
                tuple(
                    get.get(k)
                    for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
                )
            )
        return out

    def _run(self, input: Any, hx: Any) -> tuple[Any, jax.Array, jax.Array | None]:
        """Shared forward: unbatched/batch_first/packed handling, checks, the scan."""
        is_lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        lengths = None
        if packed:
            x, lengths, is_batched = input.time_major(), input.lengths, True
        else:
            if input.ndim not in (2, 3):
                what = "RNN" if self.mode.startswith("RNN") else self.mode
                tensor = " tensor" if what == "RNN" else ""
                raise ValueError(
                    f"{what}: Expected input to be 2D or 3D, got {input.ndim}D{tensor} instead"
                )
            is_batched = input.ndim == 3
            x = input
            if not is_batched:
                x = x[:, None]
            elif self.batch_first:
                x = jnp.swapaxes(x, 0, 1)
            if hx is not None:
                hx = self._unbatch_hidden(hx, is_batched)
        self._check_input(x)
        batch = x.shape[1]
        expected = self._expected_hidden_size(batch)
        cell_expected = expected[:2] + (self.hidden_size,)
        if hx is None:
            h0 = jnp.zeros(expected, x.dtype)
            c0 = jnp.zeros(cell_expected, x.dtype) if is_lstm else None
        elif is_lstm:
            h0, c0 = hx
            self._check_hidden(h0, expected, "Expected hidden[0] size {}, got {}")
            self._check_hidden(c0, cell_expected, "Expected hidden[1] size {}, got {}")
        else:
            h0, c0 = hx, None
            self._check_hidden(h0, expected, "Expected hidden size {}, got {}")
        train = self.training and self.dropout > 0
        rngs = [self.next_key() for _ in range(self.num_layers - 1)] if train else []
        out, h_n, c_n = _F.rnn_forward(
            self.mode,
            x,
            h0,
            c0,
            self._layer_weights(),
            self.num_layers,
            self.dropout,
            train,
            self.bidirectional,
            lengths,
            rngs,
        )
        if packed:
            out = PackedSequence(out, lengths, False)
            if input.batch_first:
                out = PackedSequence(jnp.swapaxes(out.padded, 0, 1), lengths, True)
        elif not is_batched:
            out, h_n = out[:, 0], h_n[:, 0]
            c_n = None if c_n is None else c_n[:, 0]
        elif self.batch_first:
            out = jnp.swapaxes(out, 0, 1)
        return out, h_n, c_n

    def _unbatch_hidden(self, hx: Any, is_batched: bool) -> Any:
        if self.mode == "LSTM":
            h, c = hx
            want = 3 if is_batched else 2
            if h.ndim != want or c.ndim != want:
                kind = "batched 3-D" if is_batched else "unbatched 2-D"
                raise RuntimeError(
                    f"For {kind} input, hx and cx should also be {want}-D but got "
                    f"({h.ndim}-D, {c.ndim}-D) tensors"
                )
            return hx if is_batched else (h[:, None], c[:, None])
        if is_batched and hx.ndim != 3:
            raise RuntimeError(
                f"For batched 3-D input, hx should also be 3-D but got {hx.ndim}-D tensor"
            )
        if not is_batched and hx.ndim != 2:
            raise RuntimeError(
                f"For unbatched 2-D input, hx should also be 2-D but got {hx.ndim}-D tensor"
            )
        return hx if is_batched else hx[:, None]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or ``relu``), per
    layer and direction; torch's ``nn.RNN(input_size, hidden_size, num_layers=1,
    nonlinearity='tanh', bias=True, batch_first=False, dropout=0.0, bidirectional=False)``.

    ``forward(input, hx=None) -> (output, h_n)``; ``input`` ``(T, B, I)`` (``(B, T, I)`` if
    batch_first), unbatched ``(T, I)``, or a :class:`~jaxinit.nn.utils.rnn.PackedSequence`.

    Example::

        rnn = nn.RNN(10, 20, 2)
        v = rnn.init(jax.random.key(0))
        out, h_n = rnn(v, jnp.ones((5, 3, 10)))      # (5, 3, 20), (2, 3, 20)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.__dict__["nonlinearity"] = args[3]
            args = args[:3] + args[4:]
        else:
            self.__dict__["nonlinearity"] = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(
                f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        super().__init__(mode, *args, **kwargs)

    def forward(self, input: Any, hx: jax.Array | None = None) -> tuple[Any, jax.Array]:
        out, h_n, _ = self._run(input, hx)
        return out, h_n


class LSTM(RNNBase):
    """Long short-term memory, torch's ``nn.LSTM(input_size, hidden_size, num_layers=1,
    bias=True, batch_first=False, dropout=0.0, bidirectional=False, proj_size=0)``.

    Gates ``i, f, g, o`` (rows of ``weight_ih``): ``c_t = s(f) c + s(i) tanh(g)``,
    ``h_t = s(o) tanh(c_t)``, then ``h_t W_hr^T`` if ``proj_size > 0``.
    ``forward(input, hx=None) -> (output, (h_n, c_n))``; ``hx = (h_0, c_0)`` or zeros.

    Example::

        lstm = nn.LSTM(10, 20, batch_first=True, bidirectional=True)
        v = lstm.init(jax.random.key(0))
        out, (h, c) = lstm(v, jnp.ones((3, 5, 10)))   # (3, 5, 40), (2, 3, 20), (2, 3, 20)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, tuple[jax.Array, jax.Array]]:
        out, h_n, c_n = self._run(input, hx)
        return out, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit, torch's ``nn.GRU(input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``.

    Gates ``r, z, n``: ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``,
    ``h' = (1 - z) n + z h``. ``forward(input, hx=None) -> (output, h_n)``.

    Example::

        gru = nn.GRU(10, 20)
        out, h_n = gru(gru.init(jax.random.key(0)), jnp.ones((5, 3, 10)))
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input: Any, hx: jax.Array | None = None) -> tuple[Any, jax.Array]:
        out, h_n, _ = self._run(input, hx)
        return out, h_n


class RNNCellBase(Module):
    """Shared declarations of the cells: ``weight_ih (G*H, I)``, ``weight_hh (G*H, H)``,
    ``bias_ih``, ``bias_hh``, each U(-1/sqrt(H), 1/sqrt(H)) in that order, as torch."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, dtype: Any = None
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        uniform = _uniform_init(hidden_size)
        self.weight_ih = Parameter((num_chunks * hidden_size, input_size), uniform, dtype)
        self.weight_hh = Parameter((num_chunks * hidden_size, hidden_size), uniform, dtype)
        if bias:
            self.bias_ih = Parameter((num_chunks * hidden_size,), uniform, dtype)
            self.bias_hh = Parameter((num_chunks * hidden_size,), uniform, dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, input: jax.Array, hx: Any, what: str, hidden: str = "hidden"):
        if input.ndim not in (1, 2):
            raise ValueError(f"{what}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"input has inconsistent input_size: got {input.shape[-1]} expected "
                f"{self.input_size}"
            )
        batched = input.ndim == 2
        x = input if batched else input[None]
        return x, batched

    def _weights(self) -> tuple:
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh


def _check_cell_hidden(hx: jax.Array, what: str, label: str, batch: int, hidden: int, idx=""):
    if hx.ndim not in (1, 2):
        raise ValueError(f"{what}: Expected {label} to be 1D or 2D, got {hx.ndim}D instead")


def _cell_hidden(hx, batched, batch, hidden, dtype, index=0):
    if hx is None:
        return jnp.zeros((batch, hidden), dtype)
    hx = hx if batched else hx[None]
    if hx.shape[0] != batch:
        raise RuntimeError(
            f"Input batch size {batch} doesn't match hidden{index} batch size {hx.shape[0]}"
        )
    if hx.shape[1] != hidden:
        raise RuntimeError(
            f"hidden{index} has inconsistent hidden_size: got {hx.shape[1]}, expected {hidden}"
        )
    return hx


class RNNCell(RNNCellBase):
    """One Elman step ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu), torch's
    ``nn.RNNCell(input_size, hidden_size, bias=True, nonlinearity='tanh')``.

    Example::

        cell = nn.RNNCell(10, 20)
        h = cell(cell.init(jax.random.key(0)), jnp.ones((3, 10)))    # (3, 20)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 1, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: jax.Array, hx: jax.Array | None = None) -> jax.Array:
        x, batched = self._prepare(input, hx, "RNNCell")
        if hx is not None:
            _check_cell_hidden(hx, "RNNCell", "hidden", 0, 0)
        h = _cell_hidden(hx, batched, x.shape[0], self.hidden_size, x.dtype)
        if self.nonlinearity == "tanh":
            out = _F.rnn_tanh_cell(x, h, *self._weights())
        elif self.nonlinearity == "relu":
            out = _F.rnn_relu_cell(x, h, *self._weights())
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return out if batched else out[0]


class LSTMCell(RNNCellBase):
    """One LSTM step (gates ``i, f, g, o``), torch's ``nn.LSTMCell(input_size, hidden_size,
    bias=True)``; ``forward(input, hx=None) -> (h', c')`` with ``hx = (h, c)`` or zeros.

    Example::

        cell = nn.LSTMCell(10, 20)
        h, c = cell(cell.init(jax.random.key(0)), jnp.ones((3, 10)))
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, dtype)

    def forward(self, input: jax.Array, hx: Any = None) -> tuple[jax.Array, jax.Array]:
        x, batched = self._prepare(input, hx, "LSTMCell")
        if hx is None:
            hx = (None, None)
        else:
            for idx, value in enumerate(hx):
                if value.ndim not in (1, 2):
                    raise ValueError(
                        f"LSTMCell: Expected hx[{idx}] to be 1D or 2D, got {value.ndim}D instead"
                    )
        h = _cell_hidden(hx[0], batched, x.shape[0], self.hidden_size, x.dtype)
        c = _cell_hidden(hx[1], batched, x.shape[0], self.hidden_size, x.dtype, 1)
        h, c = _F.lstm_cell(x, (h, c), *self._weights())
        return (h, c) if batched else (h[0], c[0])


class GRUCell(RNNCellBase):
    """One GRU step (gates ``r, z, n``), torch's ``nn.GRUCell(input_size, hidden_size,
    bias=True)``.

    Example::

        cell = nn.GRUCell(10, 20)
        h = cell(cell.init(jax.random.key(0)), jnp.ones((3, 10)))
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, dtype)

    def forward(self, input: jax.Array, hx: jax.Array | None = None) -> jax.Array:
        x, batched = self._prepare(input, hx, "GRUCell")
        if hx is not None:
            _check_cell_hidden(hx, "GRUCell", "hidden", 0, 0)
        h = _cell_hidden(hx, batched, x.shape[0], self.hidden_size, x.dtype)
        out = _F.gru_cell(x, h, *self._weights())
        return out if batched else out[0]
