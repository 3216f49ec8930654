"""Renderings: the Markdown runbook, JSON, JUnit XML and table rows."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.plan.builders import REGION, snapshot
from upgrader.core.shell import md_text
from upgrader.plan.checks import CheckStatus, Finding, Severity
from upgrader.plan.document import Plan, Verdict, load_plan
from upgrader.plan.planner import make_plan
from upgrader.render.plan import finding_rows, plan_rows, render_json, render_junit, render_markdown

FINDINGS = [
    Finding(
        "pdb-zero-disruptions",
        Severity.ERROR,
        CheckStatus.FAIL,
        "PDB allows 0",
        ("shop/web",),
        "raise it",
    ),
    Finding(
        "single-replica", Severity.WARNING, CheckStatus.FAIL, "one replica", ("a/b", "c/d"), "scale"
    ),
    Finding(
        "single-replica",
        Severity.WARNING,
        CheckStatus.FAIL,
        "one | replica",
        ("x/y",),
        "",
        "single-replica: x/* (ok)",
    ),
    Finding("upgrade-notes", Severity.INFO, CheckStatus.FAIL, "note"),
    Finding("eks-insights", Severity.ERROR, CheckStatus.NOT_ASSESSED, "not assessed: denied"),
    Finding("kubelet-skew", Severity.ERROR, CheckStatus.PASS, "skew ok"),
]


@pytest.fixture(scope="module")
def plan() -> Plan:
    snap = snapshot(
        "1.28", target="1.30", self_managed_groups=[("legacy", "")], with_autoscaler=True
    )
    return make_plan(snap, "1.30", findings=FINDINGS, region=REGION)


def test_markdown_is_a_runbook_with_every_command(plan: Plan) -> None:
    text = render_markdown(plan)
    assert text.startswith("# Upgrade prod from 1.28 to 1.30\n")
    assert "**Verdict: NOT READY**" in text
    assert "### Hop to 1.29" in text
    assert "### Hop to 1.30" in text
    for number, step in enumerate(plan.steps, start=1):
        assert f"#### {number}. {md_text(step.title)}" in text
        # Placeholders left for a person (`<ami_id>`) are entities in prose: GitHub would
        # drop them as unknown HTML tags.
        assert md_text(step.description) in text
        for line in [*step.commands, *step.verification, *step.rollback]:
            assert f"\n{line}\n" in text, line
    assert text.count("##### Rollback") == sum(1 for s in plan.steps if s.rollback)


def test_markdown_findings_table(plan: Plan) -> None:
    text = render_markdown(plan)
    assert "| error | fail | `pdb-zero-disruptions` | PDB allows 0: shop/web | raise it |" in text
    assert "one \\| replica" in text  # a pipe would end the cell
    assert "suppressed by single-replica: x/* (ok)" in text
    assert "Passed: `kubelet-skew`." in text
    assert "- Alternative `new-cluster`" in text
    assert "- Node replacements: 3" in text


def test_an_empty_plan_says_there_is_nothing_to_do() -> None:
    text = render_markdown(make_plan(snapshot("1.30"), "1.30"))
    assert "Nothing to do" in text
    assert "## Steps" not in text


def test_json_round_trips_through_load_plan(plan: Plan, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(render_json(plan), encoding="utf-8")
    assert load_plan(path) == plan
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["schema_version"] == 1
    assert raw["steps"][0]["id"] == "preflight"


def test_junit_fails_only_blocking_findings_and_keeps_infos_out_of_the_results(
    plan: Plan,
) -> None:
    root = ET.fromstring(render_junit(plan))
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    # The INFO note is context, not a test result: it is in the suite's output only.
    assert len(cases) == len(FINDINGS) - 1
    assert "upgrade-notes" not in {c.get("name") for c in cases}
    assert "[upgrade-notes] note" in (suite.findtext("system-out") or "")
    names = [c.get("name") for c in cases]
    assert len(set(names)) == len(names)
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    skipped = {c.get("name") for c in cases if c.find("skipped") is not None}
    # A warning passes (the exit code would be 0 for it): it is told, not failed.
    assert failed == {"pdb-zero-disruptions"}
    assert skipped == {"eks-insights", "single-replica #2"}
    warning = next(c for c in cases if c.get("name") == "single-replica")
    assert "warning: one replica" in (warning.findtext("system-out") or "")
    assert warning.find("properties/property[@name='severity']").get("value") == "warning"  # type: ignore[union-attr]
    assert suite.get("tests") == "5"
    assert suite.get("failures") == "1"
    assert suite.get("skipped") == "2"
    assert root.get("failures") == "1"
    failure = next(c for c in cases if c.get("name") == "pdb-zero-disruptions").find("failure")
    assert failure is not None
    assert failure.get("type") == "error"
    assert "raise it" in (failure.text or "")
    verdict = suite.find("properties/property[@name='verdict']")
    assert verdict is not None
    assert verdict.get("value") == "NOT READY"


def test_info_findings_read_note_not_fail_in_the_plan(plan: Plan) -> None:
    (note,) = [f for f in plan.findings if f.severity == "info"]
    assert note.status == "note"
    assert "| info | note | `upgrade-notes` | note |" in render_markdown(plan)


def test_an_empty_plan_is_nothing_to_do_in_every_format() -> None:
    empty = make_plan(snapshot("1.30"), "1.30", findings=FINDINGS[1:2])
    assert empty.verdict is Verdict.NOTHING_TO_DO
    assert not empty.blocking
    assert "**Verdict: NOTHING TO DO**" in render_markdown(empty)
    suite = ET.fromstring(render_junit(empty)).find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "0"
    assert "Nothing to do" in (suite.findtext("system-out") or "")


def test_plan_rows(plan: Plan) -> None:
    table = plan_rows(plan)
    assert table.verdict is Verdict.NOT_READY
    assert len(table.rows) == len(plan.steps)
    assert table.rows[0][:2] == ("1", "preflight")
    assert dict(zip(table.headers, table.rows[2], strict=True))["effect"] == "changes"
    assert table.rows[1][-1] == "approval"
    findings = finding_rows(plan)
    assert [r[2] for r in findings.rows] == [
        "pdb-zero-disruptions",
        "single-replica",
        "single-replica",
        "upgrade-notes",
        "eks-insights",
    ]


def test_nodes_left_behind_after_the_control_plane_have_their_own_heading() -> None:
    text = render_markdown(make_plan(snapshot("1.30", groups=[("old", "1.29")]), "1.30"))
    assert "### Nodes still behind the control plane (1.30)" in text
    assert "Before the first hop" not in text
