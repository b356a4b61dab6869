"""Device commands: block-attach, network-attach (and their -N dry runs)."""

from __future__ import annotations

import sys

import click

from xlpy.cli.common import fail


@click.command("block-attach", context_settings={"ignore_unknown_options": True})
@click.argument("domain")
@click.argument("spec", nargs=-1, required=True)
@click.pass_obj
def block_attach(g, domain: str, spec: tuple[str, ...]) -> None:
    """Attach a disk: <Domain> <disk-spec-component(s)>..."""
    from xlpy.config.specs import SpecError
    from xlpy.config.specs.disk import parse_disk_args

    try:
        disk = parse_disk_args(list(spec))
    except SpecError as e:
        fail("\n".join(f"command line: config parsing error in disk specification: {line}"
                       for line in str(e).splitlines()))
    if g.dry_run:
        sys.stdout.write("disk: " + disk.to_json() + "\n")
        return
    _on_domain(g, domain, lambda t, domid: t.attach_disk(domid, disk))


@click.command("network-attach", context_settings={"ignore_unknown_options": True})
@click.argument("domain")
@click.argument("spec", nargs=-1)
@click.pass_obj
def network_attach(g, domain: str, spec: tuple[str, ...]) -> None:
    """Attach a network interface: <Domain> [key=value...]"""
    from xlpy.config.specs import SpecError
    from xlpy.config.specs.vif import VifError, parse_vif_args

    try:
        nic = parse_vif_args(list(spec), warn=lambda message: click.echo(message, err=True))
    except VifError as e:
        fail(str(e))
    except SpecError as e:
        fail(f"command line: config parsing error in vif: {e}")
    if g.dry_run:
        sys.stdout.write("vif: " + nic.to_json() + "\n")
        return
    _on_domain(g, domain, lambda t, domid: t.attach_nic(domid, nic))


def _on_domain(g, domain: str, action) -> None:
    from xlpy.cli.session import open_toolstack, resolve
    from xlpy.toolstack import ToolstackError

    toolstack = open_toolstack(g)
    try:
        action(toolstack, resolve(toolstack, domain))
    except ToolstackError as e:
        fail(str(e))


@click.command("block-detach")
@click.option("-f", "--force", is_flag=True, help="Remove even if the guest does not let go.")
@click.argument("domain")
@click.argument("device")
@click.pass_obj
def block_detach(g, force, domain, device) -> None:
    """Detach a disk: [-f] <Domain> <DevId|vdev>"""
    from xlpy.domain.vdev import vdev_number

    devid = vdev_number(device)
    if devid is None:
        fail(f"Error: Device {device} not connected.")
    _on_domain(g, domain, lambda t, domid: t.detach(domid, "vbd", devid))


@click.command("network-detach")
@click.argument("domain")
@click.argument("device")
@click.pass_obj
def network_detach(g, domain, device) -> None:
    """Detach a network interface: <Domain> <DevId|mac>"""
    def action(t, domid):
        for devid, params in t.devices(domid, "vif"):
            if device in (str(devid), params.get("mac")):
                return t.detach(domid, "vif", devid)
        fail(f"Unknown device {device}.")

    _on_domain(g, domain, action)


@click.command("block-list")
@click.argument("domains", nargs=-1, required=True)
@click.pass_obj
def block_list(g, domains) -> None:
    """List the disks of domains: <Domain(s)>"""
    from xlpy.cli.session import open_toolstack, resolve

    toolstack = open_toolstack(g)
    click.echo(f"{'Vdev':<5} {'BE':<3} {'handle':<6} {'state':<5} {'evt-ch':<6} {'ring-ref':<8} {'BE-path':<30} ")
    for domain in domains:
        domid = resolve(toolstack, domain)
        for devid, params in toolstack.devices(domid, "vbd"):
            click.echo(f"{devid:<5} {0:<3} {devid:<6} {params['state']:<5} {-1:<6} {-1:<8} {params['be-path']:<30} ")


@click.command("network-list")
@click.argument("domains", nargs=-1, required=True)
@click.pass_obj
def network_list(g, domains) -> None:
    """List the network interfaces of domains: <Domain(s)>"""
    from xlpy.cli.session import open_toolstack, resolve

    toolstack = open_toolstack(g)
    click.echo("Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path                       ")
    for domain in domains:
        domid = resolve(toolstack, domain)
        for devid, params in toolstack.devices(domid, "vif"):
            click.echo(f"{devid:<3} {0:<2} {params.get('mac', ''):<17} {devid:<6} {params['state']:<5} "
                       f"{-1:<6} {-1:5d}/{-1:<5d}     {params['be-path']:<30}")
