"""TorchGenerator without torch: golden values (spec E.3, bit patterns recorded from torch 2.13.0
CPU), state round trips, an independent pure-Python engine, exact FMA emulation, edge cases.
The cross-checks against torch itself are in tests/torch/test_generator_torch.py."""

from __future__ import annotations

import hashlib
import math
import pickle
import struct

import ml_dtypes
import numpy as np
import pytest

from jaxinit import _mt19937
from jaxinit.generator import DEFAULT_SEED, STATE_SIZE, TorchGenerator
from tests._generator_helpers import RefEngine, assert_printed, bits, untemper


def test_untemper_inverts_tempering():
    ys = [0, 1, 0x00FFFFFF, 0xFFFFFFFF, 0x8C7F0AAC, 0x12345678]
    assert _mt19937._temper(np.array([untemper(y) for y in ys], np.uint32)).tolist() == ys


# ------------------------------------------------------------------------------------------
# golden values
# ------------------------------------------------------------------------------------------


def test_golden_raw_outputs_seed0():
    assert TorchGenerator(0).random(4).tolist() == [0x8C7F0AAC, 0x97C4AA2F, 0xB716A675, 0xD821CCC0]


def test_raw_stream_is_numpy_legacy_mt19937():
    ours = TorchGenerator(5).random(2000)
    ref = np.random.MT19937()
    ref._legacy_seeding(5)
    assert np.array_equal(ours, ref.random_raw(2000).astype(np.uint32))


def test_golden_uniform():
    g = TorchGenerator(0)
    assert bits(g.uniform_(3)) == [0x3EFE1558, 0x3F44AA2F, 0x3DB533A8]  # torch.rand(3)
    assert_printed(TorchGenerator(0).uniform_(3), "0.49625659 0.76822180 0.08847743")
    u = TorchGenerator(0).uniform_(1000, -1, 1)
    assert bits(u[:4]) == [0xBBF55400, 0x3F09545E, 0xBF52B316, 0xBF3C6680]
    assert_printed(u[:4], "-0.0074868202 0.53644359 -0.82304513 -0.73593903")
    f64 = TorchGenerator(0).uniform_(3, -0.3, 0.4, np.float64)
    assert bits(f64) == [0x3FD84224D479BB0E, 0x3FC90549F6C50A19, 0x3F9615F0049A75F4]
    b16 = TorchGenerator(0).uniform_(4, -0.3, 0.4, ml_dtypes.bfloat16)
    assert b16.dtype == ml_dtypes.bfloat16
    assert bits(b16) == [v & 0xFFFF for v in (15682, 15987, -16780, -16811)]


def test_golden_normal():
    n = TorchGenerator(0).normal_(1000)  # fill path
    assert bits(n[:4]) == [0xBF901B85, 0xBF93808A, 0xBE804BD6, 0xBEDE255D]
    assert_printed(n[:4], "-1.12583983 -1.15236020 -0.25057858 -0.43387881")
    s = TorchGenerator(0).normal_(5)  # scalar path
    assert bits(s) == [0x3FC53F5C, 0xBE963C50, 0xC00B7149, 0x3F1184B6, 0xBF8AD1A1]
    assert_printed(s, "1.54099607 -0.29342890 -2.17878938 0.56843126 -1.08452237")
    f64 = TorchGenerator(0).normal_(20, dtype=np.float64)
    assert bits(f64[:3]) == [0xC0027BB92E9262DC, 0xBFD7E35794939460, 0xBFF0F91AE8D685B6]
    f16 = TorchGenerator(0).normal_(20, dtype=np.float16)
    assert bits(f16[:4]) == [v & 0xFFFF for v in (-17279, -17252, -19454, -18703)]


def test_golden_linear_4_3():
    """nn.Linear(4, 3) after manual_seed(0): kaiming_uniform_(a=sqrt 5) weight, then bias."""
    g = TorchGenerator(0)
    bound = math.sqrt(3.0) * (math.sqrt(2.0 / (1 + math.sqrt(5) ** 2)) / math.sqrt(4))
    w = g.uniform_((3, 4), -bound, bound)
    b = g.uniform_(3, -0.5, 0.5)
    assert bits(w[0]) == [0xBB755400, 0x3E89545E, 0xBED2B316, 0xBEBC6680]
    assert bits(b) == [0xBEF491B8, 0xBEA98B52, 0xBE530EE8]


def test_golden_randperm():
    assert TorchGenerator(0).randperm(10).tolist() == [4, 1, 7, 5, 3, 9, 0, 8, 6, 2]


@pytest.mark.parametrize(
    "seed, digest",
    [
        (0, "1ccf17250133dec5e96478acd63e13d728d0dbbabb30389415a302c6f872f81f"),
        (123, "b04f168bb97ae5f0758f525c6b0e928d866ad2619a254710db893e71bd54e1e5"),
        (2**32, "a6188dc9231bfccae2ed944018d15ea21b7b2a1de8bdc9907c7146d268ea224d"),
        (-1, "74c65bce05a4fcdd46c9ffe85389eae89aa055a11270fd03732d3dfc85f94796"),
    ],
)
def test_golden_state_bytes(seed, digest):
    """sha256 of torch.Generator().manual_seed(seed).get_state() bytes."""
    state = TorchGenerator(seed).get_state()
    assert state.dtype == np.uint8 and state.shape == (STATE_SIZE,)
    assert hashlib.sha256(state.tobytes()).hexdigest() == digest


def test_golden_state_bytes_after_mixed_sequence():
    g = TorchGenerator(0)
    g.normal_(5)  # leaves a cached normal
    g.uniform_(100)
    digest = "af8716ea35de3f30cea91ea699a43f62a87c3c608c38ea6df288d5d1deb448cd"
    assert hashlib.sha256(g.get_state().tobytes()).hexdigest() == digest


# ------------------------------------------------------------------------------------------
# seeding and state
# ------------------------------------------------------------------------------------------


def test_seed_rules():
    assert TorchGenerator().initial_seed() == DEFAULT_SEED == 67280421310721
    assert TorchGenerator(-1).initial_seed() == 2**64 - 1
    assert TorchGenerator(2**32).initial_seed() == 2**32
    assert np.array_equal(TorchGenerator(2**32).random(10), TorchGenerator(0).random(10))
    assert np.array_equal(TorchGenerator(-1).random(10), TorchGenerator(2**32 - 1).random(10))
    g = TorchGenerator(3)
    assert g.manual_seed(7) is g
    assert np.array_equal(g.random(5), TorchGenerator(7).random(5))
    assert TorchGenerator(np.int64(4)).initial_seed() == 4


@pytest.mark.parametrize("seed", [2**64, -(2**63) - 1])
def test_seed_out_of_range(seed):
    with pytest.raises(ValueError, match="out of range"):
        TorchGenerator(seed)


def test_seed_not_int():
    with pytest.raises(TypeError, match="seed must be an int"):
        TorchGenerator(1.5)


def test_manual_seed_clears_normal_cache():
    g = TorchGenerator(0)
    g.normal_(5)
    assert g._normal_cache is not None
    g.manual_seed(0)
    assert g._normal_cache is None
    assert bits(g.normal_(5)) == bits(TorchGenerator(0).normal_(5))


def test_state_round_trip_continues_stream():
    g = TorchGenerator(11)
    g.normal_(3)
    g.uniform_(1000, -1, 2)
    state = g.get_state()
    h = TorchGenerator(99)
    h.set_state(state)
    assert h.initial_seed() == 11
    assert np.array_equal(h.get_state(), state)
    for f in (lambda x: x.normal_(7), lambda x: x.uniform_(700), lambda x: x.randperm(30)):
        assert bits(f(g)) == bits(f(h))
    assert np.array_equal(g.get_state(), h.get_state())


def test_set_state_accepts_bytes_bytearray_and_arrays():
    state = TorchGenerator(4).get_state()
    for form in (state, state.tobytes(), bytearray(state.tobytes()), memoryview(state.tobytes())):
        h = TorchGenerator()
        h.set_state(form)
        assert np.array_equal(h.get_state(), state)


def test_set_state_errors():
    g = TorchGenerator()
    with pytest.raises(ValueError, match="5056"):
        g.set_state(np.zeros(100, np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        g.set_state(np.zeros(STATE_SIZE, np.int32))
    state = bytearray(TorchGenerator(0).get_state().tobytes())
    struct.pack_into("<i", state, 8, 0)  # left = 0
    with pytest.raises(ValueError, match="invalid mt19937 state"):
        g.set_state(bytes(state))
    struct.pack_into("<iiQ", state, 8, 300, 1, 400)  # would read past the 624 words
    with pytest.raises(ValueError, match="read past"):
        g.set_state(bytes(state))


@pytest.mark.parametrize(
    "left, nxt", [(1, 0), (1, 624), (1, 300), (5, 0), (624, 0), (624, 1), (10, 615), (100, 100)]
)
def test_any_valid_engine_state_matches_reference_engine(left, nxt):
    """Unusual (left, next) pairs that torch accepts: draws and state bytes match a literal
    transcription of at::mt19937."""
    state = bytearray(TorchGenerator(21).get_state().tobytes())
    struct.pack_into("<iiQ", state, 8, left, 1, nxt)
    g = TorchGenerator()
    g.set_state(bytes(state))
    key = list(np.frombuffer(bytes(state), "<u8", 624, 24))
    ref = RefEngine([int(k) for k in key], left, nxt)
    assert np.array_equal(g.get_state(), np.frombuffer(bytes(state), np.uint8))
    for n in (1, 3, 700, 2):
        assert g.random(n).tolist() == [ref() for _ in range(n)]
        _, gl, _, gn = struct.unpack_from("<QiiQ", g.get_state().tobytes(), 0)
        assert (gl, gn) == (ref.left, ref.next)


def test_reference_engine_agrees_after_seeding():
    key = _mt19937._init_genrand(123).tolist()
    ref = RefEngine(key, 1, 0)
    assert TorchGenerator(123).random(1300).tolist() == [ref() for _ in range(1300)]


def test_legacy_state_layout_is_refused():
    """torch 2.13 refuses the 5048-byte legacy layout; so do we, with a clear message."""
    with pytest.raises(ValueError, match="5048 bytes"):
        TorchGenerator().set_state(TorchGenerator(8).get_state()[:5048])


def test_float_normal_cache_round_trips():
    state = bytearray(TorchGenerator(2).get_state().tobytes())
    struct.pack_into("<f?", state, 5048, 1.25, True)
    g = TorchGenerator()
    g.set_state(bytes(state))
    assert g.get_state().tobytes() == bytes(state)


def test_clone_is_independent():
    g = TorchGenerator(3)
    g.normal_(1)  # cache
    h = g.clone()
    assert np.array_equal(g.get_state(), h.get_state())
    a = g.normal_(9)
    assert not np.array_equal(g.get_state(), h.get_state())
    assert bits(h.normal_(9)) == bits(a)
    assert h.capability == g.capability


def test_pickle_round_trip():
    g = TorchGenerator(6, capability="default")
    g.normal_(3)
    h = pickle.loads(pickle.dumps(g))
    assert h.capability == "default"
    assert np.array_equal(h.get_state(), g.get_state())
    assert bits(h.uniform_(10)) == bits(g.uniform_(10))


def test_bad_capability():
    with pytest.raises(ValueError, match="capability"):
        TorchGenerator(0, capability="avx512")


def test_random64_and_bits24_agree_with_random():
    w = TorchGenerator(1).random(10).astype(np.uint64)
    assert TorchGenerator(1).random64(5).tolist() == ((w[0::2] << 32) | w[1::2]).tolist()
    # the uniform_ hot path takes the masked legacy fill: one draw per value, low 24 bits
    g = TorchGenerator(1)
    assert np.array_equal(g._bits24(1000), TorchGenerator(1).random(1000) & 0xFFFFFF)
    assert np.array_equal(g.get_state(), _advanced(TorchGenerator(1), 1000).get_state())


def _advanced(g: TorchGenerator, n: int) -> TorchGenerator:
    g.random(n)
    return g


# ------------------------------------------------------------------------------------------
# draw counts (spec E.2, E.3)
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, draws",
    [
        (lambda g: g.uniform_(7), 7),
        (lambda g: g.uniform_(7, dtype=np.float64), 14),
        (lambda g: g.uniform_((3, 3), 2.0, 2.0), 9),  # low == high still draws
        (lambda g: g.uniform_((0, 5)), 0),
        (lambda g: g.normal_(16), 16),
        (lambda g: g.normal_(17), 33),
        (lambda g: g.normal_(17, dtype=np.float64), 66),
        (lambda g: g.normal_(17, dtype=np.float16), 32),  # half fill: 16 per (partial) block
        (lambda g: g.normal_(40, dtype=ml_dtypes.bfloat16), 48),
        (lambda g: g.normal_(5), 12),  # scalar path: 3 pairs of random64
        (lambda g: g.normal_(20, contiguous=False), 40),
        (lambda g: g.normal_((2, 0)), 0),
        (lambda g: g.normal_(4, std=0.0), 8),  # std == 0 still draws
        (lambda g: g.randperm(10), 9),
        (lambda g: g.randperm(1), 0),
    ],
)
def test_draw_counts(call, draws):
    g, ref = TorchGenerator(9), TorchGenerator(9)
    call(g)
    ref.random(draws)
    assert np.array_equal(g.get_state()[:5016], ref.get_state()[:5016])


def test_scalar_cache_carries_across_calls_and_dtypes():
    whole = TorchGenerator(4).normal_(8, dtype=np.float64)  # 4 pairs, no cache left
    g = TorchGenerator(4)
    a = g.normal_(3, dtype=np.float64)  # 2 pairs, one cached
    assert g._normal_cache == whole[3]
    b = g.normal_(5, dtype=np.float64)  # cached value first, then 2 pairs
    assert bits(np.concatenate([a, b])) == bits(whole)
    g = TorchGenerator(4)
    g.normal_(3, dtype=np.float64)
    c = g.normal_(2, mean=1.0, std=2.0)  # float32 now: the cached double, cast
    assert c[0] == np.float32(whole[3] * 2.0 + 1.0)


def test_fill_path_does_not_touch_cache():
    g = TorchGenerator(4)
    g.normal_(1)
    cached = g._normal_cache
    g.normal_(32)
    assert g._normal_cache == cached


def test_noncontiguous_equals_scalar_path_in_memory_order():
    g, h = TorchGenerator(2), TorchGenerator(2)
    a = g.normal_((5, 4), contiguous=False)
    b = np.concatenate([h.normal_(15), h.normal_(5)]).reshape(5, 4)  # both scalar path
    assert bits(a) == bits(b)
    assert bits(TorchGenerator(2).normal_(20)) != bits(a)  # the fill path differs


def test_tail_redraw_overwrites_last_block():
    """n % 16 != 0: the last 16 values come from 16 fresh uniforms; the first full blocks
    equal those of a 16-multiple fill."""
    a = TorchGenerator(5).normal_(40)
    b = TorchGenerator(5).normal_(32)
    assert bits(a[:24]) == bits(b[:24])
    assert bits(a[24:32]) != bits(b[24:32])


# ------------------------------------------------------------------------------------------
# randperm
# ------------------------------------------------------------------------------------------


def test_randperm_algorithm_and_properties():
    g, ref = TorchGenerator(8), TorchGenerator(8)
    p = g.randperm(1000)
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(1000))
    r = ref.random(999)
    perm = list(range(1000))
    for i in range(999):
        j = i + int(r[i]) % (1000 - i)
        perm[i], perm[j] = perm[j], perm[i]
    assert p.tolist() == perm
    assert TorchGenerator(0).randperm(0).tolist() == []
    assert TorchGenerator(0).randperm(1).tolist() == [0]


def test_randperm_errors():
    with pytest.raises(ValueError, match="non-negative"):
        TorchGenerator(0).randperm(-1)
    with pytest.raises(NotImplementedError, match="inside-out"):
        TorchGenerator(0).randperm(2**32 // 20)
