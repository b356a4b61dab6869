"""The `xlpy` command line: xl's global options and subcommands.

Subcommands live in their own modules and are imported only when invoked, so
`xlpy list` does not pay for the config grammar or `xlpy check` for a backend.
Register a command by adding it to `COMMANDS` as ``"name": "module:attribute"``.

As in xl, any unambiguous prefix of a subcommand runs it (`xlpy li` is
`xlpy list`); an unknown or ambiguous one prints ``command not implemented``
and exits 1.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass

import click

COMMANDS: dict[str, str] = {
    "block-attach": "xlpy.cli.devices:block_attach",
    "block-detach": "xlpy.cli.devices:block_detach",
    "block-list": "xlpy.cli.devices:block_list",
    "check": "xlpy.cli.check:check",
    "config-update": "xlpy.cli.lifecycle:config_update",
    "console": "xlpy.cli.consoles:console",
    "create": "xlpy.cli.create:create",
    "destroy": "xlpy.cli.lifecycle:destroy",
    "dmesg": "xlpy.cli.show:dmesg",
    "domid": "xlpy.cli.show:domid",
    "domname": "xlpy.cli.show:domname",
    "info": "xlpy.cli.show:info",
    "list": "xlpy.cli.show:list_",
    "mem-max": "xlpy.cli.resources:mem_max",
    "mem-set": "xlpy.cli.resources:mem_set",
    "network-attach": "xlpy.cli.devices:network_attach",
    "network-detach": "xlpy.cli.devices:network_detach",
    "network-list": "xlpy.cli.devices:network_list",
    "pause": "xlpy.cli.lifecycle:pause",
    "reboot": "xlpy.cli.lifecycle:reboot",
    "sched-credit": "xlpy.cli.resources:sched_credit",
    "rename": "xlpy.cli.lifecycle:rename",
    "restore": "xlpy.cli.saverestore:restore",
    "save": "xlpy.cli.saverestore:save",
    "shutdown": "xlpy.cli.lifecycle:shutdown",
    "unpause": "xlpy.cli.lifecycle:unpause",
    "uptime": "xlpy.cli.show:uptime",
    "vcpu-list": "xlpy.cli.show:vcpu_list",
    "vcpu-pin": "xlpy.cli.resources:vcpu_pin",
    "vcpu-set": "xlpy.cli.resources:vcpu_set",
    "vncviewer": "xlpy.cli.consoles:vncviewer",
}

#: The commands xl 4.17 lets -N run (its command table's can_dryrun), plus
#: xlpy's own check, which changes nothing anyway.
DRY_RUN_COMMANDS = frozenset({"create", "config-update", "vcpu-pin", "network-attach", "block-attach", "check"})


@dataclass
class Globals:
    """What xl's global options set, handed to every subcommand as ctx.obj."""

    verbose: int = 0
    dry_run: bool = False
    force: bool = False
    backend: str | None = None


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def resolve_name(self, name: str) -> str | None:
        if name in COMMANDS:
            return name
        matches = [c for c in COMMANDS if c.startswith(name)]
        return matches[0] if len(matches) == 1 else None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        name = self.resolve_name(cmd_name)
        if name is None:
            return None
        module, _, attr = COMMANDS[name].partition(":")
        return getattr(importlib.import_module(module), attr)

    def resolve_command(self, ctx, args):  # type: ignore[override]
        name = args[0]
        cmd = self.get_command(ctx, name)
        if cmd is None:
            click.echo("command not implemented", err=True)
            ctx.exit(1)
        resolved = self.resolve_name(name)
        if ctx.params.get("dry_run") and resolved not in DRY_RUN_COMMANDS:
            # As xl: -N on a command that would change something for real is refused.
            click.echo("command does not implement -N (dryrun) option", err=True)
            ctx.exit(1)
        return resolved, cmd, args[1:]


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "verbose", count=True, help="Verbose: repeat for more detail.")
@click.option("-N", "dry_run", is_flag=True, help="Dry run: parse and print, change nothing.")
@click.option("-f", "force", is_flag=True, help="Force (accepted for xl compatibility).")
@click.option(
    "--backend",
    envvar="XLPY_BACKEND",
    metavar="NAME",
    help="Hypervisor backend: model (default) or libxc; also XLPY_BACKEND.",
)
@click.version_option(package_name="xlpy")
@click.pass_context
def cli(ctx: click.Context, verbose: int, dry_run: bool, force: bool, backend: str | None) -> None:
    """xlpy: the xl toolstack for Xen, in Python."""
    ctx.obj = Globals(verbose=verbose, dry_run=dry_run, force=force, backend=backend)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="xlpy")
    except Exception as e:  # a toolstack error no command caught is still one line, not a traceback
        from xlpy.toolstack import ToolstackError

        if not isinstance(e, ToolstackError):
            raise
        click.echo(f"xlpy: {e}", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
