"""save and restore: a domain to a file in xl's save-file format and back."""

from __future__ import annotations

import os
import sys

import click

from xlpy.cli.common import built_config, fail
from xlpy.cli.session import open_toolstack, resolve


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
        config, _ = built_config(g, config_file, [])
    try:
        save_image(toolstack, domid, checkpoint_file, leave_running=checkpoint and not paused, config=config,
                   report=lambda line: click.echo(line, err=True), leave_paused=paused,
                   preserve_domid=keep_domid)
    except OSError:
        fail(f"Failed to open temp file {checkpoint_file} for writing")
    except ToolstackError as e:
        fail(str(e))


@click.command("restore")
@click.option("-p", "paused", is_flag=True, help="Leave the domain paused after restoring.")
@click.option("-e", "no_monitor", is_flag=True, help="Do not wait for the domain's death.")
@click.option("-d", "debug", is_flag=True, help="Print the domain configuration (JSON) on stderr.")
@click.option("-F", "foreground", is_flag=True, help="Run in the foreground until the domain dies.")
@click.option("-c", "console", is_flag=True, help="Connect to the console after restoring.")
@click.option("-V", "--vncviewer", "vncviewer", is_flag=True,
              help="Run a VNC viewer ($VNCVIEWER or vncviewer) on the guest's display.")
@click.option("-A", "--vncviewer-autopass", "autopass", is_flag=True,
              help="As -V, handing the viewer the VNC password.")
@click.argument("files", nargs=-1, required=True)
@click.pass_obj
def restore(g, paused, no_monitor, debug, foreground, console, vncviewer, autopass, files) -> None:
    """Restore a domain from a saved file: [-p] [-e] [-d] [-F] [-c] [-V] [-A] [<ConfigFile>] <CheckpointFile>"""
    from xlpy.domain.savefile import SaveFileError
    from xlpy.saverestore import open_save_file, read_image, restore_image, saved_config
    from xlpy.toolstack import ToolstackError

    if len(files) > 2:
        raise click.UsageError("give at most a config file and a checkpoint file")
    config_file, checkpoint_file = files if len(files) == 2 else (None, files[0])
    try:
        header, src = open_save_file(checkpoint_file, report=lambda line: click.echo(line, err=True))
    except SaveFileError as e:
        fail(str(e))
    with src:
        # As xl: a config file given on the command line replaces the saved one.
        if config_file is not None:
            try:
                os.close(os.open(config_file, os.O_RDONLY))
            except OSError as e:
                fail(f"Failed to read config file: {config_file}: {e.strerror}")
            click.echo(f"Parsing config from {config_file}", err=True)
            dc, text = built_config(g, config_file, [])
        elif header.config is None:
            fail("Config file not specified and none in save file")
        else:
            click.echo("Parsing config from <saved>", err=True)
            if not header.config_is_json:  # xl.cfg text, its findings shown as create shows them
                dc, text = built_config(g, "<saved>", [], text=header.config_text)
            else:
                try:
                    dc, text = saved_config(header)
                except ValueError as e:
                    fail(f"{checkpoint_file}: the saved config is not a domain config xlpy knows: {e}")
        if debug:
            sys.stderr.write(dc.to_json())
        toolstack = open_toolstack(g)
        try:
            state = read_image(src, checkpoint_file, toolstack.backend)
            domid = restore_image(toolstack, dc, state, config_text=text, paused=paused or console,
                                  monitor=not no_monitor, foreground=foreground and not no_monitor)
        except ToolstackError as e:
            fail(f"xlpy: {e}")
    from xlpy.cli.attach import attach_after_create

    attach_after_create(toolstack, domid, paused, console, foreground and not no_monitor, vncviewer or autopass,
                        autopass, monitor=not no_monitor)
