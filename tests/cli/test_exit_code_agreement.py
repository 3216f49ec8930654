"""Every output format of `eksup plan` tells the same story as its exit code.

CI branches on the exit code and shows the JUnit or Markdown: the two must never disagree. A
blocking finding is exit 2 and the only kind of JUnit failure; warnings are exit 0 and pass;
a cluster already on the target is "nothing to do", exit 0 (as `terraform plan` without
`-detailed-exitcode` and `kubectl diff` on no change).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.core.exit_codes import ExitCode
from upgrader.sandbox.demo_world import DEMO_VERSION
from upgrader.versions import KubeVersion, default_catalog

README = Path(__file__).resolve().parents[2] / "README.md"


def _next(version: str, minors: int = 1) -> str:
    return str(KubeVersion.parse(version) + minors)


# lead: sandbox target (relies on the demo's node groups being Amazon Linux 2)
def _blocked_target() -> str:
    """The first version the demo's AL2 node groups cannot reach: al2-ami blocks it."""
    catalog = default_catalog()
    return next(
        v
        for v in catalog.known_versions()
        if KubeVersion.parse(v) > KubeVersion.parse(DEMO_VERSION) and not catalog.has_al2_amis(v)
    )


SCENARIOS: dict[str, tuple[Callable[[], str], ExitCode, tuple[str, ...]]] = {
    "ready": (lambda: _next(DEMO_VERSION), ExitCode.OK, ("READY", "READY WITH WARNINGS")),
    "blocked": (_blocked_target, ExitCode.BLOCKED, ("NOT READY",)),
    "nothing-to-do": (lambda: DEMO_VERSION, ExitCode.OK, ("NOTHING TO DO",)),
}


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.stdout


def _verdict_of(fmt: str, out: str) -> tuple[str, int | None]:
    """The verdict a format shows and, for JUnit, its number of failures."""
    if fmt == "table":
        return out.splitlines()[0].split("  ")[0].strip(), None
    if fmt == "markdown":
        match = re.search(r"\*\*Verdict: ([A-Z ]+)\*\*", out)
        assert match, out[:300]
        return match.group(1), None
    if fmt == "json":
        return str(json.loads(out)["verdict"]), None
    suite = ET.fromstring(out).find("testsuite")
    assert suite is not None
    prop = suite.find("properties/property[@name='verdict']")
    assert prop is not None
    return str(prop.get("value")), int(suite.get("failures") or 0)


@pytest.mark.parametrize("fmt", ["table", "markdown", "json", "junit"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_format_agrees_with_the_exit_code(scenario: str, fmt: str) -> None:
    target, expected_code, verdicts = SCENARIOS[scenario]
    code, out = run("plan", "--sandbox", "--to", target(), "--format", fmt)
    assert code == expected_code, out[-500:]
    verdict, failures = _verdict_of(fmt, out)
    assert verdict in verdicts
    if failures is not None:
        # JUnit fails exactly when the command does.
        assert (failures > 0) == (code == ExitCode.BLOCKED)
    if scenario == "nothing-to-do" and fmt != "json":
        assert "Nothing to do" in out


def test_the_readme_has_one_exit_code_table_naming_every_code() -> None:
    text = README.read_text(encoding="utf-8")
    assert text.count("## Exit codes") == 1
    table = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d) \|", table, flags=re.MULTILINE)
    assert rows == [str(int(c)) for c in ExitCode]
    assert "nothing to do" in table
