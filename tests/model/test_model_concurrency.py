"""Many xlpy processes at once, and xlpy killed mid-create: the store stays
consistent, no domid or name is handed out twice, no memory is lost."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import ROOT, xlpy_env

ROUNDS = 6
WORKERS = 8


def _worker(state_dir: str, index: int, queue) -> None:
    os.environ["XLPY_STATE_DIR"] = state_dir
    from xlpy.backends.model import ModelBackend
    from xlpy.config import parse_file
    from xlpy.config.build import build
    from xlpy.toolstack import Toolstack

    toolstack = Toolstack(ModelBackend())
    seen = []
    for round_ in range(ROUNDS):
        cfg = parse_file(ROOT / "configs" / "pvh.cfg", [f'name="w{index}-{round_}"', "uuid=\"\"",
                                                        f'kernel="{ROOT}/configs/kernels/demo-pvh.elf"'])
        dc, _ = build(cfg)
        import uuid

        dc.c_info.uuid = str(uuid.uuid4())
        created = toolstack.create(dc, config_text=cfg.text)
        seen.append(created.domid)
        if round_ % 2:
            toolstack.destroy(created.domid)
    queue.put(seen)


@pytest.mark.slow
def test_eight_processes_creating_and_destroying(state_dir):
    from xlpy.backends.model import ModelBackend

    free = ModelBackend(state_dir).physinfo().free_pages
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(state_dir), i, queue)) for i in range(WORKERS)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    domids = [d for seen in results for d in seen]
    assert len(domids) == len(set(domids)) == WORKERS * ROUNDS
    model = ModelBackend(state_dir)
    live = [d for d in model.list_domains() if d.domid != 0]
    assert len(live) == WORKERS * ROUNDS // 2
    assert len({d.name for d in live}) == len(live)
    assert model.physinfo().free_pages == free - sum(d.tot_pages for d in live)
    assert sqlite3.connect(model.store.path).execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.slow
def test_create_killed_at_any_moment_leaves_a_consistent_store(state_dir):
    env = xlpy_env(XLPY_STATE_DIR=str(state_dir))
    subprocess.run([sys.executable, "-m", "xlpy", "list"], env=env, check=True, capture_output=True)
    from xlpy.backends.model import ModelBackend

    free = ModelBackend(state_dir).physinfo().free_pages
    for delay_ms in range(0, 360, 30):
        proc = subprocess.Popen([sys.executable, "-m", "xlpy", "create", "-q", "configs/pvh.cfg"],
                                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay_ms / 1000)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        listing = subprocess.run([sys.executable, "-m", "xlpy", "list"], env=env, capture_output=True, text=True)
        assert listing.returncode == 0, listing.stderr
        model = ModelBackend(state_dir)
        guests = [d for d in model.list_domains() if d.domid != 0]
        # Either the create finished (a complete, named guest) or nothing is left.
        assert all(d.name == "demo-pvh" and model.libxl_userdata(d.domid, "libxl-json") for d in guests)
        for d in guests:
            model.destroy_domain(d.domid)
        assert model.physinfo().free_pages == free
        assert sqlite3.connect(model.store.path).execute("PRAGMA integrity_check").fetchone() == ("ok",)
