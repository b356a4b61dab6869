"""Loading Xen's libraries by soname and binding only what the shim uses.

The libxenctrl soname carries the Xen release (libxenctrl.so.4.17): its
structures are only stable within a release, so the shim speaks exactly the
release whose layouts it defines and refuses others with a clear sentence.
"""

from __future__ import annotations

import ctypes as C

from xlpy.backends.base import NotAvailable
from xlpy.backends.libxc import structs as S

SUPPORTED_RELEASE = "4.17"
P = C.c_void_p

#: name -> (restype, argtypes), per library.
BINDINGS = {
    "xenctrl": {
        "xc_interface_open": (P, [P, P, C.c_uint]),
        "xc_interface_close": (C.c_int, [P]),
        "xc_version": (C.c_int, [P, C.c_int, P]),
        "xc_physinfo": (C.c_int, [P, C.POINTER(S.PhysInfo)]),
        "xc_domain_create": (C.c_int, [P, C.POINTER(C.c_uint32), C.POINTER(S.CreateDomain)]),
        "xc_domain_destroy": (C.c_int, [P, C.c_uint32]),
        "xc_domain_pause": (C.c_int, [P, C.c_uint32]),
        "xc_domain_unpause": (C.c_int, [P, C.c_uint32]),
        "xc_domain_shutdown": (C.c_int, [P, C.c_uint32, C.c_int]),
        "xc_domain_max_vcpus": (C.c_int, [P, C.c_uint32, C.c_uint]),
        "xc_domain_setmaxmem": (C.c_int, [P, C.c_uint32, C.c_uint64]),
        "xc_domain_set_pod_target": (C.c_int, [P, C.c_uint32, C.c_uint64, P, P, P]),
        "xc_domain_set_memory_map": (C.c_int, [P, C.c_uint32, C.POINTER(S.E820Entry), C.c_uint32]),
        "xc_domain_populate_physmap_exact": (C.c_int, [P, C.c_uint32, C.c_ulong, C.c_uint, C.c_uint,
                                                        C.POINTER(C.c_uint64)]),
        "xc_domain_getinfolist": (C.c_int, [P, C.c_uint32, C.c_uint, C.POINTER(S.DomainInfo)]),
        "xc_vcpu_getinfo": (C.c_int, [P, C.c_uint32, C.c_uint32, C.POINTER(S.VcpuInfo)]),
        "xc_vcpu_setcontext": (C.c_int, [P, C.c_uint32, C.c_uint32, P]),
        "xc_vcpu_setaffinity": (C.c_int, [P, C.c_uint32, C.c_int, P, P, C.c_uint32]),
        "xc_get_cpumap_size": (C.c_int, [P]),
        "xc_sched_id": (C.c_int, [P, C.POINTER(C.c_int)]),
        "xc_sched_credit_domain_get": (C.c_int, [P, C.c_uint32, P]),
        "xc_sched_credit_domain_set": (C.c_int, [P, C.c_uint32, P]),
        "xc_sched_credit2_domain_get": (C.c_int, [P, C.c_uint32, P]),
        "xc_sched_credit2_domain_set": (C.c_int, [P, C.c_uint32, P]),
        "xc_readconsolering": (C.c_int, [P, C.c_char_p, C.POINTER(C.c_uint), C.c_int, C.c_int,
                                         C.POINTER(C.c_uint32)]),
        "xc_get_last_error": (C.POINTER(S.XcError), [P]),
        "xc_domain_hvm_setcontext": (C.c_int, [P, C.c_uint32, P, C.c_uint32]),
        "xc_hvm_param_set": (C.c_int, [P, C.c_uint32, C.c_uint32, C.c_uint64]),
        "xc_hvm_param_get": (C.c_int, [P, C.c_uint32, C.c_uint32, C.POINTER(C.c_uint64)]),
        "xc_domain_set_tsc_info": (C.c_int, [P, C.c_uint32, C.c_uint32, C.c_uint64, C.c_uint32, C.c_uint32]),
        "xc_domain_set_time_offset": (C.c_int, [P, C.c_uint32, C.c_int32]),
        "xc_vcpu_getcontext": (C.c_int, [P, C.c_uint32, C.c_uint32, C.POINTER(S.VcpuGuestContext)]),
        "xc_domain_hvm_getcontext_partial": (C.c_int, [P, C.c_uint32, C.c_uint16, C.c_uint16, P, C.c_uint32]),
        "xc_evtchn_alloc_unbound": (C.c_int, [P, C.c_uint32, C.c_uint32]),
        "xc_domain_ioport_permission": (C.c_int, [P, C.c_uint32, C.c_uint32, C.c_uint32, C.c_uint32]),
        "xc_map_foreign_range": (P, [P, C.c_uint32, C.c_int, C.c_int, C.c_ulong]),
        "xc_set_paging_mempool_size": (C.c_int, [P, C.c_uint32, C.c_uint64]),
    },
    "c": {
        "munmap": (C.c_int, [P, C.c_size_t]),
    },
    "xenstore": {
        "xs_open": (P, [C.c_ulong]),
        "xs_close": (None, [P]),
        "xs_read": (P, [P, C.c_uint32, C.c_char_p, C.POINTER(C.c_uint)]),
        "xs_write": (C.c_bool, [P, C.c_uint32, C.c_char_p, C.c_char_p, C.c_uint]),
        "xs_rm": (C.c_bool, [P, C.c_uint32, C.c_char_p]),
        "xs_directory": (P, [P, C.c_uint32, C.c_char_p, C.POINTER(C.c_uint)]),
        "xs_transaction_start": (C.c_uint32, [P]),
        "xs_transaction_end": (C.c_bool, [P, C.c_uint32, C.c_bool]),
        "xs_set_permissions": (C.c_bool, [P, C.c_uint32, C.c_char_p, C.POINTER(S.XsPermissions), C.c_uint]),
        "xs_introduce_domain": (C.c_bool, [P, C.c_uint, C.c_ulong, C.c_uint]),
        "xs_resume_domain": (C.c_bool, [P, C.c_uint]),
    },
    "xenguest": {
        "xc_domain_dumpcore": (C.c_int, [P, C.c_uint32, C.c_char_p]),
        "xc_cpuid_apply_policy": (C.c_int, [P, C.c_uint32, C.c_bool, P, C.c_uint, C.c_bool, C.c_bool, C.c_bool,
                                            C.POINTER(S.XendCpuid), C.POINTER(S.XcMsr)]),
        "xc_dom_allocate": (P, [P, C.c_char_p, C.c_char_p]),
        "xc_dom_release": (None, [P]),
        "xc_dom_kernel_file": (C.c_int, [P, C.c_char_p]),
        "xc_dom_module_file": (C.c_int, [P, C.c_char_p, C.c_char_p]),
        "xc_dom_boot_xen_init": (C.c_int, [P, P, C.c_uint32]),
        "xc_dom_parse_image": (C.c_int, [P]),
        "xc_dom_mem_init": (C.c_int, [P, C.c_uint]),
        "xc_dom_boot_mem_init": (C.c_int, [P]),
        "xc_dom_build_image": (C.c_int, [P]),
        "xc_dom_boot_image": (C.c_int, [P]),
        "xc_dom_gnttab_init": (C.c_int, [P]),
        # Save and restore (xlpy.backends.libxc.migration); the callbacks go by address.
        "xc_domain_save": (C.c_int, [P, C.c_int, C.c_uint32, C.c_uint32, P, C.c_int, C.c_int]),
        "xc_domain_restore": (C.c_int, [P, C.c_int, C.c_uint32, C.c_uint, C.POINTER(C.c_ulong), C.c_uint32,
                                        C.c_uint, C.POINTER(C.c_ulong), C.c_uint32, C.c_int, P, C.c_int]),
        "xc_domain_resume": (C.c_int, [P, C.c_uint32, C.c_int]),
    },
    "xentoollog": {
        "xtl_createlogger_stdiostream": (P, [P, C.c_int, C.c_uint]),
        "xtl_logger_destroy": (None, [P]),
    },
}
SONAMES = {"xenctrl": f"libxenctrl.so.{SUPPORTED_RELEASE}", "xenguest": f"libxenguest.so.{SUPPORTED_RELEASE}",
           "xenstore": "libxenstore.so.4", "xentoollog": "libxentoollog.so.1", "c": "libc.so.6"}


def why_no_xenctrl() -> str:
    """Why the supported release's libxenctrl does not load: not installed,
    or another release is. Asked only then: the search runs ldconfig."""
    import ctypes.util

    found = ctypes.util.find_library("xenctrl")
    if found is None:
        return "libxenctrl is not installed (on Debian: apt-get install libxenmisc4.17)"
    return f"found {found}, but the libxc backend speaks Xen {SUPPORTED_RELEASE}'s interface only"


class Libraries:
    """The loaded libraries, each function bound with its C signature."""

    def __init__(self) -> None:
        self.libs = {}
        for name, soname in SONAMES.items():
            try:
                self.libs[name] = C.CDLL(soname, use_errno=True)
            except OSError as e:
                raise NotAvailable(why_no_xenctrl() if name == "xenctrl" else f"cannot load {soname}: {e}") from None
        for lib, functions in BINDINGS.items():
            for fname, (restype, argtypes) in functions.items():
                function = getattr(self.libs[lib], fname)
                function.restype, function.argtypes = restype, argtypes
                setattr(self, fname, function)
