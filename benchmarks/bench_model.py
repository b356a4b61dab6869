#!/usr/bin/env python3
"""The model backend at scale: the cost of creating one more domain when 10,
1,000 and 10,000 already exist (xl's grew with the number of guests, as the
LightVM paper measured), and peak memory with 10,000 domains.

    python3 benchmarks/bench_model.py [--max 10000]

Each step creates a small PVH guest through the toolstack, as `xlpy create`
does (kernel load, vCPU 0, devices), in a throw-away state directory.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max", type=int, default=10_000)
    ap.add_argument("--samples", type=int, default=20)
    args = ap.parse_args()

    state = tempfile.mkdtemp(prefix="xlpy-bench-")
    profile = Path(state) / "host.yaml"
    profile.write_text("nr_cpus: 64\nnr_nodes: 2\nmemory_mib: 4194304\n")
    os.environ["XLPY_STATE_DIR"] = state

    from xlpy.backends.model import ModelBackend
    from xlpy.config import parse
    from xlpy.config.build import build
    from xlpy.toolstack import Toolstack

    text = (f'type = "pvh"\nkernel = "{ROOT}/configs/kernels/demo-pvh.elf"\nmemory = 16\nvcpus = 1\n'
            'disk = [ "/dev/null,raw,xvda,rw" ]\nvif = [ "bridge=xenbr0" ]\n')
    toolstack = Toolstack(ModelBackend())
    count = 0

    def create_one() -> float:
        nonlocal count
        dc, _ = build(parse(text + f'name = "bench-{count}"\n', "bench.cfg"))
        dc.c_info.uuid = str(uuid.uuid4())
        start = time.perf_counter()
        toolstack.create(dc, config_text=text)
        count += 1
        return time.perf_counter() - start

    rows = []
    for target in (10, 1_000, 10_000):
        if target > args.max:
            break
        while count < target:
            create_one()
        samples = [create_one() for _ in range(args.samples)]
        rows.append((target, statistics.median(samples) * 1000, max(samples) * 1000))
        # keep the population at the target for the next step's baseline
    list_start = time.perf_counter()
    toolstack.domains()
    list_ms = (time.perf_counter() - list_start) * 1000
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"{'domains existing':>16}  {'create, median':>15}  {'create, max':>12}")
    for target, median, worst in rows:
        print(f"{target:>16,}  {median:>12.1f} ms  {worst:>9.1f} ms")
    print(f"\nlist of {count:,} domains: {list_ms:.0f} ms; peak RSS of this process: {peak_mib:.0f} MiB")
    print(f"store on disk: {sum(f.stat().st_size for f in Path(state).iterdir()) / 2**20:.1f} MiB ({state})")


if __name__ == "__main__":
    main()
