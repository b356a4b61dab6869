"""The exact output of every format for one config, and SARIF that a
SARIF 2.1.0 model accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_xlpy

HERE = Path(__file__).resolve().parents[1] / "golden" / "check"


@pytest.mark.parametrize("fmt", ["text", "json", "github", "sarif"])
def test_format_output_is_exact(fmt):
    r = run_xlpy("check", "--format", fmt, "guest.cfg", cwd=HERE)
    assert r.returncode == 1
    assert r.stdout == (HERE / f"guest.{fmt}").read_text()


def test_sarif_is_valid_2_1_0():
    from sarif_pydantic import Sarif

    r = run_xlpy("check", "--format", "sarif", "guest.cfg", cwd=HERE)
    log = json.loads(r.stdout)
    model = Sarif.model_validate(log)
    assert model.version == "2.1.0"
    [run] = log["runs"]
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "guest.cfg"


def test_github_format_is_the_default_inside_actions():
    r = run_xlpy("check", "guest.cfg", cwd=HERE,
                 env={**__import__("conftest").xlpy_env(), "GITHUB_ACTIONS": "true"})
    assert r.stdout == (HERE / "guest.github").read_text()


RULES_DIR = HERE / "rules"
RULE_CASES = sorted(p.stem for p in RULES_DIR.glob("*.cfg"))


@pytest.mark.parametrize("fmt", ["text", "json", "github", "sarif"])
@pytest.mark.parametrize("case", RULE_CASES)
def test_each_rule_case_gives_its_exact_output(case, fmt):
    """Per rule: the config that triggers it and the one that does not, in every format."""
    r = run_xlpy("check", "--format", fmt, f"{case}.cfg", cwd=RULES_DIR)
    assert r.stdout == (RULES_DIR / f"{case}.{fmt}").read_text()
    if fmt == "json":  # and the golden itself says the rule fired, or did not
        import json

        fired = {f["code"] for f in json.loads(r.stdout)}
        assert (case.removesuffix("-ok") in fired) is (not case.endswith("-ok"))
