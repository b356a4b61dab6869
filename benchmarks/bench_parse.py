#!/usr/bin/env python3
"""Config-language costs: cold start and parse throughput.

    python3 benchmarks/bench_parse.py [--runs N]

Prints a table: a bare interpreter start, `import xlpy.config` plus parsing a
40-line config as a whole process (with the per-user grammar cache warm, and
with it disabled so the grammar is built in the process), the alternative of a
parser generated ahead of time with Lark's standalone tool (loaded and run
without xlpy's callbacks, so a lower bound), and files parsed per second over
../shared/corpus (or $XLPY_SHARED/corpus) in one process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("XLPY_SHARED", ROOT.parent / "shared")) / "corpus"

CONFIG_40_LINES = """\
# A typical PVH guest
name = "bench-guest"
type = "pvh"
kernel = "/boot/vmlinuz"
ramdisk = "/boot/initrd.img"
cmdline = "console=hvc0 root=/dev/xvda1 ro"
memory = 2048
maxmem = 4096
vcpus = 2
maxvcpus = 4
cpus = "0-3,^1"
uuid = "6a1c4b2e-1b7c-4d0e-9c1f-2a3b4c5d6e7f"
on_poweroff = "destroy"
on_reboot = "restart"
on_crash = "preserve"
tsc_mode = "native"
disk = [
    "format=raw, vdev=xvda, access=rw, target=/dev/vg/root",
    "format=raw, vdev=xvdb, access=rw, target=/dev/vg/swap",
]
vif = [
    "mac=00:16:3e:12:34:56, bridge=xenbr0",
    "mac=00:16:3e:12:34:57, bridge=xenbr1, rate=10Mb/s",
]
channel = [ "connection=pty, name=org.qemu.guest_agent.0" ]
vnuma = [ ["pnode=0", "size=1024", "vcpus=0-1", "vdistances=10,20"],
          ["pnode=1", "size=1024", "vcpus=2-3", "vdistances=20,10"] ]
extra = "quiet"
extra += " loglevel=3"
nomigrate = 1
pvshim = 0
vga = "none"
serial = [ "pty" ]
usb = 0
localtime = 0
rtc_timeoffset = 0
max_grant_frames = 64
max_maptrack_frames = 1024
"""

PARSE_ONE = "import sys, xlpy.config as c; c.parse_file(sys.argv[1])"
STANDALONE_ONE = "import sys, xl_standalone as s; s.Lark_StandAlone().parse(open(sys.argv[1]).read())"


def whole_process(argv: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def throughput(paths: list[Path], seconds: float = 2.0) -> tuple[float, int]:
    sys.path.insert(0, str(ROOT))
    from xlpy.config import ConfigError, parse_bytes

    blobs = [(p.read_bytes(), p.name) for p in paths]
    for data, name in blobs:  # build the parser outside the timing
        try:
            parse_bytes(data, name)
        except ConfigError:
            pass
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for data, name in blobs:
            try:
                parse_bytes(data, name)
            except ConfigError:
                pass
            count += 1
    return count / (time.perf_counter() - start), count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    no_cache = dict(env, XLPY_NO_GRAMMAR_CACHE="1")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "guest.cfg")
        with open(cfg, "w") as f:
            f.write(CONFIG_40_LINES)
        with open(os.path.join(tmp, "xl_standalone.py"), "w") as f:
            subprocess.run([sys.executable, "-m", "lark.tools.standalone", str(ROOT / "grammars" / "xl.lark")],
                           check=True, stdout=f)
        standalone_env = dict(env, PYTHONPATH=tmp)
        subprocess.run([sys.executable, "-c", PARSE_ONE, cfg], check=True, env=env)  # warm the cache
        subprocess.run([sys.executable, "-c", STANDALONE_ONE, cfg], check=True, env=standalone_env)  # and its .pyc
        bare = whole_process([sys.executable, "-c", "pass"], args.runs, env)
        warm = whole_process([sys.executable, "-c", PARSE_ONE, cfg], args.runs, env)
        cold = whole_process([sys.executable, "-c", PARSE_ONE, cfg], args.runs, no_cache)
        standalone = whole_process([sys.executable, "-c", STANDALONE_ONE, cfg], args.runs, standalone_env)

    rows = [
        ("python3 -c pass", f"{bare * 1000:.1f} ms", "1.0x"),
        ("import xlpy.config + parse 40 lines (grammar cache)", f"{warm * 1000:.1f} ms", f"{warm / bare:.1f}x"),
        ("import xlpy.config + parse 40 lines (no cache)", f"{cold * 1000:.1f} ms", f"{cold / bare:.1f}x"),
        ("Lark standalone parser, generated ahead: load + parse", f"{standalone * 1000:.1f} ms",
         f"{standalone / bare:.1f}x"),
    ]
    corpus = sorted(CORPUS.glob("*/*.cfg"))
    if corpus:
        rate, count = throughput(corpus)
        rows.append((f"parse throughput, {len(corpus)} corpus files, one process", f"{rate:,.0f} files/s", f"{count} parses"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'median':>14}  {'vs bare':>12}")
    for name, value, ratio in rows:
        print(f"{name:<{width}}  {value:>14}  {ratio:>12}")


if __name__ == "__main__":
    main()
