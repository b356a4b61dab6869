"""ctypes layouts of the Xen 4.17 structures the shim passes to libxenctrl,
byte for byte as /usr/include/xen (x86_64) lays them out; a test compiles a
program against the real headers and compares every size and offset."""

from __future__ import annotations

import ctypes as C

XEN_DOMCTL_CDF_hvm = 1 << 0
XEN_DOMCTL_CDF_hap = 1 << 1
XEN_DOMCTL_CDF_oos_off = 1 << 3
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


class XcError(C.Structure):  # xc_error
    _fields_ = [("code", C.c_int), ("message", C.c_char * 1024)]


class E820Entry(C.Structure):  # struct e820entry (packed)
    _pack_ = 1
    _fields_ = [("addr", C.c_uint64), ("size", C.c_uint64), ("type", C.c_uint32)]


#: What the layout test checks: ctypes class -> (C type, {ctypes field: C member}).
LAYOUTS = {
    CreateDomain: ("struct xen_domctl_createdomain", {f[0]: f[0] for f in CreateDomain._fields_}),
    DomainInfo: ("xc_domaininfo_t", {f[0]: f[0] for f in DomainInfo._fields_ if not f[0].startswith("pad")}),
    VcpuInfo: ("xc_vcpuinfo_t", {f[0]: f[0] for f in VcpuInfo._fields_}),
    PhysInfo: ("xc_physinfo_t", {f[0]: f[0] for f in PhysInfo._fields_ if f[0] != "pad"}),
    CpuUserRegs: ("struct cpu_user_regs", {f[0]: f[0] for f in CpuUserRegs._fields_ if not f[0].startswith("_")}),
    VcpuGuestContext: ("vcpu_guest_context_t", {f[0]: f[0] for f in VcpuGuestContext._fields_}),
    XcError: ("xc_error", {"code": "code", "message": "message"}),
    E820Entry: ("struct e820entry", {f[0]: f[0] for f in E820Entry._fields_}),
}
