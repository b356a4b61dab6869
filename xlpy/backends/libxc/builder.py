"""Loading a guest kernel with libxenguest's domain builder (xc_dom_*).

The sequence is libxl's (libxl__build_pv, libxl__build_hvm, libxl__build_dom):
the builder reads and decompresses the image, populates guest memory, loads
kernel and ramdisk, writes start_info (PV) or hvm_start_info (PVH), sets the
HVM parameters and vCPU 0's context, and seeds the grant table for the
console and xenstore rings. An HVM container without a device model is PVH:
its MMIO hole is only as big as the LAPIC, ACPI area and special pages need.
With a device model (HVM) the image is the firmware, hvmloader, given the
system BIOS as a module; the hole is libxl's 256 MiB, RAM starts at 1 MiB
with the VGA hole left out, and hvmloader builds the guest's ACPI tables.
"""

from __future__ import annotations

import ctypes as C
from dataclasses import dataclass

from xlpy.backends.base import PAGE_SIZE, BackendError, HvmBuild, InvalidArgument, NoMemory
from xlpy.backends.firmware import extra_modules
from xlpy.backends.libxc import structs as S
from xlpy.domain.acpi import AcpiImage, pvh_tables
from xlpy.domain.layout import HVM_LOW_MEM_START, GiB, mmio_start, ram_bytes


@dataclass(frozen=True)
class Built:
    """What the toolstack needs from the builder afterwards."""

    console_mfn: int
    console_port: int
    store_mfn: int
    store_port: int
    start_info: int  # guest address of start_info (PV, virtual) or hvm_start_info (PVH, physical)
    memory_map: tuple  # the map the guest was given, ACPI entries included


VGA_HOLE_PAGES = 0x20  # 0xA0000-0xBFFFF stays unpopulated: QEMU's VGA window (LIBXL_VGA_HOLE_SIZE)
E820_TYPES = {"ram": S.E820_RAM, "reserved": S.E820_RESERVED, "acpi": S.E820_ACPI}


def e820_table(regions) -> C.Array:
    return (S.E820Entry * len(regions))(*[S.E820Entry(start, length, E820_TYPES[kind])
                                          for start, length, kind in regions])


def with_acpi(regions, image: AcpiImage) -> list:
    """The map plus the ACPI tables' pages, placed as libxl orders them (before high RAM)."""
    acpi = [(address & ~(PAGE_SIZE - 1), len(data) + (address & (PAGE_SIZE - 1)), "acpi")
            for address, data in image.modules()]
    low = [r for r in regions if r[0] < 4 * GiB]
    return low + acpi + [r for r in regions if r[0] >= 4 * GiB]


def _load_acpi(dom, image: AcpiImage) -> list:
    """Hand the tables to the builder as ACPI modules; module 0 must be the
    RSDP (it becomes hvm_start_info.rsdp_paddr). Returns the buffers, which
    must outlive the build."""
    buffers = []
    for index, (address, data) in enumerate(image.modules()):
        buffer = C.create_string_buffer(data, len(data))
        module = dom.acpi_modules[index]
        module.data, module.length, module.guest_addr_out = C.cast(buffer, C.c_void_p).value, len(data), address
        buffers.append(buffer)
    return buffers


def build(backend, domid: int, kernel: str, ramdisk: str | None, cmdline: str | None, hvm_container: bool,
          pages: int, regions, max_vcpus: int, system_firmware: bytes | None = None,
          hvm: HvmBuild | None = None, claim: bool = False) -> Built:
    """`system_firmware` (the BIOS hvmloader hands over to) makes this an HVM
    guest with a device model; `kernel` is then hvmloader itself, and `hvm`
    says what else it loads and what its hvm_info table says. `pages` are
    populated at once; the rest of the RAM `regions` lay out is populated
    on demand (PoD), as libxenguest does when its target is below the total.
    With `claim` the builder claims the guest's pages before it populates
    them and drops what is left of the claim once done, as libxl asks it to
    for every guest type when claim_mode is on."""
    device_model = system_firmware is not None
    hvm = hvm or HvmBuild()
    lib, xch = backend.lib, backend.xch
    store_domid = int(backend.xs_read("/tool/xenstored/domid") or 0)
    console_domid = int(backend.xs_read("/tool/xenconsoled/domid") or 0)
    store_port = backend._check("xc_evtchn_alloc_unbound", lib.xc_evtchn_alloc_unbound(xch, domid, store_domid))
    console_port = backend._check("xc_evtchn_alloc_unbound", lib.xc_evtchn_alloc_unbound(xch, domid, console_domid))

    handle = lib.xc_dom_allocate(xch, cmdline.encode() if cmdline else None, None)
    if not handle:
        raise NoMemory("xc_dom_allocate: out of memory", "xc_dom_allocate")
    dom = C.cast(handle, C.POINTER(S.XcDomImage)).contents

    def step(call: str, rc: int) -> None:
        # libxenguest reports through xc_get_last_error; its errno may be stale.
        if rc != 0:
            detail = backend.last_error()
            raise BackendError(f"{call} failed{': ' + detail if detail else ''}", call)

    try:
        dom.container_type = S.XC_DOM_HVM_CONTAINER if hvm_container else S.XC_DOM_PV_CONTAINER
        step("xc_dom_kernel_file", lib.xc_dom_kernel_file(handle, kernel.encode()))
        modules = []  # the buffers xc_dom_build_image reads

        def module(target, data: bytes) -> None:
            buffer = C.create_string_buffer(data, len(data))
            target.data, target.length = C.cast(buffer, C.c_void_p).value, len(data)
            modules.append(buffer)

        if device_model:  # libxl__domain_firmware
            module(dom.system_firmware_module, system_firmware)
            acpi_tables, smbios_tables = extra_modules(hvm)
            if acpi_tables:
                module(dom.acpi_modules[0], acpi_tables)
            if smbios_tables:
                module(dom.smbios_module, smbios_tables)
        if ramdisk:
            step("xc_dom_module_file", lib.xc_dom_module_file(handle, ramdisk.encode(), None))
        dom.flags = 0
        dom.claim_enabled = int(claim)
        dom.console_evtchn, dom.console_domid = console_port, console_domid
        dom.xenstore_evtchn, dom.xenstore_domid = store_port, store_domid
        dom.max_vcpus = max_vcpus
        if hvm_container:
            _set_hvm_layout(dom, pages, regions, device_model)
        step("xc_dom_boot_xen_init", lib.xc_dom_boot_xen_init(handle, xch, domid))
        step("xc_dom_parse_image", lib.xc_dom_parse_image(handle))
        # The whole RAM the map lays out (HVM's starts at 1 MiB, but the
        # builder counts the first megabyte too); what is not among the
        # `pages` populated now is populated on demand.
        memory_bytes = ram_bytes(regions) + (HVM_LOW_MEM_START if device_model else 0) if hvm_container \
            else pages * PAGE_SIZE
        step("xc_dom_mem_init", lib.xc_dom_mem_init(handle, memory_bytes >> 20))
        step("xc_dom_boot_mem_init", lib.xc_dom_boot_mem_init(handle))
        if hvm_container:  # libxl: PVH's ACPI tables, then the map goes to Xen and into hvm_start_info
            if not device_model:
                acpi = pvh_tables(max_vcpus)
                keep_alive = _load_acpi(dom, acpi)  # noqa: F841 - read by xc_dom_build_image
                regions = with_acpi(regions, acpi)
            table = e820_table(regions)
            backend._check("xc_domain_set_memory_map", lib.xc_domain_set_memory_map(xch, domid, table, len(regions)))
            dom.e820, dom.e820_entries = C.cast(table, C.POINTER(S.E820Entry)), len(regions)
        step("xc_dom_build_image", lib.xc_dom_build_image(handle))
        step("xc_dom_boot_image", lib.xc_dom_boot_image(handle))
        step("xc_dom_gnttab_init", lib.xc_dom_gnttab_init(handle))
        if device_model:
            _announce_vcpus(backend, domid, max_vcpus, hvm.online_vcpus, hvm.apic)
            _announce_modules(backend, domid, dom)
        if hvm_container:  # translated: guest frames are what the rings are known by
            console_mfn, store_mfn = dom.console_pfn, dom.xenstore_pfn
            start_info = dom.start_info_seg.pfn * PAGE_SIZE
        else:
            p2m = C.cast(dom.pv_p2m, C.POINTER(C.c_uint64))
            console_mfn, store_mfn = p2m[dom.console_pfn], p2m[dom.xenstore_pfn]
            start_info = dom.start_info_seg.vstart
        return Built(console_mfn, console_port, store_mfn, store_port, start_info, tuple(map(tuple, regions)))
    finally:
        lib.xc_dom_release(handle)


def _announce_vcpus(backend, domid: int, max_vcpus: int, online, apic: bool) -> None:
    """libxl's hvm_build_set_params: the builder's hvm_info_table names one
    vCPU; hvmloader builds the MADT from it, so it is told all of them and
    which start online (the others are there to hotplug), and whether the
    guest has an IO-APIC."""
    lib = backend.lib
    page = lib.xc_map_foreign_range(backend.xch, domid, PAGE_SIZE, PROT_READ | PROT_WRITE, S.HVM_INFO_PFN)
    if not page:
        raise BackendError(f"cannot map d{domid}'s hvm_info page", "xc_map_foreign_range", C.get_errno())
    try:
        table = S.HvmInfoTable.from_address(page + S.HVM_INFO_OFFSET)
        table.apic_mode = int(apic)
        table.nr_vcpus = max_vcpus
        bitmap = [0] * len(table.vcpu_online)
        for vcpu in online:
            bitmap[vcpu // 8] |= 1 << (vcpu % 8)
        table.vcpu_online[:] = bitmap
        table.checksum = 0
        raw = C.string_at(C.addressof(table), table.length)
        table.checksum = -sum(raw) & 0xFF
    finally:
        lib.munmap(C.c_void_p(page), PAGE_SIZE)


PROT_READ, PROT_WRITE = 1, 2


def _announce_modules(backend, domid: int, dom) -> None:
    """libxl's hvm_build_set_xs_values: where the builder put the SMBIOS and
    ACPI modules, for hvmloader to find them."""
    home = f"/local/domain/{domid}/hvmloader"
    for name, module in (("smbios", dom.smbios_module), ("acpi", dom.acpi_modules[0])):
        if module.guest_addr_out:
            backend.xs_write(f"{home}/{name}/address", f"{module.guest_addr_out:#x}")
            backend.xs_write(f"{home}/{name}/length", f"{module.length:#x}")


def _set_hvm_layout(dom, pages: int, regions, device_model: bool) -> None:
    """libxl__build_hvm's fields, read off the toolstack's memory map."""
    ram = [(start, start + length) for start, length, kind in regions if kind == "ram"]
    if not ram:
        raise InvalidArgument("the memory map has no RAM", "xc_dom_boot_mem_init")
    low = [end for start, end in ram if end <= 4 * GiB]
    high = [end for start, end in ram if start >= 4 * GiB]
    dom.target_pages = pages
    dom.lowmem_end = max(low) if low else 0
    dom.highmem_end = max(high) if high else 0
    dom.mmio_start = mmio_start(device_model)
    dom.mmio_size = 4 * GiB - dom.mmio_start
    dom.vga_hole_size = VGA_HOLE_PAGES if device_model else 0
    dom.device_model = device_model
