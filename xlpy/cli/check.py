"""`xlpy check`: the config linter for CI."""

from __future__ import annotations

import sys

import click

FORMATS = ["text", "json", "github", "sarif"]


@click.command("check")
@click.argument("paths", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format (default text; github inside GitHub Actions).")
@click.option("--strict", is_flag=True, default=None, help="Warnings fail the check too.")
@click.option("--select", "select", multiple=True, help="Only these codes or groups (S T X P D H); repeatable.")
@click.option("--ignore", "ignore", multiple=True, help="Skip these codes or groups; repeatable.")
@click.option("--check-files", is_flag=True, default=None, help="Report kernels, ramdisks and disks that do not exist.")
@click.option("--fix", is_flag=True, help='Rewrite the deprecated pvh=1 as type="pvh" in place.')
@click.option("-j", "--jobs", type=int, default=0, help="Processes for many files (default: one per CPU).")
@click.pass_obj
def check(g, paths, fmt, strict, select, ignore, check_files, fix, jobs) -> None:
    """Check xl config files: [PATH...] (files, directories of *.cfg, or - for stdin)

    Exit status: 0 clean, 1 findings at or above the failing severity
    (errors; warnings too with --strict), 2 usage or I/O errors."""
    import os

    from xlpy import __version__
    from xlpy.check import formats
    from xlpy.check.engine import Options, check_files as run, discover
    from xlpy.check.settings import load
    from xlpy.diagnostics import Severity

    settings = load()
    split = lambda values: {v.strip() for value in values for v in str(value).split(",") if v.strip()}  # noqa: E731
    options = Options(
        select=split(select) or split(settings.get("select", [])),
        ignore=split(ignore) | split(settings.get("ignore", [])),
        check_files=bool(check_files if check_files is not None else settings.get("check-files", False)),
        jobs=jobs,
    )
    strict = bool(strict if strict is not None else settings.get("strict", False))
    if not paths:
        raise click.UsageError("give files, directories or - to check")
    missing = [p for p in paths if p != "-" and not os.path.exists(p)]
    if missing:
        click.echo(f"xlpy check: no such file or directory: {missing[0]}", err=True)
        sys.exit(2)
    files = discover(list(paths))
    if fix:
        from xlpy.check.fix import fix_legacy_pvh

        for path in files:
            if path == "-":
                continue
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
            fixed, count = fix_legacy_pvh(text)
            if count:
                with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
                    f.write(fixed)
                click.echo(f"fixed {path}: pvh=1 -> type=\"pvh\"", err=True)
    results = run(files, options)
    if fmt is None:
        fmt = "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"
    if fmt == "text" and sys.stdout.isatty():
        from rich.console import Console

        Console(highlight=False, soft_wrap=True).print(formats.text(results, colour=True), end="")
        output = ""
    elif fmt == "text":
        output = formats.text(results)
    elif fmt == "json":
        output = formats.as_json(results)
    elif fmt == "github":
        output = formats.github(results)
    else:
        output = formats.sarif(results, __version__)
    sys.stdout.write(output)
    if any(r.diagnostics and r.diagnostics[0].code == "S010" for r in results):
        sys.exit(2)
    threshold = Severity.WARNING if strict else Severity.ERROR
    if any(d.severity >= threshold for r in results for d in r.diagnostics):
        sys.exit(1)
