"""``jaxinit.nn.functional``: torch's ``torch.nn.functional`` with torch's names, signatures,
defaults and errors, as pure JAX functions (``from jaxinit.nn import functional as F``).

Each operation is implemented once, here; the layers of :mod:`jaxinit.nn` call these
functions, so a module and its functional form can never disagree. Submodules follow the
layer families (``activation``, ``conv``, ``pooling``, ...); every public name is re-exported
below explicitly.
"""

from __future__ import annotations

from .attention import multi_head_attention_forward, scaled_dot_product_attention
from .rnn import gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell

__all__: list[str] = [
    "gru_cell",
    "lstm_cell",
    "multi_head_attention_forward",
    "rnn_relu_cell",
    "rnn_tanh_cell",
    "scaled_dot_product_attention",
]
