#!/usr/bin/env python3
"""Whole-process cost of `xlpy list` with 100 domains and of `xlpy create`,
each beside a bare `python3 -c pass` measured in the same run.

    python3 benchmarks/bench_cli.py [--runs N]

The budget: `xlpy list` costs at most 3x a bare interpreter start.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(argv, env, runs) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    state = tempfile.mkdtemp(prefix="xlpy-bench-cli-")
    env = dict(os.environ, XLPY_STATE_DIR=state, PYTHONPATH=str(ROOT))
    # Measured as installed, from bytecode (pip compiles it): a shell that
    # sets PYTHONDONTWRITEBYTECODE would time compiling every module instead.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.path.insert(0, str(ROOT))
    os.environ["XLPY_STATE_DIR"] = state
    from xlpy.backends.model import ModelBackend
    from xlpy.config import parse_file
    from xlpy.config.build import build
    from xlpy.toolstack import Toolstack

    toolstack = Toolstack(ModelBackend())
    for i in range(100):
        dc, _ = build(parse_file(ROOT / "configs" / "pvh.cfg", [f'name="guest-{i}"', "memory=64", "maxmem=64"]))
        dc.c_info.uuid = str(uuid.uuid4())
        dc.b_info.kernel = str(ROOT / "configs" / "kernels" / "demo-pvh.elf")
        toolstack.create(dc)

    python = sys.executable
    timed([python, "-m", "xlpy", "list"], env, 1)  # writes the bytecode
    bare = timed([python, "-c", "pass"], env, args.runs)
    listing = timed([python, "-m", "xlpy", "list"], env, args.runs)
    guest = Path(state) / "guest.cfg"
    guest.write_text('type = "pvh"\nkernel = "configs/kernels/demo-pvh.elf"\nmemory = 64\nvcpus = 2\n'
                     'disk = [ "/dev/null,raw,xvda,rw" ]\nvif = [ "bridge=xenbr0" ]\n')
    creates = []
    for i in range(args.runs):
        start = time.perf_counter()
        subprocess.run([python, "-m", "xlpy", "create", "-q", str(guest), f'name="c-{i}"'],
                       env=env, cwd=ROOT, check=True)
        creates.append(time.perf_counter() - start)
    create = statistics.median(creates)
    print(f"{'command':<34} {'median':>9} {'vs bare':>8}")
    for name, value in (("python3 -c pass", bare), ("xlpy list (100 domains)", listing),
                        ("xlpy create configs/pvh.cfg", create)):
        print(f"{name:<34} {value * 1000:>6.0f} ms {value / bare:>7.1f}x")
    print(f"\nbudget: xlpy list <= 3x bare: {'met' if listing <= 3 * bare else 'NOT met'}")


if __name__ == "__main__":
    main()
