"""Lifecycle commands: create (the real one), destroy, shutdown, reboot,
pause, unpause, rename."""

from __future__ import annotations

import os
import sys

import click

from xlpy.cli.common import fail
from xlpy.cli.session import open_toolstack, resolve


def create_domain(g, dc, cfg, paused: bool = False, console: bool = False, monitor: bool = True,
                  foreground: bool = False) -> None:
    from xlpy.toolstack import ToolstackError

    toolstack = open_toolstack(g)
    try:
        created = toolstack.create(dc, paused=paused, config_text=cfg.full_text, monitor=monitor,
                                   foreground=foreground)
    except ToolstackError as e:
        fail(f"xlpy: {e}", 3)
    if dc.is_legacy_pvh and created.boot_mode == "pvh":
        click.echo(f"{dc.b_info.kernel} has no legacy PVH support (Xen 4.4-4.8 feature notes), "
                   "but a PVH entry point: booted it as modern PVH, as type=\"pvh\" would", err=True)
    if g.verbose:
        click.echo(f"Domain {created.domid} created ({created.boot_mode} boot)", err=True)
    if console or foreground:
        from xlpy.cli.attach import stay_attached

        sys.exit(stay_attached(toolstack, created.domid, console, foreground))


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


@click.command("save")
@click.option("-c", "checkpoint", is_flag=True, help="Leave the domain running after saving.")
@click.option("-p", "paused", is_flag=True, help="Leave the domain paused after saving.")
@click.option("-D", "keep_domid", is_flag=True, help="Store the domain id in the configuration.")
@click.argument("domain")
@click.argument("checkpoint_file")
@click.argument("config_file", required=False)
@click.pass_obj
def save(g, checkpoint, paused, keep_domid, domain, checkpoint_file, config_file) -> None:
    """Save a domain's state to a file: [-c] [-p] [-D] <Domain> <CheckpointFile> [<ConfigFile>]"""
    from xlpy.saverestore import save_image
    from xlpy.toolstack import ToolstackError

    toolstack = open_toolstack(g)
    domid = resolve(toolstack, domain)
    config = None
    if config_file is not None:  # xl reads it as a config file and stores its JSON instead
        if not os.access(config_file, os.R_OK):
            fail("unable to read overridden config file")
        config, _ = _built_config(g, config_file, [])
    elif keep_domid:
        from xlpy.domain.idl import dumps
        from xlpy.domain.stored import config_from_json
        from xlpy.retrieve import retrieve_config

        config = config_from_json(dumps(retrieve_config(toolstack, domid) or {}))
        config.c_info.domid = domid
    try:
        save_image(toolstack, domid, checkpoint_file, leave_running=checkpoint or paused, config=config,
                   report=lambda line: click.echo(line, err=True))
        if paused:
            toolstack.pause(domid)
    except OSError:
        fail(f"Failed to open temp file {checkpoint_file} for writing")
    except ToolstackError as e:
        fail(str(e))


def _built_config(g, filename: str, overrides: list[str], source: str | None = None, text: str | None = None):
    """A config file (or text) parsed and built, its findings shown; exits 1 on errors."""
    from xlpy.cli.create import show_diagnostics
    from xlpy.config import ConfigError, parse, parse_file
    from xlpy.config.build import build, has_errors

    try:
        cfg = parse(text, source) if text is not None else parse_file(filename, overrides)
    except ConfigError as e:
        fail(str(e))
    dc, diagnostics = build(cfg)
    show_diagnostics(diagnostics, g.verbose)
    if has_errors(diagnostics):
        sys.exit(1)
    return dc, cfg.full_text


@click.command("restore")
@click.option("-p", "paused", is_flag=True, help="Leave the domain paused after restoring.")
@click.option("-e", "no_monitor", is_flag=True, help="Do not wait for the domain's death.")
@click.option("-d", "debug", is_flag=True, help="Print the domain configuration (JSON) on stderr.")
@click.option("-F", "foreground", is_flag=True, help="Run in the foreground until the domain dies.")
@click.option("-c", "console", is_flag=True, help="Connect to the console after restoring.")
@click.option("-V", "--vncviewer", "vncviewer", is_flag=True, help="Connect to the VNC display (no effect here).")
@click.option("-A", "--vncviewer-autopass", "autopass", is_flag=True, help="Pass the VNC password (no effect here).")
@click.argument("files", nargs=-1, required=True)
@click.pass_obj
def restore(g, paused, no_monitor, debug, foreground, console, vncviewer, autopass, files) -> None:
    """Restore a domain from a saved file: [-p] [-e] [-d] [<ConfigFile>] <CheckpointFile>"""
    from xlpy.domain.savefile import SaveFileError, read_header
    from xlpy.domain.stored import config_from_json
    from xlpy.saverestore import read_image, restore_image
    from xlpy.toolstack import ToolstackError

    if len(files) > 2:
        raise click.UsageError("give at most a config file and a checkpoint file")
    config_file, checkpoint_file = files if len(files) == 2 else (None, files[0])
    try:
        src = open(checkpoint_file, "rb")
    except OSError as e:
        fail(f"Can't open restore file: {e.strerror}")
    with src:
        try:
            header = read_header(src, checkpoint_file, report=lambda line: click.echo(line, err=True))
        except SaveFileError as e:
            fail(str(e))
        # As xl: a config file given on the command line replaces the saved one.
        if config_file is not None:
            try:
                os.close(os.open(config_file, os.O_RDONLY))
            except OSError as e:
                fail(f"Failed to read config file: {config_file}: {e.strerror}")
            click.echo(f"Parsing config from {config_file}", err=True)
            dc, text = _built_config(g, config_file, [])
        elif header.config is None:
            fail("Config file not specified and none in save file")
        else:
            click.echo("Parsing config from <saved>", err=True)
            saved = header.config.rstrip(b"\0").decode("utf-8", "replace")
            if header.config_is_json:
                try:
                    dc, text = config_from_json(saved), ""
                except ValueError as e:
                    fail(f"{checkpoint_file}: the saved config is not a domain config xlpy knows: {e}")
            else:
                dc, text = _built_config(g, "<saved>", [], source="<saved>", text=saved)
        if debug:
            sys.stderr.write(dc.to_json())
        toolstack = open_toolstack(g)
        try:
            state = read_image(src, checkpoint_file)
            domid = restore_image(toolstack, dc, state, config_text=text, paused=paused,
                                  monitor=not no_monitor, foreground=foreground and not no_monitor)
        except ToolstackError as e:
            fail(f"xlpy: {e}")
    if console or (foreground and not no_monitor):
        from xlpy.cli.attach import stay_attached

        sys.exit(stay_attached(toolstack, domid, console, foreground and not no_monitor))


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
        fail("config-update: give the new config file")
    dc, text = _built_config(g, filename, overrides)
    if g.dry_run or debug:
        sys.stdout.write(dumps({"domid": None, "config": dc.to_json_obj()}) + "\n")
        if g.dry_run:
            return
    toolstack = open_toolstack(g)
    domid = resolve(toolstack, domain)
    toolstack.update_config(domid, dc, text)
