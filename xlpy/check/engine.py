"""Checking files: per-file findings (in parallel for big sets), then the
rules that look across all of them."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from xlpy.diagnostics import Diagnostic, Severity

_IGNORE = re.compile(r"#\s*xlpy:\s*ignore\[([A-Za-z0-9_, -]+)\]")
PARALLEL_THRESHOLD = 64


@dataclass
class Options:
    select: set[str] = field(default_factory=set)  # codes or group letters; empty = all
    ignore: set[str] = field(default_factory=set)
    check_files: bool = False
    jobs: int = 0  # 0 = one per CPU


@dataclass
class FileResult:
    path: str
    text: str
    diagnostics: list[Diagnostic]
    facts: dict  # what cross-file rules need: name, uuid, macs (with positions)


def discover(paths: list[str]) -> list[str]:
    """Files to check: the files given, and *.cfg below the directories given."""
    out = []
    for path in paths:
        if path == "-" or not os.path.isdir(path):
            out.append(path)
        else:
            out.extend(sorted(str(p) for p in Path(path).rglob("*.cfg") if p.is_file()))
    return out


def check_text(text: str, filename: str, options: Options) -> FileResult:
    from xlpy.config import ConfigSyntaxError, parse
    from xlpy.config.build import build

    try:
        cfg = parse(text, filename)
    except ConfigSyntaxError as e:
        diags = [Diagnostic(code, Severity.ERROR, message, filename, line, column)
                 for line, column, code, message in e.errors]
        return FileResult(filename, text, diags, {})
    dc, diags = build(cfg)
    diags = list(diags)
    facts = {"name": None, "uuid": None, "macs": []}
    if "name" in cfg:
        facts["name"] = (dc.c_info.name, cfg.last("name").line, cfg.last("name").column)
    if "uuid" in cfg and dc.c_info.uuid:
        facts["uuid"] = (dc.c_info.uuid, cfg.last("uuid").line, cfg.last("uuid").column)
    vifs = cfg.value("vif") if "vif" in cfg else []
    for nic, item in zip(dc.nics, vifs if isinstance(vifs, list) else []):
        if nic.mac:
            facts["macs"].append((nic.mac, item.line, item.column))
    disks = cfg.value("disk") if "disk" in cfg else []
    seen: dict[str, tuple[int, int]] = {}
    for disk, item in zip(dc.disks, disks if isinstance(disks, list) else []):
        if disk.vdev in seen:
            line, _ = seen[disk.vdev]
            diags.append(Diagnostic("H109", Severity.ERROR,
                                    f"vdev `{disk.vdev}' is used again (first on line {line}); give each disk its own",
                                    filename, item.line, item.column))
        seen.setdefault(disk.vdev, (item.line, item.column))
    diags.extend(_refused_at_create(cfg, dc, filename))
    if options.check_files:
        diags.extend(_missing_files(cfg, dc, filename))
    return FileResult(filename, text, diags, facts)


def _refused_at_create(cfg, dc, filename: str) -> list[Diagnostic]:
    """What libxl's setdefault refuses when create starts, though xl parsed
    it; else what xlpy's create refuses, not supporting it yet."""
    from xlpy.domain.config import DomainType
    from xlpy.domain.setdefault import refusal

    problem = refusal(dc)
    if problem is not None:
        s = cfg.last(problem.key) if problem.key and problem.key in cfg else None
        return [Diagnostic("X111", Severity.ERROR, str(problem), filename, s.line if s else None,
                           s.column if s else None)]
    if dc.c_info.type is DomainType.HVM:
        from xlpy.domain.devicemodel import unsupported

        unsupported_here, key = unsupported(dc), None
    else:
        from xlpy.domain.xsdevice import unsupported_disks

        unsupported_here, key = unsupported_disks(dc.disks), "disk"
    if unsupported_here is None:
        from xlpy.domain.xsdevice import driver_domain_device

        unsupported_here, key = driver_domain_device(dc.disks, dc.nics) or (None, None)
    if unsupported_here is None:
        return []
    s = cfg.last(key) if key and key in cfg else None
    return [Diagnostic("X112", Severity.WARNING, f"xlpy's create refuses this, not supporting it yet: "
                       f"{unsupported_here}", filename, s.line if s else None, s.column if s else None)]


def _missing_files(cfg, dc, filename: str) -> list[Diagnostic]:
    out = []
    for key in ("kernel", "ramdisk"):
        value = getattr(dc.b_info, key)
        if value and not os.path.exists(value):
            s = cfg.last(key)
            out.append(Diagnostic("H110", Severity.ERROR, f"{key} `{value}' does not exist", filename, s.line, s.column))
    disks = cfg.value("disk") if "disk" in cfg else []
    for disk, item in zip(dc.disks, disks if isinstance(disks, list) else []):
        if disk.pdev_path and not disk.is_cdrom and not os.path.exists(disk.pdev_path):
            out.append(Diagnostic("H110", Severity.ERROR, f"disk target `{disk.pdev_path}' does not exist",
                                  filename, item.line, item.column))
    return out


def check_path(path: str, options: Options) -> FileResult:
    from xlpy.config import ConfigReadError, read_config_text

    if path == "-":
        import sys

        return check_text(sys.stdin.read(), "<stdin>", options)
    try:
        text = read_config_text(path)
    except ConfigReadError as e:
        return FileResult(path, "", [Diagnostic("S010", Severity.ERROR, e.message, path)], {})
    return check_text(text, path, options)


def _check_chunk(args) -> list[FileResult]:
    paths, options = args
    return [check_path(p, options) for p in paths]


def check_files(paths: list[str], options: Options) -> list[FileResult]:
    """Every file's result, in the order given, with cross-file findings added."""
    if len(paths) >= PARALLEL_THRESHOLD and options.jobs != 1 and "-" not in paths:
        from concurrent.futures import ProcessPoolExecutor

        jobs = options.jobs or os.cpu_count() or 1
        size = max(16, len(paths) // (jobs * 4))
        chunks = [(paths[i : i + size], options) for i in range(0, len(paths), size)]
        with ProcessPoolExecutor(jobs) as pool:
            results = [r for chunk in pool.map(_check_chunk, chunks) for r in chunk]
    else:
        results = [check_path(p, options) for p in paths]
    _cross_file(results)
    for result in results:
        result.diagnostics = _filtered(result, options)
    return results


def _cross_file(results: list[FileResult]) -> None:
    for key, code, what in (("name", "H106", "domain name"), ("uuid", "H107", "UUID")):
        where = defaultdict(list)
        for r in results:
            if r.facts.get(key):
                value, line, column = r.facts[key]
                where[value].append((r, line, column))
        for value, places in where.items():
            for r, line, column in places[1:]:
                first = places[0]
                r.diagnostics.append(Diagnostic(code, Severity.ERROR,
                                                f"{what} `{value}' is also used by {first[0].path}:{first[1]}",
                                                r.path, line, column))
    macs = defaultdict(list)
    for r in results:
        for mac, line, column in r.facts.get("macs", []):
            macs[mac].append((r, line, column))
    for mac, places in macs.items():
        for r, line, column in places[1:]:
            first = places[0]
            r.diagnostics.append(Diagnostic("H108", Severity.ERROR,
                                            f"MAC {mac} is also used by {first[0].path}:{first[1]}",
                                            r.path, line, column))


def _selected(code: str, options: Options) -> bool:
    def matches(patterns):
        return code in patterns or code[:1] in patterns

    if options.select and not matches(options.select):
        return False
    return not matches(options.ignore)


def _filtered(result: FileResult, options: Options) -> list[Diagnostic]:
    lines = result.text.splitlines()
    out = []
    for d in result.diagnostics:
        if not _selected(d.code, options):
            continue
        if d.line and 0 < d.line <= len(lines):
            m = _IGNORE.search(lines[d.line - 1])
            if m and d.code in {c.strip() for c in m.group(1).split(",")}:
                continue
        out.append(d)
    return sorted(out, key=lambda d: (d.line or 0, d.column or 0, d.code))
