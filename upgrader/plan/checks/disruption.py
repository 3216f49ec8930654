"""Checks on what a drain does to workloads: budgets that block it, pods it loses or breaks.

Every node of a replaced group is drained, so these look at the whole cluster: a
PodDisruptionBudget that allows no disruption hangs the drain, a pod matched by two budgets
cannot be evicted at all, a bare pod is gone for good, and a single replica means downtime.
Findings about pods name their workload ("ns/name"), not 40,000 pod names.
"""

from __future__ import annotations

from collections import defaultdict

from upgrader.core.eviction import goes_free
from upgrader.core.kube import PodDisruptionBudget, WorkloadKind, resolve_int_or_percent
from upgrader.plan.checks._common import is_moved_by_drain, plural, unique_sorted
from upgrader.plan.checks.context import CheckContext
from upgrader.plan.checks.findings import Finding, Severity, fail
from upgrader.plan.checks.ids import (
    BARE_PODS,
    LOCAL_STORAGE,
    PDB_NO_PODS,
    PDB_OVERLAP,
    PDB_ZERO_DISRUPTIONS,
    READINESS_PROBE,
    SINGLE_REPLICA,
    TERMINATION_GRACE,
)
from upgrader.plan.checks.registry import check
from upgrader.plan.snapshot import ClusterSnapshot, Read


def blocks_by_spec(pdb: PodDisruptionBudget, expected: int) -> bool:
    """True when the budget can never allow an eviction, however healthy the pods are."""
    # The disruption controller rounds both fields' percentages up.
    if pdb.max_unavailable is not None:
        return resolve_int_or_percent(pdb.max_unavailable, expected, round_up=True) <= 0
    if pdb.min_available is not None:
        return resolve_int_or_percent(pdb.min_available, expected, round_up=True) >= expected
    return False


@check(
    PDB_ZERO_DISRUPTIONS,
    severity=Severity.ERROR,
    title="No PodDisruptionBudget with pods allows zero disruptions",
    passes="every PodDisruptionBudget with pods allows at least one disruption",
    reads=(Read.PDBS, Read.PODS),
)
def pdb_zero_disruptions(snapshot: ClusterSnapshot, _context: CheckContext) -> list[Finding]:
    by_spec, by_status = [], []
    for pdb in snapshot.pdbs:
        matched = snapshot.pods_by_pdb.get(pdb.key, ())
        if not matched:
            continue
        expected = pdb.expected_pods or len(matched)
        if blocks_by_spec(pdb, expected):
            by_spec.append(pdb.key)
        # Status is only trusted once the disruption controller has counted the pods. A budget
        # at 0 holds only pods that need it: Pending ones (bound or not), finished, terminating
        # and not-Ready pods the policy lets go are evicted without it (core/eviction.py).
        elif (
            pdb.expected_pods > 0
            and pdb.disruptions_allowed <= 0
            and not all(goes_free(p, pdb) for p in matched)
        ):
            by_status.append(pdb.key)
    findings = []
    if by_spec:
        findings.append(
            fail(
                PDB_ZERO_DISRUPTIONS,
                Severity.ERROR,
                "PodDisruptionBudgets allow no disruption at all (maxUnavailable 0, or "
                "minAvailable covering every pod): a drain would wait forever",
                sorted(by_spec),
                remedy="set maxUnavailable to 1 or more, or run more replicas than minAvailable, "
                "for the duration of the upgrade",
            )
        )
    if by_status:
        findings.append(
            fail(
                PDB_ZERO_DISRUPTIONS,
                Severity.ERROR,
                "PodDisruptionBudgets allow no disruption now (too few healthy pods): a drain "
                "would wait until their pods recover",
                sorted(by_status),
                remedy="make the budgets' pods healthy (kubectl get pdb shows ALLOWED "
                "DISRUPTIONS), then plan again",
            )
        )
    return findings


@check(
    PDB_NO_PODS,
    severity=Severity.WARNING,
    title="Every PodDisruptionBudget selects at least one pod",
    passes="every PodDisruptionBudget selects pods",
    reads=(Read.PDBS, Read.PODS),
)
def pdb_no_pods(snapshot: ClusterSnapshot, _context: CheckContext) -> list[Finding]:
    empty = sorted(p.key for p in snapshot.pdbs if not snapshot.pods_by_pdb.get(p.key))
    if not empty:
        return []
    return [
        fail(
            PDB_NO_PODS,
            Severity.WARNING,
            "PodDisruptionBudgets select no pod: they protect nothing during the drain",
            empty,
            remedy="fix their selectors to match the workload's pod labels, or delete them",
        )
    ]


@check(
    PDB_OVERLAP,
    severity=Severity.ERROR,
    title="No pod is matched by more than one PodDisruptionBudget",
    passes="no pod is matched by more than one PodDisruptionBudget",
    reads=(Read.PDBS, Read.PODS),
)
def pdb_overlap(snapshot: ClusterSnapshot, _context: CheckContext) -> list[Finding]:
    budgets: dict[str, list[str]] = defaultdict(list)
    for pdb_key, matched in snapshot.pods_by_pdb.items():
        for pod in matched:
            budgets[pod.key].append(pdb_key)
    overlaps: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for pod_key, pdb_keys in budgets.items():
        if len(pdb_keys) > 1:
            overlaps[tuple(sorted(pdb_keys))].append(pod_key)
    findings = []
    for keys, pods in sorted(overlaps.items()):
        findings.append(
            fail(
                PDB_OVERLAP,
                Severity.ERROR,
                f"{plural(len(pods), 'pod')} (e.g. {min(pods)}) match several "
                "PodDisruptionBudgets: the Eviction API refuses to evict them",
                keys,
                remedy="narrow the budgets' selectors so each pod matches exactly one",
            )
        )
    return findings


@check(
    SINGLE_REPLICA,
    severity=Severity.WARNING,
    title="Deployments and StatefulSets run enough replicas to survive a drain",
    passes="no Deployment or StatefulSet runs fewer replicas than the threshold",
    reads=(Read.WORKLOADS,),
)
def single_replica(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    floor = context.thresholds.min_replicas
    findings = []
    for kind in (WorkloadKind.DEPLOYMENT, WorkloadKind.STATEFUL_SET):
        names = sorted(
            f"{w.namespace}/{w.name}"
            for w in snapshot.workloads
            if w.kind == kind and w.replicas is not None and 0 < w.replicas < floor
        )
        if names:
            findings.append(
                fail(
                    SINGLE_REPLICA,
                    Severity.WARNING,
                    f"{kind.value}s run fewer than {floor} replicas: each is down while its pod "
                    "moves to a new node",
                    names,
                    remedy=f"scale them to {floor} or more (with a PodDisruptionBudget) for the "
                    "upgrade, or accept the downtime and suppress this finding",
                )
            )
    return findings


@check(
    BARE_PODS,
    severity=Severity.WARNING,
    title="No running pod lacks a controller",
    passes="every running pod has a controller",
    reads=(Read.PODS,),
)
def bare_pods(snapshot: ClusterSnapshot, _context: CheckContext) -> list[Finding]:
    names = sorted(
        p.key
        for p in snapshot.pods
        if (p.owner is None or not p.owner.controller)
        and not (p.is_mirror or p.is_finished or p.is_terminating)
    )
    if not names:
        return []
    return [
        fail(
            BARE_PODS,
            Severity.WARNING,
            "pods have no controller: a drain deletes them and nothing recreates them",
            names,
            remedy="run them under a Deployment, StatefulSet or Job, or accept losing them "
            "(eksup drains them only after confirmation)",
        )
    ]


@check(
    LOCAL_STORAGE,
    severity=Severity.WARNING,
    title="No drained pod keeps data in emptyDir or hostPath volumes",
    passes="no drained pod uses emptyDir or hostPath volumes",
    reads=(Read.PODS,),
)
def local_storage(snapshot: ClusterSnapshot, _context: CheckContext) -> list[Finding]:
    empty_dir, host_path = set(), set()
    for pod in snapshot.pods:
        if not pod.spec.volumes or not is_moved_by_drain(pod):
            continue
        if any(v.empty_dir for v in pod.spec.volumes):
            empty_dir.add(snapshot.workload_name(pod))
        if any(v.host_path for v in pod.spec.volumes):
            host_path.add(snapshot.workload_name(pod))
    findings = []
    if empty_dir:
        findings.append(
            fail(
                LOCAL_STORAGE,
                Severity.WARNING,
                "pods of these workloads use emptyDir volumes, whose data is lost on drain",
                sorted(empty_dir),
                remedy="make sure the data is scratch (caches, temp files) or move it to a "
                "PersistentVolume",
            )
        )
    if host_path:
        findings.append(
            fail(
                LOCAL_STORAGE,
                Severity.WARNING,
                "pods of these workloads use hostPath volumes: the new node starts without that "
                "data",
                sorted(host_path),
                remedy="move node-local state to a PersistentVolume or an external store",
            )
        )
    return findings


@check(
    READINESS_PROBE,
    severity=Severity.WARNING,
    title="Deployments and StatefulSets have readiness probes",
    passes="every Deployment and StatefulSet has a readiness probe",
    reads=(Read.WORKLOADS,),
)
def readiness_probe(snapshot: ClusterSnapshot, _context: CheckContext) -> list[Finding]:
    names = sorted(
        f"{w.namespace}/{w.name}"
        for w in snapshot.workloads
        if w.kind in (WorkloadKind.DEPLOYMENT, WorkloadKind.STATEFUL_SET)
        and w.replicas != 0
        and not w.template.spec.has_readiness_probe
    )
    if not names:
        return []
    return [
        fail(
            READINESS_PROBE,
            Severity.WARNING,
            "workloads have no readiness probe: a moved pod counts as Ready before it can "
            "serve, so budgets and the drain's verification cannot protect them",
            names,
            remedy="add readinessProbe to their containers",
        )
    ]


@check(
    TERMINATION_GRACE,
    severity=Severity.WARNING,
    title="No drained pod's grace period exceeds the drain timeout",
    passes="every drained pod's terminationGracePeriodSeconds fits the drain timeout",
    reads=(Read.PODS,),
)
def termination_grace(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    timeout = context.drain_timeout
    longest = 0
    names = []
    for pod in snapshot.pods:
        grace = pod.spec.termination_grace_seconds
        if grace > timeout and is_moved_by_drain(pod):
            names.append(snapshot.workload_name(pod))
            longest = max(longest, grace)
    if not names:
        return []
    return [
        fail(
            TERMINATION_GRACE,
            Severity.WARNING,
            f"pods may take up to {longest} s to stop, longer than the {timeout} s drain "
            "timeout: the drain gives up on their nodes",
            unique_sorted(names),
            remedy="lower terminationGracePeriodSeconds, or raise the drain timeout "
            "(thresholds.drain_timeout_seconds in .eksup.yaml)",
        )
    ]
