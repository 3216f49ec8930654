from __future__ import annotations

from tests.plan.checks.factories import context, only, pdb, pod, run, snapshot, workload
from upgrader.core.kube import (
    MIRROR_POD_ANNOTATION,
    LabelSelector,
    OwnerRef,
    Pod,
    PodDisruptionBudget,
    PodPhase,
    SelectorRequirement,
    Volume,
    WorkloadKind,
)
from upgrader.plan.checks import CheckStatus, Severity
from upgrader.plan.checks.config import Config, Thresholds

WEB = (pod("web-1"), pod("web-2"))


def test_pdb_with_max_unavailable_zero_blocks() -> None:
    snap = snapshot(pods=WEB, pdbs=(pdb("web", max_unavailable=0, expected=2),))
    finding = only(run("pdb-zero-disruptions", snap))
    assert (finding.severity, finding.status) == (Severity.ERROR, CheckStatus.FAIL)
    assert "allow no disruption at all" in finding.message
    assert finding.objects == ("default/web",)


def test_pdb_with_min_available_covering_every_pod_blocks() -> None:
    snap = snapshot(pods=WEB, pdbs=(pdb("web", min_available="100%", expected=2),))
    assert only(run("pdb-zero-disruptions", snap)).objects == ("default/web",)


def test_pdb_with_zero_disruptions_now_blocks() -> None:
    snap = snapshot(pods=WEB, pdbs=(pdb("web", min_available=1, expected=2, allowed=0),))
    finding = only(run("pdb-zero-disruptions", snap))
    assert "allow no disruption now" in finding.message


def test_pdb_allowing_a_disruption_passes() -> None:
    snap = snapshot(pods=WEB, pdbs=(pdb("web", max_unavailable=1, expected=2, allowed=1),))
    assert only(run("pdb-zero-disruptions", snap)).status is CheckStatus.PASS


def test_pdb_without_pods_is_not_blocking_here() -> None:
    snap = snapshot(pods=WEB, pdbs=(pdb("none", match={"app": "gone"}, max_unavailable=0),))
    assert only(run("pdb-zero-disruptions", snap)).status is CheckStatus.PASS


def test_pdb_checks_are_not_assessed_without_pods() -> None:
    snap = snapshot(pdbs=(pdb("web"),), not_assessed={"pods": "list pods"})
    finding = only(run("pdb-zero-disruptions", snap))
    assert finding.status is CheckStatus.NOT_ASSESSED
    assert "list pods" in finding.message


def test_pdb_matching_no_pods() -> None:
    snap = snapshot(
        pods=(*WEB, pod("other", "shop")),
        pdbs=(pdb("web"), pdb("typo", match={"app": "wbe"}), pdb("web", "shop")),
    )
    finding = only(run("pdb-no-pods", snap))
    assert (finding.severity, finding.status) == (Severity.WARNING, CheckStatus.FAIL)
    assert finding.objects == ("default/typo",)


def test_pdb_selectors_with_expressions_and_empty_selectors_match() -> None:
    expression = LabelSelector(
        match_expressions=(SelectorRequirement("app", "In", ("web", "api")),)
    )
    snap = snapshot(
        pods=WEB,
        pdbs=(
            pdb("all", match={}),
            PodDisruptionBudget("default", "expr", expression, max_unavailable=1),
        ),
    )
    assert only(run("pdb-no-pods", snap)).status is CheckStatus.PASS


def test_finished_pods_do_not_count_for_a_pdb() -> None:
    snap = snapshot(pods=(pod("job-1", phase=PodPhase.SUCCEEDED),), pdbs=(pdb("web"),))
    assert only(run("pdb-no-pods", snap)).objects == ("default/web",)


def test_pods_matched_by_two_pdbs_block() -> None:
    snap = snapshot(
        pods=WEB,
        pdbs=(pdb("web"), pdb("all-web", match={}), pdb("elsewhere", "shop")),
    )
    finding = only(run("pdb-overlap", snap))
    assert (finding.severity, finding.status) == (Severity.ERROR, CheckStatus.FAIL)
    assert "2 pods (e.g. default/web-1) match several PodDisruptionBudgets" in finding.message
    assert finding.objects == ("default/all-web", "default/web")


def test_pods_matched_by_one_pdb_each_pass() -> None:
    snap = snapshot(pods=(*WEB, pod("api-1", labels={"app": "api"})), pdbs=(pdb("web"),))
    assert only(run("pdb-overlap", snap)).status is CheckStatus.PASS


def test_single_replica_workloads() -> None:
    snap = snapshot(
        workloads=(
            workload("web", replicas=1),
            workload("db", kind=WorkloadKind.STATEFUL_SET, replicas=1),
            workload("idle", replicas=0),
            workload("api", replicas=3),
            workload("agent", kind=WorkloadKind.DAEMON_SET, replicas=None),
        )
    )
    findings = run("single-replica", snap)
    assert [(f.severity, f.status, f.objects) for f in findings] == [
        (Severity.WARNING, CheckStatus.FAIL, ("default/web",)),
        (Severity.WARNING, CheckStatus.FAIL, ("default/db",)),
    ]
    assert findings[0].message.startswith("Deployments run fewer than 2 replicas")


def test_single_replica_threshold_comes_from_the_config() -> None:
    snap = snapshot(workloads=(workload("api", replicas=2),))
    assert only(run("single-replica", snap)).status is CheckStatus.PASS
    strict = context(config=Config(thresholds=Thresholds(min_replicas=3)))
    assert only(run("single-replica", snap, strict)).objects == ("default/api",)


def test_bare_pods() -> None:
    mirror = Pod(
        "kube-system",
        "static-x",
        "u1",
        annotations={MIRROR_POD_ANNOTATION: "x"},
        owner=OwnerRef("Node", "n1"),
        phase=PodPhase.RUNNING,
    )
    snap = snapshot(
        pods=(
            pod("debug", owner=None),
            pod("done", owner=None, phase=PodPhase.SUCCEEDED),
            pod("web-1"),
            mirror,
        )
    )
    finding = only(run("bare-pods", snap))
    assert (finding.severity, finding.status) == (Severity.WARNING, CheckStatus.FAIL)
    assert finding.objects == ("default/debug",)
    assert "nothing recreates them" in finding.message


def test_no_bare_pods_pass() -> None:
    assert only(run("bare-pods", snapshot(pods=WEB))).status is CheckStatus.PASS


def test_local_storage_names_the_workloads() -> None:
    scratch = (Volume("tmp", empty_dir=True),)
    host = (Volume("data", host_path=True),)
    snap = snapshot(
        pods=(
            pod("web-5d9f-a", labels={"app": "web", "pod-template-hash": "5d9f"}, volumes=scratch),
            pod("web-5d9f-b", labels={"app": "web", "pod-template-hash": "5d9f"}, volumes=scratch),
            pod("db-0", owner=("StatefulSet", "db"), volumes=host),
            pod("agent-x", owner=("DaemonSet", "agent"), volumes=host),
        )
    )
    empty, host_path = run("local-storage", snap)
    assert (empty.severity, empty.status) == (Severity.WARNING, CheckStatus.FAIL)
    assert empty.objects == ("default/web",)
    assert "emptyDir" in empty.message
    assert host_path.objects == ("default/db",)


def test_no_local_storage_passes() -> None:
    pvc = (Volume("data", persistent_claim="data-db-0"),)
    snap = snapshot(pods=(pod("db-0", owner=("StatefulSet", "db"), volumes=pvc),))
    assert only(run("local-storage", snap)).status is CheckStatus.PASS


def test_workloads_without_readiness_probes() -> None:
    snap = snapshot(
        workloads=(
            workload("web", readiness=False),
            workload("idle", readiness=False, replicas=0),
            workload("api"),
        )
    )
    finding = only(run("readiness-probe", snap))
    assert (finding.severity, finding.status) == (Severity.WARNING, CheckStatus.FAIL)
    assert finding.objects == ("default/web",)


def test_workloads_with_readiness_probes_pass() -> None:
    assert only(run("readiness-probe", snapshot(workloads=(workload("api"),)))).status is (
        CheckStatus.PASS
    )


def test_termination_grace_beyond_the_drain_timeout() -> None:
    snap = snapshot(pods=(pod("kafka-0", owner=("StatefulSet", "kafka"), grace=3600), *WEB))
    finding = only(run("termination-grace", snap))
    assert (finding.severity, finding.status) == (Severity.WARNING, CheckStatus.FAIL)
    assert "up to 3600 s to stop, longer than the 900 s drain timeout" in finding.message
    assert finding.objects == ("default/kafka",)


def test_termination_grace_uses_the_contexts_drain_timeout() -> None:
    snap = snapshot(pods=(pod("kafka-0", owner=("StatefulSet", "kafka"), grace=3600),))
    relaxed = context(drain_timeout_seconds=7200)
    assert only(run("termination-grace", snap, relaxed)).status is CheckStatus.PASS
