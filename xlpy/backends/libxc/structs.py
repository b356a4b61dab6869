"""ctypes layouts of the Xen 4.17 structures the shim passes to libxenctrl,
byte for byte as /usr/include/xen (x86_64) lays them out; a test compiles a
program against the real headers and compares every size and offset."""

from __future__ import annotations

import ctypes as C

XEN_DOMCTL_CDF_hvm = 1 << 0
XEN_DOMCTL_CDF_hap = 1 << 1
XEN_DOMCTL_CDF_oos_off = 1 << 3
XEN_DOMCTL_CDF_nested_virt = 1 << 6
XEN_DOMCTL_CDF_vpmu = 1 << 7
X86_EMU_LAPIC = 1 << 0
X86_EMU_ALL = 0x3FF

XEN_DOMINF_dying = 1 << 0
XEN_DOMINF_hvm_guest = 1 << 1
XEN_DOMINF_shutdown = 1 << 2
XEN_DOMINF_paused = 1 << 3
XEN_DOMINF_blocked = 1 << 4
XEN_DOMINF_running = 1 << 5
XEN_DOMINF_hap = 1 << 8
XEN_DOMINF_shutdownshift = 16

XENVER_version, XENVER_extraversion, XENVER_compile_info, XENVER_capabilities = 0, 1, 2, 3
XENVER_changeset, XENVER_platform_parameters, XENVER_commandline, XENVER_build_id = 4, 5, 9, 10
SCHEDULERS = {4: "sedf", 5: "credit", 6: "credit2", 7: "arinc653", 8: "rtds", 9: "null"}  # XEN_SCHEDULER_*

XEN_SYSCTL_PHYSCAP_hvm = 1 << 0
XEN_SYSCTL_PHYSCAP_pv = 1 << 1
XEN_SYSCTL_PHYSCAP_hap = 1 << 3
XEN_SYSCTL_PHYSCAP_gnttab_v1 = 1 << 8
XEN_SYSCTL_PHYSCAP_gnttab_v2 = 1 << 9


class ArchDomainConfig(C.Structure):  # struct xen_arch_domainconfig (x86)
    _fields_ = [("emulation_flags", C.c_uint32), ("misc_flags", C.c_uint32)]


class CreateDomain(C.Structure):  # struct xen_domctl_createdomain
    _fields_ = [
        ("ssidref", C.c_uint32),
        ("handle", C.c_uint8 * 16),
        ("flags", C.c_uint32),
        ("iommu_opts", C.c_uint32),
        ("max_vcpus", C.c_uint32),
        ("max_evtchn_port", C.c_uint32),
        ("max_grant_frames", C.c_int32),
        ("max_maptrack_frames", C.c_int32),
        ("grant_opts", C.c_uint32),
        ("vmtrace_size", C.c_uint32),
        ("cpupool_id", C.c_uint32),
        ("arch", ArchDomainConfig),
    ]


class XendCpuid(C.Structure):  # struct xc_xend_cpuid: a leaf's registers as bit strings
    _fields_ = [("leaf", C.c_uint32), ("subleaf", C.c_uint32), ("policy", C.c_char_p * 4)]


class XcMsr(C.Structure):  # struct xc_msr
    _fields_ = [("index", C.c_uint32), ("policy", C.c_char * 65)]


CPUID_INPUT_UNUSED = MSR_INPUT_UNUSED = 0xFFFFFFFF  # what ends each list


class DomainInfo(C.Structure):  # struct xen_domctl_getdomaininfo (xc_domaininfo_t)
    _fields_ = [
        ("domain", C.c_uint16),
        ("pad1", C.c_uint16),
        ("flags", C.c_uint32),
        ("tot_pages", C.c_uint64),
        ("max_pages", C.c_uint64),
        ("outstanding_pages", C.c_uint64),
        ("shr_pages", C.c_uint64),
        ("paged_pages", C.c_uint64),
        ("shared_info_frame", C.c_uint64),
        ("cpu_time", C.c_uint64),
        ("nr_online_vcpus", C.c_uint32),
        ("max_vcpu_id", C.c_uint32),
        ("ssidref", C.c_uint32),
        ("handle", C.c_uint8 * 16),
        ("cpupool", C.c_uint32),
        ("gpaddr_bits", C.c_uint8),
        ("pad2", C.c_uint8 * 7),
        ("arch_config", ArchDomainConfig),
    ]


class VcpuInfo(C.Structure):  # struct xen_domctl_getvcpuinfo (xc_vcpuinfo_t)
    _fields_ = [
        ("vcpu", C.c_uint32),
        ("online", C.c_uint8),
        ("blocked", C.c_uint8),
        ("running", C.c_uint8),
        ("cpu_time", C.c_uint64),
        ("cpu", C.c_uint32),
    ]


class PhysInfo(C.Structure):  # struct xen_sysctl_physinfo (xc_physinfo_t)
    _fields_ = [
        ("threads_per_core", C.c_uint32),
        ("cores_per_socket", C.c_uint32),
        ("nr_cpus", C.c_uint32),
        ("max_cpu_id", C.c_uint32),
        ("nr_nodes", C.c_uint32),
        ("max_node_id", C.c_uint32),
        ("cpu_khz", C.c_uint32),
        ("capabilities", C.c_uint32),
        ("arch_capabilities", C.c_uint32),
        ("pad", C.c_uint32),
        ("total_pages", C.c_uint64),
        ("free_pages", C.c_uint64),
        ("scrub_pages", C.c_uint64),
        ("outstanding_pages", C.c_uint64),
        ("max_mfn", C.c_uint64),
        ("hw_cap", C.c_uint32 * 8),
    ]


class CpuUserRegs(C.Structure):  # struct cpu_user_regs (x86_64)
    _fields_ = [(name, C.c_uint64) for name in
                ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
                 "rax", "rcx", "rdx", "rsi", "rdi")] + [
        ("error_code", C.c_uint32),
        ("entry_vector", C.c_uint32),
        ("rip", C.c_uint64),
        ("cs", C.c_uint16),
        ("_pad0", C.c_uint16 * 1),
        ("saved_upcall_mask", C.c_uint8),
        ("_pad1", C.c_uint8 * 3),
        ("rflags", C.c_uint64),
        ("rsp", C.c_uint64),
        ("ss", C.c_uint16), ("_pad2", C.c_uint16 * 3),
        ("es", C.c_uint16), ("_pad3", C.c_uint16 * 3),
        ("ds", C.c_uint16), ("_pad4", C.c_uint16 * 3),
        ("fs", C.c_uint16), ("_pad5", C.c_uint16 * 3),
        ("gs", C.c_uint16), ("_pad6", C.c_uint16 * 3),
    ]


class TrapInfo(C.Structure):  # struct trap_info (x86_64)
    _fields_ = [("vector", C.c_uint8), ("flags", C.c_uint8), ("cs", C.c_uint16), ("address", C.c_uint64)]


class VcpuGuestContext(C.Structure):  # struct vcpu_guest_context (x86_64)
    _fields_ = [
        ("fpu_ctxt", C.c_uint8 * 512),
        ("flags", C.c_uint64),
        ("user_regs", CpuUserRegs),
        ("trap_ctxt", TrapInfo * 256),
        ("ldt_base", C.c_uint64),
        ("ldt_ents", C.c_uint64),
        ("gdt_frames", C.c_uint64 * 16),
        ("gdt_ents", C.c_uint64),
        ("kernel_ss", C.c_uint64),
        ("kernel_sp", C.c_uint64),
        ("ctrlreg", C.c_uint64 * 8),
        ("debugreg", C.c_uint64 * 8),
        ("event_callback_eip", C.c_uint64),
        ("failsafe_callback_eip", C.c_uint64),
        ("syscall_callback_eip", C.c_uint64),
        ("vm_assist", C.c_uint64),
        ("fs_base", C.c_uint64),
        ("gs_base_kernel", C.c_uint64),
        ("gs_base_user", C.c_uint64),
    ]


class XenCompileInfo(C.Structure):  # xen_compile_info_t
    _fields_ = [("compiler", C.c_char * 64), ("compile_by", C.c_char * 16), ("compile_domain", C.c_char * 32),
                ("compile_date", C.c_char * 32)]


class XcError(C.Structure):  # xc_error
    _fields_ = [("code", C.c_int), ("message", C.c_char * 1024)]


class E820Entry(C.Structure):  # struct e820entry (packed)
    _pack_ = 1
    _fields_ = [("addr", C.c_uint64), ("size", C.c_uint64), ("type", C.c_uint32)]


E820_RAM, E820_RESERVED, E820_ACPI = 1, 2, 3
HVM_SAVE_CODE_CPU = 2  # HVM_SAVE_CODE(CPU)


class HvmHwCpu(C.Structure):  # struct hvm_hw_cpu, up to the control registers
    _fields_ = [("fpu_regs", C.c_uint8 * 512)] + [(name, C.c_uint64) for name in (
        "rax", "rbx", "rcx", "rdx", "rbp", "rsi", "rdi", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
        "r15", "rip", "rflags", "cr0", "cr2", "cr3", "cr4")]


HVM_INFO_PFN, HVM_INFO_OFFSET, HVM_MAX_VCPUS = 0x9F, 0x800, 128


class HvmInfoTable(C.Structure):  # struct hvm_info_table: what hvmloader reads of the guest's CPUs and RAM
    _fields_ = [("signature", C.c_char * 8), ("length", C.c_uint32), ("checksum", C.c_uint8),
                ("apic_mode", C.c_uint8), ("nr_vcpus", C.c_uint32), ("low_mem_pgend", C.c_uint32),
                ("reserved_mem_pgstart", C.c_uint32), ("high_mem_pgend", C.c_uint32),
                ("vcpu_online", C.c_uint8 * ((HVM_MAX_VCPUS + 7) // 8))]


class VcpuHvmX86_32(C.Structure):  # struct vcpu_hvm_x86_32
    _fields_ = [(name, C.c_uint32) for name in (
        "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags", "cr0", "cr3", "cr4", "pad1")] + [
        ("efer", C.c_uint64)] + [(name, C.c_uint32) for name in (
            "cs_base", "ds_base", "ss_base", "es_base", "tr_base", "cs_limit", "ds_limit", "ss_limit", "es_limit",
            "tr_limit")] + [(name, C.c_uint16) for name in ("cs_ar", "ds_ar", "ss_ar", "es_ar", "tr_ar")] + [
        ("pad2", C.c_uint16 * 3)]


class VcpuHvmX86_64(C.Structure):  # struct vcpu_hvm_x86_64
    _fields_ = [(name, C.c_uint64) for name in (
        "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "rip", "rflags", "cr0", "cr3", "cr4", "efer")]


class VcpuHvmRegs(C.Union):
    _fields_ = [("x86_32", VcpuHvmX86_32), ("x86_64", VcpuHvmX86_64)]


class VcpuHvmContext(C.Structure):  # vcpu_hvm_context_t: a PVH or HVM vCPU's first state
    _fields_ = [("mode", C.c_uint32), ("pad", C.c_uint32), ("cpu_regs", VcpuHvmRegs)]


VCPU_HVM_MODE_32B, VCPU_HVM_MODE_64B = 0, 1


class XsPermissions(C.Structure):  # struct xs_permissions
    _fields_ = [("id", C.c_uint), ("perms", C.c_int)]


XS_PERM_NONE, XS_PERM_READ = 0, 1


# libxenguest's domain builder state (xenguest.h, x86_64). The builder
# allocates it; the shim only sets the inputs libxl sets and reads results.
class XcDomSeg(C.Structure):  # struct xc_dom_seg
    _fields_ = [("vstart", C.c_uint64), ("vend", C.c_uint64), ("pfn", C.c_uint64), ("pages", C.c_uint64)]


class XcDomModule(C.Structure):  # struct xc_dom_module
    _fields_ = [("blob", C.c_void_p), ("size", C.c_size_t), ("cmdline", C.c_void_p), ("seg", XcDomSeg)]


class XcHvmFirmwareModule(C.Structure):  # struct xc_hvm_firmware_module
    _fields_ = [("data", C.c_void_p), ("length", C.c_uint32), ("guest_addr_out", C.c_uint64)]


XC_DOM_PV_CONTAINER, XC_DOM_HVM_CONTAINER = 0, 1
XG_MAX_MODULES = 2
MAX_ACPI_MODULES = 4


class XcDomImage(C.Structure):  # struct xc_dom_image
    _fields_ = [
        ("kernel_blob", C.c_void_p), ("kernel_size", C.c_size_t),
        ("num_modules", C.c_uint), ("modules", XcDomModule * XG_MAX_MODULES),
        ("devicetree_blob", C.c_void_p), ("devicetree_size", C.c_size_t),
        ("max_kernel_size", C.c_size_t), ("max_module_size", C.c_size_t), ("max_devicetree_size", C.c_size_t),
        ("cmdline", C.c_char_p), ("cmdline_size", C.c_size_t), ("f_requested", C.c_uint32 * 1),
        ("parms", C.c_void_p), ("guest_type", C.c_char_p),
        ("kernel_seg", XcDomSeg), ("p2m_seg", XcDomSeg), ("pgtables_seg", XcDomSeg),
        ("devicetree_seg", XcDomSeg), ("start_info_seg", XcDomSeg),
        ("start_info_pfn", C.c_uint64), ("console_pfn", C.c_uint64), ("xenstore_pfn", C.c_uint64),
        ("shared_info_pfn", C.c_uint64), ("bootstack_pfn", C.c_uint64), ("pfn_alloc_end", C.c_uint64),
        ("virt_alloc_end", C.c_uint64), ("bsd_symtab_start", C.c_uint64),
        ("initrd_start", C.c_uint64), ("initrd_len", C.c_uint64),
        ("alloc_bootstack", C.c_uint), ("virt_pgtab_end", C.c_uint64), ("f_active", C.c_uint32 * 1),
        ("pv_p2m", C.c_void_p), ("p2m_size", C.c_uint64),
        ("rambase_pfn", C.c_uint64), ("total_pages", C.c_uint64), ("phys_pages", C.c_void_p),
        ("memblocks", C.c_void_p),
        ("alloc_malloc", C.c_size_t), ("alloc_mem_map", C.c_size_t), ("alloc_file_map", C.c_size_t),
        ("alloc_domU_map", C.c_size_t),
        ("flags", C.c_ulong), ("console_evtchn", C.c_uint), ("xenstore_evtchn", C.c_uint),
        ("console_domid", C.c_uint32), ("xenstore_domid", C.c_uint32), ("shared_info_mfn", C.c_uint64),
        ("xch", C.c_void_p), ("guest_domid", C.c_uint32), ("claim_enabled", C.c_int),
        ("xen_version", C.c_int), ("xen_caps", C.c_char * 1024),
        ("kernel_loader", C.c_void_p), ("private_loader", C.c_void_p),
        ("vmemranges", C.c_void_p), ("nr_vmemranges", C.c_uint), ("vnode_to_pnode", C.c_void_p),
        ("nr_vnodes", C.c_uint),
        ("arch_private", C.c_void_p), ("arch_hooks", C.c_void_p), ("allocate", C.c_void_p),
        ("container_type", C.c_int),
        ("target_pages", C.c_uint64), ("mmio_start", C.c_uint64), ("mmio_size", C.c_uint64),
        ("lowmem_end", C.c_uint64), ("highmem_end", C.c_uint64), ("vga_hole_size", C.c_uint64),
        ("device_model", C.c_bool),
        ("system_firmware_module", XcHvmFirmwareModule),
        ("acpi_modules", XcHvmFirmwareModule * MAX_ACPI_MODULES),
        ("smbios_module", XcHvmFirmwareModule),
        ("e820", C.POINTER(E820Entry)), ("e820_entries", C.c_uint),
        ("vuart_gfn", C.c_uint64),
        ("max_vcpus", C.c_uint),
    ]


#: What the layout test checks: ctypes class -> (C type, {ctypes field: C member}).
LAYOUTS = {
    CreateDomain: ("struct xen_domctl_createdomain", {f[0]: f[0] for f in CreateDomain._fields_}),
    DomainInfo: ("xc_domaininfo_t", {f[0]: f[0] for f in DomainInfo._fields_ if not f[0].startswith("pad")}),
    XendCpuid: ("struct xc_xend_cpuid", {f[0]: f[0] for f in XendCpuid._fields_}),
    XcMsr: ("struct xc_msr", {f[0]: f[0] for f in XcMsr._fields_}),
    VcpuInfo: ("xc_vcpuinfo_t", {f[0]: f[0] for f in VcpuInfo._fields_}),
    PhysInfo: ("xc_physinfo_t", {f[0]: f[0] for f in PhysInfo._fields_ if f[0] != "pad"}),
    CpuUserRegs: ("struct cpu_user_regs", {f[0]: f[0] for f in CpuUserRegs._fields_ if not f[0].startswith("_")}),
    VcpuGuestContext: ("vcpu_guest_context_t", {f[0]: f[0] for f in VcpuGuestContext._fields_}),
    XcError: ("xc_error", {"code": "code", "message": "message"}),
    XenCompileInfo: ("xen_compile_info_t", {f[0]: f[0] for f in XenCompileInfo._fields_}),
    E820Entry: ("struct e820entry", {f[0]: f[0] for f in E820Entry._fields_}),
    HvmHwCpu: ("struct hvm_hw_cpu", {f[0]: f[0] for f in HvmHwCpu._fields_}),
    XsPermissions: ("struct xs_permissions", {"id": "id", "perms": "perms"}),
    HvmInfoTable: ("struct hvm_info_table", {f[0]: f[0] for f in HvmInfoTable._fields_}),
    VcpuHvmX86_32: ("struct vcpu_hvm_x86_32", {f[0]: f[0] for f in VcpuHvmX86_32._fields_}),
    VcpuHvmX86_64: ("struct vcpu_hvm_x86_64", {f[0]: f[0] for f in VcpuHvmX86_64._fields_}),
    VcpuHvmContext: ("vcpu_hvm_context_t", {f[0]: f[0] for f in VcpuHvmContext._fields_}),
    XcDomSeg: ("struct xc_dom_seg", {f[0]: f[0] for f in XcDomSeg._fields_}),
    XcDomModule: ("struct xc_dom_module", {f[0]: f[0] for f in XcDomModule._fields_}),
    XcHvmFirmwareModule: ("struct xc_hvm_firmware_module", {f[0]: f[0] for f in XcHvmFirmwareModule._fields_}),
    XcDomImage: ("struct xc_dom_image", {f[0]: f[0] for f in XcDomImage._fields_}),
}

#: Sizes the test checks without an offset table: only a prefix is mirrored.
PREFIXES = {HvmHwCpu}
