"""What every command shares: failing in one line, xl's way."""

from __future__ import annotations

import sys
from typing import NoReturn

import click


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line on stderr and exit (xl's commands mostly exit 1)."""
    click.echo(message, err=True)
    sys.exit(code)

