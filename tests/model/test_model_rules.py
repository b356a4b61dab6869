"""The model backend enforces Xen's rules, for both PVH generations."""

from __future__ import annotations

import uuid

import pytest

from xlpy.backends.base import CreateFlags, InvalidArgument, NoMemory, ShutdownReason, VcpuContext
from xlpy.backends.model import X86_EMU_ALL, X86_EMU_LAPIC, ModelBackend
from xlpy.domain.layout import GiB, memory_map, mmio_start, ram_bytes, special_pages
from kernels import make_kernel

PVH = CreateFlags(hvm=True, hap=True, emulation_flags=X86_EMU_LAPIC, max_vcpus=4)
LEGACY = CreateFlags(legacy_pvh=True, hap=True, max_vcpus=4)
HVM = CreateFlags(hvm=True, hap=True, emulation_flags=X86_EMU_ALL)


@pytest.fixture
def model(state_dir):
    return ModelBackend(state_dir)


def new(model, flags, mib=64):
    domid = model.create_domain(flags, str(uuid.uuid4()))
    model.set_max_vcpus(domid, flags.max_vcpus)
    model.set_max_memory(domid, mib * 1024)
    model.populate_physmap(domid, mib * 256)
    return domid


def boot_pvh(model, kernel, domid: int) -> None:
    """Load the test kernel, set vCPU 0 as the PVH boot ABI wants, unpause."""
    image = model.build_image(domid, str(kernel), None, None, "pvh")
    model.set_vcpu_context(domid, 0, VcpuContext("hvm32", rip=image.entry, cr0=1))
    model.unpause_domain(domid)


def test_dom0_exists_from_the_start(model):
    [dom0] = model.list_domains()
    assert (dom0.domid, dom0.name, dom0.running) == (0, "Domain-0", True)


def test_domids_are_allocated_in_order_and_not_reused_at_once(model):
    a = new(model, PVH)
    b = new(model, PVH)
    model.destroy_domain(a)
    c = new(model, PVH)
    assert (a, b, c) == (1, 2, 3)  # Xen moves on from the last id given


def test_legacy_pvh_needs_hap_and_excludes_hvm(model):
    with pytest.raises(InvalidArgument, match="PVH guest must have HAP on"):
        model.create_domain(CreateFlags(legacy_pvh=True, hap=False), str(uuid.uuid4()))
    with pytest.raises(InvalidArgument, match="exclusive"):
        model.create_domain(CreateFlags(legacy_pvh=True, hvm=True, hap=True), str(uuid.uuid4()))


def test_modern_pvh_emulates_only_the_lapic(model):
    with pytest.raises(InvalidArgument, match="emulation bitmap"):
        model.create_domain(CreateFlags(hvm=True, hap=True, emulation_flags=0x3), str(uuid.uuid4()))


def test_memory_is_accounted_in_pages_and_released_by_destroy(model):
    free = model.physinfo().free_pages
    domid = new(model, PVH, mib=128)
    assert model.physinfo().free_pages == free - 128 * 256
    model.destroy_domain(domid)
    assert model.physinfo().free_pages == free


def test_asking_for_more_than_is_free_is_an_oom_error(model):
    domid = model.create_domain(PVH, str(uuid.uuid4()))
    model.set_max_memory(domid, 64 * 1024 * 1024)
    with pytest.raises(NoMemory, match="not enough free memory"):
        model.populate_physmap(domid, 64 * 1024 * 256)


def test_legacy_pvh_context_may_set_only_flags_user_regs_and_cr3(model):
    domid = new(model, LEGACY)
    with pytest.raises(InvalidArgument, match="only flags, user_regs and ctrlreg"):
        model.set_vcpu_context(domid, 0, VcpuContext("pv", rip=0x1000, cr3=0x3000, cr4=0x20))
    model.set_vcpu_context(domid, 0, VcpuContext("pv", rip=0x1000, cr3=0x3000))


def test_no_zombie_after_destroy_of_a_legacy_pvh_guest(model):
    """The cr3 page reference taken by the vCPU context is dropped at destroy."""
    domid = new(model, LEGACY)
    model.set_vcpu_context(domid, 0, VcpuContext("pv", rip=0x1000, cr3=0x3000))
    model.destroy_domain(domid)
    assert [d.domid for d in model.list_domains()] == [0]


def test_a_reference_held_from_outside_leaves_a_zombie_until_dropped(model):
    domid = new(model, PVH)
    model.add_reference(domid, "blkback:grant")
    model.destroy_domain(domid)
    [zombie] = [d for d in model.list_domains() if d.domid == domid]
    assert zombie.dying and zombie.tot_pages == 1
    model.drop_reference(domid, "blkback:grant")
    assert [d.domid for d in model.list_domains()] == [0]


def test_modern_pvh_vcpu0_starts_in_32bit_flat_mode(model):
    domid = new(model, PVH)
    with pytest.raises(InvalidArgument, match="flat protected mode"):
        model.set_vcpu_context(domid, 0, VcpuContext("hvm32", rip=0x1000, cr0=0x80000001))
    with pytest.raises(InvalidArgument, match="vcpu_hvm_context"):
        model.set_vcpu_context(domid, 0, VcpuContext("pv", rip=0x1000))
    model.set_vcpu_context(domid, 0, VcpuContext("hvm32", rip=0x1000, cr0=1, rbx=0x6000))


@pytest.mark.parametrize("gib", [1, 4, 8])
def test_guests_of_4_gib_and_more_get_all_their_memory(gib):
    regions = memory_map(gib * GiB, hvm_container=True)
    assert ram_bytes(regions) == gib * GiB
    hole, (special, special_len) = mmio_start(device_model=False), special_pages()
    assert hole <= special < special + special_len <= 4 * GiB
    assert (special, special_len, "reserved") in regions
    for a, n, kind in regions:
        if kind == "ram":
            assert a + n <= hole or a >= 4 * GiB  # no RAM in the hole, so none under the special pages


def test_a_4_gib_pvh_guest_boots(model, tmp_path):
    kernel = tmp_path / "k"
    kernel.write_bytes(make_kernel())
    domid = new(model, PVH, mib=4096)
    image = model.build_image(domid, str(kernel), None, None, "pvh")
    assert ram_bytes(image.memory_map) == 4 * GiB
    model.set_vcpu_context(domid, 0, VcpuContext("hvm32", rip=image.entry, cr0=1))
    model.unpause_domain(domid)
    assert not model.domain_info(domid).crashed


def test_guest_brings_up_secondary_vcpus_itself(model, tmp_path):
    """The FreeBSD case: vCPU 0 from the toolstack, the rest via VCPUOP_initialise/up."""
    kernel = tmp_path / "k"
    kernel.write_bytes(make_kernel())
    domid = new(model, PVH)
    for vcpu in range(4):
        model.xs_write(f"/local/domain/{domid}/cpu/{vcpu}/availability", "online")
    boot_pvh(model, kernel, domid)
    assert model.domain_info(domid).online_vcpus == 4
    log = model.console(domid)
    assert all(f"VCPUOP_initialise vCPU {v}" in log and f"VCPUOP_up vCPU {v}" in log for v in (1, 2, 3))


def test_hvm_guest_beside_pvh_guests(model, tmp_path):
    kernel = tmp_path / "k"
    kernel.write_bytes(make_kernel())
    pvh = [new(model, PVH) for _ in range(2)]
    hvm = new(model, HVM)
    for domid in pvh:
        boot_pvh(model, kernel, domid)
    assert not any(model.domain_info(d).crashed for d in pvh)
    assert model.domain_info(hvm).hvm


def test_kernel_without_the_entry_for_the_mode_is_refused(model, tmp_path):
    kernel = tmp_path / "k"
    kernel.write_bytes(make_kernel(phys32=False))
    domid = new(model, PVH)
    with pytest.raises(InvalidArgument, match="PHYS32_ENTRY"):
        model.build_image(domid, str(kernel), None, None, "pvh")
    kernel.write_bytes(make_kernel(elf64=False, phys32=False))
    legacy = new(model, LEGACY)
    with pytest.raises(InvalidArgument, match="32bit"):
        model.build_image(legacy, str(kernel), None, None, "legacy-pvh")


def test_guest_answers_shutdown_through_xenstore(model, tmp_path):
    kernel = tmp_path / "k"
    kernel.write_bytes(make_kernel())
    domid = new(model, PVH)
    boot_pvh(model, kernel, domid)
    model.xs_write(f"/local/domain/{domid}/control/shutdown", "reboot")
    info = model.domain_info(domid)
    assert info.shutdown and info.shutdown_reason is ShutdownReason.REBOOT


def test_state_is_shared_between_processes(state_dir):
    new(ModelBackend(state_dir), PVH)
    assert [d.domid for d in ModelBackend(state_dir).list_domains()] == [0, 1]


def test_legacy_pvh_hypercall_table(model):
    from xlpy.backends.base import NotImplementedHypercall

    domid = new(model, LEGACY)
    for allowed in ("memory_op", "vcpu_op", "event_channel_op", "hvm_op", "sched_op"):
        model.guest_hypercall(domid, allowed)
    for refused in ("mmu_update", "set_trap_table", "set_gdt", "update_va_mapping", "multicall", "iret"):
        with pytest.raises(NotImplementedHypercall):
            model.guest_hypercall(domid, refused)
    pv = new(model, CreateFlags(max_vcpus=1))
    model.guest_hypercall(pv, "mmu_update")  # a PV guest has the full table


def test_legacy_pvh_may_set_only_the_callback_irq_param(model):
    domid = new(model, LEGACY)
    model.guest_set_hvm_param(domid, 0, (2 << 56) | 0xF3)  # HVM_PARAM_CALLBACK_IRQ, vector type
    with pytest.raises(InvalidArgument, match="only HVM_PARAM_CALLBACK_IRQ"):
        model.guest_set_hvm_param(domid, 24, 1)  # HVM_PARAM_NESTEDHVM
    model.guest_set_hvm_param(new(model, PVH), 24, 0)


def test_legacy_pvh_cpuid_is_pv_style_without_the_forced_prefix(model):
    domid = new(model, LEGACY)
    assert model.guest_cpuid(domid, 0x40000000) == "pv"
    with pytest.raises(InvalidArgument, match="#UD"):
        model.guest_cpuid(domid, 0x40000000, forced_emulation_prefix=True)
    assert model.guest_cpuid(new(model, PVH), 0) == "hvm"


def test_legacy_pvh_port_io_needs_an_ioports_grant(model):
    from xlpy.backends.base import PermissionDenied

    domid = new(model, LEGACY)
    with pytest.raises(PermissionDenied):
        model.guest_port_io(domid, 0x3F8)
    model.ioport_permission(domid, 0x3F8, 8, True)
    model.guest_port_io(domid, 0x3FD)
    with pytest.raises(PermissionDenied):
        model.guest_port_io(domid, 0x2F8)


def test_legacy_pvh_tsc_is_forced_to_native(model):
    new(model, LEGACY)
    assert "tsc_mode forced to native" in model.read_log()
