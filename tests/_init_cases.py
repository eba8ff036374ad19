"""Shared cases of the jaxinit.init tests: every initializer with its hyper-parameters bound."""

import math
import warnings
from functools import partial

import jax

from jaxinit import init

KEY = jax.random.key(0)
RAW_KEY = jax.random.PRNGKey(0)
SQRT5 = math.sqrt(5)

# name -> (initializer with its hyper-parameters bound, a shape it accepts). Shapes repeat on
# purpose: every new (shape, dtype) costs an XLA compile, the bulk of this file's run time.
RANDOM = {
    "uniform": (partial(init.uniform, a=-0.5, b=2.0), (4, 6)),
    "normal": (partial(init.normal, mean=1.0, std=0.5), (4, 6)),
    "trunc_normal": (partial(init.trunc_normal, std=0.02), (4, 6)),
    "trunc_normal_deep": (partial(init.trunc_normal, mean=-20.0, a=0.0, b=1.0), (4, 6)),
    "xavier_uniform": (partial(init.xavier_uniform, gain=2.0), (4, 6)),
    "xavier_normal": (init.xavier_normal, (4, 6)),
    "kaiming_uniform": (partial(init.kaiming_uniform, a=SQRT5), (4, 2, 3)),
    "kaiming_normal": (partial(init.kaiming_normal, mode="fan_out", nonlinearity="relu"), (4, 6)),
    "orthogonal": (partial(init.orthogonal, gain=2.0), (4, 2, 3)),
    "orthogonal_tall": (init.orthogonal, (6, 4)),
    "sparse": (partial(init.sparse, sparsity=0.3), (4, 6)),
}
DETERMINISTIC = {
    "constant": (partial(init.constant, val=0.25), (4, 6)),
    "ones": (init.ones, (4, 6)),
    "zeros": (init.zeros, (4, 6)),
    "eye": (init.eye, (4, 6)),
    "dirac": (partial(init.dirac, groups=2), (4, 2, 3)),
}
ALL = {**RANDOM, **DETERMINISTIC}


def quiet(fn, *args, **kwargs):
    """Call fn with warnings silenced (trunc_normal_deep warns, as torch does)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)
