"""Debian's real kernel image (linux-image-cloud-amd64) through the model:
the bzImage's LZ4 payload is unpacked, its Xen notes read, and the guest boots
at the PVH entry they give."""

from __future__ import annotations

import glob

import pytest

from conftest import ROOT, require, run_xlpy, xlpy_env
from xlpy.backends.kernel import read_kernel

KERNELS = sorted(glob.glob("/boot/vmlinuz-*-cloud-amd64"))


@pytest.fixture
def kernel():
    require(bool(KERNELS), "Debian's cloud kernel is not installed (apt-get install linux-image-cloud-amd64)")
    return KERNELS[-1]


def test_notes_of_the_real_kernel(kernel):
    image = read_kernel(kernel)
    assert image.elf_class == 64
    assert image.guest_os == "linux"
    assert image.phys32_entry == 0x01000850
    assert image.pv_entry is not None and image.pv_entry >= 0xFFFFFFFF80000000
    assert not image.legacy_pvh_capable  # it lacks the original design's features


def test_real_kernel_boots_as_pvh_and_pvh1_falls_back_to_modern(kernel, tmp_path, state_dir):
    env = xlpy_env(XLPY_STATE_DIR=str(state_dir))
    for name, extra in (("real-pvh", 'type = "pvh"'), ("real-pvh1", "pvh = 1")):
        cfg = tmp_path / f"{name}.cfg"
        cfg.write_text(f'name = "{name}"\n{extra}\nkernel = "{kernel}"\nmemory = 512\nvcpus = 2\n')
        r = run_xlpy("create", str(cfg), env=env, cwd=ROOT)
        assert r.returncode == 0, r.stderr
        console = run_xlpy("console", name, env=env).stdout
        assert "pvh32 entry 0x1000850" in console
        assert "32-bit flat protected mode" in console
        assert "VCPUOP_up vCPU 1" in console
