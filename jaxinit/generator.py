"""torch's CPU random number generator, reproduced bit for bit in numpy (no torch needed).

:class:`TorchGenerator` is a stateful twin of ``torch.Generator()`` on the CPU: the same
mt19937 stream, the same ``get_state()`` bytes, and the same values from ``uniform_``,
``normal_`` and ``randperm`` (torch 2.13, x86-64). It is what lets jaxinit initialise a model
exactly as torch does. The rules come from ATen (``MT19937RNGEngine.h``,
``CPUGeneratorImpl.cpp``, ``DistributionTemplates.h``, ``avx_mathfun.h``), checked against the
binary; in short:

* engine: MT19937 seeded with ``init_genrand(seed & 0xFFFFFFFF)``, twist on first use;
* ``uniform_`` float32: ``x = (random() & 0xFFFFFF) * 2**-24``, ``v = fma(x, to - from, from)``
  (one rounding on AVX2/AVX512 builds, two on the plain build), ``v == to`` becomes ``from``;
  float64 does the same with 53 bits from ``random64()``;
* ``normal_``: a 16-wide Box-Muller fill for contiguous tensors with at least 16 elements
  (float32: 8-lane Cephes ``log``/``sincos`` on AVX2/AVX512 builds, glibc ``logf``/``cosf``/
  ``sinf`` on the plain build; both end with ``fma(z, std, mean)``), and a scalar double
  Box-Muller, with one cached value, otherwise.

The engine is numpy's ``MT19937`` (the same generator), so raw draws run at C speed; the
floating-point kernels are vectorised numpy with exact emulation of fused multiply-adds
(on machines with 4+ cores, large fills also spread that work over a few threads).
Where torch calls glibc (``log``, ``sin``, ``cos``, ``log1p``; ``logf``, ``sinf``, ``cosf`` in the
plain build), this module calls the same glibc functions through :mod:`math` and :mod:`ctypes`,
one element at a time, because no vectorised function is bit-identical to them.
"""

from jaxinit._mt19937 import DEFAULT_SEED, STATE_SIZE
from jaxinit._torch_generator import TorchGenerator

__all__ = ["TorchGenerator", "DEFAULT_SEED", "STATE_SIZE"]
