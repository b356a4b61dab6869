"""vnuma= against the real xl on hosts of several shapes: the nodes' JSON, and
xl's checks against maxvcpus=, maxmem=, the host's nodes and CPUs."""

from __future__ import annotations

import re

import pytest

from conftest import SHARED, require, run_xlpy, xlpy_env

UUID = re.compile(r'"uuid": "[0-9a-f-]{36}"')
TWO_NODES = ('vnuma = [ [ "pnode=0", "size=512", "vcpus=0-1", "vdistances=10,20" ],\n'
             '          [ "pnode=1", "size=512", "vcpus=2-3", "vdistances=20,10" ] ]')
CASES = [
    ("4x1", 'vcpus = 2\nvnuma = [ [ "size=256", "vcpus=0-1" ] ]'),
    ("8x2", TWO_NODES),
    ("8x2", f"memory = 1024\nmaxmem = 1024\nvcpus = 4\n{TWO_NODES}"),
    ("8x2", f"maxmem = 2048\n{TWO_NODES}"),  # the nodes add up to 1024
    ("8x2", f"maxvcpus = 6\n{TWO_NODES}"),
    ("8x2", f"maxvcpus = 4\nvcpus = 2\n{TWO_NODES}"),
    ("8x2", f"vcpus = 6\n{TWO_NODES}"),  # more than the nodes' 4
    ("4x2", 'vnuma = [ [ "pnode=0", "size=512", "vcpus=0-3" ], [ "pnode=1", "size=512", "vcpus=4-5" ] ]'),
    ("4x2", 'maxvcpus = 6\nvnuma = [ [ "pnode=0", "size=512", "vcpus=0-3" ], [ "pnode=1", "size=512", "vcpus=4-5" ] ]'),
    ("8x2", 'vnuma = [ [ "pnode=2", "size=512", "vcpus=0" ] ]'),
    ("8x2", 'vnuma = [ [ " pnode = 1 ", "size = 64", " vcpus = 0 , 2-3 ", "colour=red" ] ]'),
    ("8x2", 'vnuma = [ [ "size=64", "vcpus=3-1,x,5", "vdistances=7" ], [ "size=64" ] ]'),
    ("8x2", 'vnuma = [ [ "size=64", "vcpus=0-20" ] ]'),
    ("8x2", 'maxvcpus = 12\nvnuma = [ [ "size=64", "vcpus=0-11" ] ]'),
    ("8x2", 'vnuma = [ [ "size=x" ] ]'),
    ("8x2", 'vnuma = [ [ "size" ] ]'),
    ("8x2", 'vnuma = [ [ "pnode=-1" ] ]'),
    ("8x2", 'vnuma = [ "pnode=0" ]'),
    ("8x2", 'vnuma = [ [ "size=64", [ "nested" ], "vcpus=0" ] ]'),
    ("8x2", 'vnuma = [ ]'),
    ("8x2", 'vnuma = "pnode=0"'),
]


def host(shape: str, tmp_path):
    cpus, nodes = shape.split("x")
    state = tmp_path / "state"
    state.mkdir()
    (state / "host.yaml").write_text(f"nr_cpus: {cpus}\nnr_nodes: {nodes}\n")
    return {"SHIM_CPUS": cpus, "SHIM_NODES": nodes}, xlpy_env(XLPY_STATE_DIR=str(state))


@pytest.mark.parametrize("shape,setting", CASES)
def test_vnuma_matches_real_xl(real_xl, tmp_path, shape, setting):
    shim_host, env = host(shape, tmp_path)
    cfg = tmp_path / "guest.cfg"
    cfg.write_text(f'name = "g"\ntype = "hvm"\n{setting}\n')
    real, ours = real_xl(cfg, shim_host), run_xlpy("create", "-n", cfg.name, cwd=tmp_path, env=env)
    assert (real.returncode == 0) == (ours.returncode == 0), (real.stderr, ours.stderr)
    assert UUID.sub("U", ours.stdout) == UUID.sub("U", real.stdout)
    if real.returncode != 0:
        assert real.stderr.splitlines()[-1] in ours.stderr


def test_more_distances_than_nodes_is_refused(tmp_path):
    """xl writes the extra distances past its table; xlpy refuses them at their position."""
    cfg = tmp_path / "guest.cfg"
    cfg.write_text('name = "g"\ntype = "hvm"\nvnuma = [ [ "size=64", "vcpus=0", "vdistances=10,20" ] ]\n')
    r = run_xlpy("create", "-n", cfg.name, cwd=tmp_path)
    assert r.returncode == 1
    assert "guest.cfg:3:11: error D112 2 vdistances for 1 nodes (xl writes past its table)" in r.stderr


@pytest.mark.parametrize("name", ["test-fullvirt-vnuma-autocomplete.cfg", "test-fullvirt-vnuma-partialdist.cfg"])
@pytest.mark.parametrize("shape", ["4x1", "8x4", "12x6"])
def test_corpus_vnuma_configs_match_real_xl(real_xl, tmp_path, name, shape):
    path = SHARED / "corpus" / "libvirt" / name
    require(path.is_file(), f"{path} is not in ../shared")
    shim_host, env = host(shape, tmp_path)
    real, ours = real_xl(path, shim_host), run_xlpy("create", "-n", path.name, cwd=path.parent, env=env)
    assert (real.returncode == 0) == (ours.returncode == 0), (real.stderr, ours.stderr)
    assert UUID.sub("U", ours.stdout) == UUID.sub("U", real.stdout)
