"""A domain's config as libxl_retrieve_domain_configuration returns it
(Xen 4.17): the stored config brought up to date from the running domain.
It is what `xl list -l` prints and what `xl save` stores.

Over the stored config libxl sets the name and UUID the domain has now, the
vCPUs whose xenstore availability is "online", the memory target (xenstore's
plus the video memory, plus LIBXL_MAXMEM_CONSTANT for an HVM guest whose
maximum exceeds its target) and static maximum, the scheduler parameters Xen
reports, and drops devices that are no longer in xenstore.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xlpy.toolstack import MAXMEM_SLACK_KB, Toolstack

if TYPE_CHECKING:
    from xlpy.backends.base import DomainInfo
    from xlpy.domain.config import DomainConfig, SchedParams

#: The schedulers whose domain parameters libxl reads as weight and cap.
WEIGHT_CAP_SCHEDULERS = ("credit", "credit2")


def retrieve_config(toolstack: Toolstack, domid: int, info: DomainInfo | None = None,
                    scheduler: str | None = None) -> DomainConfig | None:
    """The retrieved config, or None without a stored one. `info` and the
    host's `scheduler` may be passed by a caller that already has them."""
    from xlpy.domain.config import DomainType
    from xlpy.domain.vdev import vdev_number

    dc = toolstack.stored_config(domid)
    if dc is None:
        return None
    info = info or toolstack.info(domid)
    backend, b = toolstack.backend, dc.b_info
    dc.c_info.name = info.name
    dc.c_info.uuid = None if info.uuid.strip("0-") == "" else info.uuid  # a nil UUID is not printed
    b.avail_vcpus = {v for v in range(b.max_vcpus)
                     if backend.xs_read(f"/local/domain/{domid}/cpu/{v}/availability") == "online"}
    target = backend.xs_read(f"/local/domain/{domid}/memory/target")
    static_max = backend.xs_read(f"/local/domain/{domid}/memory/static-max")
    if domid == 0 and (target is None or static_max is None):
        target, static_max = fill_dom0_memory(toolstack, info, target, static_max)
    if target is not None and static_max is not None:
        hvm_fudge = (MAXMEM_SLACK_KB if b.type is DomainType.HVM and (b.max_memkb or 0) > (b.target_memkb or 0)
                     else 0)
        # libxl adds the video memory as stored; a config that never had it
        # (Domain-0's stub) holds LIBXL_MEMKB_DEFAULT, -1 in this sum.
        video = -1 if b.video_memkb is None else b.video_memkb
        b.target_memkb = int(target) + video + hvm_fudge
        b.max_memkb = int(static_max)
    vbds = set(backend.xs_list(f"/local/domain/{domid}/device/vbd"))
    vifs = set(backend.xs_list(f"/local/domain/{domid}/device/vif"))
    dc.disks = [d for d in dc.disks if str(vdev_number(d.vdev or "")) in vbds]
    dc.nics = [n for n in dc.nics if str(n.devid) in vifs]
    for nic in dc.nics:  # the MAC the device has (libxl chose it when the config had none)
        nic.mac = backend.xs_read(f"/local/domain/0/backend/vif/{domid}/{nic.devid}/mac") or nic.mac
    b.sched_params = sched_params(toolstack, domid, scheduler)
    return dc


def fill_dom0_memory(toolstack: Toolstack, info: DomainInfo, target: str | None,
                      static_max: str | None) -> tuple[str, str]:
    """libxl__fill_dom0_memory_info: Domain-0's missing memory nodes, from
    what Xen reports, written to xenstore for whoever reads them next."""
    from xlpy.backends.base import PAGE_SIZE

    if target is None:
        target = str(info.tot_pages * PAGE_SIZE // 1024)
        toolstack.backend.xs_write("/local/domain/0/memory/target", target)
    if static_max is None:
        static_max = str(info.max_pages * PAGE_SIZE // 1024)
        toolstack.backend.xs_write("/local/domain/0/memory/static-max", static_max)
    return target, static_max


def sched_params(toolstack: Toolstack, domid: int, scheduler: str | None = None) -> SchedParams:
    """libxl_domain_sched_params_get: the scheduler, with weight and cap for
    credit and credit2 (the other schedulers' parameters are not modelled)."""
    from xlpy.backends.base import BackendError
    from xlpy.domain.config import SchedParams

    params = SchedParams(sched=scheduler or toolstack.backend.physinfo().scheduler)
    if params.sched in WEIGHT_CAP_SCHEDULERS:
        try:
            params.weight, params.cap = toolstack.backend.sched_credit(domid)
        except BackendError:  # a backend that cannot read them: listed without (libxl would fail list -l)
            pass
    return params
