#!/usr/bin/env python3
"""Reading a guest kernel's Xen notes from a bzImage, as create does before it
picks PV, PVH or legacy PVH: only as much of the payload is inflated as it
takes to reach the notes. Compares that with inflating the whole payload,
for Debian's installed kernel and for a synthetic image in each compression.

    python3 benchmarks/bench_kernel.py
"""

from __future__ import annotations

import glob
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "model"))


def median_ms(fn, samples: int = 5) -> float:
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    from kernels import make_bzimage, make_kernel
    from xlpy.backends import kernel

    def whole(path: str) -> None:
        """read_kernel as it was: every byte of the payload inflated."""
        enough = kernel._enough
        kernel._enough = lambda elf: False
        try:
            kernel.read_kernel(path)
        finally:
            kernel._enough = enough

    images = [(Path(p).name, p) for p in sorted(glob.glob("/boot/vmlinuz-*"))[-1:]]
    work = tempfile.mkdtemp(prefix="xlpy-bench-kernel-")
    # A synthetic kernel: its notes first, then 24 MiB that compress about as badly as code does.
    import random

    noise = random.Random(0).randbytes(12 << 20)
    filler = bytes(b for pair in zip(noise, bytes(len(noise))) for b in pair)
    for compression in ("gzip", "xz", "zstd", "lz4"):
        path = f"{work}/bzImage.{compression}"
        Path(path).write_bytes(make_bzimage(make_kernel(), compression, tail=filler))
        images.append((f"synthetic, {compression}", path))

    print(f"{'image':36} {'notes only':>11} {'whole payload':>14}")
    for name, path in images:
        notes = median_ms(lambda: kernel.read_kernel(path))
        full = median_ms(lambda: whole(path))
        print(f"{name:36} {notes:9.1f} ms {full:12.1f} ms")


if __name__ == "__main__":
    main()
