"""Device commands: block-attach, network-attach (and their -N dry runs)."""

from __future__ import annotations

import sys

import click

from xlpy.cli.common import fail, need_domain_support


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
        fail(f"command line: config parsing error in disk specification: {e}")
    if g.dry_run:
        sys.stdout.write("disk: " + disk.to_json() + "\n")
        return
    need_domain_support("block-attach")


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
    need_domain_support("network-attach")
