"""The two-sample Kolmogorov-Smirnov check the default-init cross-checks share.

At significance alpha the test rejects when ``D > c(alpha) * sqrt((n + m) / (n m))`` with
``c(alpha) = sqrt(-ln(alpha / 2) / 2)``. alpha = 1e-6 (c = 2.693): a correct implementation
fails with probability 1e-6 per comparison (asymptotic; every caller uses thousands of values
per side). Keys and seeds are fixed, so each outcome is deterministic; the callers' power
checks show the tests can fail.
"""

import math

import numpy as np

KS_C = math.sqrt(-math.log(1e-6 / 2) / 2)


def ks_statistic(a, b) -> float:
    """The two-sample KS statistic D: the largest gap between the empirical CDFs."""
    a, b = np.sort(np.ravel(a)), np.sort(np.ravel(b))
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(fa - fb)))


def ks_threshold(n: int, m: int) -> float:
    """The rejection threshold for ``n`` and ``m`` values at alpha = 1e-6."""
    return KS_C * math.sqrt((n + m) / (n * m))
