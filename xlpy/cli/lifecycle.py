"""Lifecycle commands: create (the real one), destroy, shutdown, reboot,
pause, unpause, rename."""

from __future__ import annotations

import sys

import click

from xlpy.cli.common import built_config, fail
from xlpy.cli.session import open_toolstack, resolve


def create_domain(g, dc, cfg, paused: bool = False, console: bool = False, monitor: bool = True,
                  foreground: bool = False, vncviewer: bool = False, autopass: bool = False) -> None:
    from xlpy.cli.attach import attach_after_create
    from xlpy.toolstack import ToolstackError

    toolstack = open_toolstack(g)
    try:  # with -c the guest runs once its console is attached
        created = toolstack.create(dc, paused=paused or console, config_text=cfg.full_text, monitor=monitor,
                                   foreground=foreground)
    except ToolstackError as e:
        fail(f"xlpy: {e}", 3)
    if dc.is_legacy_pvh and created.boot_mode == "pvh":
        click.echo(f"{dc.b_info.kernel} has no legacy PVH support (Xen 4.4-4.8 feature notes), "
                   "but a PVH entry point: booted it as modern PVH, as type=\"pvh\" would", err=True)
    if g.verbose:
        click.echo(f"Domain {created.domid} created ({created.boot_mode} boot)", err=True)
    attach_after_create(toolstack, created.domid, paused, console, foreground, vncviewer, autopass, monitor)


@click.command("destroy")
@click.option("-f", "force", is_flag=True, help="Allow destroying domain 0.")
@click.argument("domain")
@click.pass_obj
def destroy(g, force: bool, domain: str) -> None:
    """Terminate a domain immediately: [-f] <Domain>"""
    toolstack = open_toolstack(g)
    domid = resolve(toolstack, domain)
    if domid == 0 and not force:
        fail(f"destroy {domid}: domain 0 is the control domain; destroying it kills the host.\n"
             "Use -f if you really mean it.")
    from xlpy.toolstack import ToolstackError

    try:
        toolstack.destroy(domid)
    except ToolstackError as e:
        fail(str(e))


def _shutdown_or_reboot(g, action: str, verb: str, all_: bool, wait: bool, domain: str | None) -> None:
    from xlpy.toolstack import ToolstackError

    if not all_ and domain is None:
        fail("You must specify -a or a domain id.")
    toolstack = open_toolstack(g)
    domids = ([d.domid for d in toolstack.domains() if d.domid != 0] if all_
              else [resolve(toolstack, domain)])
    for domid in domids:
        click.echo(f"{verb} domain {domid}", err=True)
        try:
            toolstack.request_shutdown(domid, action)
        except ToolstackError as e:
            fail(str(e))
    if wait:
        for domid in domids:
            waiting = f"Waiting for domain {domid} to {'shut down' if action == 'poweroff' else 'reboot'}"
            try:
                with _progress(waiting):
                    toolstack.wait_shutdown(domid)
            except ToolstackError as e:
                fail(str(e))
            click.echo(f"Domain {domid} has been {'shut down' if action == 'poweroff' else 'rebooted'}.", err=True)
    toolstack.reap()


def _progress(message: str):
    """A spinner while waiting, on a terminal; a plain line in a pipe, as xl prints."""
    import contextlib

    if sys.stderr.isatty():
        from rich.console import Console

        return Console(stderr=True).status(message)
    click.echo(message, err=True)
    return contextlib.nullcontext()


@click.command("shutdown")
@click.option("-a", "--all", "all_", is_flag=True, help="All guest domains.")
@click.option("-w", "--wait", is_flag=True, help="Wait for the domain to shut down.")
@click.option("-F", "fallback", is_flag=True, help="Fall back to an ACPI power event.")
@click.argument("domain", required=False)
@click.pass_obj
def shutdown(g, all_, wait, fallback, domain) -> None:
    """Ask a domain to shut down: [-a] [-w] [-F] [Domain]"""
    _shutdown_or_reboot(g, "poweroff", "Shutting down", all_, wait, domain)


@click.command("reboot")
@click.option("-a", "--all", "all_", is_flag=True, help="All guest domains.")
@click.option("-w", "--wait", is_flag=True, help="Wait for the domain to reboot.")
@click.option("-F", "fallback", is_flag=True, help="Fall back to an ACPI reset event.")
@click.argument("domain", required=False)
@click.pass_obj
def reboot(g, all_, wait, fallback, domain) -> None:
    """Ask a domain to reboot: [-a] [-w] [-F] [Domain]"""
    _shutdown_or_reboot(g, "reboot", "Rebooting", all_, wait, domain)


@click.command("pause")
@click.argument("domain")
@click.pass_obj
def pause(g, domain: str) -> None:
    """Pause a domain's execution: <Domain>"""
    toolstack = open_toolstack(g)
    toolstack.pause(resolve(toolstack, domain))


@click.command("unpause")
@click.argument("domain")
@click.pass_obj
def unpause(g, domain: str) -> None:
    """Unpause a paused domain: <Domain>"""
    toolstack = open_toolstack(g)
    toolstack.unpause(resolve(toolstack, domain))


@click.command("rename")
@click.argument("domain")
@click.argument("new_name")
@click.pass_obj
def rename(g, domain: str, new_name: str) -> None:
    """Rename a domain: <Domain> <NewName>"""
    from xlpy.toolstack import ToolstackError

    toolstack = open_toolstack(g)
    try:
        toolstack.rename(resolve(toolstack, domain), new_name)
    except ToolstackError:
        fail(f"Can't rename domain '{domain}'.")


@click.command("config-update")
@click.option("-f", "--defconfig", "defconfig", metavar="FILE", help="Use FILE as the config file.")
@click.option("-d", "debug", is_flag=True, help="Print the new configuration (JSON).")
@click.argument("domain")
@click.argument("args", nargs=-1)
@click.pass_obj
def config_update(g, defconfig, debug, domain, args) -> None:
    """Update the config a domain restarts with: <Domain> [cfg] [KEY=VALUE...]"""
    from xlpy.domain.idl import dumps

    click.echo("WARNING: xl now has better capability to manage domain configuration, "
               "avoid using this command when possible", err=True)
    filename = defconfig or next((a for a in args if "=" not in a), None)
    overrides = [a for a in args if "=" in a]
    if filename is None:
        fail("Config file not specified")
    dc, text = built_config(g, filename, overrides)
    if g.dry_run or debug:
        sys.stdout.write(dumps({"domid": None, "config": dc.to_json_obj()}) + "\n")
        if g.dry_run:
            return
    toolstack = open_toolstack(g)
    domid = resolve(toolstack, domain)
    click.echo(f"setting dom{domid} configuration", err=True)
    toolstack.update_config(domid, text)
