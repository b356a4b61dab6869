"""Device lists: disks, NICs, PCI, resources, displays, backends' devices, USB."""

from __future__ import annotations


from xlpy.config.reader import KeyReader
from xlpy.config.specs import SpecError
from xlpy.config.values import ListValue
from xlpy.domain.config import (
    HvmInfo, PvInfo,
)
from xlpy.domain.devices import DeviceDtdev, DeviceVfb, DeviceVkb


class DeviceKeys(KeyReader):
    def devices(self) -> None:
        from xlpy.config.specs.channel import parse_channel
        from xlpy.config.specs.disk import parse_disk
        from xlpy.config.specs.vif import parse_vif

        self.dc.disks = self.parse_items("disk", "D101", lambda text, _: parse_disk(text),
                                         "config parsing error in disk specification: {}")
        self.dc.nics = self.parse_items("vif", "D102", parse_vif)
        self.pci_devices()
        self.resources()
        self.dc.dtdevs = [DeviceDtdev(str(item)) for item in self.items("dtdev")]
        self.display_devices()
        self.backend_devices()
        self.usb_devices()
        self.dc.channels = self.parse_items("channel", "D103", parse_channel)

    def display_devices(self) -> None:
        """vfb= (each with its vkb), a PV guest's top-level vnc=, then vkb=, in xl's order."""
        from xlpy.config.specs.display import parse_vfb, parse_vkb

        dc = self.dc
        for devid, item in enumerate(self.items("vfb")):
            dc.vfbs.append(parse_vfb(str(item), devid))
            dc.vkbs.append(DeviceVkb(devid=len(dc.vkbs)))
        if self.guest_type == "pv" and not dc.vfbs and self.number("vnc"):
            vfb = DeviceVfb(devid=0, keymap=self.string("keymap"))
            self.top_level_display(vfb.vnc, vfb.sdl)
            dc.vfbs.append(vfb)
            dc.vkbs.append(DeviceVkb(devid=len(dc.vkbs)))
        first = len(dc.vkbs)  # vkb= entries are numbered after the framebuffers' keyboards
        dc.vkbs += self.parse_items("vkb", "D108", lambda text, index: parse_vkb(text, first + index))

    def backend_devices(self) -> None:
        """vtpm=, p9= and pvcalls=, each entry's devid its place in the list."""
        from xlpy.config.specs.pvdevs import P9Reader, parse_pvcalls, parse_vtpm

        self.dc.vtpms = self.parse_items("vtpm", "D109", parse_vtpm)
        self.dc.p9s = self.parse_items("p9", "D109", P9Reader().parse)
        self.dc.pvcallsifs = self.parse_items("pvcalls", "D109", parse_pvcalls)
        self.media_devices()

    def media_devices(self) -> None:
        """vdispl= (one display per entry) and vsnd= (one card per list of entries)."""
        from xlpy.config.specs.media import VsndCard, parse_vdispl

        self.dc.vdispls = self.parse_items("vdispl", "D109", parse_vdispl)
        if "vsnd" not in self.cfg or not isinstance(self.cfg.value("vsnd"), ListValue):
            return
        for devid, card_entries in enumerate(self.cfg.value("vsnd")):
            if not isinstance(card_entries, ListValue):
                self.report("D109", card_entries, "Failed to get vsnd card list: Invalid argument")
                return
            card = VsndCard(devid)
            for entry in card_entries:
                if isinstance(entry, ListValue):
                    break  # xl reads a card's entries up to the first that is not a string
                try:
                    card.add(str(entry))
                except SpecError as e:
                    self.report("D109", entry, str(e))
                    return
            self.dc.vsnds.append(card.device)

    def usb_devices(self) -> None:
        from xlpy.config.specs.usb import parse_usbctrl, parse_usbdev

        self.dc.usbctrls = self.parse_items("usbctrl", "D110", parse_usbctrl)
        self.dc.usbdevs = self.parse_items("usbdev", "D110", lambda text, _: parse_usbdev(text))

    def resources(self) -> None:
        """ioports=, irqs= and iomem=: hardware handed to the guest."""
        from xlpy.config.specs.resources import parse_iomem, parse_ioport, parse_irq

        b_info = self.dc.b_info
        for item in self.items("ioports"):
            try:
                ports, complaint = parse_ioport(str(item))
            except SpecError as e:
                self.report("D106", item, str(e))
                continue
            if complaint:
                self.report("D107", item, complaint)
            b_info.ioports.append(ports)
        b_info.irqs = self.parse_items("irqs", "D106", lambda text, _: parse_irq(text))
        b_info.iomem = self.parse_items("iomem", "D106", lambda text, _: parse_iomem(text))

    def rdm(self) -> None:
        """rdm="strategy=host": reserve the host's reserved device memory in an HVM guest."""
        from xlpy.config.specs.pci import parse_rdm

        text = self.string("rdm")
        if text is None:
            return
        strategy, complaint = parse_rdm(text)
        if complaint:
            self.report("D111", "rdm", complaint)
        if strategy is not None and isinstance(self.dc.b_info.u, HvmInfo):
            self.dc.b_info.u.rdm.strategy = strategy

    def pci_devices(self) -> None:
        """pci= entries, with the pci_* keys as every entry's defaults (as xl applies them)."""
        from xlpy.config.specs.pci import RdmPolicy, parse_pci

        defaults = {key: self.flag(f"pci_{key}") for key in ("permissive", "msitranslate", "seize", "power_mgmt")}
        self.rdm()
        for item in self.items("pci"):
            try:
                pci = parse_pci(str(item))
            except SpecError as e:
                self.report("D105", item, f"failed to parse PCI device: {e}")
                continue
            for key, value in defaults.items():
                if value and f"{key}=" not in str(item):
                    setattr(pci, key, True)
            if self.guest_type == "pv" and pci.rdm_policy is RdmPolicy.INVALID:
                pci.rdm_policy = RdmPolicy.STRICT
            self.dc.pcidevs.append(pci)
        if self.dc.pcidevs and isinstance(self.dc.b_info.u, PvInfo):
            self.dc.b_info.u.e820_host = True  # xl forces it for PV passthrough
