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
    from xlpy.toolstack import ToolstackError

    toolstack = open_toolstack(g)
    try:
        toolstack.set_memory(resolve(toolstack, domain), parse_memory(size))
    except ToolstackError as e:
        fail(str(e))


@click.command("mem-max")
@click.argument("domain")
@click.argument("size")
@click.pass_obj
def mem_max(g, domain, size) -> None:
    """Set the maximum memory of a domain: <Domain> <Size>"""
    toolstack = open_toolstack(g)
    toolstack.set_max_memory(resolve(toolstack, domain), parse_memory(size))
