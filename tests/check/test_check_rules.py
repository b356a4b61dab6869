"""`xlpy check`: each rule fires on a config that breaks it and not on one
that does not; exit codes, selection, suppression, settings and --fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT, run_xlpy

BASE = 'name = "{name}"\ntype = "pvh"\nkernel = "/boot/vmlinuz"\nmemory = 256\n'

CASES = {
    "S001": ('name = "x"\nName = "y"\n', 'name = "x"\n'),
    "S002": ('name = "x"\nmemory =\n', 'name = "x"\nmemory = 1\n'),
    "S101": (BASE + 'cmdline = "a\\101b"\n', BASE + 'cmdline = "ab"\n'),
    "T101": (BASE + 'type = "pvhx"\n', BASE),
    "T104": (BASE + 'vcpus = "two"\n', BASE + "vcpus = 2\n"),
    "X102": (BASE + "vcpus = 4\nmaxvcpus = 2\n", BASE + "vcpus = 2\nmaxvcpus = 4\n"),
    "P101": (BASE.replace('type = "pvh"', "pvh = 1"), BASE),
    "P102": (BASE.replace('type = "pvh"', "pvh = 1") + "hap = 0\n", BASE.replace('type = "pvh"', "pvh = 1")),
    "P106": (BASE + 'vga = "stdvga"\n', BASE),
    "D101": (BASE + 'disk = [ "/dev/x" ]\n', BASE + 'disk = [ "/dev/x,raw,xvda,rw" ]\n'),
    "D102": (BASE + 'vif = [ "mac=zz" ]\n', BASE + 'vif = [ "mac=00:16:3e:00:00:01" ]\n'),
    "X111": (BASE.replace('"pvh"', '"hvm"') + 'vga = "stdvga"\nvideoram = 8\n',
             BASE.replace('"pvh"', '"hvm"') + 'vga = "stdvga"\nvideoram = 16\n'),
    "X112": (BASE + 'disk = [ "/i.qcow2,qcow2,xvda,rw" ]\n', BASE + 'disk = [ "/i.img,raw,xvda,rw" ]\n'),
    "H101": (BASE + "memroy = 1\n", BASE),
    "X112-driver-domain": (BASE + 'vif = [ "backend=netdom" ]\n', BASE + 'vif = [ "backend=Domain-0" ]\n'),
    "H109": (BASE + 'disk = [ "/a,raw,xvda,rw", "/b,raw,xvda,rw" ]\n',
             BASE + 'disk = [ "/a,raw,xvda,rw", "/b,raw,xvdb,rw" ]\n'),
}


def codes(text: str, tmp_path: Path, *args: str) -> set[str]:
    path = tmp_path / "guest.cfg"
    path.write_text(text)
    r = run_xlpy("check", "--format", "json", *args, str(path), cwd=tmp_path)
    assert r.returncode in (0, 1), r.stderr
    return {item["code"] for item in json.loads(r.stdout)}


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_fires_only_where_it_should(code, tmp_path):
    bad, good = CASES[code]
    code = code.split("-")[0]  # a rule with more than one case: X112-driver-domain
    assert code in codes(bad.format(name="g"), tmp_path)
    assert code not in codes(good.format(name="g"), tmp_path)


def test_duplicates_across_a_directory(tmp_path):
    for n in (1, 2):
        (tmp_path / f"g{n}.cfg").write_text(
            BASE.format(name="same") + 'uuid = "6a1c4b2e-1b7c-4d0e-9c1f-2a3b4c5d6e7f"\n'
            'vif = [ "mac=00:16:3e:00:00:01" ]\n')
    r = run_xlpy("check", "--format", "json", str(tmp_path), cwd=tmp_path)
    found = json.loads(r.stdout)
    assert r.returncode == 1
    assert {(f["file"].endswith("g2.cfg"), f["code"]) for f in found} == {(True, "H106"), (True, "H107"), (True, "H108")}


def test_check_files_reports_missing_kernel(tmp_path):
    assert "H110" in codes(BASE.format(name="g"), tmp_path, "--check-files")
    assert "H110" not in codes(BASE.format(name="g"), tmp_path)


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "invalid").glob("*.cfg")), ids=lambda p: p.name)
def test_every_invalid_config_is_caught_with_its_code(path):
    code = path.read_text(errors="replace").split()[2]
    r = run_xlpy("check", "--format", "json", str(path))
    assert r.returncode == 1
    assert code in {f["code"] for f in json.loads(r.stdout)}


def test_reference_configs_pass():
    r = run_xlpy("check", "configs/pvh.cfg", "configs/pv.cfg", "configs/hvm.cfg", cwd=ROOT)
    assert (r.returncode, r.stdout) == (0, "")


def test_exit_codes(tmp_path):
    (tmp_path / "w.cfg").write_text(BASE.format(name="w") + "memroy = 1\n")
    assert run_xlpy("check", str(tmp_path / "w.cfg")).returncode == 0
    assert run_xlpy("check", "--strict", str(tmp_path / "w.cfg")).returncode == 1
    assert run_xlpy("check", str(tmp_path / "missing.cfg")).returncode == 2
    assert run_xlpy("check", "-", input=BASE.format(name="s")).returncode == 0
    assert run_xlpy("check", "-", input="a =\n").returncode == 1


def test_select_ignore_inline_and_settings(tmp_path):
    text = BASE.format(name="g") + "memroy = 1\nfoo = 2  # xlpy: ignore[H101]\n"
    found = codes(text, tmp_path)
    assert found == {"H101"}
    assert codes(text, tmp_path, "--ignore", "H") == set()
    assert codes(text, tmp_path, "--select", "P") == set()
    (tmp_path / "pyproject.toml").write_text('[tool.xlpy.check]\nignore = ["H101"]\n')
    assert codes(text, tmp_path) == set()
    (tmp_path / "pyproject.toml").unlink()
    (tmp_path / ".xlpy.yaml").write_text("check:\n  strict: true\n")
    path = tmp_path / "guest.cfg"
    assert run_xlpy("check", str(path), cwd=tmp_path).returncode == 1


def test_fix_rewrites_legacy_pvh_and_is_idempotent(tmp_path):
    from xlpy.config import parse

    path = tmp_path / "legacy.cfg"
    original = '# my guest\nname = "g"\npvh = 1   # the old way\nkernel = "/boot/vmlinuz"\nmemory = 256\n'
    path.write_text(original)
    r = run_xlpy("check", "--fix", str(path))
    fixed = path.read_text()
    assert fixed == original.replace("pvh = 1", 'type = "pvh"')
    assert "P101" not in r.stdout
    run_xlpy("check", "--fix", str(path))
    assert path.read_text() == fixed
    before = {(s.name, str(s.value)) for s in parse(original).settings}
    after = {(s.name, str(s.value)) for s in parse(fixed).settings}
    assert before - after == {("pvh", "1")} and after - before == {("type", "pvh")}


def test_the_documented_rule_list_is_in_sync():
    from xlpy.check.catalogue import markdown

    assert (ROOT / "docs" / "rules.md").read_text() == markdown()
