"""Read-only commands whose output scripts parse: list, domid, domname,
vcpu-list, uptime, info, dmesg. Formats are xl's, byte for byte."""

from __future__ import annotations

import os
import sys
import time

import click

from xlpy.cli.common import fail
from xlpy.cli.session import open_toolstack, resolve

_REASON_LETTERS = "-rscwS"


def state_letters(info) -> str:
    reason = "-"
    if info.shutdown and info.shutdown_reason is not None:
        reason = _REASON_LETTERS[info.shutdown_reason] if info.shutdown_reason < len(_REASON_LETTERS) else "?"
    return "".join([
        "r" if info.running else "-",
        "b" if info.blocked else "-",
        "p" if info.paused else "-",
        "s" if info.shutdown else "-",
        reason,
        "d" if info.dying else "-",
    ])


def list_line(info) -> str:
    mem_mib = (info.tot_pages * 4 + info.outstanding_pages * 4) // 1024
    return (f"{info.name:<40} {info.domid:5d} {mem_mib:5d} {info.online_vcpus:5d}     "
            f"{state_letters(info)}  {info.cpu_time_ns / 1e9:8.1f}")


LIST_HEADER = "Name                                        ID   Mem VCPUs\tState\tTime(s)"


@click.command("list")
@click.option("-l", "--long", "long_", is_flag=True, help="The stored configuration, as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Also the UUID, shutdown reason and security label.")
@click.option("-Z", "--context", is_flag=True, help="Also the security label.")
@click.option("-c", "--cpupool", is_flag=True, help="Also the CPU pool.")
@click.option("-n", "--numa", is_flag=True, help="Also the NUMA node affinity.")
@click.option("-o", "--output", "output", type=click.Choice(["text", "json", "yaml"]), default="text",
              help="Output format for scripts (xlpy extension).")
@click.argument("domain", required=False)
@click.pass_obj
def list_(g, long_, verbose, context, cpupool, numa, output, domain) -> None:
    """List information about domains: [-l] [-v] [Domain]"""
    toolstack = open_toolstack(g)
    domains = toolstack.domains()
    if domain is not None:
        domid = resolve(toolstack, domain)
        domains = [d for d in domains if d.domid == domid]
        if not domains:
            fail(f"Error: Domain '{domain}' does not exist.")
    if long_:
        from xlpy.domain.idl import dumps
        from xlpy.retrieve import retrieve_config

        scheduler = toolstack.backend.physinfo().scheduler
        entries = []
        for info in domains:
            config = retrieve_config(toolstack, info.domid, info, scheduler)
            if config is not None:  # as xl: a domain without one is left out
                entries.append({"domid": info.domid, "config": config.to_json_obj() if config else {}})
        sys.stdout.write(dumps(entries) + "\n\n")  # xl puts() yajl's text, which ends in a newline
        return
    if output != "text":
        rows = [{"name": d.name, "domid": d.domid, "uuid": d.uuid, "memory_mib": d.tot_pages * 4 // 1024,
                 "vcpus": d.online_vcpus, "state": state_letters(d), "cpu_time": round(d.cpu_time_ns / 1e9, 1)}
                for d in domains]
        if output == "json":
            import json

            sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        else:
            import yaml

            sys.stdout.write(yaml.safe_dump(rows, sort_keys=False))
        return
    header = LIST_HEADER
    if verbose:
        header += "   UUID                            Reason-Code\tSecurity Label"
    lines = [header]
    for info in domains:
        line = list_line(info)
        if verbose:
            reason = f"{int(info.shutdown_reason):8x}" if info.shutdown else "       -"
            line += f" {info.uuid} {reason} {'-':>16}"
        lines.append(line)
    sys.stdout.write("\n".join(lines) + "\n")


@click.command("domid")
@click.argument("name")
@click.pass_obj
def domid(g, name: str) -> None:
    """Convert a domain name to a domain id: <DomainName>"""
    toolstack = open_toolstack(g)
    for info in toolstack.domains():
        if info.name == name:
            click.echo(f"{info.domid}")
            return
    fail(f"Can't get domid of domain name '{name}', maybe this domain does not exist.")


@click.command("domname")
@click.argument("ident")
@click.pass_obj
def domname(g, ident: str) -> None:
    """Convert a domain id to a domain name: <DomainId>"""
    if not ident.isdigit():
        fail("Invalid domain id.\n")
    toolstack = open_toolstack(g)
    for info in toolstack.domains():
        if info.domid == int(ident):
            click.echo(info.name)
            return
    fail(f"Can't get domain name of domain id '{ident}', maybe this domain does not exist.")


@click.command("dmesg")
@click.option("-c", "--clear", is_flag=True, help="Clear the log after reading it.")
@click.pass_obj
def dmesg(g, clear: bool) -> None:
    """Read the hypervisor's log: [-c]"""
    toolstack = open_toolstack(g, reap=False)
    sys.stdout.write(toolstack.backend.read_log(clear))


@click.command("uptime")
@click.option("-s", "short", is_flag=True, help="Short format.")
@click.argument("domains", nargs=-1)
@click.pass_obj
def uptime(g, short, domains) -> None:
    """Print the uptime of domains: [-s] [Domain...]"""
    toolstack = open_toolstack(g)
    infos = {info.domid: info for info in toolstack.domains()}
    # Domain-0 first, then every other domain (xl lists no stub domains; xlpy starts none).
    wanted = [resolve(toolstack, d) for d in domains] if domains else sorted(infos)
    now = time.time()
    if not short:
        click.echo(f"{'Name':<33} {'ID':>4} Uptime")
    for domid in wanted:
        info = infos[domid]
        # As xl: Domain-0's is the host's uptime; a guest's runs from the start
        # time its toolstack recorded, and a guest without one is left out.
        started = info.created if domid == 0 else toolstack.start_time(domid)
        if started is None:
            continue
        span = _uptime_text(_seconds_up(now, started), short)
        if short:
            click.echo(f" {time.strftime('%H:%M:%S', time.localtime(now))} up {span}, {info.name} ({domid})")
        else:
            click.echo(f"{info.name:<33} {domid:4d} {span}")


def _seconds_up(now: float, started: float) -> int:
    """Whole seconds from start to now. Domain-0's start is the host's boot, a
    fraction of a second in; truncating the span, not each end, gives what
    xl's whole seconds of /proc/uptime read at that moment give."""
    return int(now - started)


def _uptime_text(seconds: int, short: bool) -> str:
    """xl's uptime_to_string: days, then hours and minutes (and seconds but in short form)."""
    days, rest = divmod(max(seconds, 0), 86400)
    clock = f"{rest // 3600:2d}:{rest % 3600 // 60:02d}" + ("" if short else f":{rest % 60:02d}")
    if days:
        return f"{days} day{'s' if days > 1 else ''}, {clock}"
    return clock


@click.command("vcpu-list")
@click.argument("domains", nargs=-1)
@click.pass_obj
def vcpu_list(g, domains) -> None:
    """List the vCPUs of domains: [Domain...]"""
    from xlpy.config.specs.cpus import format_cpu_list

    toolstack = open_toolstack(g)
    nr_cpus = toolstack.backend.physinfo().nr_cpus
    infos = toolstack.domains()
    if domains:
        wanted = [resolve(toolstack, d) for d in domains]
        infos = [i for i in infos if i.domid in wanted]
    click.echo(f"{'Name':<32} {'ID':>5} {'VCPU':>5} {'CPU':>5} {'State':>5} {'Time(s)':>9} Affinity (Hard / Soft)")
    for info in infos:
        for v in toolstack.backend.vcpu_info(info.domid):
            if v.online:
                state = f"{v.cpu:5d} {'r' if v.running else '-':>3}{'b' if v.blocked else '-'}- "
            else:
                state = "    -   --p "
            click.echo(f"{info.name:<32} {info.domid:5d} {v.vcpu:5d} {state}{v.cpu_time_ns / 1e9:9.1f}  "
                       f"{format_cpu_list(set(v.hard_affinity), nr_cpus)} / "
                       f"{format_cpu_list(set(v.soft_affinity), nr_cpus)}")


@click.command("info")
@click.pass_obj
def info(g) -> None:
    """Information about the host"""
    toolstack = open_toolstack(g, reap=False)
    p = toolstack.backend.physinfo()
    major, _, rest = p.xen_version.partition(".")
    minor = rest.split(".", 1)[0].split("-", 1)[0]
    uname = os.uname()
    compiler, compile_by, compile_domain, compile_date = p.compiled
    # xl's keys, in xl's order; what a backend cannot know prints as xl prints nothing.
    fields = [
        ("host", "xlpy-model" if toolstack.backend.name == "model" else uname.nodename),
        ("release", uname.release), ("version", uname.version), ("machine", uname.machine),
        ("nr_cpus", p.nr_cpus), ("max_cpu_id", p.nr_cpus - 1 if p.max_cpu_id is None else p.max_cpu_id),
        ("nr_nodes", p.nr_nodes), ("cores_per_socket", p.cores_per_socket),
        ("threads_per_core", p.threads_per_core), ("cpu_mhz", f"{p.cpu_khz / 1000:.3f}"),
        ("hw_caps", p.hw_caps), ("virt_caps", " ".join(p.virt_caps)),
        ("total_memory", p.total_pages * 4 // 1024), ("free_memory", p.free_pages * 4 // 1024),
        ("sharing_freed_memory", 0), ("sharing_used_memory", 0),
        ("outstanding_claims", p.outstanding_pages * 4 // 1024), ("free_cpus", 0),
        ("xen_major", major), ("xen_minor", minor), ("xen_extra", p.xen_version[len(f"{major}.{minor}"):]),
        ("xen_version", p.xen_version), ("xen_caps", p.xen_caps), ("xen_scheduler", p.scheduler),
        ("xen_pagesize", 4096), ("platform_params", p.platform_params), ("xen_changeset", p.xen_changeset),
        ("xen_commandline", p.xen_commandline), ("cc_compiler", compiler), ("cc_compile_by", compile_by),
        ("cc_compile_domain", compile_domain), ("cc_compile_date", compile_date), ("build_id", p.build_id),
        ("xend_config_format", 4),
    ]
    for key, value in fields:
        click.echo(f"{key:<23}: {value}")
