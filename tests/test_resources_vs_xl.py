"""ioports=, irqs=, iomem=, viridian=, passthrough=, max_event_channels= and
the Arm device-tree keys against the real xl: the same domain JSON for what xl accepts, a refusal for
what it refuses (xl reads the numbers with C's strtoul and sscanf)."""

from __future__ import annotations

import re

import pytest

from conftest import run_xlpy

UUID = re.compile(r'"uuid": "[0-9a-f-]{36}"')
CASES = [
    'ioports = [ "3f8-3ff", "2f8", "0x60-0x64" ]',
    'ioports = [ "2f8 " ]',  # xl complains about the blank, then grants the port
    'ioports = [ "3ff-3f8" ]',
    'ioports = [ "zz" ]',
    'ioports = [ "ffffffff" ]',
    'irqs = [ 7, "31", " 9" ]',
    'irqs = [ "0x1f" ]',
    'irqs = [ "-1" ]',
    'iomem = [ "fe000,2", "fd000,1@fe000", " 0xa, 3" ]',
    'iomem = [ "fe000" ]',
    'iomem = [ "fe000,2@" ]',
    'iomem = [ "fe000,2 " ]',
    'viridian = [ "base", "freq", "!time_ref_count" ]',
    'viridian = [ "all", "!stimer" ]',
    'viridian = [ "defaults", "!base", "BASE" ]',
    'viridian = [ "nope" ]',
    'viridian = 1',
    'passthrough = "Sync_PT"',
    'passthrough = "sideways"',
    'max_event_channels = 4095',
    'device_tree = "/boot/guest.dtb"\ndtdev = [ "/soc/ethernet@ff0e0000", "/soc/i2c" ]\ntee = "OPTEE"',
    'tee = "none"',
    'tee = "ffa"',  # FF-A arrived after 4.17
]


@pytest.mark.parametrize("setting", CASES)
def test_resource_settings_match_real_xl(setting, real_xl, tmp_path):
    cfg = tmp_path / "guest.cfg"
    cfg.write_text(f'name = "g"\ntype = "hvm"\nmemory = 128\n{setting}\n')
    real, ours = real_xl(cfg), run_xlpy("create", "-n", cfg.name, cwd=tmp_path)
    assert (real.returncode == 0) == (ours.returncode == 0), (real.stderr, ours.stderr)
    assert UUID.sub("U", ours.stdout) == UUID.sub("U", real.stdout)
    if real.returncode != 0:  # xl's own words, after xlpy's position
        assert real.stderr.splitlines()[-1] in ours.stderr


def test_create_grants_the_ioports_to_the_guest(state_dir, monkeypatch):
    from conftest import ROOT
    from xlpy.backends.model import ModelBackend
    from xlpy.config import parse
    from xlpy.config.build import build
    from xlpy.toolstack import Toolstack

    monkeypatch.chdir(ROOT)
    text = 'name = "io"\ntype = "pvh"\nkernel = "configs/kernels/demo-pvh.elf"\nmemory = 64\n' \
           'ioports = [ "3f8-3ff", "2f8" ]\n'
    backend = ModelBackend(state_dir)
    granted = []
    monkeypatch.setattr(backend, "ioport_permission", lambda domid, first, count, allow: granted.append(
        (first, count, allow)))
    dc, _ = build(parse(text, "io.cfg"))
    Toolstack(backend).create(dc)
    assert granted == [(0x3F8, 8, True), (0x2F8, 1, True)]
