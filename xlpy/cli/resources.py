"""Resource commands: vcpu-set, mem-set, mem-max."""

from __future__ import annotations

import re

import click

from xlpy.cli.common import fail
from xlpy.cli.session import open_toolstack, resolve

_UNITS = {"b": 1 / 1024, "k": 1, "m": 1024, "g": 1024 * 1024, "t": 1024 * 1024 * 1024}


def parse_memory(text: str) -> int:
    """xl's memory sizes: a number with an optional b/k/m/g/t suffix, MiB by default; in KiB."""
    m = re.fullmatch(r"(\d+)([bkmgtBKMGT]?)", text)
    if not m:
        fail(f"invalid memory size: {text}")
    return int(int(m.group(1)) * _UNITS[(m.group(2) or "m").lower()])


@click.command("vcpu-set")
@click.option("-i", "--ignore-host", is_flag=True, help="Allow more vCPUs than host CPUs.")
@click.argument("domain")
@click.argument("count", type=int)
@click.pass_obj
def vcpu_set(g, ignore_host, domain, count) -> None:
    """Set the number of online vCPUs: <Domain> <vCPUs>"""
    from xlpy.toolstack import ToolstackError

    toolstack = open_toolstack(g)
    domid = resolve(toolstack, domain)
    host_cpus = toolstack.backend.physinfo().nr_cpus
    if count > host_cpus and not ignore_host:
        fail(f"You are overcommmitting! You have {host_cpus} physical CPUs and want {count} vCPUs! "
             "Aborting, use --ignore-host to continue")
    try:
        toolstack.set_vcpus(domid, count)
    except ToolstackError as e:
        fail(str(e))


@click.command("mem-set")
@click.argument("domain")
@click.argument("size")
@click.pass_obj
def mem_set(g, domain, size) -> None:
    """Set the current memory of a domain: <Domain> <Size>"""
    _memory_command(g, domain, size, "dynamic", lambda toolstack: toolstack.set_memory)


@click.command("mem-max")
@click.argument("domain")
@click.argument("size")
@click.pass_obj
def mem_max(g, domain, size) -> None:
    """Set the maximum memory of a domain: <Domain> <Size>"""
    _memory_command(g, domain, size, "static", lambda toolstack: toolstack.set_max_memory)


def _memory_command(g, domain, size, which, method) -> None:
    """xl's mem-set and mem-max: on failure xl's line, then libxl's reason."""
    from xlpy.toolstack import ToolstackError

    toolstack = open_toolstack(g)
    domid = resolve(toolstack, domain)
    kb = parse_memory(size)
    try:
        method(toolstack)(domid, kb)
    except ToolstackError as e:
        fail(f"cannot set domid {domid} {which} max memory to : {size}: {e}")


@click.command("vcpu-pin", context_settings={"ignore_unknown_options": True})
@click.option("-f", "--force", is_flag=True, help="Also change the affinity set in the config.")
@click.option("--ignore-global-affinity-masks", is_flag=True, help="Ignore xl.conf's masks.")
@click.argument("domain")
@click.argument("vcpu")
@click.argument("hard")
@click.argument("soft", required=False)
@click.pass_obj
def vcpu_pin(g, force, ignore_global_affinity_masks, domain, vcpu, hard, soft) -> None:
    """Set vCPU affinity: <Domain> <VCPU|all> <hard|-|all> [<soft|-|all>]"""
    from xlpy.config.specs import SpecError
    from xlpy.config.specs.cpus import format_cpu_list, parse_cpu_list
    from xlpy.domain.host import Topology, current_topology

    if g.dry_run:
        topology = current_topology()
    else:
        toolstack = open_toolstack(g)
        p = toolstack.backend.physinfo()
        topology = Topology(p.nr_cpus, p.nr_nodes)

    def cpus(text):
        if text is None or text == "-":
            return None
        try:
            return parse_cpu_list(text, topology)
        except SpecError as e:
            fail(str(e))

    hard_set, soft_set = cpus(hard), cpus(soft)
    if g.dry_run:
        shown = ["-" if hard_set is None else format_cpu_list(hard_set, topology.nr_cpus)]
        if soft_set is not None:
            shown.append("-" if soft_set is None else format_cpu_list(soft_set, topology.nr_cpus))
        click.echo("cpumap: " + " ".join(shown))
        return
    from xlpy.toolstack import ToolstackError

    domid = resolve(toolstack, domain)
    info = toolstack.info(domid)
    vcpus = range(info.max_vcpus) if vcpu == "all" else [int(vcpu)] if vcpu.isdigit() else None
    if vcpus is None:
        fail(f"Invalid vcpu: {vcpu}")
    try:
        for v in vcpus:
            toolstack.pin_vcpu(domid, v, hard_set, soft_set)
    except ToolstackError as e:
        fail(str(e))


@click.command("sched-credit")
@click.option("-d", "--domain", "domain", help="Domain to show or change.")
@click.option("-w", "--weight", type=int, help="Weight (1..65535; default 256).")
@click.option("-c", "--cap", type=int, help="Cap in percent of one CPU (0 = none).")
@click.option("-p", "--cpupool", "pool", help="Only this pool.")
@click.option("-s", "--schedparam", is_flag=True, help="Scheduler-wide parameters.")
@click.pass_obj
def sched_credit(g, domain, weight, cap, pool, schedparam) -> None:
    """Credit scheduler: [-d <Domain> [-w W] [-c CAP]]"""
    from xlpy.toolstack import ToolstackError

    toolstack = open_toolstack(g)
    if domain is not None and (weight is not None or cap is not None):
        try:
            toolstack.set_sched_credit(resolve(toolstack, domain), weight, cap)
        except ToolstackError as e:
            fail(str(e))
        return
    infos = toolstack.domains()
    if domain is not None:
        wanted = resolve(toolstack, domain)
        infos = [i for i in infos if i.domid == wanted]
    click.echo("Cpupool Pool-0: tslice=30ms ratelimit=1000us migration-delay=0us")
    click.echo(f"{'Name':<33} {'ID':>4} {'Weight':>6} {'Cap':>4}")
    for info in infos:
        w, c = toolstack.backend.sched_credit(info.domid)
        click.echo(f"{info.name:<33} {info.domid:4d} {w:6d} {c:4d}")
