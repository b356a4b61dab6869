"""libxl's history of recently used domids (xlpy.backends.libxl_files) and
how create and destroy use it, as libxl 4.17 does: the file read by the real
libxl (its static archive, in a mount namespace whose /var/run/xen is a test
directory), its lock taken against libxl's, expiry, create's refusal of a
recent domid and xl.conf's domid_policy. The lab does it on real Xen."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import link_static_libxl, require, run_xlpy, xlpy_env
from xlpy.backends.base import INVALID_DOMID, RANDOM_DOMID, BackendError
from xlpy.backends.libxl_files import DomidHistory, file_lock, monotonic_seconds
from xlpy.backends.model import ModelBackend
from xlpy.toolstack import CreateFailed, Toolstack

HERE = Path(__file__).parent
PV = 'name = "{name}"\ntype = "pv"\nkernel = "configs/kernels/demo-pvh.elf"\nmemory = 128\n'


@pytest.fixture(scope="module")
def libxl_history(xl_shim, tmp_path_factory):
    """Run libxl's history code (tests/libxl_domid_history.c) on `run_dir`."""
    require(subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0,
            "needs a mount namespace (unshare -rm) to give libxl a run dir of the test's")
    program = link_static_libxl(HERE / "libxl_domid_history.c", tmp_path_factory.mktemp("history") / "history")

    def run(run_dir: Path, *args: str, env=None, **popen):
        script = 'mount -t tmpfs none /run && mkdir /run/xen && mount --bind "$0" /run/xen && exec "$@"'
        argv = ["unshare", "-rm", "sh", "-c", script, str(run_dir), str(program), *args]
        environment = dict(os.environ, LD_PRELOAD=str(xl_shim), **(env or {}))
        if popen:
            return subprocess.Popen(argv, env=environment, text=True, **popen)
        return subprocess.run(argv, env=environment, capture_output=True, text=True, timeout=60)

    return run


def test_libxl_reads_the_history_xlpy_writes_and_expires_the_same_entries(libxl_history, tmp_path):
    history, now = DomidHistory(tmp_path), monotonic_seconds()
    history.mark(9, now=now - 65)
    history.mark(5, now=now - 50)
    history.mark(6)  # 9's entry is older than the 60 s libxl remembers a domid for: dropped
    assert history.path.read_text() == f"{now - 50} 5\n{now} 6\n"  # "%lu %u\n", oldest first
    with history.path.open("a") as f:  # what libxl's reader skips: too old, no guest's domid, an earlier boot's
        f.write(f"{now - 65} 9\n{now} 0\n{now} {0x7FF0}\n{now + 1000} 8\n")
    domids = ["5", "6", "8", "9", "0", str(0x7FF0), "77"]
    for env, expected in (({}, ["1", "1", "0", "0", "0", "0", "0"]),
                          ({"LIBXL_DOMID_REUSE_TIMEOUT": "0x20"}, ["0", "1", "0", "0", "0", "0", "0"]),
                          ({"LIBXL_DOMID_REUSE_TIMEOUT": "-1"}, ["1", "1", "0", "1", "0", "0", "0"])):
        libxl = libxl_history(tmp_path, "recent", *domids, env=env)
        assert libxl.returncode == 0, libxl.stderr
        os.environ.update(env)
        try:
            ours = [str(int(history.is_recent(int(d)))) for d in domids]
        finally:
            for key in env:
                del os.environ[key]
        assert (libxl.stdout.split(), ours) == (expected, expected), env


def test_marking_waits_for_libxl_s_lock_and_libxl_waits_for_xlpy_s(libxl_history, tmp_path):
    history, lock = DomidHistory(tmp_path), tmp_path / "domid-history.lock"
    holder = libxl_history(tmp_path, "hold", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout.readline() == "locked\n"
    marking = threading.Thread(target=history.mark, args=(4,))
    marking.start()
    marking.join(0.5)
    assert marking.is_alive() and not history.path.exists()  # waiting for libxl
    holder.stdin.close()
    marking.join(10)
    assert holder.wait(10) == 0 and history.path.read_text().split()[1] == "4"
    assert not lock.exists()  # whoever held it last removed it, as libxl__unlock_file does

    with file_lock(lock):
        waiter = libxl_history(tmp_path, "hold", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        time.sleep(0.5)
        assert waiter.poll() is None
    assert waiter.stdout.readline() == "locked\n"
    waiter.stdin.close()
    assert waiter.wait(10) == 0 and not lock.exists()


def test_libxl_clears_the_history_xlpy_wrote(libxl_history, tmp_path):
    DomidHistory(tmp_path).mark(3)
    assert libxl_history(tmp_path, "clear").returncode == 0
    assert not (tmp_path / "domid-history").exists()


def test_a_mark_drops_expired_entries_and_keeps_the_others_with_repeats(tmp_path):
    history = DomidHistory(tmp_path / "run")  # the run dir is made if missing
    history.mark(3, now=1000)
    history.mark(4, now=1030)
    history.mark(3, now=1061)  # 3's first entry is 61 s old: dropped; 4's kept
    assert history.path.read_text() == "1030 4\n1061 3\n"
    assert history.is_recent(4, now=1090) and not history.is_recent(4, now=1091)
    assert sorted(os.listdir(history.directory)) == ["domid-history"]  # no lock or .new left


@pytest.mark.parametrize("failing", ["open", "write", "rename"])
def test_a_mark_that_fails_leaves_the_history_as_it_was(tmp_path, monkeypatch, failing):
    history = DomidHistory(tmp_path)
    history.mark(3, now=1000)
    if failing == "open":
        (tmp_path / "domid-history.new").mkdir()
    elif failing == "write":
        monkeypatch.setattr("builtins.open", _failing_open)
    else:
        monkeypatch.setattr(os, "rename", lambda *a: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(BackendError, match="Domain 7:failed to record the domid as recently used"):
        history.mark(7, now=1010)
    assert history.path.read_text() == "1000 3\n" and not (tmp_path / "domid-history.lock").exists()


def _failing_open(*args, **kwargs):
    raise OSError(28, "No space left on device", str(args[0]))


def test_destroy_marks_the_domid_recent_and_create_refuses_it_when_asked_for(xlpy, state_dir, tmp_path):
    cfg = tmp_path / "p.cfg"
    cfg.write_text(PV.format(name="p"))
    xlpy("create", "-q", str(cfg))
    xlpy("destroy", "p")
    [entry] = (state_dir / "domid-history").read_text().splitlines()
    assert entry.split()[1] == "1" and abs(int(entry.split()[0]) - monotonic_seconds()) <= 5
    backend = ModelBackend(state_dir)
    before = _host(backend)
    with pytest.raises(CreateFailed, match=r"^cannot create 'q': Domain 1:domain id recently used$"):
        Toolstack(backend).create(_config(tmp_path, "q", domid=1))
    assert _host(backend) == before  # no domain, no xenstore node, no userdata left
    history = (state_dir / "domid-history").read_text().splitlines()
    assert [line.split()[1] for line in history] == ["1", "1"]  # destroyed again: marked again, as libxl does
    r = xlpy("create", "-q", str(cfg))  # Xen's choice is not recent: 2
    assert xlpy("domid", "p").stdout == "2\n", r.stderr


def test_a_destroy_whose_mark_fails_leaves_the_domain_whole(xlpy, state_dir, tmp_path):
    cfg = tmp_path / "p.cfg"
    cfg.write_text(PV.format(name="p"))
    xlpy("create", "-q", str(cfg))
    before = xlpy("list", "-l", "p").stdout
    (state_dir / "domid-history.new").mkdir()
    r = xlpy("destroy", "p", ok=False)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith("Domain 1:failed to record the domid as recently used") and "destroy failed" in r.stderr
    assert xlpy("list", "-l", "p").stdout == before
    (state_dir / "domid-history.new").rmdir()
    xlpy("destroy", "p")


def test_xen_s_choice_that_is_recent_is_given_back_unmarked_and_another_taken(state_dir, tmp_path):
    backend = ModelBackend(state_dir)
    toolstack = Toolstack(backend, domid_policy=INVALID_DOMID)
    assert toolstack.create(_config(tmp_path, "a")).domid == 1
    DomidHistory(state_dir).mark(2)
    assert toolstack.create(_config(tmp_path, "b")).domid == 3  # 2 made, found recent, destroyed
    assert [d.domid for d in backend.list_domains()] == [0, 1, 3]
    assert [line.split()[1] for line in (state_dir / "domid-history").read_text().splitlines()] == ["2"]


def test_the_random_policy_draws_valid_domids_skipping_recent_and_taken_ones(state_dir, tmp_path, monkeypatch):
    backend = ModelBackend(state_dir)
    toolstack = Toolstack(backend, domid_policy=RANDOM_DOMID)
    assert toolstack.create(_config(tmp_path, "a", domid=40)).domid == 40  # asked for: the policy is not used
    DomidHistory(state_dir).mark(3)
    # 0 and 0x7FF5 are no guest's, 0x8003 is 3 once masked (recent), 40 is taken; then 0x1234.
    draws = iter([0, 0x7FF5, 0x8003, 40, 0x1234])
    monkeypatch.setattr(os, "urandom", lambda n: next(draws).to_bytes(n, "little"))
    assert toolstack.create(_config(tmp_path, "b")).domid == 0x1234
    assert [d.domid for d in backend.list_domains()] == [0, 40, 0x1234]
    assert [line.split()[1] for line in (state_dir / "domid-history").read_text().splitlines()] == ["3"]


@pytest.mark.parametrize("setting, expected, warning", [
    ('domid_policy = "random"', RANDOM_DOMID, ""),
    ('domid_policy = "xen"', INVALID_DOMID, ""),
    ("", INVALID_DOMID, ""),
    ('domid_policy = "sequential"', INVALID_DOMID, "invalid domid_policy option"),
])
def test_xl_conf_s_domid_policy(tmp_path, monkeypatch, capsys, setting, expected, warning):
    from xlpy.xlconf import domid_policy

    conf = tmp_path / "xl.conf"
    conf.write_text(f'autoballoon = "off"\n{setting}\n')
    monkeypatch.setenv("XLPY_XL_CONF", str(conf))
    assert domid_policy() == expected and capsys.readouterr().err == warning
    monkeypatch.setenv("XLPY_XL_CONF", str(tmp_path / "missing.conf"))
    assert domid_policy() == INVALID_DOMID  # no file: the defaults


def test_xl_reports_an_invalid_domid_policy_as_xlpy_does(xl_shim, tmp_path):
    """The real xl, with a test xl.conf bound over /etc/xen/xl.conf."""
    require(subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0, "needs unshare -rm")
    conf = tmp_path / "xl.conf"
    conf.write_text('domid_policy = "sequential"\n')
    cfg = tmp_path / "p.cfg"
    cfg.write_text(PV.format(name="p").replace("configs/", f"{HERE.parent}/configs/"))
    xl = subprocess.run(["unshare", "-rm", "sh", "-c", 'mount --bind "$0" /etc/xen/xl.conf && exec "$@"', str(conf),
                         "/usr/lib/xen-4.17/bin/xl", "-N", "create", str(cfg)],
                        env=dict(os.environ, LD_PRELOAD=str(xl_shim)),
                        capture_output=True, text=True, timeout=60)
    assert xl.stderr.startswith("invalid domid_policy option")


def test_create_with_a_broken_xl_conf_fails_in_one_line_before_any_domain(state_dir, tmp_path):
    conf = tmp_path / "xl.conf"
    conf.write_text('domid_policy = "random\n')
    cfg = tmp_path / "p.cfg"
    cfg.write_text(PV.format(name="p"))
    r = run_xlpy("create", "-q", str(cfg), env=xlpy_env(XLPY_STATE_DIR=str(state_dir), XLPY_XL_CONF=str(conf)),
                 cwd=HERE.parent)
    assert r.returncode == 3 and len(r.stderr.splitlines()) == 1 and "Failed to parse config file" in r.stderr
    r = run_xlpy("list", env=xlpy_env(XLPY_STATE_DIR=str(state_dir)), cwd=HERE.parent)
    assert r.stdout.count("\n") == 2  # the header and Domain-0


def test_create_follows_xl_conf_s_random_policy(state_dir, tmp_path):
    conf = tmp_path / "xl.conf"
    conf.write_text('domid_policy = "random"\n')
    cfg = tmp_path / "p.cfg"
    cfg.write_text(PV.format(name="p"))
    env = xlpy_env(XLPY_STATE_DIR=str(state_dir), XLPY_XL_CONF=str(conf))
    domids = set()
    for name in "abc":
        assert run_xlpy("create", "-q", "-p", str(cfg), f'name="{name}"', env=env, cwd=HERE.parent).returncode == 0
        domids.add(int(run_xlpy("domid", name, env=env, cwd=HERE.parent).stdout))
    assert domids != {1, 2, 3} and all(0 < d < 0x7FF0 for d in domids)  # not Xen's sequence (odds 1 in 2^44)


def _config(tmp_path, name: str, domid: int | None = None):
    from xlpy.config import parse
    from xlpy.config.build import build

    dc, _ = build(parse(PV.format(name=name), str(tmp_path / f"{name}.cfg")))
    if domid is not None:
        dc.c_info.domid = domid
    return dc


def _host(backend) -> dict:
    """What the model holds: domains, xenstore and userdata."""
    db = backend.store.db
    return {table: [tuple(row) for row in db.execute(f"SELECT * FROM {table}")]
            for table in ("domains", "vcpus", "xenstore", "userdata", "refs")}
