"""Why a pod is still on a drained node, and what would move it: one true cause per pod.

A drain that stops must say what holds each pod, because the remedies differ and a wrong one
wastes the night: waiting longer (replacements starting), adding room on green (replacements
Pending for lack of it), changing a PodDisruptionBudget (one that can never allow an
eviction, or two over the same pod), or asking whoever runs an admission webhook.

Pure: the drain gives the facts it read (pods, PDBs with fresh status, nodes), this says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from upgrader.core.kube import Node, Pod, PodDisruptionBudget, Resources, Workload
from upgrader.core.placement import why_pending
from upgrader.drain.eviction_rules import covers, never_allows


class Cause(StrEnum):
    NO_ROOM = "no-room"
    REPLACEMENTS_NOT_READY = "replacements-not-ready"
    BUDGET_NEVER_ALLOWS = "budget-never-allows"
    BUDGET_SPENT = "budget-spent"  # held by unhealthy pods that are not replacements
    SEVERAL_BUDGETS = "several-budgets"
    WEBHOOK = "webhook"
    TERMINATING = "terminating"
    PENDING_EVICTION = "pending-eviction"  # allowed now; the next round evicts it


# The causes no amount of waiting removes: the drain stops at once instead of timing out.
HOPELESS = frozenset({Cause.BUDGET_NEVER_ALLOWS, Cause.SEVERAL_BUDGETS, Cause.WEBHOOK})


@dataclass(frozen=True)
class Diagnosis:
    cause: Cause
    reason: str
    advice: str


@dataclass(frozen=True)
class DrainFacts:
    """What the drain read, for the diagnosis: every pod (those of any namespace take room on
    green), the nodes being drained, and the others (green)."""

    pods: Sequence[Pod]
    draining: frozenset[str]
    nodes: Sequence[Node]

    def used(self) -> dict[str, Resources]:
        used: dict[str, Resources] = {}
        for pod in self.pods:
            if pod.node_name and not pod.is_finished:
                taken = Resources(pod.spec.requests.cpu_millis, pod.spec.requests.memory_bytes, 1)
                used[pod.node_name] = used.get(pod.node_name, Resources()) + taken
        return used

    def green(self) -> list[Node]:
        return [n for n in self.nodes if n.name not in self.draining]


def _names(pods: Sequence[Pod]) -> str:
    shown = ", ".join(p.name for p in pods[:4])
    return shown + (f" and {len(pods) - 4} more" if len(pods) > 4 else "")


def _never_reason(pdb: PodDisruptionBudget) -> str:
    if pdb.max_unavailable is not None:
        return f"maxUnavailable {pdb.max_unavailable}"
    return f"minAvailable {pdb.min_available} of {pdb.expected_pods} pods"


def pending_reasons(pods: Sequence[Pod], facts: DrainFacts) -> list[str]:
    """For Pending, unscheduled pods: why none of the green nodes takes each shape, else what
    kube-scheduler wrote on the pod (PodScheduled=False, Unschedulable)."""
    green, used = facts.green(), facts.used()
    reasons: dict[str, list[Pod]] = {}
    for pod in pods:
        why = why_pending(pod.spec, green, used) or pod.unschedulable or "not scheduled yet"
        reasons.setdefault(why, []).append(pod)
    return [f"{_names(group)}: {why}" for why, group in reasons.items()]


def diagnose(
    pod: Pod,
    pdbs: Sequence[PodDisruptionBudget],
    facts: DrainFacts,
    denied: str | None = None,
) -> Diagnosis:
    """Why `pod` (evictable, still on a draining node) has not gone."""
    if denied is not None:
        return Diagnosis(
            Cause.WEBHOOK,
            f"eviction refused by an admission webhook: {denied}",
            "ask the webhook's owner to allow this eviction; if losing the pod is safe, delete "
            f"it yourself (kubectl delete pod -n {pod.namespace} {pod.name}), then --resume",
        )
    if len(pdbs) > 1:
        names = ", ".join(p.name for p in pdbs)
        return Diagnosis(
            Cause.SEVERAL_BUDGETS,
            f"covered by several PDBs ({names}); the Eviction API refuses such pods (500)",
            f"merge or narrow the PDBs {names} so one covers the pod, then --resume",
        )
    if not pdbs:
        return Diagnosis(Cause.PENDING_EVICTION, "no PDB; evicted next round", "")
    (pdb,) = pdbs
    if pdb.disruptions_allowed > 0:
        return Diagnosis(
            Cause.PENDING_EVICTION,
            f"PDB {pdb.name} allows {pdb.disruptions_allowed} now; evicted next round",
            "",
        )
    if never_allows(pdb):
        return Diagnosis(
            Cause.BUDGET_NEVER_ALLOWS,
            f"PDB {pdb.name} can never allow an eviction ({_never_reason(pdb)})",
            f"waiting will not help: relax PDB {pdb.namespace}/{pdb.name} (e.g. maxUnavailable "
            "1) or scale its workload up (--surge), then --resume",
        )
    covered = [
        p
        for p in facts.pods
        if covers(pdb, p) and not p.is_terminating and not p.is_finished and not p.ready
    ]
    pending = [p for p in covered if p.node_name is None]
    starting = [p for p in covered if p.node_name is not None and p.node_name not in facts.draining]
    if pending:
        return Diagnosis(
            Cause.NO_ROOM,
            f"PDB {pdb.name} allows 0: replacements Pending, no room for them: "
            + "; ".join(pending_reasons(pending, facts)),
            "a longer --drain-timeout will not help: make room on the new nodes (a larger "
            "green group or instance type, or the label/taint/zone the pods need), then --resume",
        )
    if starting:
        return Diagnosis(
            Cause.REPLACEMENTS_NOT_READY,
            f"PDB {pdb.name} allows 0: held by replacements not yet Ready: {_names(starting)}",
            "see why they do not become Ready (kubectl describe pod -n "
            f"{pdb.namespace} {starting[0].name}); if they are only slow, give a longer "
            "--drain-timeout and --resume",
        )
    return Diagnosis(
        Cause.BUDGET_SPENT,
        f"PDB {pdb.name} allows 0: needs {pdb.desired_healthy} healthy pods, has "
        f"{pdb.current_healthy}",
        f"bring PDB {pdb.namespace}/{pdb.name}'s pods back to health (or relax it), then --resume",
    )


def behind(workloads: Sequence[Workload], facts: DrainFacts) -> list[tuple[str, Diagnosis]]:
    """Displaced workloads still short of Ready replicas (the others hold nothing), with why:
    replacements Pending for lack of room, or scheduled and not yet Ready (named)."""
    found = []
    for workload in workloads:
        if workload.replicas is None or workload.ready_replicas >= workload.replicas:
            continue
        mine = [
            p
            for p in facts.pods
            if p.namespace == workload.namespace
            and workload.selector.matches(p.labels)
            and not p.ready
            and not p.is_terminating
        ]
        pending = [p for p in mine if p.node_name is None]
        ready = f"{workload.ready_replicas}/{workload.replicas} Ready"
        if pending:
            diagnosis = Diagnosis(
                Cause.NO_ROOM,
                f"{ready}; Pending, no room: " + "; ".join(pending_reasons(pending, facts)),
                "make room on the new nodes, then --resume",
            )
        else:
            names = ", ".join(p.name for p in mine[:4]) or "(none listed)"
            diagnosis = Diagnosis(
                Cause.REPLACEMENTS_NOT_READY,
                f"{ready}; replacements not yet Ready: {names}",
                "see why they do not become Ready; if only slow, a longer timeout",
            )
        found.append((workload.key, diagnosis))
    return found
