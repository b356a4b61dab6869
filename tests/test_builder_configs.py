"""configs/: the reference configs build to their golden `create -n` JSON,
agree with the real xl where xlpy models every key, and every invalid config
fails with its expected one-line error."""

from __future__ import annotations

import gzip
import re
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, SHARED, require, run_xlpy

CONFIGS = ROOT / "configs"
REFERENCE = sorted(CONFIGS.glob("*.cfg"))
INVALID = sorted((CONFIGS / "invalid").glob("*.cfg"))
UUID = re.compile(r'"uuid": "[0-9a-f-]{36}"')


@pytest.mark.parametrize("path", REFERENCE, ids=lambda p: p.name)
def test_reference_config_builds_to_its_golden_json(path):
    r = run_xlpy("create", "-n", f"configs/{path.name}", cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (CONFIGS / "expected" / f"{path.stem}.json").read_text()
    assert r.stderr.startswith(f"Parsing config from configs/{path.name}\n")


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_config_fails_with_its_expected_error(path):
    expected = path.read_text(errors="replace").splitlines()[0].removeprefix("# expect: ")
    code, _, message = expected.partition(" ")
    r = run_xlpy("create", "-n", str(path))
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    error_lines = [line for line in r.stderr.splitlines() if f" {code} " in line or line.endswith(message)]
    assert error_lines, r.stderr
    assert message.replace("\\r", "\r") in r.stderr.replace("\\r", "\r")
    assert error_lines[0].startswith(str(path) + ":")


def xlpy_dry_run(cfg: Path) -> subprocess.CompletedProcess:
    return run_xlpy("create", "-n", cfg.name, cwd=cfg.parent)


def fully_modelled(cfg: Path) -> bool:
    """xlpy reads every key of this config (no H105 "not modelled" note)."""
    r = run_xlpy("-v", "create", "-n", cfg.name, cwd=cfg.parent)
    return " H105 " not in r.stderr


@pytest.mark.parametrize("path", REFERENCE, ids=lambda p: p.name)
def test_reference_config_matches_real_xl(path, real_xl):
    real, ours = real_xl(path), xlpy_dry_run(path)
    assert real.returncode == ours.returncode == 0
    if path.name == "pvh-legacy.cfg":
        # The one intended difference: xl 4.17 drops pvh=1; xlpy keeps it visible.
        assert ours.stdout.replace(',\n        "pvh": "True"', "") == real.stdout
        return
    assert ours.stdout == real.stdout


CORPUS = sorted((SHARED / "corpus").glob("*/*.cfg")) if (SHARED / "corpus").is_dir() else []


@pytest.mark.slow
def test_corpus_matches_real_xl_where_modelled(real_xl):
    require(bool(CORPUS), "the corpus is not in ../shared")
    compared, mismatches = 0, []
    for path in CORPUS:
        real = real_xl(path)
        if real.returncode != 0 or not fully_modelled(path):
            continue
        ours = xlpy_dry_run(path)
        compared += 1
        if UUID.sub("U", ours.stdout) != UUID.sub("U", real.stdout):
            mismatches.append(path.name)
    assert compared >= 20
    assert mismatches == []


def test_every_key_of_the_manual_is_known():
    manual = Path("/usr/share/man/man5/xl.cfg.5.gz")
    require(manual.is_file(), "xl.cfg(5) of Xen 4.17 is not installed (apt-get install xen-doc)")
    from xlpy.config.keys import SCOPE

    depth, keys = 0, set()
    for line in gzip.open(manual, "rt", errors="replace"):
        if line.startswith(".RS"):
            depth += 1
        elif line.startswith(".RE"):
            depth -= 1
        m = re.match(r'\.IX Item "([a-z_][a-z0-9_]*)(=| |")', line)
        if m and depth == 0:
            keys.add(m.group(1))
    keys -= {"xl"}  # the SEE ALSO and FILES entries
    assert len(keys) > 140
    assert sorted(keys - set(SCOPE)) == []


def test_every_key_xl_reads_is_modelled():
    """No key of xl.cfg(5) is merely accepted: each one xl acts on has an effect in xlpy."""
    from xlpy.config.build import MODELLED
    from xlpy.config.keys import SCOPE

    assert sorted(key for key, scope in SCOPE.items() if scope != "deprecated" and key not in MODELLED) == []


def stored_jsons():
    """(path, JSON) for each corpus and example config create would accept:
    the config as create stores it, in libxl's userdata."""
    from xlpy.config import parse_file
    from xlpy.config.build import build, has_errors
    from xlpy.domain.setdefault import effective, for_storage

    for path in CORPUS + sorted((ROOT / "configs").glob("*.cfg")):
        try:
            dc, diagnostics = build(parse_file(str(path)))
        except Exception:  # a file the parser refuses has nothing to store
            continue
        if has_errors(diagnostics):
            continue
        try:
            yield path, for_storage(dc, effective(dc)).to_json()
        except ValueError:  # refused at create: never stored
            continue


def test_every_config_reads_back_from_the_json_libxl_keeps():
    """What create stores (and save files carry) is read back by every later
    command: restart, list -l, save, the reaping of a dead domain. Each
    corpus and example config must survive JSON and back unchanged."""
    from xlpy.domain.stored import config_from_json

    read_back, failures = 0, []
    for path, stored in stored_jsons():
        try:
            again = config_from_json(stored).to_json()
        except ValueError as e:
            failures.append(f"{path.name}: {e}")
            continue
        read_back += 1
        if again != stored:
            failures.append(f"{path.name}: differs after reading back")
    assert failures == []
    assert read_back >= (60 if CORPUS else 4)  # configs/ alone, or with the corpus where ../shared is beside


def test_the_real_libxl_reads_every_stored_config_as_written(libxl_reprint):
    """The real xl reads what xlpy stores for its guests (list -l, save,
    mem-set...): libxl's own parser and printer give each config back the
    same, but for the original PVH design's flag, which libxl 4.17 has
    dropped (it would restart such a guest as PV, as xl creates it)."""
    read, failures = 0, []
    for path, stored in stored_jsons():
        theirs = libxl_reprint(stored + "\0")
        read += 1
        if theirs.strip() != stored.replace(',\n        "pvh": "True"', "").strip():
            failures.append(path.name)
    assert failures == []
    assert read >= (60 if CORPUS else 4)
