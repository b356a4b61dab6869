"""The rule catalogue: every diagnostic code xlpy reports, with its meaning.

Codes are stable; the first letter is the group (xlpy/diagnostics.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from xlpy.diagnostics import Severity

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str


_TABLE = [
    # syntax: the file is not an xl config (libxlutil would reject it)
    ("S001", "lexical-error", E, "a character or token libxlutil cannot lex"),
    ("S002", "syntax-error", E, "statements or lists that do not follow the grammar"),
    ("S003", "bad-escape", E, "an escape libxlutil rejects in a quoted string (\\x.., \\N, \\q)"),
    ("S004", "append-type-mismatch", E, "`+=` of a list to a string or of a string to a list"),
    ("S005", "nesting-too-deep", E, "lists nested deeper than libxlutil's parser stack allows"),
    ("S006", "nul-in-string", E, "a NUL byte in a quoted string (xl aborts)"),
    ("S010", "unreadable-file", E, "the file cannot be read as a config file"),
    ("S101", "dropped-escape", W, "a numeric escape that xl silently drops"),
    ("S102", "dropped-last-character", W, "a stray character at the very end that xl silently ignores"),
    # types and ranges
    ("T101", "invalid-type", E, "`type` or `builder` names no guest type"),
    ("T102", "missing-name", E, "`name` is missing or not a single value"),
    ("T103", "invalid-uuid", E, "`uuid` is not in 8-4-4-4-12 hex form"),
    ("T104", "not-a-number", W, "a number key whose value xl cannot read (xl ignores the key)"),
    ("T105", "not-a-list", W, "a list key given a single value (xl ignores the key)"),
    ("T106", "not-a-string", W, "a string key given a list (xl ignores the key)"),
    ("T107", "invalid-action", E, "an on_* key with an action xl does not know"),
    ("T108", "invalid-choice", E, "a value that is none of the names (or numbers) xl accepts for the key"),
    ("T109", "deprecated-integer", W, "a key given as an integer where xl wants a name"),
    ("T110", "out-of-range", E, "a number outside the range xl accepts"),
    ("T111", "invalid-cpu-list", E, "a cpus/cpus_soft value that is not a CPU list"),
    ("T113", "unknown-viridian-group", E, "a viridian= entry that names no enlightenment group"),
    ("T114", "unknown-passthrough", E, "a passthrough= value xl does not know"),
    ("T115", "unknown-tee", E, "a tee= mediator xl does not know (Xen 4.17 has none and optee)"),
    ("T116", "device-model-args-not-list", E, "device_model_args* given as something other than a list of strings"),
    ("T118", "invalid-cpuid", W, "a cpuid= flag or line xl cannot read (xl reports it and goes on without it)"),
    # cross-key rules
    ("X101", "contradicting-type", E, "`builder` and `type` name different guest types"),
    ("X102", "maxvcpus-below-vcpus", E, "maxvcpus is smaller than vcpus"),
    ("X103", "memory-above-maxmem", W, "memory is larger than maxmem"),
    ("X104", "no-kernel", E, "a PV or PVH guest with neither kernel, bootloader nor firmware"),
    ("X105", "cmdline-overrides", W, "cmdline is set, so root= and extra= are ignored"),
    ("X106", "kernel-and-firmware", E, "both kernel and firmware are given"),
    ("X107", "dm-override-without-version", W, "device_model_override without device_model_version"),
    ("X108", "bios-path-without-bios", W, "bios_path_override without bios= naming which BIOS it is"),
    ("X109", "vnc-display-twice", E, "vnclisten carries a display and vncdisplay is set too"),
    ("X110", "vnuma-mismatch", E, "vnuma= nodes disagree with maxvcpus=, maxmem= or the host's CPU count"),
    ("X111", "refused-by-libxl", E, "a value libxl's create refuses (videoram below the card's minimum, "
                                    "an emulated nic on a PV or PVH guest, bios=\"rombios\" with qemu-xen, "
                                    "populate-on-demand with altp2m, ...)"),
    ("X112", "unsupported-by-xlpy", W, "what xl creates but xlpy's create refuses, not supported yet (a stub "
                                       "domain, graphics passthrough, a PV guest's qcow2 disk, a driver domain's device, ...)"),
    # PVH rules
    ("P101", "legacy-pvh", W, "`pvh=1` is the original PVH design (Xen 4.4-4.8); use type=\"pvh\""),
    ("P102", "legacy-pvh-needs-hap", E, "legacy PVH runs in an HVM container that needs HAP (hap=0)"),
    ("P103", "legacy-pvh-no-shadow", E, "legacy PVH has no shadow paging (shadow_memory)"),
    ("P104", "legacy-pvh-no-nested", E, "legacy PVH has no nested HVM"),
    ("P105", "legacy-pvh-tsc", W, "legacy PVH forced the TSC to native; this tsc_mode is overridden"),
    ("P106", "pvh-no-device-model", W, "PVH guests have no device model: this key has no effect"),
    ("P107", "pvh-and-hvm", E, "`pvh=1` with an HVM guest type: the two are exclusive"),
    ("P108", "pvh-redundant", I, "`pvh=1` beside type=\"pvh\" changes nothing"),
    # device specs
    ("D101", "invalid-disk", E, "a disk spec xl cannot parse"),
    ("D102", "invalid-vif", E, "a vif spec xl cannot parse"),
    ("D103", "invalid-channel", E, "a channel spec xl cannot parse"),
    ("D104", "device-not-string", W, "a nested list in a device list (xl stops reading the list there)"),
    ("D105", "invalid-pci", E, "a pci spec xl cannot parse"),
    ("D106", "invalid-resource", E, "an ioports, irqs or iomem entry xl cannot parse"),
    ("D107", "ioport-let-through", W, "an ioport entry xl grants although it is wrong (trailing text, reversed range)"),
    ("D108", "invalid-vkb", E, "a vkb spec xl cannot parse"),
    ("D109", "invalid-backend-device", E, "a vtpm, p9, pvcalls, vdispl or vsnd spec xl cannot parse"),
    ("D110", "invalid-usb", E, "a usbctrl or usbdev spec xl cannot parse"),
    ("D111", "rdm-policy-lost", W, "an rdm= spec xl ignores in part or whole (its policy check is inverted)"),
    ("D112", "invalid-vnuma", E, "a vnuma= node xl cannot read"),
    ("D113", "vnuma-unknown-key", W, "a key in a vnuma= node that xl ignores"),
    # hygiene
    ("H101", "unknown-key", W, "a key xl does not know (xl ignores it silently)"),
    ("H102", "no-effect-for-type", W, "a key that has no effect for this guest type"),
    ("H103", "deprecated-key", W, "a key that is deprecated or ignored by xl 4.17"),
    ("H104", "duplicate-key", I, "a key set more than once (the last one wins)"),
    ("H105", "not-implemented", I, "a key xl reads that xlpy does not model (none in this version; kept for configs that ignore it)"),
    ("H106", "duplicate-name", E, "two configs in the checked set use the same domain name"),
    ("H107", "duplicate-uuid", E, "two configs in the checked set use the same UUID"),
    ("H108", "duplicate-mac", E, "two network interfaces use the same MAC address"),
    ("H109", "duplicate-vdev", E, "two disks of one guest use the same virtual device"),
    ("H110", "missing-file", E, "a kernel, ramdisk or disk target that does not exist (--check-files)"),
]

RULES: dict[str, Rule] = {code: Rule(code, name, sev, summary) for code, name, sev, summary in _TABLE}


def rule(code: str) -> Rule:
    return RULES[code]
