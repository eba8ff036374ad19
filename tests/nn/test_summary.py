"""jaxinit/nn/summary.py: shapes and counts traced without computing."""

import jax.numpy as jnp

from jaxinit import nn
from jaxinit.nn.summary import summary


def test_summary_counts_and_shapes():
    shared = nn.Linear(8, 8)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.Linear(8, 1))
    s = summary(net, (16, 4))
    assert s.total_params == (4 * 8 + 8) + (8 * 8 + 8) + (8 + 1)
    assert s.param_bytes == 4 * s.total_params
    rows = {(r.name, r.output_shape, r.num_params) for r in s.rows}
    assert ("", (16, 1), s.total_params) in rows
    assert ("0", (16, 8), 40) in rows
    assert ("2", (16, 8), 72) in rows and ("2", (16, 8), 0) in rows  # second use: no recount
    text = str(s)
    assert "Total params: 121" in text and "├─0: Linear" in text
    assert [r.name for r in s.rows][:3] == ["", "0", "1"]


def test_summary_accepts_arrays():
    net = nn.Sequential(nn.Linear(3, 2))
    s = summary(net, jnp.ones((5, 3)))
    assert s.rows[0].output_shape == (5, 2)
    assert s.input_bytes == 5 * 3 * 4
