"""Recurrent cells and the scanned multi-layer recurrence behind ``nn.RNN``/``LSTM``/``GRU``.

The cells are torch's ``torch.rnn_tanh_cell``, ``torch.rnn_relu_cell``, ``torch.lstm_cell`` and
``torch.gru_cell`` (gate orders LSTM ``i, f, g, o``; GRU ``r, z, n`` with ``b_hn`` inside the
reset product). :func:`rnn_forward` runs a stack of them over time with ``lax.scan`` (compile
time does not grow with the sequence length); per-sequence ``lengths`` give torch's
packed-sequence results on padded arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["gru_cell", "lstm_cell", "rnn_relu_cell", "rnn_tanh_cell"]

_MODES = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")


def _lin(x: jax.Array, w: jax.Array, b: jax.Array | None) -> jax.Array:
    y = jnp.matmul(x, w.T)
    return y if b is None else y + b.reshape((1,) * (y.ndim - 1) + b.shape)


def _dlin(x: jax.Array, w: jax.Array, b: jax.Array | None) -> jax.Array:
    """Per-direction linear map: ``x (D, B, K)``, ``w (D, N, K)``, ``b (D, N)`` -> ``(D, B, N)``."""
    y = jnp.einsum("dbk,dnk->dbn", x, w)
    return y if b is None else y + b[:, None, :]


def _step(mode: str, gi: jax.Array, h: jax.Array, c: Any, w_hh, b_hh, w_hr):
    """One time step for ``D`` directions at once from the input projection
    ``gi = x W_ih^T + b_ih`` (``(D, B, G)``): ``(h', c')``."""
    gh = _dlin(h, w_hh, b_hh)
    if mode == "RNN_TANH":
        return jnp.tanh(gi + gh), None
    if mode == "RNN_RELU":
        return jax.nn.relu(gi + gh), None
    if mode == "LSTM":
        i, f, g, o = jnp.split(gi + gh, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h if w_hr is None else _dlin(h, w_hr, None)), c
    ir, iz, in_ = jnp.split(gi, 3, axis=-1)
    hr, hz, hn = jnp.split(gh, 3, axis=-1)
    r = jax.nn.sigmoid(ir + hr)
    z = jax.nn.sigmoid(iz + hz)
    n = jnp.tanh(in_ + r * hn)
    return (1 - z) * n + z * h, None


def _cell(mode, input, hx, cx, w_ih, w_hh, b_ih, b_hh):
    def one(a):  # a direction axis of size 1
        return None if a is None else a[None]

    h, c = _step(mode, one(_lin(input, w_ih, b_ih)), hx[None], one(cx), w_hh[None], one(b_hh), None)
    return h[0], (None if c is None else c[0])


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> jax.Array:
    """``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (torch's ``torch.rnn_tanh_cell``).

    Example::

        h = F.rnn_tanh_cell(x, h, w_ih, w_hh, b_ih, b_hh)      # x (B, I), h (B, H)
    """
    return _cell("RNN_TANH", input, hx, None, w_ih, w_hh, b_ih, b_hh)[0]


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> jax.Array:
    """``h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (torch's ``torch.rnn_relu_cell``).

    Example::

        h = F.rnn_relu_cell(x, h, w_ih, w_hh)
    """
    return _cell("RNN_RELU", input, hx, None, w_ih, w_hh, b_ih, b_hh)[0]


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple[jax.Array, jax.Array]:
    """torch's ``torch.lstm_cell``: ``hx = (h, c)``; gates ``i, f, g, o`` (rows of ``w_ih``):
    ``c' = s(f) c + s(i) tanh(g)``, ``h' = s(o) tanh(c')``. Returns ``(h', c')``.

    Example::

        h, c = F.lstm_cell(x, (h, c), w_ih, w_hh, b_ih, b_hh)   # w_ih (4H, I)
    """
    h, c = hx
    return _cell("LSTM", input, h, c, w_ih, w_hh, b_ih, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> jax.Array:
    """torch's ``torch.gru_cell``: gates ``r, z, n``; ``n = tanh(W_in x + b_in + r (W_hn h +
    b_hn))``, ``h' = (1 - z) n + z h``.

    Example::

        h = F.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh)             # w_ih (3H, I)
    """
    return _cell("GRU", input, hx, None, w_ih, w_hh, b_ih, b_hh)[0]


def _reverse_index(T: int, lengths: jax.Array | None) -> jax.Array:
    """Time indices reversing each sequence within its own length (an involution); the
    padding stays in place. Without lengths, a plain flip."""
    t = jnp.arange(T).reshape(T, 1)
    if lengths is None:
        return T - 1 - t
    n = lengths.reshape(1, -1)
    return jnp.where(t < n, n - 1 - t, t)


def _take_time(x: jax.Array, index: jax.Array) -> jax.Array:
    """``x[index[t, b], b]`` for ``x (T, B, F)``."""
    index = jnp.broadcast_to(index, x.shape[:2])
    return jnp.take_along_axis(x, index[:, :, None], axis=0)


def _scan_layer(mode, x, h0, c0, weights, lengths):
    """One layer, every direction in one ``lax.scan`` over ``x (T, B, I)``.

    ``weights``: per direction ``(w_ih, w_hh, b_ih, b_hh, w_hr)``; direction 1 (if any) reads
    each sequence reversed within its own length. With ``lengths``, step ``t`` of sequence
    ``b`` only runs while ``t < lengths[b]`` (state held, output zero past it) -- torch's
    packed-sequence semantics on padded data. Returns ``(outs per direction, h_T, c_T)``."""
    T = x.shape[0]
    dirs = len(weights)
    rev = _reverse_index(T, lengths) if dirs == 2 else None
    gis = []
    for d, (w_ih, _, b_ih, _, _) in enumerate(weights):
        xd = x if d == 0 else _take_time(x, rev)
        gis.append(_lin(xd, w_ih, b_ih))  # every step's input projection: one matmul
    gi = jnp.stack(gis, axis=1)  # (T, D, B, G)

    def stacked(i):
        ws = [w[i] for w in weights]
        return None if ws[0] is None else jnp.stack(ws)

    w_hh, b_hh, w_hr = stacked(1), stacked(3), stacked(4)
    valid = None
    if lengths is not None:
        valid = jnp.arange(T).reshape(T, 1) < lengths.reshape(1, -1)  # (T, B)

    def body(carry, inp):
        h, c = carry
        g, ok = inp
        h2, c2 = _step(mode, g, h, c, w_hh, b_hh, w_hr)
        if ok is None:
            return (h2, c2), h2
        ok = ok.reshape(1, -1, 1)
        h2 = jnp.where(ok, h2, h)
        if c is not None:
            c2 = jnp.where(ok, c2, c)
        return (h2, c2), jnp.where(ok, h2, jnp.zeros((), h2.dtype))

    (h, c), out = lax.scan(body, (h0, c0), (gi, valid))
    outs = [out[:, 0]] + ([_take_time(out[:, 1], rev)] if dirs == 2 else [])
    return outs, h, c


def rnn_forward(
    mode: str,
    input: jax.Array,
    hx: jax.Array,
    cx: jax.Array | None,
    weights: Sequence[Sequence[jax.Array | None]],
    num_layers: int,
    dropout: float,
    train: bool,
    bidirectional: bool,
    lengths: jax.Array | None = None,
    rngs: Sequence[Any] = (),
) -> tuple[jax.Array, jax.Array, jax.Array | None]:
    """The multi-layer recurrence of torch's ``_VF.rnn_tanh/rnn_relu/lstm/gru``.

    ``input (T, B, I)`` (time-major), ``hx (L*D, B, P)``, ``cx (L*D, B, H)`` (LSTM) and
    ``weights[l*D + d] = (w_ih, w_hh, b_ih, b_hh, w_hr)`` (absent ones ``None``). Layer ``l``
    reads layer ``l-1``'s concatenated directions; dropout ``p`` is applied between layers when
    ``train`` (``rngs[l]`` keys layer ``l``'s mask). Returns ``(output (T, B, D*P), h_n, c_n)``.
    """
    if mode not in _MODES:
        raise ValueError(f"Unrecognized RNN mode: {mode}")
    dirs = 2 if bidirectional else 1
    if lengths is not None:
        lengths = jnp.asarray(lengths).reshape(-1)
    x = input
    hs, cs = [], []
    for layer in range(num_layers):
        idx = slice(layer * dirs, (layer + 1) * dirs)
        c0 = None if cx is None else cx[idx]
        outs, h, c = _scan_layer(mode, x, hx[idx], c0, weights[idx], lengths)
        hs.append(h)
        cs.append(c)
        x = outs[0] if dirs == 1 else jnp.concatenate(outs, axis=-1)
        if train and dropout > 0 and layer < num_layers - 1:
            if dropout >= 1:
                x = jnp.zeros_like(x)
            else:
                keep = jax.random.bernoulli(rngs[layer], 1.0 - dropout, x.shape)
                x = jnp.where(keep, x / (1.0 - dropout), jnp.zeros((), x.dtype))
    c_n = None if cx is None else jnp.concatenate(cs)
    return x, jnp.concatenate(hs), c_n
