"""A tour of jaxinit: every scenario of the five seed tutorials, then a short training run.

This is the README's main job. It runs, in order,

1. seed 000: names, a bound view for reading (``net.bind(variables).A[1].state_dict()``),
   apply-based init, conv-bn fusion, a shared layer;
2. seed 001: named_parameters, data and grad, init by name, custom rules, y = 9 / grad = 6;
3. seed 002: LeNet with initialize_weights through net.apply, modules(), shapes, summary;
4. seed 003: custom layers, save/load of arrays and of a model, fans, devices;
5. seed 004: numpy init, children() vs modules(), per-type loops, xavier;
6. every torch.nn.init function (examples/initializers.py);
7. tied training with optax: the tie holds after hundreds of adam steps;
8. LeNet with BatchNorm and a tied layer trained on scikit-learn's digits (shipped with the
   package: no download), checkpointed, reloaded and re-evaluated.

Run: python examples/tour.py            (about a minute on 2 cores)
     python examples/tour.py --quick    (shorter training)
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"jaxinit_example_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _banner(title: str) -> None:
    print("\n" + "=" * 78 + f"\n{title}\n" + "=" * 78, flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter training runs")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    workdir = tempfile.mkdtemp(prefix="jaxinit-tour-")

    steps = [
        ("Seed 000: finding, initialising and tying parameters", "seed000_parameter_management"),
        ("Seed 001: access, init and share parameters", "seed001_access_init_share"),
        ("Seed 002: LeNet and initialize_weights", "seed002_lenet_initialize_weights"),
        ("Seed 003: custom layers, files, initializers, devices", "seed003_layers_files_gpu"),
        ("Seed 004: numpy init, children and modules", "seed004_numpy_and_modules"),
        ("Every torch.nn.init function", "initializers"),
    ]
    for title, name in steps:
        _banner(title)
        module = _load(name)
        if name == "seed003_layers_files_gpu":
            module.main(workdir)  # it writes its files next to the tour's checkpoint
        else:
            module.main()

    _banner("Tied training with optax: the tie holds")
    _load("tied_training").main(["--steps", "100" if args.quick else "300"])

    _banner("Training LeNet (BatchNorm, a tied layer) on scikit-learn's digits, then reloading")
    lenet = ["--quick"] if args.quick else ["--epochs", "10"]
    accuracy = _load("train_lenet").main([*lenet, "--checkpoint", f"{workdir}/lenet.msgpack"])

    _banner("Done")
    print(f"test accuracy {accuracy:.2%}; checkpoint in {workdir}")
    print(f"tour finished in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
