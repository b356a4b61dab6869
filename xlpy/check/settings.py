"""Settings for `xlpy check` from [tool.xlpy.check] in pyproject.toml or
.xlpy.yaml, found in the current directory or the nearest parent with one.

Keys: select, ignore (lists of codes or group letters), strict (bool),
check-files (bool).
"""

from __future__ import annotations

from pathlib import Path


def load(start: Path | None = None) -> dict:
    directory = (start or Path.cwd()).resolve()
    for folder in (directory, *directory.parents):
        yaml_file = folder / ".xlpy.yaml"
        if yaml_file.is_file():
            import yaml

            data = yaml.safe_load(yaml_file.read_text()) or {}
            return dict(data.get("check", data))
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            import tomllib

            table = tomllib.loads(pyproject.read_text()).get("tool", {}).get("xlpy", {}).get("check")
            if table is not None:
                return dict(table)
    return {}
