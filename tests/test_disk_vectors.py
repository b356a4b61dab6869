"""Xen's check-xl-disk-parse cases (../shared/vectors/disk-parse.json), run
through `xlpy -N block-attach` exactly as the script runs xl, compared with
what Debian's xl 4.17.7 printed."""

from __future__ import annotations

import json

import pytest

from conftest import SHARED, run_xlpy

FILE = SHARED / "vectors" / "disk-parse.json"
VECTORS = json.loads(FILE.read_text()) if FILE.is_file() else []
@pytest.mark.parametrize("case", VECTORS, ids=lambda c: " ".join(c["args"]) or "<none>")
def test_block_attach_dry_run_matches_xl(case):
    real = case["debian_4_17_7"]
    r = run_xlpy("-N", "block-attach", "0", *case["args"])
    assert (r.returncode, r.stdout) == (real["rc"], real["stdout"])
    if real["rc"]:
        assert r.stderr.startswith("command line: config parsing error in disk specification: ")
