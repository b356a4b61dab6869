"""What every command shares: failing in one line, xl's way, and reading a config."""

from __future__ import annotations

import sys
from typing import NoReturn

import click


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line on stderr and exit (xl's commands mostly exit 1)."""
    click.echo(message, err=True)
    sys.exit(code)


def built_config(g, filename: str, overrides: list[str], text: str | None = None):
    """A config file (or `text` under that name) parsed and built, its
    findings shown on stderr; exits 1 on errors, as xl does."""
    from xlpy.cli.create import show_diagnostics
    from xlpy.config import ConfigError, parse, parse_file
    from xlpy.config.build import build, has_errors
    from xlpy.domain.host import current_topology

    try:
        cfg = parse(text, filename) if text is not None else parse_file(filename, overrides)
    except ConfigError as e:
        fail(str(e))
    dc, diagnostics = build(cfg, current_topology())  # the host's CPUs and nodes, as for create
    show_diagnostics(diagnostics, g.verbose)
    if has_errors(diagnostics):
        sys.exit(1)
    return dc, cfg.full_text
