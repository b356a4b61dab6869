#!/usr/bin/env python3
"""xlpy beside the real xl on a real Xen 4.17 host (the lab, under QEMU TCG):
the same commands and the same PV and HVM guest configs, timed inside dom0.

    python3 benchmarks/bench_xenlab.py          # the lab's last run
    python3 benchmarks/bench_xenlab.py --run    # boot the lab first (root, minutes)

Times are wall-clock seconds in an emulated dom0, where everything is slow;
the ratio is the figure that carries over.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from xenlab import lab  # noqa: E402

PAIRS = [("info", "xlpy-info", "xl-info"), ("list", "xlpy-list-dom0", "xl-list-dom0"),
         ("create (PV guest)", "time-xlpy-create", "time-xl-create"),
         # HVM: create returns once QEMU, started stopped, answers QMP, has its serial pty and VNC
         # address published and is continued (the guest's own boot is not the toolstack's).
         ("create (HVM guest)", "hvm-time-xlpy-create", "hvm-time-xl-create"),
         # The same 128 MiB PV guest, counting: each saves it, and each restores the other's file.
         ("save (PV guest)", "sr-to-xl-save", "sr-from-xl-save"),
         ("restore (PV guest)", "sr-from-xl-restore", "sr-to-xl-restore"),
         # The same 256 MiB HVM guest, counting: each saves it with QEMU's device state,
         # and each restores the other's file.
         ("save (HVM guest)", "hvm-sr-to-xl-save", "hvm-sr-from-xl-save"),
         ("restore (HVM guest)", "hvm-sr-from-xl-restore", "hvm-sr-to-xl-restore"),
         # PVH twins with a PV device each: a raw-file disk (block script), a vif (vif-bridge).
         ("create (PVH + disk)", "disk-xlpy-create", "disk-xl-create"),
         ("create (PVH + vif)", "net-xlpy-create", "net-xl-create"),
         # A second vif hot-plugged to each toolstack's own running guest, then unplugged.
         ("network-attach", "net-attach", "net-xl-attach"),
         ("network-detach", "net-detach", "net-xl-detach"),
         # create -c of a PVH guest that powers itself off: the console attached before it runs,
         # until the command returns once the guest is gone (the guest's whole life included).
         ("create -c (PVH life)", "console-xlpy-create-c", "console-xl-create-c"),
         # A PVH guest that reboots itself, restarted by each toolstack's monitoring daemon with no
         # command run: from its unpause to the restarted guest's first line (both boots included).
         ("daemon restart (PVH)", "daemon-xlpy-restarted", "daemon-xl-restarted")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="store_true", help="boot the lab now instead of reading its last run")
    args = parser.parse_args()
    if args.run:
        from conftest import SHARED as shared  # ../shared, wherever the tests find it

        work = Path(tempfile.mkdtemp(prefix="xlpy-lab-"))
        lab.boot(lab.ensure_built(shared, work / "setup.log"), work, lab.prepare_share(work))
        lab.keep_last_run(work)
    results = lab.lab_dir() / "last-run" / "results.json"
    if not results.exists():
        sys.exit(f"no lab run in {results.parent}: run with --run (root), or XLPY_LAB=1 pytest tests/xenlab")
    steps = json.loads(results.read_text())
    print(f"{'command':<20} {'xlpy (s)':>9} {'xl (s)':>9} {'xlpy/xl':>8}")
    for label, ours, theirs in PAIRS:
        if ours in steps and theirs in steps:
            failed = [step for step in (ours, theirs) if steps[step].get("rc", 0) != 0]
            if failed:  # a failure's time is not the command's
                print(f"{label:<20} {'failed: ' + ', '.join(failed)}")
                continue
            a, b = steps[ours]["seconds"], steps[theirs]["seconds"]
            print(f"{label:<20} {a:>9.2f} {b:>9.2f} {a / b:>7.1f}x")
    if "python-bare" in steps:
        print(f"{'python3 -c pass':<20} {steps['python-bare']['seconds']:>9.2f} {'':>9} (interpreter start, for scale)")


if __name__ == "__main__":
    main()
