"""Xen's check-xl-vcpupin-parse cases (../shared/vectors/vcpupin-parse.json),
through `xlpy -N vcpu-pin 0 all HARD [SOFT]` on the same 16-CPU, 2-node host."""

from __future__ import annotations

import json

import pytest

from conftest import SHARED, run_xlpy, xlpy_env

FILE = SHARED / "vectors" / "vcpupin-parse.json"
VECTORS = json.loads(FILE.read_text()) if FILE.is_file() else []


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    profile = tmp_path_factory.mktemp("host") / "host.yaml"
    profile.write_text("nr_cpus: 16\nnr_nodes: 2\n")
    return xlpy_env(XLPY_HOST_PROFILE=str(profile))


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: f"{c['hard']}|{c.get('soft')}")
def test_vcpu_pin_dry_run_matches_xl(case, host):
    real = case["debian_4_17_7"]
    args = [case["hard"]] + ([case["soft"]] if case.get("soft") is not None else [])
    r = run_xlpy("-N", "vcpu-pin", "0", "all", *args, env=host)
    assert (r.returncode, r.stdout, r.stderr) == (real["rc"], real["stdout"], real["stderr"])


def test_dry_run_reads_the_host_yaml_of_the_state_dir_as_the_model_does(state_dir):
    state_dir.mkdir(parents=True)
    (state_dir / "host.yaml").write_text("nr_cpus: 8\nnr_nodes: 2\n")
    r = run_xlpy("-N", "vcpu-pin", "0", "all", "nodes:1", env=xlpy_env(XLPY_STATE_DIR=str(state_dir)))
    assert (r.returncode, r.stdout) == (0, "cpumap: 4-7\n")
    assert not (state_dir / "model.sqlite").exists()  # a dry run opens no model state
