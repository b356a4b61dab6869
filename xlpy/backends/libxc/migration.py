"""A real domain's memory and CPU state to a stream and back, through
libxenguest's xc_domain_save and xc_domain_restore (libxc's migration
stream v2), as libxl's save helper drives them for a plain (not live, not
checkpointed) save; and xc_domain_resume for a domain whose save is over
or abandoned.

libxc calls back into the toolstack: on save to suspend the guest (which
only the toolstack knows how to ask), on restore once the static data
(CPUID and MSR policies) has been read. The callbacks are ctypes function
pointers in the structures xenguest.h declares.
"""

from __future__ import annotations

import ctypes as C
import os

from xlpy.backends.base import BackendError

XC_STREAM_PLAIN = 0
XGR_SDD_MISSING_CPUID = 1 << 0

DATA_FN = C.CFUNCTYPE(C.c_int, C.c_void_p)  # int (*)(void *data)
PRECOPY_FN = C.c_void_p  # precopy_policy_t: a live migration's; never set here
LOGDIRTY_FN = C.CFUNCTYPE(C.c_int, C.c_uint32, C.c_uint, C.c_void_p)
STATIC_DATA_DONE_FN = C.CFUNCTYPE(C.c_int, C.c_uint, C.c_void_p)
RESTORE_RESULTS_FN = C.CFUNCTYPE(None, C.c_ulong, C.c_ulong, C.c_void_p)


class SaveCallbacks(C.Structure):  # struct save_callbacks
    _fields_ = [("suspend", DATA_FN), ("precopy_policy", PRECOPY_FN), ("postcopy", DATA_FN),
                ("checkpoint", DATA_FN), ("wait_checkpoint", DATA_FN), ("switch_qemu_logdirty", LOGDIRTY_FN),
                ("data", C.c_void_p)]


class RestoreCallbacks(C.Structure):  # struct restore_callbacks
    _fields_ = [("static_data_done", STATIC_DATA_DONE_FN), ("suspend", DATA_FN), ("postcopy", DATA_FN),
                ("checkpoint", DATA_FN), ("wait_checkpoint", DATA_FN), ("restore_results", RESTORE_RESULTS_FN),
                ("data", C.c_void_p)]


#: For the layout test, as structs.LAYOUTS: ctypes class -> (C type, {field: member}).
LAYOUTS = {
    SaveCallbacks: ("struct save_callbacks", {f[0]: f[0] for f in SaveCallbacks._fields_}),
    RestoreCallbacks: ("struct restore_callbacks", {f[0]: f[0] for f in RestoreCallbacks._fields_}),
}


def _failure(backend, call: str, raised: list) -> BackendError:
    """What a failed libxenguest call says: the callback's own error if one
    raised, else libxc's last error."""
    if raised:
        error = raised[0]
        return error if isinstance(error, BackendError) else BackendError(str(error), call)
    detail = backend.last_error(C.get_errno())
    return BackendError(f"{call} failed{': ' + detail if detail else ''}", call, C.get_errno() or None)


def save(backend, domid: int, fd: int, suspend, logdirty=lambda enable: None) -> None:
    """Write libxc's stream of the domain to `fd`. `suspend()` is called once
    libxc wants the guest suspended and must return when it is (shut down
    with reason suspend); `logdirty(enable)` when libxc switches the device
    model's tracking of the pages it dirties (an HVM guest's, on and off);
    anything either raises fails the save with that error."""
    raised: list = []

    def on_suspend(_data) -> int:
        try:
            suspend()
            return 1  # libxc takes non-zero for success
        except BaseException as e:  # noqa: BLE001 - carried across the C frame and raised below
            raised.append(e)
            return 0

    def on_logdirty(_domid, enable, _data) -> int:
        try:
            logdirty(bool(enable))
            return 0
        except BaseException as e:  # noqa: BLE001 - carried across the C frame and raised below
            raised.append(e)
            return -1

    callbacks = SaveCallbacks(suspend=DATA_FN(on_suspend), switch_qemu_logdirty=LOGDIRTY_FN(on_logdirty))
    rc = backend.lib.xc_domain_save(backend.xch, fd, domid, 0, C.addressof(callbacks), XC_STREAM_PLAIN, -1)
    if rc != 0 or raised:
        raise _failure(backend, "xc_domain_save", raised)


def restore(backend, domid: int, fd: int, missing_cpuid=lambda: None):
    """Read libxc's stream from `fd` into the (empty, paused) domain, with
    new xenstore and console event channels, then publish the rings and
    introduce the domain to xenstored, as libxl__build_post does. Returns
    the builder's record of the rings. `missing_cpuid()` gives the domain a
    CPUID policy when the stream (from an older Xen) carries none."""
    from xlpy.backends.libxc.builder import Built

    lib, xch = backend.lib, backend.xch
    store_domid = int(backend.xs_read("/tool/xenstored/domid") or 0)
    console_domid = int(backend.xs_read("/tool/xenconsoled/domid") or 0)
    store_port = backend._check("xc_evtchn_alloc_unbound", lib.xc_evtchn_alloc_unbound(xch, domid, store_domid))
    console_port = backend._check("xc_evtchn_alloc_unbound", lib.xc_evtchn_alloc_unbound(xch, domid, console_domid))
    raised: list = []

    def on_static_data_done(missing, _data) -> int:
        try:
            if missing & XGR_SDD_MISSING_CPUID:
                missing_cpuid()
            return 0
        except BaseException as e:  # noqa: BLE001 - carried across the C frame and raised below
            raised.append(e)
            return -1

    callbacks = RestoreCallbacks(static_data_done=STATIC_DATA_DONE_FN(on_static_data_done))
    store_mfn, console_mfn = C.c_ulong(0), C.c_ulong(0)
    rc = lib.xc_domain_restore(xch, fd, domid, store_port, C.byref(store_mfn), store_domid, console_port,
                               C.byref(console_mfn), console_domid, XC_STREAM_PLAIN, C.addressof(callbacks), -1)
    if rc != 0 or raised:
        raise _failure(backend, "xc_domain_restore", raised)
    built = Built(console_mfn.value, console_port, store_mfn.value, store_port, 0, ())
    backend._publish_rings(domid, built)
    return built


def resume(backend, domid: int) -> None:
    """libxl__domain_resume with suspend_cancel: the guest returns from its
    suspend hypercall as from a cancelled suspend and carries on where it
    was; xenstored forgets that it had shut down."""
    backend._check("xc_domain_resume", backend.lib.xc_domain_resume(backend.xch, domid, 1))
    if not backend.lib.xs_resume_domain(backend.xsh, domid):
        errno = C.get_errno()
        raise BackendError(f"xs_resume_domain d{domid}: {os.strerror(errno)}", "xs_resume_domain", errno)
