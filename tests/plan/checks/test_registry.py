"""The rules every check keeps: denied reads are NOT_ASSESSED, quiet checks PASS, ids are
stable and documented, and suppressions silence by id and object glob."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from tests.plan.checks.factories import TODAY, context, only, pdb, pod, run, snapshot, workload
from upgrader.plan.checks import (
    CheckStatus,
    Finding,
    Severity,
    all_checks,
    check_ids,
    run_checks,
    sort_key,
    suppress,
    verdict,
)
from upgrader.plan.checks.config import Config, Suppression
from upgrader.plan.checks.findings import fail
from upgrader.plan.document import Verdict
from upgrader.plan.runbooks import all_runbooks
from upgrader.plan.snapshot import Read

DOCS = Path(__file__).resolve().parent.parents[2] / "docs" / "checks.md"


def test_ids_are_kebab_case_and_unique() -> None:
    ids = [c.id for c in all_checks()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i) for i in ids)


def test_the_id_list_names_every_registered_check_and_no_other() -> None:
    # The config validates suppressions against the list without loading the checks.
    from upgrader.plan.checks.ids import CHECK_IDS

    assert check_ids() == CHECK_IDS


def test_a_check_id_not_in_the_list_is_refused_at_registration() -> None:
    from upgrader.plan.checks.registry import check

    with pytest.raises(ValueError, match=r"'no-such-check' is not in "):
        check("no-such-check", severity=Severity.INFO, title="t", passes="p")(lambda *_: [])


def test_every_check_is_documented_with_its_severity() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for item in all_checks():
        row = re.search(rf"^\| `{re.escape(item.id)}` \| (\w+) \|", text, re.MULTILINE)
        assert row, f"{item.id} missing from docs/checks.md"
        assert row.group(1).lower() == item.severity.value, item.id


def test_every_check_a_runbook_reverifies_exists() -> None:
    wanted = {i for r in all_runbooks().values() for s in r.steps for i in s.verifies}
    assert wanted <= check_ids()


@pytest.mark.parametrize("item", all_checks(), ids=lambda c: c.id)
def test_a_denied_read_is_never_a_pass(item: object) -> None:
    from upgrader.plan.checks import Check

    assert isinstance(item, Check)
    if not item.reads:
        pytest.skip("reads nothing that can be denied")
    denied = {r.value: f"perm:{r.value}" for r in Read}
    findings = item.run(snapshot(not_assessed=denied), context())
    assert [f.status for f in findings] == [CheckStatus.NOT_ASSESSED]
    assert "missing permission" in findings[0].message


def test_a_check_that_finds_nothing_passes() -> None:
    findings = run_checks(snapshot(), context())
    assert {f.check_id for f in findings} == check_ids()
    passes = {f.check_id for f in findings if f.status is CheckStatus.PASS}
    assert "single-replica" in passes
    assert "target-version" in passes


def test_a_clean_cluster_is_ready() -> None:
    findings = run_checks(snapshot(), context())
    assert verdict(findings) is Verdict.READY, [str(f) for f in findings if f.warns]


def _two_singletons() -> list[Finding]:
    snap = snapshot(
        workloads=(workload("web", "shop", replicas=1), workload("dns", "kube-system", replicas=1))
    )
    return run("single-replica", snap)


def test_suppression_by_id() -> None:
    rules = (Suppression(id="single-replica", reason="accepted"),)
    (finding,) = suppress(_two_singletons(), rules)
    assert finding.suppressed
    assert finding.suppressed_by == "single-replica * (accepted)"
    assert not finding.warns
    assert verdict([finding]) is Verdict.READY


def test_suppression_by_glob_splits_a_finding() -> None:
    rules = (Suppression(id="single-replica", objects="kube-system/*"),)
    silenced, active = suppress(_two_singletons(), rules)
    assert (silenced.objects, silenced.suppressed) == (("kube-system/dns",), True)
    assert (active.objects, active.suppressed) == (("shop/web",), False)
    assert active.message.endswith(": shop/web")


def test_suppression_of_another_id_or_glob_does_nothing() -> None:
    rules = (
        Suppression(id="bare-pods"),
        Suppression(id="single-replica", objects="payments/*"),
    )
    (finding,) = suppress(_two_singletons(), rules)
    assert not finding.suppressed


def test_suppressions_from_the_config_apply_in_run_checks() -> None:
    snap = snapshot(pods=(pod("web-1"),), pdbs=(pdb("web", max_unavailable=0, expected=1),))
    rule = Suppression(
        id="pdb-zero-disruptions",
        objects="default/*",
        reason="CHG-1: the web team accepts downtime",
        expires=TODAY + dt.timedelta(days=7),
    )
    findings = run_checks(snap, context(config=Config(suppress=(rule,))), only=[rule.id])
    assert only(findings).suppressed
    assert verdict(findings) is Verdict.READY


@pytest.mark.parametrize(
    ("reason", "expires_in_days"),
    [("", 7), ("CHG-1", None), ("CHG-1", -1)],  # no reason; no expiry; expired yesterday
)
def test_a_blocking_finding_needs_a_reasoned_unexpired_rule(
    reason: str, expires_in_days: int | None
) -> None:
    # Issue 12: a blocking check silenced without a reason and an expiry date, or past that
    # date (by the Clock's `today`), still blocks.
    snap = snapshot(pods=(pod("web-1"),), pdbs=(pdb("web", max_unavailable=0, expected=1),))
    expires = None if expires_in_days is None else TODAY + dt.timedelta(days=expires_in_days)
    rule = Suppression(id="pdb-zero-disruptions", reason=reason, expires=expires)
    findings = run_checks(snap, context(config=Config(suppress=(rule,))), only=[rule.id])
    assert not only(findings).suppressed
    assert verdict(findings) is Verdict.NOT_READY


def test_a_rule_expiring_today_still_applies() -> None:
    snap = snapshot(pods=(pod("web-1"),), pdbs=(pdb("web", max_unavailable=0, expected=1),))
    rule = Suppression(id="pdb-zero-disruptions", reason="CHG-1", expires=TODAY)
    findings = run_checks(snap, context(config=Config(suppress=(rule,))), only=[rule.id])
    assert only(findings).suppressed


def test_blocking_findings_make_the_plan_not_ready() -> None:
    snap = snapshot(pods=(pod("web-1"),), pdbs=(pdb("web", max_unavailable=0, expected=1),))
    findings = run_checks(snap, context(), only=["pdb-zero-disruptions", "single-replica"])
    assert verdict(findings) is Verdict.NOT_READY
    assert sorted(findings, key=sort_key)[0].check_id == "pdb-zero-disruptions"


def test_message_lists_a_few_objects_then_counts() -> None:
    finding = fail("x", Severity.WARNING, "many", [f"ns/p{i}" for i in range(20)])
    assert finding.message == "many: ns/p0, ns/p1, ns/p2, ns/p3, ns/p4, ns/p5, ns/p6, ns/p7 " + (
        "and 12 more"
    )


def test_not_assessed_info_checks_do_not_warn() -> None:
    finding = only(run("control-plane-hops", snapshot(), context("1.20")))
    assert finding.status is CheckStatus.NOT_ASSESSED
    assert not finding.warns
