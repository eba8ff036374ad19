"""TorchGenerator against torch itself (2.13.0 CPU): raw draws, state bytes, uniform_,
normal_ (both paths, the cache, all dtypes), randperm, and the plain (DEFAULT) build in a
subprocess. Every comparison is bitwise."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from jaxinit.generator import TorchGenerator  # noqa: E402

TORCH_DTYPES = {
    np.dtype(np.float32): torch.float32,
    np.dtype(np.float64): torch.float64,
    np.dtype(np.float16): torch.float16,
}
SEEDS = [0, 1, 5, 123, 2**32, -1]


def bits(a) -> np.ndarray:
    """Raw bits of a numpy array or a torch tensor (bfloat16 included)."""
    if isinstance(a, torch.Tensor):
        a = a.contiguous()
        if a.dtype in (torch.bfloat16, torch.float16):
            return a.view(torch.int16).numpy().view(np.uint16).ravel()
        a = a.numpy()
    a = np.asarray(a)
    return a.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize]).ravel()


def same(ours, theirs) -> bool:
    return ours.shape == tuple(theirs.shape) and np.array_equal(bits(ours), bits(theirs))


def torch_dtype(dt):
    import ml_dtypes

    if np.dtype(dt) == np.dtype(ml_dtypes.bfloat16):
        return torch.bfloat16
    return TORCH_DTYPES[np.dtype(dt)]


def pair(seed):
    return TorchGenerator(seed), torch.Generator().manual_seed(seed)


def state_equal(g: TorchGenerator, tg) -> bool:
    return np.array_equal(g.get_state(), tg.get_state().numpy())


def untemper(y: int) -> int:
    y ^= y >> 18
    y ^= (y << 15) & 0xEFC60000
    x = y
    for _ in range(5):
        x = y ^ ((x << 7) & 0x9D2C5680)
    y = x
    for _ in range(3):
        x = y ^ (x >> 11)
    return x & 0xFFFFFFFF


def test_cpu_capability_is_what_the_default_reproduces():
    assert torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")


# ------------------------------------------------------------------------------------------
# engine and state
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_and_state_bytes(seed):
    g, tg = pair(seed)
    assert g.initial_seed() == tg.initial_seed()
    assert state_equal(g, tg)


def test_default_seed():
    assert TorchGenerator().initial_seed() == torch.Generator().initial_seed()
    assert np.array_equal(TorchGenerator().get_state(), torch.Generator().get_state().numpy())


@pytest.mark.parametrize("seed", [0, 123])
def test_raw_draws(seed):
    """torch exposes raw draws through integer random_: int32 gets random() % 2**31,
    int64 gets random64() % 2**63 (no other op shows the top bits, so the full words are
    checked through the state bytes)."""
    g, tg = pair(seed)
    r32 = g.random(1500)
    t32 = torch.empty(1500, dtype=torch.int32).random_(generator=tg).numpy()
    assert np.array_equal(r32 % 2**31, t32.astype(np.uint32))
    r64 = g.random64(700)
    t64 = torch.empty(700, dtype=torch.int64).random_(generator=tg).numpy()
    assert np.array_equal(r64 % np.uint64(2**63), t64.astype(np.uint64))
    assert state_equal(g, tg)


def _mixed(x, is_torch: bool) -> list:
    """The same mixed sequence on either side (scalar normals leave a cached value)."""
    if is_torch:
        return [
            torch.empty(5).normal_(generator=x),
            torch.empty(1000).uniform_(-1, 1, generator=x),
            torch.empty(37).normal_(generator=x),
            torch.randperm(50, generator=x),
            torch.empty(2, dtype=torch.float64).normal_(generator=x),
        ]
    return [
        x.normal_(5),
        x.uniform_(1000, -1, 1),
        x.normal_(37),
        x.randperm(50),
        x.normal_(2, dtype=np.float64),
    ]


@pytest.mark.parametrize("seed", SEEDS)
def test_state_after_mixed_sequence(seed):
    g, tg = pair(seed)
    for ours, theirs in zip(_mixed(g, False), _mixed(tg, True), strict=True):
        assert same(ours, theirs)
    assert state_equal(g, tg)
    assert g._normal_cache is not None  # the mixed sequence ends with a cached normal


def test_set_state_torch_to_ours_and_back():
    tg = torch.Generator().manual_seed(42)
    _mixed(tg, True)
    g = TorchGenerator()
    g.set_state(tg.get_state())  # a torch ByteTensor
    assert state_equal(g, tg)
    assert same(g.normal_(3), torch.empty(3).normal_(generator=tg))  # uses the cache
    assert same(g.uniform_(100, 2, 3), torch.empty(100).uniform_(2, 3, generator=tg))
    # ours -> torch
    g2 = TorchGenerator(9)
    _mixed(g2, False)
    tg2 = torch.Generator()
    tg2.set_state(torch.from_numpy(g2.get_state()))
    assert same(g2.normal_(7), torch.empty(7).normal_(generator=tg2))
    assert same(g2.normal_(40), torch.empty(40).normal_(generator=tg2))
    assert state_equal(g2, tg2)


@pytest.mark.parametrize("left, nxt", [(5, 0), (1, 300), (624, 0), (10, 615), (100, 100)])
def test_unusual_engine_states(left, nxt):
    """States torch accepts but never produces itself."""
    state = bytearray(TorchGenerator(3).get_state().tobytes())
    struct.pack_into("<iiQ", state, 8, left, 1, nxt)
    tg = torch.Generator()
    tg.set_state(torch.frombuffer(state, dtype=torch.uint8).clone())
    g = TorchGenerator()
    g.set_state(bytes(state))
    for n in (1, 3, 700, 2):
        assert same(g.uniform_(n), torch.empty(n).uniform_(generator=tg))
        assert state_equal(g, tg)


def test_legacy_state_layout_refused_by_both():
    legacy = TorchGenerator(8).get_state()[:5048].copy()
    with pytest.raises(RuntimeError, match="5056"):
        torch.Generator().set_state(torch.from_numpy(legacy))
    with pytest.raises(ValueError, match="5056"):
        TorchGenerator().set_state(legacy)


def test_invalid_state_rejected_by_both():
    state = bytearray(TorchGenerator(0).get_state().tobytes())
    struct.pack_into("<i", state, 8, 625)
    with pytest.raises(RuntimeError):
        torch.Generator().set_state(torch.frombuffer(state, dtype=torch.uint8).clone())
    with pytest.raises(ValueError):
        TorchGenerator().set_state(bytes(state))


# ------------------------------------------------------------------------------------------
# uniform_
# ------------------------------------------------------------------------------------------

RANGES = [(0.0, 1.0), (-1.0, 1.0), (-0.3, 0.4), (-0.0173, 0.0173), (100.0, 101.0),
          (1e-10, 1.0), (-2.0, -1.0), (3.0, 3.0), (-1e-30, 7.5)]  # fmt: skip


@pytest.mark.parametrize("low, high", RANGES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uniform_ranges_and_sizes(low, high, dtype):
    g, tg = pair(5)
    for n in (1, 5, 15, 16, 17, 1000, 100003):
        ours = g.uniform_(n, low, high, dtype)
        theirs = torch.empty(n, dtype=torch_dtype(dtype)).uniform_(low, high, generator=tg)
        assert same(ours, theirs), (n, low, high)
    assert state_equal(g, tg)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("low, high", [(-0.3, 0.4), (0.0, 1.0), (-2.0, -1.9), (1.0, 1.001)])
def test_uniform_half_types(dtype, low, high):
    import ml_dtypes

    dt = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(dtype)
    g, tg = pair(1)
    ours = g.uniform_((100, 1000), low, high, dt)
    theirs = torch.empty(100, 1000, dtype=torch_dtype(dt)).uniform_(low, high, generator=tg)
    assert same(ours, theirs)


def _crafted(outputs):
    """A torch generator and ours, both about to output the raw words ``outputs``."""
    g = TorchGenerator(0)
    g.random(1)
    state = bytearray(g.get_state().tobytes())
    _, left, _, nxt = struct.unpack_from("<QiiQ", state, 0)
    for i, y in enumerate(outputs):
        struct.pack_into("<Q", state, 24 + 8 * (nxt + i), untemper(y))
    tg = torch.Generator()
    tg.set_state(torch.frombuffer(state, dtype=torch.uint8).clone())
    ours = TorchGenerator()
    ours.set_state(bytes(state))
    return ours, tg


@pytest.mark.parametrize("low, high", [(1.0, 1.5), (-2.0, -1.0), (0.0, 1.0), (5.0, 5.25)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, "bfloat16"])
def test_uniform_max_draw_wraps_to_low(low, high, dtype):
    """The largest draw rounds up to ``high``; torch stores ``low`` instead."""
    import ml_dtypes

    dt = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(dtype)
    g, tg = _crafted([0xFFFFFFFF, 0xFFFFFFFF, 0x00FFFFFE, 0xFFFFFFFE])
    ours = g.uniform_(2, low, high, dt)
    theirs = torch.empty(2, dtype=torch_dtype(dt)).uniform_(low, high, generator=tg)
    assert same(ours, theirs)
    if (low, high) != (0.0, 1.0) or dt.itemsize == 2:  # f32/f64 (0, 1) cannot reach 1
        assert float(ours[0]) == low  # the wrap really happened


# ------------------------------------------------------------------------------------------
# normal_
# ------------------------------------------------------------------------------------------

SIZES = [1, 5, 15, 16, 17, 31, 32, 33, 1000, 100003]


@pytest.mark.parametrize("mean, std", [(0.0, 1.0), (0.5, 2.0), (-0.3, 1.7), (1.0, 0.0)])
def test_normal_fill_and_scalar_paths_f32(mean, std):
    g, tg = pair(0)
    for n in SIZES:
        assert same(g.normal_(n, mean, std), torch.empty(n).normal_(mean, std, generator=tg)), n
    assert state_equal(g, tg)


@pytest.mark.parametrize("seed", [0, 5, 123])
def test_normal_f64(seed):
    g, tg = pair(seed)
    for n in (3, 7, 16, 17, 1000, 2003):
        ours = g.normal_(n, 0.5, 2.0, np.float64)
        theirs = torch.empty(n, dtype=torch.float64).normal_(0.5, 2.0, generator=tg)
        assert same(ours, theirs), n
    assert state_equal(g, tg)


@pytest.mark.parametrize("dtype", [np.float16, "bfloat16"])
def test_normal_half_types(dtype):
    import ml_dtypes

    dt = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(dtype)
    g, tg = pair(7)
    for n in (5, 15, 16, 17, 40, 1003):
        ours = g.normal_(n, -0.3, 1.7, dt)
        theirs = torch.empty(n, dtype=torch_dtype(dt)).normal_(-0.3, 1.7, generator=tg)
        assert same(ours, theirs), n
    assert state_equal(g, tg)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_normal_noncontiguous_uses_scalar_path(dtype):
    g, tg = pair(3)
    for rows, cols in ((4, 5), (50, 3), (3, 1)):
        ours = g.normal_((rows, cols), 0.25, 3.0, dtype, contiguous=False)
        w = torch.empty(rows, cols, dtype=torch_dtype(dtype))
        w.t().normal_(0.25, 3.0, generator=tg)  # memory order = w's storage
        assert same(ours, w)
    assert state_equal(g, tg)


def test_normal_cache_carried_across_calls_and_dtypes():
    g, tg = pair(1)
    calls = [(5, np.float32), (3, np.float64), (1, np.float16), (20, np.float32), (7, np.float64),
             (2, np.float32)]  # fmt: skip
    for n, dt in calls:
        theirs = torch.empty(n, dtype=torch_dtype(dt)).normal_(generator=tg)
        assert same(g.normal_(n, dtype=dt), theirs)
        assert state_equal(g, tg)


def _crafted_fill(words: np.ndarray):
    """Generators (ours, torch) whose next raw outputs are ``words`` (at most 623)."""
    state = bytearray(TorchGenerator(0).get_state().tobytes())
    struct.pack_into("<iiQ", state, 8, len(words) + 1, 1, 0)  # read state[0..], then twist
    for i, y in enumerate(words.tolist()):
        struct.pack_into("<Q", state, 24 + 8 * i, untemper(y))
    tg = torch.Generator()
    tg.set_state(torch.frombuffer(state, dtype=torch.uint8).clone())
    g = TorchGenerator()
    g.set_state(bytes(state))
    return g, tg


@pytest.mark.parametrize("mean, std", [(0.0, 1.0), (-0.3, 1.7)])
def test_normal_kernel_sweep(mean, std):
    """The AVX2 float32 kernel over a grid of its inputs: u1 and u2 each take every 4099th
    of the 2**24 possible uniforms, plus special points (0, quarter turns, the largest).
    The same check over all 2**24 inputs (mean/std (0, 1), (0.5, 2), (-0.3, 1.7)) gave 0
    mismatches; it is what showed that the Cody-Waite step is fused (theta = 3pi/2)."""
    special = np.array([0, 1, 2**22, 2**23, 3 * 2**22, 2**24 - 1, 4194303, 8388609], np.uint64)
    grid = np.arange(0, 2**24, 4099, dtype=np.uint64)
    k1 = np.concatenate([grid, special])
    k2 = np.concatenate([np.random.default_rng(0).permutation(grid), special[::-1]])
    rows = -(-k1.size // 8)
    blocks = np.concatenate([np.resize(k1, (rows, 8)), np.resize(k2, (rows, 8))], axis=1)
    blocks |= np.uint64(0x5A000000)  # bits above the low 24 are ignored
    for start in range(0, rows, 38):
        words = blocks[start : start + 38].reshape(-1)
        g, tg = _crafted_fill(words)
        theirs = torch.empty(words.size).normal_(mean, std, generator=tg)
        assert same(g.normal_(words.size, mean, std), theirs)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("threads", [0, 2])
def test_large_sizes_with_and_without_worker_threads(monkeypatch, dtype, threads):
    """Sizes above the threading threshold (2**18): blocks go to worker threads (when the
    machine has 4+ cores; forced here) or stay on the caller's thread."""
    from jaxinit import _rng_threads

    monkeypatch.setattr(_rng_threads, "_THREADS", threads)
    monkeypatch.setattr(_rng_threads, "_POOL", None)
    g, tg = pair(17)
    n = 300007
    for low, high in ((-0.3, 0.4), (0.0, 1.0)):
        theirs = torch.empty(n, dtype=torch_dtype(dtype)).uniform_(low, high, generator=tg)
        assert same(g.uniform_(n, low, high, dtype), theirs)
    theirs = torch.empty(n, dtype=torch_dtype(dtype)).normal_(0.5, 2.0, generator=tg)
    assert same(g.normal_(n, 0.5, 2.0, dtype), theirs)
    assert state_equal(g, tg)


# ------------------------------------------------------------------------------------------
# randperm
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 100, 1000, 12345, 100000])
def test_randperm(n):
    g, tg = pair(n % 7)
    assert same(g.randperm(n), torch.randperm(n, generator=tg))
    assert state_equal(g, tg)


# ------------------------------------------------------------------------------------------
# the plain build: ATEN_CPU_CAPABILITY=default must be set before torch starts
# ------------------------------------------------------------------------------------------

_DEFAULT_SCRIPT = textwrap.dedent(
    """
    import json, sys, numpy as np, torch
    assert torch.backends.cpu.get_cpu_capability() == "DEFAULT"
    out = {}
    def put(name, t):
        t = t.contiguous()
        if t.dtype == torch.float16:
            t = t.view(torch.int16)
        out[name] = t.numpy().tobytes().hex()
    g = torch.Generator().manual_seed(5)
    put("u32", torch.empty(100003).uniform_(-0.3, 0.4, generator=g))
    put("u64", torch.empty(2003, dtype=torch.float64).uniform_(-0.3, 0.4, generator=g))
    put("u16", torch.empty(1000, dtype=torch.float16).uniform_(-0.3, 0.4, generator=g))
    put("n32", torch.empty(20003).normal_(0.5, 2.0, generator=g))
    put("n32s", torch.empty(7).normal_(-0.3, 1.7, generator=g))
    put("n64", torch.empty(1003, dtype=torch.float64).normal_(-0.3, 1.7, generator=g))
    put("n64s", torch.empty(5, dtype=torch.float64).normal_(-0.3, 1.7, generator=g))
    put("n16", torch.empty(1003, dtype=torch.float16).normal_(-0.3, 1.7, generator=g))
    out["state"] = g.get_state().numpy().tobytes().hex()
    json.dump(out, sys.stdout)
    """
)


def test_default_capability_matches_plain_torch_build():
    env = dict(os.environ, ATEN_CPU_CAPABILITY="default")
    run = subprocess.run(
        [sys.executable, "-c", _DEFAULT_SCRIPT], env=env, capture_output=True, text=True,
        timeout=300, check=True,
    )  # fmt: skip
    theirs = {k: bytes.fromhex(v) for k, v in json.loads(run.stdout).items()}
    g = TorchGenerator(5, capability="default")
    ours = {
        "u32": g.uniform_(100003, -0.3, 0.4),
        "u64": g.uniform_(2003, -0.3, 0.4, np.float64),
        "u16": g.uniform_(1000, -0.3, 0.4, np.float16),
        "n32": g.normal_(20003, 0.5, 2.0),
        "n32s": g.normal_(7, -0.3, 1.7),
        "n64": g.normal_(1003, -0.3, 1.7, np.float64),
        "n64s": g.normal_(5, -0.3, 1.7, np.float64),
        "n16": g.normal_(1003, -0.3, 1.7, np.float16),
    }
    for name, value in ours.items():
        assert value.tobytes() == theirs[name], name
    assert g.get_state().tobytes() == theirs["state"]
    # and the plain build really differs from the AVX2 one on these calls
    avx2 = TorchGenerator(5)
    assert avx2.uniform_(100003, -0.3, 0.4).tobytes() != theirs["u32"]


def test_module_does_not_import_torch():
    code = "import sys, jaxinit.generator; print('torch' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"
