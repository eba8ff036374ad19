"""Cheaper compiles for the tolerance cross-checks: ``unoptimized_xla`` for a whole module,
``CHECK_COMPILE`` for one ``jax.jit``.

Most of the CPU time of the torch cross-checks, the examples and the docs' snippets is XLA
compiling programs that then run once, on small inputs. Under ``jax_disable_most_optimizations``
(XLA's backend optimization level 0, no expensive LLVM passes) those compiles take a half to a
quarter of the time; the programs compute the same operations (fast-math stays off either way),
and the modules that use this pass unchanged, their bitwise TorchGenerator checks included.

Import the fixture into a test module (it is autouse and module-scoped)::

    from _xla_speed import unoptimized_xla  # noqa: F401 -- autouse: this module's compiles

The previous setting is restored after the module and jax's caches are cleared, so the next
module on the worker runs XLA's default build.

``CHECK_COMPILE`` does the same for one program, as ``jax.jit(f,
compiler_options=CHECK_COMPILE)``: the same HLO (XLA's HLO passes run as usual) code-generated
with LLVM's backend optimization off and XLA CPU's classic elemental emitter instead of its MLIR
fusion emitters (tests/nn/test_conv_impl.py's largest sweep case: 4.2 s of compile -> 0.45 s,
identical errors against lax).

Either changes the machine code, not the operations: results may differ in the last bits from
a default build (measured: 1.5e-7 after 50 optimizer steps), which the tolerance checks cover.
Bitwise checks (Threefry, init, jit == eager, the optimizer steps' exact comparisons) keep XLA's
defaults.

A test whose programs run long (many steps, wide layers) may be better off optimized:
unoptimized code runs slower (examples/init_diagnostics.py's 50-layer nets: about 1.5x).
``unoptimized_compiles(False)`` turns the flag off within a block (``tests/test_examples.py``
does so for init_diagnostics).
"""

from __future__ import annotations

import contextlib

import jax
import pytest

_FLAG = "jax_disable_most_optimizations"
CHECK_COMPILE = {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False}


@contextlib.contextmanager
def unoptimized_compiles(on: bool = True):
    """Within the block, ``jax_disable_most_optimizations`` is ``on``; restored afterwards,
    and jax's in-memory caches cleared: the flag is not part of their keys, so a program
    compiled in the block would otherwise serve a later module's call (an init draw compiled
    unoptimized differs from the default build in the last bit, which bitwise tests see)."""
    before = jax.config.values[_FLAG]
    jax.config.update(_FLAG, on)
    try:
        yield
    finally:
        jax.config.update(_FLAG, before)
        jax.clear_caches()


@pytest.fixture(scope="module", autouse=True)
def unoptimized_xla():
    """Compile this module's programs with ``jax_disable_most_optimizations`` on."""
    with unoptimized_compiles():
        yield
