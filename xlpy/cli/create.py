"""`xlpy create`: build a domain from a config file (or print it with -n)."""

from __future__ import annotations

import sys

import click

from xlpy.cli.common import fail

# xl's create returns libxl's negated error codes.
ERROR_FAIL, ERROR_INVAL = 3, 6


@click.command("create", context_settings={"ignore_unknown_options": False})
@click.option("-c", "console", is_flag=True,
              help="Attach to the console after creating (Ctrl-] detaches on a real host; Ctrl-C on the model).")
@click.option("-d", "debug", is_flag=True, help="Print the domain configuration (JSON) on stderr.")
@click.option("-e", "no_monitor", is_flag=True, help="Do not wait in the background for the domain's death.")
@click.option("-F", "foreground", is_flag=True,
              help="Stay in the foreground, carrying out on_* actions, until the domain is gone.")
@click.option("-f", "--defconfig", "defconfig", metavar="FILE", help="Use FILE as the config file.")
@click.option("-n", "--dryrun", "dryrun", is_flag=True, help="Dry run: print the configuration and exit.")
@click.option("-p", "paused", is_flag=True, help="Leave the domain paused after creating it.")
@click.option("-q", "--quiet", "quiet", is_flag=True, help="Quiet.")
@click.option("-V", "--vncviewer", "vncviewer", is_flag=True,
              help="Run a VNC viewer ($VNCVIEWER or vncviewer) on the guest's display.")
@click.option("-A", "--vncviewer-autopass", "autopass", is_flag=True,
              help="As -V, handing the viewer the VNC password.")
@click.option("-i", "--ignore-global-affinity-masks", "ignore_masks", is_flag=True, help="Ignore global affinity masks.")
@click.argument("args", nargs=-1)
@click.pass_obj
def create(g, console, debug, no_monitor, foreground, defconfig, dryrun, paused, quiet,
           vncviewer, autopass, ignore_masks, args) -> None:
    """Create a domain from a config file: [cfg] [KEY=VALUE...]"""
    from xlpy.config import ConfigError, parse_file
    from xlpy.config.build import build, has_errors
    from xlpy.domain.host import current_topology

    filename = defconfig
    overrides = []
    for arg in args:
        if "=" in arg:
            overrides.append(arg)
        elif filename is None:
            filename = arg
        else:
            raise click.UsageError(f"unexpected argument `{arg}' (the config file is {filename})")
    if filename is None:
        fail("xlpy create: no config file given", ERROR_INVAL)
    if not quiet:
        click.echo(f"Parsing config from {filename}", err=True)
    try:
        cfg = parse_file(filename, overrides)
    except ConfigError as e:
        fail(str(e), ERROR_FAIL if e.line is None else 1)
    dc, diagnostics = build(cfg, current_topology())
    show_diagnostics(diagnostics, g.verbose)
    if has_errors(diagnostics):
        sys.exit(1)
    if dryrun or g.dry_run:
        sys.stdout.write(dc.to_json())
        return
    if debug:
        sys.stderr.write(dc.to_json())
    from xlpy.cli.lifecycle import create_domain

    # As xl: -e means no monitor at all, so it also ends -F's waiting.
    create_domain(g, dc, cfg, paused=paused, console=console, monitor=not no_monitor,
                  foreground=foreground and not no_monitor, vncviewer=vncviewer or autopass, autopass=autopass)


def show_diagnostics(diagnostics, verbose: int) -> None:
    """Errors and warnings on stderr, one line each; notes only with -v."""
    from xlpy.diagnostics import Severity

    for d in diagnostics:
        if d.severity >= Severity.WARNING or verbose:
            click.echo(str(d), err=True)
