"""A longer fuzz run of the checkpoint reader than the suite's (test_serialization_fuzz.py).

For each checkpoint of tests/_ckpt_cases.py: every byte position set to 0x00, 0xFF and each of
its eight single-bit flips; every truncation; and ``--mutations`` random structured mutations
(replace, duplicate or delete a short range, insert random bytes). Each damaged file must load
to exactly the saved value or raise CheckpointError; anything else (another exception, a
different value) is counted as a failure and printed.

    python benchmarks/fuzz_checkpoint.py [--mutations 20000] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time

import jax

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from _ckpt_cases import cases, same  # noqa: E402

from jaxinit.serialization import CheckpointError, load, save  # noqa: E402


def mutations(data: bytes, rng: random.Random, count: int):
    for i in range(len(data)):
        for value in {0x00, 0xFF, *(data[i] ^ (1 << b) for b in range(8))} - {data[i]}:
            yield "byte", data[:i] + bytes([value]) + data[i + 1 :]
    for cut in range(len(data)):
        yield "truncation", data[:cut]
    for _ in range(count):
        i = rng.randrange(len(data) + 1)
        n = rng.randrange(13)
        how = rng.choice(["replace", "duplicate", "delete", "insert"])
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(13)))
        if how == "replace":
            yield "structured", data[:i] + junk + data[i + n :]
        elif how == "duplicate":
            yield "structured", data[:i] + data[i : i + n] * 2 + data[i + n :]
        elif how == "delete":
            yield "structured", data[:i] + data[i + n :]
        else:
            yield "structured", data[:i] + junk + data[i:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutations", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    counts: dict[tuple[str, str], int] = {}
    failures = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "victim.msgpack")
        for name, obj in cases().items():
            save(obj, path)
            original = open(path, "rb").read()
            expected = jax.device_get(load(path))
            for kind, data in mutations(original, rng, args.mutations):
                with open(path, "wb") as f:
                    f.write(data)
                try:
                    got = jax.device_get(load(path))
                    outcome = "equal" if same(got, expected) else "DIFFERENT"
                except CheckpointError:
                    outcome = "CheckpointError"
                except Exception as err:  # noqa: BLE001 -- a finding, reported below
                    outcome = f"{type(err).__name__}"
                if outcome not in ("equal", "CheckpointError"):
                    failures += 1
                    print(f"FAIL {name} {kind}: {outcome}", file=sys.stderr)
                counts[kind, outcome] = counts.get((kind, outcome), 0) + 1
    print(
        f"{sum(counts.values()):,} damaged files in {time.perf_counter() - start:.0f} s, "
        f"{failures} failures"
    )
    for (kind, outcome), n in sorted(counts.items()):
        print(f"| {kind} | {outcome} | {n:,} |")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
