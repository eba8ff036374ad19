"""examples/generate_gpt.py against torch: its nanoGPT-style GPT loads into nanoGPT's torch
model (benchmarks/bench_generate.py's, nanoGPT's names) with the same state_dict, gives the
same logits, and its jit-compiled KV-cache generation gives the greedy tokens of nanoGPT's own
cache-less ``generate`` and of the torch cached loop."""

import importlib.util
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
CFG = dict(block_size=24, vocab_size=61, n_layer=2, n_head=2, n_embd=16)


def _load(name: str, path: Path):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def models():
    example = _load("_example_generate_gpt", ROOT / "examples" / "generate_gpt.py")
    bench = _load("_bench_generate", ROOT / "benchmarks" / "bench_generate.py")
    net = example.GPT(example.GPTConfig(**CFG))
    variables = net.init(jax.random.key(0))
    tnet = bench.torch_gpt(CFG).eval()
    state = {k: torch.from_numpy(np.array(v)) for k, v in net.state_dict(variables).items()}
    assert list(state) == list(tnet.state_dict())  # nanoGPT's names, in nanoGPT's order
    tnet.load_state_dict(state)
    return example, net, variables, tnet


def test_same_logits_as_nanogpt(models):
    _, net, variables, tnet = models
    idx = (np.arange(10, dtype=np.int32)[None] * 7 + 3) % CFG["vocab_size"]
    with torch.no_grad():
        expected = tnet(torch.from_numpy(idx).long(), last_only=False).numpy()
    logits, cache = net(variables, jnp.asarray(idx))
    assert cache is None
    np.testing.assert_allclose(np.asarray(logits), expected, atol=2e-5, rtol=1e-5)


def test_cached_generation_gives_nanogpts_greedy_tokens(models):
    example, net, variables, tnet = models
    prompt = np.array([[5, 9, 2, 33]], np.int32)
    p, new = prompt.shape[1], 14
    expected = tnet.generate(torch.from_numpy(prompt).long(), new).numpy()
    cached = tnet.generate_cached(torch.from_numpy(prompt).long(), new).numpy()
    tokens = jnp.zeros((1, CFG["block_size"]), jnp.int32).at[:, :p].set(prompt)
    out = example.generate(net, variables, tokens, p, p + new, jax.random.key(0), greedy=True)
    np.testing.assert_array_equal(np.asarray(out[:, : p + new]), expected)
    np.testing.assert_array_equal(cached, expected)
