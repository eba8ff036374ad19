"""The :class:`TorchGenerator` class; public as :class:`jaxinit.generator.TorchGenerator`."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxinit._exact_float import _fma64, _fma64_exact, _fma64_safe
from jaxinit._mt19937 import (
    _FLOAT_OFFSET,
    _FLOAT_TAIL,
    _HEAD,
    _N,
    _STATE_OFFSET,
    _TAIL,
    _TAIL_OFFSET,
    DEFAULT_SEED,
    STATE_SIZE,
    _init_genrand,
    _temper,
)
from jaxinit._rng_threads import _PARALLEL_MIN, _pool, _run_parallel
from jaxinit._torch_sampling import (
    _ONE,
    _TWO_PI,
    _affine64,
    _box_muller16_f32,
    _box_muller16_f64,
    _dtype_limits,
    _f,
    _float_dtype,
    _map_math,
    _shape,
    _uniform32_kernel,
)

_CAPABILITIES = ("avx2", "default")
_RANDPERM_MAX = 0xFFFFFFFF // 20  # torch switches to another algorithm from this n on
_CHUNK = 1 << 16  # draws per block of uniform_ work
_ROWS = 1 << 10  # rows of 16 per block of Box-Muller work: temporaries stay in cache


class TorchGenerator:
    """torch's CPU generator: ``TorchGenerator(s)`` == ``torch.Generator().manual_seed(s)``.

    Stateful, like ``torch.Generator``: every draw advances it, and two generators with the
    same seed (or the same :meth:`get_state` bytes) produce the same values as torch, bit for
    bit. Use :meth:`clone` for a functional style (draw from a copy, keep the original).
    Not thread-safe (torch locks its generator): give each thread its own.

    Args:
        seed: the seed (torch's rules: any int in ``[-2**63, 2**64)``; only the low 32 bits
            reach the engine). ``None`` gives a fresh ``torch.Generator()``'s seed,
            67280421310721 (it does *not* give torch's non-deterministic global generator).
        capability: which libtorch kernels to reproduce. ``"avx2"`` (default) matches x86-64
            CPUs with AVX2 or AVX512, i.e. what ``torch.backends.cpu.get_cpu_capability()``
            reports as ``AVX2``/``AVX512``: fused multiply-adds and the Cephes SIMD float32
            normal kernel. ``"default"`` matches the plain build (``ATEN_CPU_CAPABILITY=default``
            or an x86 CPU without AVX2): no FMA in ``uniform_``, glibc ``logf``/``cosf``/``sinf``
            in the float32 normal kernel (slow here: one ctypes call per value).

    Example:
        >>> g = TorchGenerator(0)
        >>> g.uniform_(3)                     # torch.manual_seed(0); torch.rand(3)
        array([0.4962566 , 0.7682218 , 0.08847743], dtype=float32)
        >>> g.normal_((2, 2)).shape           # scalar path (numel < 16), caches one value
        (2, 2)
    """

    __module__ = "jaxinit.generator"  # its public home: pickles and reprs name that module

    def __init__(self, seed: int | None = None, *, capability: str = "avx2") -> None:
        if capability not in _CAPABILITIES:
            raise ValueError(
                f"capability must be one of {_CAPABILITIES}, got {capability!r}: 'avx2' for "
                "x86-64 torch builds reporting AVX2 or AVX512, 'default' for the plain build"
            )
        self._capability = capability
        self._bitgen = np.random.MT19937(0)
        self._rs = np.random.RandomState(self._bitgen)  # legacy, frozen-stream integer fills
        self.manual_seed(DEFAULT_SEED if seed is None else seed)

    # ---- seeding and state ----------------------------------------------------------------

    @property
    def capability(self) -> str:
        """The libtorch kernel set reproduced: ``"avx2"`` or ``"default"``."""
        return self._capability

    def manual_seed(self, seed: int) -> TorchGenerator:
        """Reseed like ``torch.Generator.manual_seed``; returns ``self``.

        A negative seed is stored as ``seed + 2**64``; the engine uses ``seed & 0xFFFFFFFF``
        (so 0 and ``2**32`` give the same stream); the cached normal values are cleared.

        Example:
            >>> TorchGenerator().manual_seed(-1).initial_seed()
            18446744073709551615
        """
        try:
            seed = operator.index(seed)
        except TypeError as err:
            raise TypeError(f"seed must be an int, got {type(seed).__name__}") from err
        if not -(2**63) <= seed < 2**64:
            raise ValueError(f"seed {seed} is out of range: torch accepts [-2**63, 2**64)")
        seed %= 2**64
        self._seed = seed
        self._set_engine(_init_genrand(seed & 0xFFFFFFFF), left=1, next_=0)
        self._normal_cache: float | None = None  # the cached double normal (scalar path)
        self._float_normal_cache: float | None = None  # kept for get_state/set_state only
        return self

    def initial_seed(self) -> int:
        """The seed last given to :meth:`manual_seed` (as torch stores it, in ``[0, 2**64)``)."""
        return self._seed

    def _set_engine(self, key: np.ndarray, left: int, next_: int) -> None:
        """Load torch's engine state (624 words, ``left``, ``next``) into numpy's MT19937.

        torch reads ``state[next]`` and counts ``left`` down, twisting when it reaches 0; numpy
        reads ``key[pos]`` and twists when ``pos == 624``. The usual torch states (``left == 1``
        just after seeding, or ``next + left == 625``) map onto ``pos`` directly; any other
        valid state is served by tempering the ``left - 1`` words torch still has to read.
        """
        if next_ + left == _N + 1:
            pos, prefix = next_, np.empty(0, np.uint32)
        else:
            end = next_ + left - 1
            if end > _N:
                raise ValueError(
                    f"invalid mt19937 state: next={next_} and left={left} would read past the "
                    f"{_N}-word state (torch leaves next + left - 1 <= {_N})"
                )
            pos, prefix = _N, _temper(key[next_:end])
        self._bitgen.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": pos}}
        self._prefix = prefix  # outputs due before numpy's stream
        self._next_at_twist = next_ + left - 1  # torch's `next` when the twist is pending

    def get_state(self) -> np.ndarray:
        """torch's state bytes: ``uint8[5056]``, identical to ``torch.Generator.get_state()``.

        Layout (``CPUGeneratorImplState``): u64 seed, i32 left, i32 seeded, u64 next,
        624 x u64 state words, f64 normal_x (0), f64 cached double normal, f64 normal_rho (0),
        i32 cache valid, 4 pad, f32 cached float normal, bool valid, 3 pad.

        Example:
            >>> g = TorchGenerator(0)
            >>> h = TorchGenerator(1); h.set_state(g.get_state())
            >>> bool((h.random(4) == g.random(4)).all())
            True
        """
        st = self._bitgen.state["state"]
        key, pos = st["key"], int(st["pos"])
        if self._prefix.size:
            left, next_ = self._prefix.size + 1, self._next_at_twist - self._prefix.size
        elif pos < _N:
            left, next_ = _N + 1 - pos, pos
        else:
            left, next_ = 1, self._next_at_twist
        out = bytearray(STATE_SIZE)
        _HEAD.pack_into(out, 0, self._seed, left, 1, next_)
        out[_STATE_OFFSET:_TAIL_OFFSET] = key.astype("<u8").tobytes()
        cached = self._normal_cache
        _TAIL.pack_into(
            out, _TAIL_OFFSET, 0.0, 0.0 if cached is None else cached, 0.0, cached is not None
        )
        fcached = self._float_normal_cache
        _FLOAT_TAIL.pack_into(
            out, _FLOAT_OFFSET, 0.0 if fcached is None else fcached, fcached is not None
        )
        return np.frombuffer(bytes(out), dtype=np.uint8).copy()

    def set_state(self, state: Any) -> None:
        """Load torch's state bytes (from ``torch.Generator.get_state()`` or :meth:`get_state`).

        Accepts a ``uint8`` numpy array, ``bytes``, or anything ``np.asarray`` turns into one
        (a CPU ``torch.ByteTensor`` works). The seed and the cached normals come with the
        state. Like torch 2.13, only the 5056-byte layout is accepted (the 5048-byte legacy
        layout of older releases is refused by torch too).
        """
        if isinstance(state, (bytes, bytearray, memoryview)):
            arr = np.frombuffer(bytes(state), dtype=np.uint8)
        else:
            arr = np.asarray(state)
            if arr.dtype != np.uint8 or arr.ndim != 1:
                raise TypeError(
                    f"state must be a 1-D uint8 array (torch's get_state() bytes), got dtype "
                    f"{arr.dtype} and shape {arr.shape}"
                )
        raw = arr.tobytes()
        if len(raw) != STATE_SIZE:
            raise ValueError(
                f"state has {len(raw)} bytes; torch's CPU generator state has {STATE_SIZE} "
                "(pass the bytes of torch.Generator.get_state() or TorchGenerator.get_state())"
            )
        seed, left, seeded, next_ = _HEAD.unpack_from(raw, 0)
        next_ &= 0xFFFFFFFF  # torch keeps the low 32 bits
        if not (seeded != 0 and 0 < left <= _N and next_ <= _N):
            raise ValueError(
                f"invalid mt19937 state (seeded={seeded}, left={left}, next={next_}): torch "
                f"requires seeded != 0, 0 < left <= {_N} and next <= {_N}"
            )
        words = np.frombuffer(raw, dtype="<u8", count=_N, offset=_STATE_OFFSET)
        key = (words & 0xFFFFFFFF).astype(np.uint32)  # torch copies u64 -> u32
        _, normal_y, _, valid = _TAIL.unpack_from(raw, _TAIL_OFFSET)
        fvalue, fvalid = _FLOAT_TAIL.unpack_from(raw, _FLOAT_OFFSET)
        self._set_engine(key, left=left, next_=next_)
        self._seed = seed
        self._normal_cache = normal_y if valid else None
        self._float_normal_cache = fvalue if fvalid else None

    def clone(self) -> TorchGenerator:
        """An independent copy in the same state (like ``torch.Generator.clone_state``).

        Example:
            >>> g = TorchGenerator(0); h = g.clone()
            >>> bool((g.uniform_(5) == h.uniform_(5)).all())
            True
        """
        other = TorchGenerator.__new__(TorchGenerator)
        other._capability = self._capability
        other._bitgen = np.random.MT19937(0)
        other._bitgen.state = self._bitgen.state
        other._rs = np.random.RandomState(other._bitgen)
        other._prefix = self._prefix.copy()
        other._next_at_twist = self._next_at_twist
        other._seed = self._seed
        other._normal_cache = self._normal_cache
        other._float_normal_cache = self._float_normal_cache
        return other

    def __getstate__(self) -> dict[str, Any]:
        return {"capability": self._capability, "state": self.get_state().tobytes()}

    def __setstate__(self, d: dict[str, Any]) -> None:
        self.__init__(0, capability=d["capability"])
        self.set_state(d["state"])

    def __repr__(self) -> str:
        return f"TorchGenerator(seed={self._seed}, capability={self._capability!r})"

    # ---- raw engine outputs -------------------------------------------------------------

    def random(self, n: int) -> np.ndarray:
        """``n`` raw 32-bit engine outputs (torch's ``random()``), as ``uint32[n]``.

        Example:
            >>> [hex(v) for v in TorchGenerator(0).random(2)]
            ['0x8c7f0aac', '0x97c4aa2f']
        """
        n = operator.index(n)
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        head, self._prefix = self._prefix[:n], self._prefix[n:]
        if head.size == n:
            return head.copy()
        self._next_at_twist = _N
        rest = self._rs.randint(0, 2**32, size=n - head.size, dtype=np.uint32)
        return np.concatenate([head, rest]) if head.size else rest

    def random64(self, n: int) -> np.ndarray:
        """``n`` outputs of torch's ``random64()`` (``first << 32 | second``), as ``uint64[n]``."""
        n = operator.index(n)
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        w = self.random(2 * n).astype(np.uint64).reshape(n, 2)
        return (w[:, 0] << np.uint64(32)) | w[:, 1]

    def _bits24(self, n: int) -> np.ndarray:
        """``random() & 0xFFFFFF`` for ``n`` draws, as uint32 (the hot path of ``uniform_``)."""
        if self._prefix.size or n == 0:
            return self.random(n) & np.uint32(0xFFFFFF)
        self._next_at_twist = _N
        # legacy masked fill: mask == range, so every draw is kept, one draw per value
        return self._rs.randint(0, 1 << 24, size=n, dtype=np.uint32)

    def _uniform53(self, n: int) -> np.ndarray:
        """``(random64() & (2**53 - 1)) * 2**-53`` for ``n`` values (two draws each), float64."""
        w = self.random(2 * n).reshape(n, 2)
        hi = (w[:, 0] & np.uint32(0x1FFFFF)).astype(np.float64) * 2.0**-21
        return hi + w[:, 1].astype(np.float64) * 2.0**-53  # exact: 21 + 32 bits

    # ---- uniform_ -------------------------------------------------------------------------

    def uniform_(
        self,
        shape: int | Sequence[int],
        low: float = 0.0,
        high: float = 1.0,
        dtype: Any = np.float32,
    ) -> np.ndarray:
        """``torch.empty(shape, dtype=dtype).uniform_(low, high, generator=g)``, as numpy.

        Values are U[low, high), in memory (C) order:

        * float32 (and float16/bfloat16, which are computed in float32 then rounded to
          nearest): ``x = (random() & 0xFFFFFF) * 2**-24``, ``v = fma(x, high - low, low)``
          with ``high - low`` rounded to float32;
        * float64: ``x = (random64() & (2**53 - 1)) * 2**-53`` (two draws per value);
        * a value equal to ``high`` (after the cast) becomes ``low``.

        With ``capability="default"`` the multiply and the add round separately, as in
        torch's plain build. Errors follow torch: non-finite or out-of-range bounds,
        ``low > high``, ``high - low`` overflowing the dtype. ``low == high`` still draws.

        Example:
            >>> TorchGenerator(0).uniform_(1000, -1, 1)[:2]    # torch.manual_seed(0)
            array([-0.00748682,  0.5364436 ], dtype=float32)
        """
        shape = _shape(shape)
        dt = _float_dtype(dtype)
        low, high = float(low), float(high)
        limit = _dtype_limits(dt)
        for name, v in (("low", low), ("high", high)):
            if not -limit <= v <= limit:
                raise ValueError(
                    f"uniform_: {name}={v} is out of bounds for {dt.name} (torch: '{name} is "
                    f"out of bounds'); use finite bounds within +-{limit:g}"
                )
        if low > high:
            raise ValueError(
                f"uniform_ expects to return a [low, high) range, but found low={low} > "
                f"high={high}; swap the bounds"
            )
        if high - low > limit:
            raise ValueError(
                f"uniform_ expects high - low <= the largest {dt.name} ({limit:g}), but "
                f"high={high} and low={low} give {high - low:g}; narrow the range"
            )
        n = math.prod(shape)
        if n == 0:
            return np.empty(shape, dtype=dt)
        if dt == np.float64:
            return self._uniform_f64(n, low, high).reshape(shape)
        f, t = np.float32(low), np.float32(high)
        out = self._uniform_f32(n, f, t).astype(dt, copy=False)
        # torch casts the float value to the dtype and compares it with `to` cast from double
        # (c10 goes double -> float -> half); only the largest draw can get there
        lo_s, hi_s = f.astype(dt), t.astype(dt)
        top = np.empty(1, np.float32)
        _uniform32_kernel(f, t, self._capability == "avx2")(np.array([0xFFFFFF], np.uint32), top)
        if top.astype(dt)[0] == hi_s:
            out[out == hi_s] = lo_s
        return out.reshape(shape)

    def _uniform_f32(self, n: int, f: np.float32, t: np.float32) -> np.ndarray:
        """float32 ``uniform_real(f, t)`` values (before the ``== to`` wrap) for ``n`` draws.

        Draws are made here, block by block; for large ``n`` the worker threads turn each
        block into floats while this thread draws the next one.
        """
        kernel = _uniform32_kernel(f, t, fused=self._capability == "avx2")
        out = np.empty(n, dtype=np.float32)
        pool = _pool() if n >= _PARALLEL_MIN else None
        pending = []
        for i in range(0, n, _CHUNK):
            k = self._bits24(min(_CHUNK, n - i))
            if pool is None:
                kernel(k, out[i : i + k.size])
            else:
                pending.append(pool.submit(kernel, k, out[i : i + k.size]))
        for job in pending:
            job.result()
        return out

    def _uniform_f64(self, n: int, low: float, high: float) -> np.ndarray:
        """float64 ``uniform_``: ``fma(x, high - low, low)`` with 53-bit ``x``, wrap included."""
        r = high - low
        out = np.empty(n, dtype=np.float64)
        for i in range(0, n, _CHUNK):
            x = self._uniform53(min(_CHUNK, n - i))
            if self._capability == "default":
                v = x * r + low
            elif low == 0.0:
                v = x * r + low  # fma(x, r, ±0) == RN(x * r) + ±0
            elif _fma64_safe(r):
                v = _fma64(x, r, low)
            else:
                v = _fma64_exact(x, r, low)
            out[i : i + x.size] = v
        out[out == high] = low
        return out

    # ---- normal_ --------------------------------------------------------------------------

    def normal_(
        self,
        shape: int | Sequence[int],
        mean: float = 0.0,
        std: float = 1.0,
        dtype: Any = np.float32,
        *,
        contiguous: bool = True,
    ) -> np.ndarray:
        """``torch.empty(shape, dtype=dtype).normal_(mean, std, generator=g)``, as numpy.

        torch has two samplers and so does this method:

        * **fill path** (contiguous and ``numel >= 16``): ``numel`` uniforms, then Box-Muller
          on each block of 16 (``u1 = 1 - u[j]``, ``u2 = u[j+8]``,
          ``z = sqrt(-2 ln u1) * (cos, sin)(2 pi u2)``, ``fma(z, std, mean)``); if
          ``numel % 16 != 0`` the last 16 values are redrawn from 16 fresh uniforms.
          float16/bfloat16 run the float32 kernel block by block and round the result.
        * **scalar path** (``numel < 16`` or ``contiguous=False``): double Box-Muller per pair
          (``u1``, ``u2`` from ``random64``; ``r = sqrt(-2 log1p(-u2))``, ``theta = 2 pi u1``),
          ``r cos theta`` is used and ``r sin theta`` cached in the generator for the next
          scalar-path value, in any later call and dtype.

        ``contiguous=False`` stands for a non-contiguous torch tensor: the values come in
        memory order, so ``w = torch.empty(5, 4); w.t().normal_()`` leaves ``w`` equal to
        ``normal_((5, 4), contiguous=False)``.

        Example:
            >>> TorchGenerator(0).normal_(5)      # torch.manual_seed(0); torch.empty(5).normal_()
            array([ 1.5409961 , -0.2934289 , -2.1787894 ,  0.56843126, -1.0845224 ],
                  dtype=float32)
        """
        shape = _shape(shape)
        dt = _float_dtype(dtype)
        mean, std = float(mean), float(std)
        if not std >= 0.0:
            raise ValueError(f"normal_ expects std >= 0.0, but found std={std}")
        n = math.prod(shape)
        if n == 0:
            return np.empty(shape, dtype=dt)
        if n < 16 or not contiguous:
            out = self._normal_scalar(n, mean, std)
            if dt != np.float64:
                out = out.astype(np.float32)  # c10 half types convert from float
        elif dt == np.float64:
            out = self._normal_fill_f64(n, mean, std)
        elif dt == np.float32:
            out = self._normal_fill_f32(n, mean, std)
        else:
            out = self._normal_fill_half(n, mean, std)
        return out.astype(dt, copy=False).reshape(shape)

    def _normal_scalar(self, n: int, mean: float, std: float) -> np.ndarray:
        """``n`` values of torch's scalar path (float64), using and refilling the cache."""
        z = np.empty(n, dtype=np.float64)
        start = 0
        if self._normal_cache is not None:
            z[0], start = self._normal_cache, 1
            self._normal_cache = None
        pairs = (n - start + 1) // 2
        if pairs:
            u = self._uniform53(2 * pairs).reshape(pairs, 2)
            radius = np.sqrt(-2.0 * _map_math(math.log1p, -u[:, 1]))
            theta = _TWO_PI * u[:, 0]
            zz = np.empty((pairs, 2), dtype=np.float64)
            zz[:, 0] = radius * _map_math(math.cos, theta)
            zz[:, 1] = radius * _map_math(math.sin, theta)
            zz = zz.reshape(-1)
            z[start:] = zz[: n - start]
            if zz.size > n - start:
                self._normal_cache = float(zz[-1])
        return _affine64(z, std, mean, fused=self._capability == "avx2")

    def _normal_fill_f32(self, n: int, mean: float, std: float) -> np.ndarray:
        """float32 fill: ``n`` uniforms, Box-Muller per block of 16, 16 fresh ones for a tail."""
        u = self._uniform_f32(n, _f(0.0), _ONE)  # x * 1 + 0: exact, never reaches 1
        self._box_muller_f32(u[: n - n % 16].reshape(-1, 16), mean, std)
        if n % 16:
            tail = self._uniform_f32(16, _f(0.0), _ONE).reshape(1, 16)
            self._box_muller_f32(tail, mean, std)
            u[n - 16 :] = tail[0]
        return u

    def _normal_fill_half(self, n: int, mean: float, std: float) -> np.ndarray:
        """bf16/f16 fill: each block draws its own 16 uniforms (no draws for the n % 16 rest)."""
        blocks = -(-n // 16)
        u = self._uniform_f32(16 * blocks, _f(0.0), _ONE).reshape(blocks, 16)
        self._box_muller_f32(u, mean, std)
        flat = u.reshape(-1)
        out = flat[:n].copy()
        if n % 16:
            out[n - 16 :] = flat[-16:]
        return out

    def _box_muller_f32(self, rows: np.ndarray, mean: float, std: float) -> None:
        """``NormalFill16<float>`` on every row of 16 uniforms, in place, block by block (on
        worker threads too for large fills of the numpy kernel)."""
        mean32, std32 = np.float32(mean), np.float32(std)
        tasks = [
            lambda b=b: _box_muller16_f32(rows[b : b + _ROWS], mean32, std32, self._capability)
            for b in range(0, rows.shape[0], _ROWS)
        ]
        if self._capability == "avx2" and rows.size >= _PARALLEL_MIN:
            _run_parallel(tasks)
        else:
            for task in tasks:
                task()

    def _normal_fill_f64(self, n: int, mean: float, std: float) -> np.ndarray:
        """float64 fill: like float32, with 53-bit uniforms and glibc log/cos/sin."""
        u = self._uniform53(n)
        blocks = n // 16
        if blocks:
            _box_muller16_f64(u[: 16 * blocks].reshape(blocks, 16), mean, std)
        if n % 16:
            tail = self._uniform53(16).reshape(1, 16)
            _box_muller16_f64(tail, mean, std)
            u[n - 16 :] = tail[0]
        return u

    # ---- randperm -------------------------------------------------------------------------

    def randperm(self, n: int) -> np.ndarray:
        """``torch.randperm(n, generator=g)``: a random permutation of ``0..n-1``, int64.

        torch's CPU algorithm for ``n < 2**32 / 20``: start from ``arange(n)``; for
        ``i = 0 .. n-2`` swap element ``i`` with element ``i + random() % (n - i)``
        (``n - 1`` draws). The swaps are sequential, so this runs a tight Python loop
        (about 0.03 s for ``n = 10**5``, under a second for ``10**6``).

        Example:
            >>> TorchGenerator(0).randperm(4).dtype
            dtype('int64')
        """
        n = operator.index(n)
        if n < 0:
            raise ValueError(f"randperm: n must be non-negative, got n={n}")
        if n >= _RANDPERM_MAX:
            raise NotImplementedError(
                f"randperm(n) for n >= {_RANDPERM_MAX} uses torch's inside-out shuffle with "
                "random64(), which is not reproduced (a Python loop over that many elements "
                "would take minutes anyway)"
            )
        if n <= 1:
            return np.arange(n, dtype=np.int64)
        z = (self.random(n - 1) % np.arange(n, 1, -1, dtype=np.uint32)).tolist()
        perm = list(range(n))
        for i, zi in enumerate(z):
            j = i + zi
            perm[i], perm[j] = perm[j], perm[i]
        return np.array(perm, dtype=np.int64)
