#!/usr/bin/env python3
"""`xlpy check` over a fleet: 10,000 generated configs on this machine, next
to the cost of only parsing the same files with the real libxlutil (through
../shared's ctypes oracle, in one process).

    python3 benchmarks/bench_check.py [--files N]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("XLPY_SHARED", ROOT.parent / "shared"))


def generate(directory: Path, count: int) -> None:
    rng = random.Random(4)
    for i in range(count):
        kind = rng.choice(["pvh", "pv", "hvm"])
        lines = [f'name = "guest-{i}"', f'type = "{kind}"', f'uuid = "{rng.getrandbits(128):032x}"',
                 f"memory = {rng.choice([256, 512, 1024, 2048])}", f"vcpus = {rng.randint(1, 4)}",
                 f'disk = [ "/dev/vg/guest-{i},raw,xvda,rw", "format=raw, vdev=xvdb, target=/srv/data-{i}.img" ]',
                 f'vif = [ "mac=00:16:3e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}, bridge=xenbr0" ]',
                 'on_crash = "preserve"', "# a comment", 'extra = "console=hvc0"']
        if kind != "hvm":
            lines.append('kernel = "/boot/vmlinuz"')
        if rng.random() < 0.05:
            lines.append("memroy = 1")  # a typo now and then
        uid = lines[2].split('"')[1]
        lines[2] = f'uuid = "{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:]}"'
        (directory / f"guest-{i:05d}.cfg").write_text("\n".join(lines) + "\n")


def libxlutil_seconds(files: list[Path]) -> float | None:
    path = SHARED / "oracles" / "xlu" / "xlu_oracle.py"
    if not path.is_file():
        return None
    try:
        spec = importlib.util.spec_from_file_location("xlu_oracle", path)
        oracle = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(oracle)
    except OSError:
        return None
    import ctypes

    xlu = oracle.xlu
    blobs = [f.read_bytes() for f in files]
    start = time.perf_counter()
    for data in blobs:
        cfg = xlu.xlu_cfg_init(None, b"bench")
        xlu.xlu_cfg_readdata(cfg, data, len(data))
        xlu.xlu_cfg_destroy(cfg)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        generate(directory, args.files)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        start = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "xlpy", "check", "--format", "json", str(directory)],
                           env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if r.returncode not in (0, 1):
            sys.exit(r.stderr)
        files = sorted(directory.glob("*.cfg"))
        native = libxlutil_seconds(files)
    print(f"{'measure':<52} {'time':>9} {'files/s':>9}")
    print(f"{f'xlpy check, {args.files:,} files, {os.cpu_count()} CPUs (whole process)':<52} "
          f"{elapsed:>8.2f}s {args.files / elapsed:>9,.0f}")
    if native is not None:
        print(f"{'real libxlutil, parse only (ctypes, one process)':<52} {native:>8.2f}s {args.files / native:>9,.0f}")
    print(f"\ntarget: {args.files:,} files in under 10 s: {'met' if elapsed < 10 else 'NOT met'}")


if __name__ == "__main__":
    main()
