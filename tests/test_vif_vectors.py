"""Xen's check-xl-vif-parse cases (../shared/vectors/vif-parse.json), run
through `xlpy -N network-attach` as the script runs xl."""

from __future__ import annotations

import json

import pytest

from conftest import SHARED, run_xlpy

FILE = SHARED / "vectors" / "vif-parse.json"
VECTORS = json.loads(FILE.read_text()) if FILE.is_file() else []


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: " ".join(c["args"]) or "<empty>")
def test_network_attach_dry_run_matches_xl(case):
    real = case["debian_4_17_7"]
    r = run_xlpy("-N", "network-attach", "0", *case["args"])
    assert (r.returncode, r.stdout, r.stderr) == (real["rc"], real["stdout"], real["stderr"])
