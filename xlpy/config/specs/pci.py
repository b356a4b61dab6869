"""PCI passthrough specs: xl-pci-configuration(5), as libxlutil 4.17 reads them.

`[DDDD:]BB:DD.F[@VSLOT][,KEY=VALUE...]`, or `bdf=`/`name=` as keys. Numbers
are hex; F may be `*` for every function. Flags take an integer (non-zero is
true, as atoi reads it); rdm_policy is strict or relaxed.
"""

from __future__ import annotations

import re

from xlpy.config.specs import SpecError
from xlpy.config.values import atoi
from xlpy.domain.config import RdmStrategy
from xlpy.domain.devices import DevicePci, RdmPolicy

_BDF = re.compile(r"(?:([0-9a-fA-F]+):)?([0-9a-fA-F]+):([0-9a-fA-F]+)\.([0-7*])(?:@(.*))?\Z")
_HEX = re.compile(r"(?:0[xX])?[0-9a-fA-F]+\Z")
_FLAGS = ("permissive", "msitranslate", "seize", "power_mgmt")


def _vslot(text: str) -> int:
    if not _HEX.match(text) or int(text, 16) > 0x1F:
        raise SpecError(f"invalid vslot `{text}'")
    return int(text, 16) << 3


def _set_bdf(pci: DevicePci, text: str) -> None:
    m = _BDF.match(text)
    if not m:
        raise SpecError(f"invalid PCI address `{text}'")
    domain, bus, dev, func, vslot = m.groups()
    values = (int(domain or "0", 16), int(bus, 16), int(dev, 16))
    if values[0] > 0xFFFF or values[1] > 0xFF or values[2] > 0x1F:
        raise SpecError(f"PCI address out of range `{text}'")
    pci.domain, pci.bus, pci.dev = values
    if func == "*":
        pci.func, pci.vfunc_mask = 0, 0xFFFFFFFF
    else:
        pci.func, pci.vfunc_mask = int(func), 1
    if vslot is not None:
        pci.vdevfn = _vslot(vslot)


def parse_pci(spec: str) -> DevicePci:
    """One pci= item (xlu_pci_parse_spec_string)."""
    pci = DevicePci()
    has_bdf = False
    for index, piece in enumerate(spec.split(",")):
        key, sep, value = piece.partition("=")
        if not sep:
            if index == 0:
                _set_bdf(pci, piece)
                has_bdf = True
                continue
            if piece == "" and index == len(spec.split(",")) - 1:
                continue  # a trailing comma
            raise SpecError(f"unexpected `{piece}' in PCI spec `{spec}'")
        if key == "bdf":
            _set_bdf(pci, value)
            has_bdf = True
        elif key == "vslot":
            pci.vdevfn = _vslot(value)
        elif key in _FLAGS:
            setattr(pci, key, atoi(value) != 0)
        elif key == "rdm_policy":
            if value not in ("strict", "relaxed"):
                raise SpecError(f"unknown rdm_policy `{value}'")
            pci.rdm_policy = RdmPolicy(value)
        elif key == "name":
            pci.name = value
        else:
            raise SpecError(f"unknown PCI option `{key}'")
    if has_bdf and pci.name is not None:
        raise SpecError(f"a PCI spec takes an address or a name, not both: `{spec}'")
    if not has_bdf and pci.name is None:
        raise SpecError(f"no PCI address in `{spec}'")
    return pci


def parse_rdm(spec: str) -> tuple[RdmStrategy | None, str | None]:
    """rdm="strategy=host[,policy=...]" as xlu_rdm_parse reads it: the strategy
    it yields (None where libxlutil fails and xl ignores the key) and, if any,
    why xl dropped part or all of it. libxlutil's policy check is inverted in
    4.17: a valid policy fails the whole spec, an unknown one is only reported."""
    strategy, complaint = None, None
    pieces = spec.split(",")
    for index, piece in enumerate(pieces):
        key, sep, value = piece.partition("=")
        if not sep:
            return None, f"rdm=\"{spec}\" is not key=value pairs; xl ignores it"
        if key not in ("strategy", "policy"):
            return None, f"Unknown RDM state option: {key}; xl ignores rdm="
        if key == "strategy":
            if value != "host":
                return None, f"Unknown RDM strategy option: {value}; xl ignores rdm="
            strategy = RdmStrategy.HOST
        elif value.lower() in {policy.value for policy in RdmPolicy}:
            return None, f"policy={value}: xl 4.17 refuses a valid rdm policy (its check is inverted) and ignores rdm="
        else:
            complaint = f"Unknown RDM policy: {value}; xl keeps no policy"
    return strategy, complaint
