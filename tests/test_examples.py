"""The examples run, in-process, and print what their seeds print.

Each example's ``main()`` is run under this suite's strict JAX config; the ones that use optax
(whose internals mix weakly typed scalars) run under standard dtype promotion, as they would as
scripts. Slow parts are shortened with the examples' own flags (--steps, --epochs, --quick).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import jax
import pytest
from _xla_speed import unoptimized_compiles, unoptimized_xla  # noqa: F401 -- autouse

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    """Import examples/<name>.py as a module (examples/ is not a package)."""
    module_name = f"_example_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def run(capsys, name: str, *argv: str, promotion: str = "strict", optimized: bool = False):
    """Run an example's main(); return (its return value, what it printed). Its programs are
    compiled unoptimized (the module's ``unoptimized_xla``: they run briefly, compiling
    dominates) unless ``optimized`` (init_diagnostics: 50-layer nets, slower unoptimized)."""
    main = load(name).main
    with jax.numpy_dtype_promotion(promotion), unoptimized_compiles(not optimized):
        result = main(list(argv)) if argv or promotion == "standard" else main()
    return result, capsys.readouterr().out


def test_seed000_parameter_management(capsys):
    _, out = run(capsys, "seed000_parameter_management")
    # one train-mode forward: the running stats moved once
    assert "('bn.num_batches_tracked', Array(1, dtype=int32))" in out
    assert "('0.conv.weight', (1, 1, 1, 1)) ('0.bn.weight', (1,))" in out
    assert "('conv.weight', (1, 1, 1, 1)) ('bn.weight', (1,)) ('bn.bias', (1,))\n" in out
    assert "after init_constant: [[[[1.]]]]" in out
    assert "fused == unfused: True" in out
    assert out.count("[ True  True  True  True  True  True  True  True]") == 2
    assert "4.weight[0, 0] = 100.0" in out  # set through 2, seen through 4


def test_seed001_access_init_share(capsys):
    _, out = run(capsys, "seed001_access_init_share")
    assert "0.weight (3, 4)\n0.bias (3,)\n2.weight (1, 3)\n2.bias (1,)\n" in out
    assert "weight1\n" in out and "weight2" not in out
    assert "2.bias [0.]" in out
    assert "0.weight [[3.]]\nTrue\nTrue\n9.0\n[[6.]]\n" in out


def test_seed002_lenet_initialize_weights(capsys):
    _, out = run(capsys, "seed002_lenet_initialize_weights")
    assert out.startswith("<generator object Module.modules")
    assert "(16, 3, 10, 10)\n(16, 6, 6, 6)\n" in out
    assert "(6, 3, 5, 5)\n(6,)\n" in out
    assert "conv1 parameters: 456" in out
    assert "Total params: 62,006" in out
    assert re.search(r"fc1: Linear\s+\[16, 120\]\s+48,120", out)


def test_seed002_initialize_weights_follows_the_seed():
    example = load("seed002_lenet_initialize_weights")
    net = example.Net()
    variables = net.initialize_weights(net.init(jax.random.key(0)), jax.random.key(1))
    assert float(abs(variables["conv1"]["bias"]).max()) == 0.0
    assert float(abs(variables["fc1"]["bias"]).max()) == 0.0
    # normal(0, 0.01) over 48,000 values: the sample std is within 1% of 0.01 except with
    # probability ~1e-40 (its relative error has std 1/sqrt(2 * 48000) = 0.3%)
    assert abs(float(variables["fc1"]["weight"].std()) - 0.01) < 1e-4
    # xavier_normal for (6, 3, 5, 5): std = sqrt(2 / (75 + 150)) = 0.0943; 450 values, the
    # sample std's relative error has std 3.3%, a 20% band fails with probability ~1e-9
    assert abs(float(variables["conv1"]["weight"].std()) / 0.0943 - 1) < 0.2


def test_seed004_numpy_and_modules(capsys):
    _, out = run(capsys, "seed004_numpy_and_modules")
    assert "numpy dtype: float64" in out
    assert "cast=False under x64: float64" in out
    section = out.split("-- children()")[1].split("-- modules()")[0]
    assert section.count("Sequential(") == 3 and "sim_net" not in section
    modules = out.split("-- modules()")[1]
    assert modules.startswith("\nsim_net(")  # the network itself first
    assert sum(line.startswith("Linear(") for line in modules.splitlines()) == 3  # then leaves
    bound, max_w = map(float, re.search(r"= (\S+), max \|w\| = (\S+)", out).groups())
    assert bound == pytest.approx(0.2928, abs=1e-4) and max_w <= bound


def test_tied_training(capsys):
    holds, out = run(capsys, "tied_training", "--steps", "60", promotion="standard")
    assert "9.0\n[[6.]]\n" in out  # seed 001
    losses = [float(v) for v in re.findall(r"loss (\S+)", out)]
    assert losses[-1] < losses[0] / 10
    assert "state_dict['2.weight'] is state_dict['4.weight']: True" in out
    assert "grad(shared) == grad(use at 2) + grad(use at 4): True" in out
    assert "tie holds: True" in out


def test_train_lenet_quick_saves_and_reloads(capsys, tmp_path):
    pytest.importorskip("sklearn")  # the [examples] extra
    checkpoint = tmp_path / "lenet.msgpack"
    acc, out = run(
        capsys, "train_lenet", "--quick", "--checkpoint", str(checkpoint), promotion="standard"
    )
    assert checkpoint.exists()
    assert "bn1 tracked 5 batches" in out  # BatchNorm buffers came back from every step
    assert f"reloaded checkpoint test accuracy {acc:.2%}" in out
    assert f"final test accuracy {acc:.2%}" in out


def test_train_lenet_learns_the_digits(capsys):
    pytest.importorskip("sklearn")
    # Deterministic (fixed seeds); measured 97.33% test accuracy after 5 epochs (20 epochs,
    # the default: 97.78%). 95% leaves room for ~10 images flipping on another platform.
    acc, out = run(capsys, "train_lenet", "--epochs", "5", promotion="standard")
    assert acc > 0.95
    assert out.count("test accuracy") == 5 + 2  # each epoch, the reloaded model, the final


def test_init_diagnostics_writes_a_png_and_shows_the_papers_results(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "diag.png"
    results, out = run(
        capsys, "init_diagnostics", "--out", str(png), promotion="standard", optimized=True
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "layer 1   layer 10   layer 25   layer 50" in out

    def ratio(activation, init, which):  # layer 50 over layer 1 (deterministic: fixed keys)
        values = results[activation][init][which]
        return float(values[-1] / values[0])

    # He et al. 2015: kaiming keeps ReLU activations at one scale (measured ratio 0.58) and the
    # gradient too (0.95); xavier halves the variance per layer (measured 2.4e-8).
    assert 0.1 < ratio("relu", "kaiming", 0) < 10
    assert 0.1 < ratio("relu", "kaiming", 1) < 10
    assert ratio("relu", "xavier", 0) < 1e-6
    # Glorot & Bengio 2010: with tanh, xavier's gradient stays within 10x over 50 layers
    # (measured 5.9) while the default init's vanishes (gradient at layer 1 / layer 50 1.4e-12).
    assert ratio("tanh", "xavier", 1) < 10
    assert ratio("tanh", "torch default", 1) > 1e8


def test_port_from_torch_finds_the_planted_padding_and_round_trips(capsys):
    pytest.importorskip("torch")
    result, out = run(capsys, "port_from_torch", "--steps", "20", promotion="standard")
    assert result["report"].first_mismatch == "features.3"
    assert out.splitlines()[1] == (
        "jaxinit.testing.compare: MISMATCH, first at features.3: padding differs "
        "(torch (1, 1), jaxinit (0, 0))"
    )
    assert result["fixed"].ok and result["train"].ok
    assert len(result["train"].grads) == 10 and len(result["train"].buffers) == 6
    assert result["losses"][-1] < result["losses"][0]
    assert "<All keys matched successfully>" in out
    assert "torch output == jaxinit output after training: True" in out


def test_generate_gpt_compiles_once_and_matches_the_cacheless_forward(capsys):
    result, out = run(capsys, "generate_gpt", "--new", "12")
    # one program for the 1-token call and the 12-token call: lengths are traced values
    assert "compiled programs: 1" in out and result["compiled"] == 1
    assert result["agree"]  # the KV-cache steps predict what the full causal forward predicts
    assert result["tokens"].shape == (5 + 12,)
    assert "cached generation == cache-less forward's argmax: True" in out
