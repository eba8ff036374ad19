"""One entry point for every jaxinit convolution, fast on CPU: :func:`conv_general_dilated`.

Conv1d/2d/3d, ConvTranspose1d/2d/3d and the functional ``F.conv*`` all call
:func:`conv_general_dilated`, which has ``lax.conv_general_dilated``'s signature and semantics.

**Why.** XLA's CPU convolution is very slow for some shapes (a 3x3 conv with 512 channels on a
2x2 input, batch 8: ~100x torch, forward alone), and 1.2-3x slower than torch for others. The
same convolution written as patches + matmul (im2col) runs at matmul speed.

**What.** On the CPU backend, the forward, the input gradient and the weight gradient each use
the formulation that :func:`choose_plan` names for the shape (``lax``, ``im2col``,
``im2col_t``, ``slices``, ``toeplitz``, ``depthwise``; see :mod:`._conv_formulations`); the
gradients are the exact transposes of their formulation: a ``jax.custom_jvp`` whose tangent computes
``dx * w`` and ``x * dw`` each in its part's formulation, which reverse mode transposes (and
forward mode, ``jax.jvp`` or ``jax.hessian``, runs as it is). Every formulation
agrees with lax within float32 rounding for finite inputs (the sums run in another order;
tests/nn/test_conv_impl.py; ``toeplitz`` may turn a few more outputs next to an ``inf`` or
``nan`` input into ``nan``, see :mod:`._conv_formulations`). The choice is static: made at
trace time from shapes and dtype only, so the same inputs give the same bits, and eager equals
jit.

**Where.** The platform is that of the input when it is a concrete array, else (under a trace)
``jax.default_backend()``. On GPU/TPU, and whenever the plan is lax for all three parts, the
call is ``lax.conv_general_dilated`` itself, unchanged. Also left to lax: string paddings,
non-channels-first ``dimension_numbers``, mixed or non-float dtypes, empty shapes.

**Off switch.** ``JAXINIT_CONV=lax`` in the environment (read at import), or
``set_conv_backend("lax")``, or ``with conv_backend("lax"): ...`` make every call plain
``lax.conv_general_dilated`` (bit for bit; ``"auto"`` is the default). The mode is read when a
function is traced: a function jit-compiled before the switch keeps its compiled choice.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_derivatives import SymbolicZero

from ._conv_formulations import FORMULATIONS, ConvSpec, is_depthwise

_MODES = ("auto", "lax")


def _env_mode() -> str:
    mode = os.environ.get("JAXINIT_CONV", "auto").strip().lower() or "auto"
    if mode not in _MODES:
        raise ValueError(f"JAXINIT_CONV must be one of {_MODES}, got {mode!r}")
    return mode


_MODE = [_env_mode()]  # a one-element box: process-wide, read at trace time


def _check_mode(mode: str) -> str:
    if mode not in _MODES:
        raise ValueError(f"conv backend must be one of {_MODES}, got {mode!r}")
    return mode


def get_conv_backend() -> str:
    """The current convolution mode: ``"auto"`` (fastest per shape on CPU) or ``"lax"``."""
    return _MODE[0]


def set_conv_backend(mode: str) -> None:
    """Set the convolution mode for the process: ``"auto"`` or ``"lax"``.

    Example: ``set_conv_backend("lax")`` -> every later-traced convolution is plain lax.
    """
    _MODE[0] = _check_mode(mode)


@contextlib.contextmanager
def conv_backend(mode: str) -> Iterator[None]:
    """Context manager: convolutions traced inside use ``mode`` (``"auto"`` or ``"lax"``).

    Example::

        with F.conv_backend("lax"):
            y = net(params, x)   # bitwise lax.conv_general_dilated
    """
    old, _MODE[0] = _MODE[0], _check_mode(mode)
    try:
        yield
    finally:
        _MODE[0] = old


class Plan(NamedTuple):
    """The formulation of the forward, the input gradient and the weight gradient."""

    fwd: str
    dx: str
    dw: str


LAX_PLAN = Plan("lax", "lax", "lax")


def choose_plan(spec: ConvSpec, dtype) -> Plan:
    """The CPU rule: which formulation runs the forward, the input and the weight gradient.

    Measured with ``benchmarks/conv_rule.py`` (every conv shape of ResNet-18, a U-Net and
    LeNet, each part in each formulation, interleaved in one process; the table is in
    docs/benchmarks.md) and checked on whole training steps (a rule that wins part by part can
    lose in the step, see below). Features: ``M = N * prod(output spatial)`` (rows of the
    patch matrix), ``Cg`` (input channels per group), ``O`` (output channels), the kernel
    volume ``taps``, strides and ``lhs_dilation`` (transposed convolutions). Anything not named
    below is lax, which is fastest for large images with moderate channel counts (U-Net's
    32-128 channel convs at 16x16-64x64: lax 1.5-7x faster than any patch formulation).

    * ``M <= 128`` with a long contraction ``Cg * taps >= 2048`` (ResNet's layer3/4 3x3
      convs): XLA's conv is up to 80x slower than a matmul there (512 channels at 2x2) ->
      forward ``im2col_t``, input gradient ``im2col_t``, weight gradient ``slices`` for
      ``M <= 64`` (512 channels at 2x2); above (256 channels at 4x4) the forward stays lax
      (im2col_t measured 0.89-1.34x of it in four runs), the input gradient is ``im2col_t``
      (0.94-0.97x) and the weight gradient ``im2col_t`` (0.68-0.72x; slices 1.06-1.11x).
      With a shorter contraction (ResNet's 128->256 stride-2 conv at 8x8, all parts under
      1.5 ms) no formulation was faster than lax in every run (im2col_t's input gradient:
      0.74x to 1.54x), so lax.
    * 1x1 strided kernels (ResNet's downsample): a strided slice and one matmul ->
      ``im2col_t`` for all three parts (1.5-2x faster than lax).
    * Kernels of more than 25 taps (7x7: ResNet's stem, a 4->8 7x7): lax for all three parts
      (every patch form measured 1.15-2.6x slower).
    * ``Cg <= 4`` (RGB input layers), or ``Cg <= 16`` with a 5x5 kernel (LeNet's second
      conv), and more than one output channel: input gradient ``im2col`` (2-5x: lax's
      transposed conv is slow for few channels). With 8-16 channels and a 3x3 kernel, or
      one output channel, lax is as fast or faster (1.05-1.6x in three runs), so it stays.
      For a model's first layer that gradient is not needed and XLA removes it.
    * ``Cg <= 4``, a kernel of 9+ taps, stride 1, and a patch matrix of at most 2**20
      elements (U-Net's 3->32 3x3 first conv): forward ``im2col`` (1.3-1.5x). Larger patch
      matrices (LeNet's 3->6 5x5 on 64x32x32: 3.8M elements, 15 MB) lose to lax by 1.2-2x
      in isolation and by more inside the training step (the matrix is written and read once
      more for the weight gradient), so they stay on lax.
    * 2-D, ungrouped, stride 1, at most 8 output channels and at most 4 input channels
      (im2col's matmul would be at most 8 columns wide, which XLA's CPU dot runs slowly;
      lax's convolution is slow there too): forward ``toeplitz`` for 2-4 input channels
      (LeNet's 3->6 5x5: 2.2-3x faster than lax; an RGB 3->4 3x3: 2x), ``slices`` for one
      input channel (a sum of outer products that XLA fuses: 5-8x); weight gradient
      ``toeplitz`` for 2-4 input channels, 6-8 output channels and a 5x5 kernel (LeNet:
      1.9-2.5x; for 3x3 kernels, one input channel, or fewer outputs, which make the tiles
      wide and the band mostly zeros, lax's weight gradient is as fast or faster).
      Strided convs stay on the rules above (an RGB 3->8 3x3 stride 2 forward: toeplitz
      measured 0.7x and 1.15x of lax in two runs).
    * 1-d kernels of 2 taps with ``rhs_dilation > 1`` (WaveNet's causal dilated convs):
      weight gradient ``slices`` (lax's took 34-37 ms at dilations 2, 8 and 16 on 64 or 32
      channels, against 2.7-2.9 ms; at dilation 1, or with 3 taps, lax is as fast).
    * ``lhs_dilation > 1`` (ConvTranspose): weight gradient ``slices`` (lax's is 6-16x slower);
      forward and input gradient stay lax (the patch forms would multiply inserted zeros).

    * Depthwise convolutions (one input channel per group, :func:`is_depthwise`; MobileNetV3,
      EfficientNet, ConvNeXt; not transposed): forward ``depthwise`` (channels-last; in
      ConvNeXt its transpose back cancels the block's permute to channels-last), input and
      weight gradient ``toeplitz``. XLA's CPU runs a grouped convolution as an ungrouped one over a
      block-diagonal weight, so lax does ``C`` times the work: on MobileNetV3-small's nine
      depthwise shapes (``benchmarks/conv_rule.py --only mobilenet``) the three parts took
      767 ms with lax and 12 ms with the best formulation per part (lax's weight gradient of a
      576-channel 5x5 on 2x2: 179 ms vs toeplitz's 0.23 ms). In MobileNetV3-small's jitted
      SGD step (batch 8, 64x64, heavily loaded machine): lax 1583 ms, forward
      ``depthwise`` 109 ms, ``depthwise_cf`` 128 ms, all three parts ``depthwise_cf`` 161 ms.

    * Grouped convolutions that are not depthwise (RegNet's group width 8, ResNeXt's 32
      groups; not transposed): forward ``slices``, input gradient ``im2col_t`` (``slices``
      when the patch matrix would exceed 2**23 elements), weight gradient ``slices``. XLA's
      CPU weight gradient of a grouped convolution is its worst case: 45-600 ms per call on
      RegNetY-400MF's and ResNeXt-50's 3x3 convs at batch 8, 64x64
      (``benchmarks/conv_rule.py --only grouped``), against 0.3-2 ms as ``slices`` (one
      matmul per kernel offset, batched over the groups); the forward and input gradient are
      1-4x faster than lax with these formulations. Kernels of more than 25 taps keep lax's
      forward and input gradient, which are faster there (a wav2vec2-like 1-d conv of 128
      taps and 16 groups: forward lax 40 ms, ``slices`` 147 ms), and take ``slices``'
      weight gradient (173 ms against lax's 1245 ms).

    Dropped after whole-step measurement: weight gradient ``im2col`` for few output channels
    (LeNet's 3->6 conv: 1.8x *slower* in the jitted step than lax, though once faster in an
    isolated, heavily loaded measurement); an FFT formulation (fast for LeNet's first layer,
    but its rounding error is relative to the whole image, not to each output, and one
    non-finite pixel spreads to the whole image); a direct elementwise sum over the taps
    (fast alone, but XLA fuses it into every consumer and recomputes it: 2.5x slower steps).

    ``dtype`` is accepted so the rule can depend on it; the measured rule does not.
    """
    del dtype
    if spec.groups > 1 and is_depthwise(spec) and not any(d > 1 for d in spec.lhs_dilation):
        return Plan("depthwise", "toeplitz", "toeplitz")
    taps = math.prod(spec.rhs_shape[2:])
    cg = spec.rhs_shape[1]
    m = spec.lhs_shape[0] * math.prod(spec.out_spatial)
    strided = any(s > 1 for s in spec.strides)
    transposed = any(d > 1 for d in spec.lhs_dilation)
    if transposed:
        return Plan("lax", "lax", "slices")
    if spec.groups > 1:
        if taps > 25:  # long kernels (wav2vec2's 128-tap positional conv): lax but dw
            return Plan("lax", "lax", "slices")
        patches = m * taps * spec.lhs_shape[1]
        return Plan("slices", "im2col_t" if patches <= 2**23 else "slices", "slices")
    if m <= 128 and cg * taps >= 2048:
        if m <= 64:
            return Plan("im2col_t", "im2col_t", "slices")
        return Plan("lax", "im2col_t", "im2col_t")
    if taps == 1 and strided:
        return Plan("im2col_t", "im2col_t", "im2col_t")
    if m <= 128:
        return LAX_PLAN
    out = spec.rhs_shape[0]
    if taps > 25:  # 7x7 and larger kernels: every patch form measured slower than lax
        return LAX_PLAN
    small_patches = m * taps * cg <= 2**20
    fwd = "im2col" if cg <= 4 and taps >= 9 and not strided and small_patches else "lax"
    dx = "im2col" if out > 1 and (cg <= 4 or (cg <= 16 and taps == 25)) else "lax"
    dw = "lax"
    few_out = out <= 8 and spec.groups == 1 and not strided
    if few_out and len(spec.out_spatial) == 2 and cg <= 4:
        fwd = "slices" if cg == 1 else "toeplitz"
        if cg > 1 and out >= 6 and spec.rhs_shape[2:] == (5, 5):
            dw = "toeplitz"
    if spec.rhs_shape[2:] == (2,) and spec.rhs_dilation[0] > 1:  # WaveNet's dilated 2-tap convs
        dw = "slices"
    return Plan(fwd, dx, dw)


# Each formulation as its own jitted function: an eager call (or an eager jax.vjp) then runs
# the same compiled arithmetic as a jitted model, so eager equals jit bit for bit even for the
# elementwise formulations, whose multiply-adds XLA contracts into FMAs when it fuses them.
_JITTED = {name: jax.jit(fn, static_argnums=2) for name, fn in FORMULATIONS.items()}


@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3))
def conv_with_plan(x: jax.Array, w: jax.Array, spec: ConvSpec, plan: Plan) -> jax.Array:
    """The convolution ``spec`` computed by ``plan``'s formulations (forward and gradients)."""
    return _JITTED[plan.fwd](x, w, spec)


@functools.partial(conv_with_plan.defjvp, symbolic_zeros=True)
def _jvp(spec, plan, primals, tangents):
    """``d(x * w) = dx * w + x * dw``, each term in its part's formulation. Both terms are
    linear in their tangent, so reverse mode transposes them: the input gradient is the
    transpose of ``plan.dx``'s formulation, the weight gradient that of ``plan.dw``'s (the
    rule's choice), and forward mode (``jax.jvp``, ``jax.hessian``) works too. A tangent that
    is symbolically zero (a model's input, a frozen weight) costs nothing."""
    x, w = primals
    dx, dw = tangents
    y = conv_with_plan(x, w, spec, plan)
    terms = []
    if not isinstance(dx, SymbolicZero):
        terms.append(_JITTED[plan.dx](dx, w, spec))
    if not isinstance(dw, SymbolicZero):
        terms.append(_JITTED[plan.dw](x, dw, spec))
    if not terms:
        return y, SymbolicZero(jax.typeof(y).to_tangent_aval())
    return y, terms[0] if len(terms) == 1 else terms[0] + terms[1]


def _platform(x) -> str:
    if isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer):
        try:
            return next(iter(x.devices())).platform
        except Exception:  # noqa: BLE001 - e.g. deleted arrays: fall back to the default
            pass
    return jax.default_backend()


def _spec_or_none(
    lhs,
    rhs,
    window_strides,
    padding,
    lhs_dilation,
    rhs_dilation,
    dimension_numbers,
    feature_group_count,
) -> ConvSpec | None:
    """The static spec when a non-lax formulation may be used, else None."""
    if isinstance(padding, str) or lhs.ndim < 3 or lhs.ndim > 5 or lhs.ndim != rhs.ndim:
        return None
    n = lhs.ndim - 2
    sp = "DHW"[-n:]
    if dimension_numbers is not None and tuple(dimension_numbers) != (
        "NC" + sp,
        "OI" + sp,
        "NC" + sp,
    ):
        return None
    if lhs.dtype != rhs.dtype or not jnp.issubdtype(lhs.dtype, jnp.floating):
        return None
    spec = ConvSpec.make(
        lhs.shape,
        rhs.shape,
        window_strides,
        padding,
        lhs_dilation,
        rhs_dilation,
        feature_group_count,
    )
    if min(spec.out_spatial) <= 0 or math.prod(lhs.shape) == 0 or math.prod(rhs.shape) == 0:
        return None
    return spec


def conv_general_dilated(
    lhs: jax.Array,
    rhs: jax.Array,
    window_strides: Sequence[int],
    padding: str | Sequence[tuple[int, int]],
    lhs_dilation: Sequence[int] | None = None,
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers=None,
    feature_group_count: int = 1,
) -> jax.Array:
    """``lax.conv_general_dilated`` (same signature and result within float32 rounding), using
    on CPU the fastest formulation per shape for the forward and both gradients.

    Example::

        y = conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1)),
                                 dimension_numbers=("NCHW", "OIHW", "NCHW"))
    """

    def plain():
        return lax.conv_general_dilated(
            lhs,
            rhs,
            window_strides,
            padding,
            lhs_dilation=lhs_dilation,
            rhs_dilation=rhs_dilation,
            dimension_numbers=dimension_numbers,
            feature_group_count=feature_group_count,
        )

    if _MODE[0] == "lax" or _platform(lhs) != "cpu":
        return plain()
    spec = _spec_or_none(
        lhs,
        rhs,
        window_strides,
        padding,
        lhs_dilation,
        rhs_dilation,
        dimension_numbers,
        feature_group_count,
    )
    if spec is None:
        return plain()
    plan = choose_plan(spec, lhs.dtype)
    if plan == LAX_PLAN:
        return plain()
    return conv_with_plan(lhs, rhs, spec, plan)
