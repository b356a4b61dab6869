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


# xl 4.17's columns (xl_block.c, xl_nic.c), in printf's terms.
BLOCK_LIST_HEADER = "%-5s %-3s %-6s %-5s %-6s %-8s %-30s" % (
    "Vdev", "BE", "handle", "state", "evt-ch", "ring-ref", "BE-path")
NETWORK_LIST_HEADER = "%-3s %-2s %-17s %-6s %-5s %-6s %5s/%-5s %-30s" % (
    "Idx", "BE", "Mac Addr.", "handle", "state", "evt-ch", "tx-", "rx-ring-ref", "BE-path")


def _node(params: dict[str, str], key: str) -> int:
    """A xenstore number as libxl reads it: -1 when the node is missing."""
    value = params.get(key, "")
    return int(value) if value.isdigit() else -1


def _backend_domid(path: str) -> int:
    parts = path.split("/")  # /local/domain/<backend domid>/backend/...
    return int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else 0


def block_list_line(domid: int, devid: int, params: dict[str, str]) -> str:
    """One disk; the handle column is the frontend's domid, as libxl reports it."""
    return "%-5d %-3d %-6d %-5d %-6d %-8d %-30s" % (
        devid, _backend_domid(params["be-path"]), domid, _node(params, "frontend/state"),
        _node(params, "frontend/event-channel"), _node(params, "frontend/ring-ref"), params["be-path"])


def network_list_line(devid: int, params: dict[str, str]) -> str:
    mac = ":".join("%02x" % int(part, 16) for part in params.get("mac", "00:00:00:00:00:00").split(":"))
    return "%-3d %-2d %s%6d %5d %6d %5d/%-11d %-30s" % (
        devid, _backend_domid(params["be-path"]), mac, devid, _node(params, "frontend/state"),
        _node(params, "frontend/event-channel"), _node(params, "frontend/tx-ring-ref"),
        _node(params, "frontend/rx-ring-ref"), params["be-path"])


@click.command("block-list")
@click.argument("domains", nargs=-1, required=True)
@click.pass_obj
def block_list(g, domains) -> None:
    """List the disks of domains: <Domain(s)>"""
    from xlpy.cli.session import open_toolstack
    from xlpy.toolstack import ToolstackError

    toolstack = open_toolstack(g)
    click.echo(BLOCK_LIST_HEADER)
    for domain in domains:
        try:  # as xl: an unknown domain is reported and skipped
            domid = toolstack.resolve(domain)
        except ToolstackError:
            click.echo(f"{domain} is an invalid domain identifier", err=True)
            continue
        for devid, params in toolstack.devices(domid, "vbd"):
            click.echo(block_list_line(domid, devid, params))


@click.command("network-list")
@click.argument("domains", nargs=-1, required=True)
@click.pass_obj
def network_list(g, domains) -> None:
    """List the network interfaces of domains: <Domain(s)>"""
    from xlpy.cli.session import open_toolstack, resolve

    toolstack = open_toolstack(g)
    click.echo(NETWORK_LIST_HEADER)
    for domain in domains:
        domid = resolve(toolstack, domain)
        for devid, params in toolstack.devices(domid, "vif"):
            click.echo(network_list_line(devid, params))
