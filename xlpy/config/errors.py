"""Errors of the config language: one line, with the file, line and column."""

from __future__ import annotations


class ConfigError(ValueError):
    """Base of errors that make xlpy refuse a config file."""

    code = "S000"

    def __init__(self, filename: str, line: int | None, column: int | None, message: str) -> None:
        self.filename = filename
        self.line = line
        self.column = column
        self.message = message
        super().__init__(str(self))

    @property
    def location(self) -> str:
        from xlpy.diagnostics import location

        return location(self.filename, self.line, self.column)

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ConfigReadError(ConfigError):
    """The file could not be read at all (missing, a directory, too large...)."""

    code = "S010"


class ConfigSyntaxError(ConfigError):
    """libxlutil would reject the file. `errors` lists every error libxlutil
    reports, in its order (this error is `errors[0]`), as (line, column,
    code, message). `xl_report` is the text xl itself prints for the file."""

    code = "S001"

    def __init__(
        self,
        filename: str,
        line: int,
        column: int,
        message: str,
        code: str = "S001",
        errors: list[tuple[int, int, str, str]] | None = None,
        xl_report: str = "",
    ) -> None:
        self.code = code
        self.errors = errors or [(line, column, code, message)]
        self.xl_report = xl_report
        super().__init__(filename, line, column, message)
