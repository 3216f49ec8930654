"""Draining a set of nodes through the Eviction API, within every PodDisruptionBudget.

The decisions are pure (`drain_rules` says which pods go, `drain_schedule` which go next); this
module does the I/O through the `Cluster` port and waits through the `Clock`. It differs from
`kubectl drain` where kubectl is wrong for an upgrade:
- all nodes at once, spending each PDB's budget across them (kubectl: node by node);
- refusals (bare pods, emptyDir) are found for every node before anything is evicted;
- the grace period is the pod's own unless overridden, never 0 unless asked;
- a failed cordon stops the drain (kubectl ignores it);
- the node set is re-listed each round, so a node that joins the old group mid-drain is
  cordoned, tainted and drained too;
- a timeout names every pod still there, the PDB holding it and that PDB's budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from upgrader.core.defaults import DEFAULT_DRAIN_TIMEOUT_SECONDS
from upgrader.core.errors import (
    EvictionBlockedError,
    EvictionDeniedError,
    MultiplePdbsError,
    NamespaceTerminatingError,
    NotFoundError,
    PermanentError,
)
from upgrader.core.kube import Node, Pod, Taint, WorkloadKind
from upgrader.core.ports import Clock, Cluster
from upgrader.core.progress import DrainTally, budget_bound
from upgrader.drain.diagnosis import Cause, DrainFacts, behind, diagnose
from upgrader.drain.eviction_rules import never_allows
from upgrader.drain.outcome import (
    DrainObserver,
    DrainRefusedError,
    DrainReport,
    DrainTimeoutError,
    StuckPod,
    drain_summary,
)
from upgrader.drain.preflight import existing_daemonsets, preflight_refusals
from upgrader.drain.rules import (
    DrainOptions,
    PodDecision,
    Verdict,
    decide_all,
    gave_up_waiting,
    refusals,
)
from upgrader.drain.schedule import Candidate, PdbIndex, next_evictions, waiting_on

# The drain's report, errors and pre-flight check live beside it (outcome.py, preflight.py);
# they are named here too, as every caller imports the drain from this module.
__all__ = [
    "DEFAULT_STARTUP_SECONDS",
    "Drain",
    "DrainObserver",
    "DrainRefusedError",
    "DrainReport",
    "DrainSettings",
    "DrainTimeoutError",
    "StuckPod",
    "drain_summary",
    "existing_daemonsets",
    "preflight_refusals",
]

DEFAULT_STARTUP_SECONDS = 30.0


@dataclass(frozen=True)
class DrainSettings:
    timeout_seconds: float = DEFAULT_DRAIN_TIMEOUT_SECONDS  # per drain (why: core.defaults)
    poll_seconds: float = 2.0  # how often budgets and pods are re-read
    grace_period_seconds: int | None = None  # None: each pod's own
    max_grace_period_seconds: int | None = None  # caps the pod's own grace period
    options: DrainOptions = field(default_factory=DrainOptions)
    unbudgeted_limit: int = 50  # evictions per round for pods no PDB covers
    taint: Taint | None = None  # put on every node before it is cordoned
    # kubectl's --disable-eviction: DELETE pods, so no PodDisruptionBudget is asked. Only on
    # the user's explicit word; every deletion is journaled (`journal`) before it is made.
    disable_eviction: bool = False
    pod_selector: str | None = None  # kubectl's --pod-selector: drain only these pods
    journal: Callable[[str], None] | None = None  # records an action before it happens


class Drain:
    """One drain of the nodes `list_nodes()` returns; `run()` returns when they are empty."""

    def __init__(
        self,
        cluster: Cluster,
        clock: Clock,
        list_nodes: Callable[[], list[Node]],
        settings: DrainSettings = DrainSettings(),
        observer: DrainObserver | None = None,
    ) -> None:
        self.cluster = cluster
        self.clock = clock
        self.list_nodes = list_nodes
        self.settings = settings
        self.observer = observer
        self.report = DrainReport()
        self._refused_nodes: set[str] = set()
        self._displaced: set[tuple[WorkloadKind, str, str]] = set()
        # Each displaced workload's Ready replicas just before its first pod went: the drain
        # waits for that again, not for more (a pod bound but never started, Pending, left no
        # Ready replica to restore; kubectl drain does not wait for replacements at all).
        self._ready_before: dict[tuple[WorkloadKind, str, str], int] = {}
        self._estimate: float | None = None
        self._pending = 0  # displaced workloads not Ready yet, as last read
        self._denied: dict[str, str] = {}  # pod key -> the webhook's refusal
        self._hopeless_rounds = 0

    def run(self) -> DrainReport:
        settings = self.settings
        self.report.started_at = self.clock.now()
        deadline = self.report.started_at + settings.timeout_seconds
        # Refusals first: a drain that cannot finish must not leave the nodes cordoned.
        listed = self.list_nodes()
        refused = preflight_refusals(
            self.cluster,
            [n.name for n in listed],
            settings.options,
            settings.pod_selector,
            self.clock.now(),
        )
        if refused:
            raise DrainRefusedError(refused)
        self._prepare_nodes(listed)
        while True:
            nodes = self._prepare_nodes(self.list_nodes())
            pods = self._pods_on(nodes)
            decisions = decide_all(
                pods, settings.options, existing_daemonsets(self.cluster), self.clock.now()
            )
            self._refuse_new_nodes(decisions)
            evictable = [
                d.pod
                for d in decisions
                if d.verdict is Verdict.EVICT
                and not d.pod.is_terminating
                and d.pod.node_name not in self._refused_nodes
            ]
            # The pods the drain waits for: being deleted, not DaemonSet pods, and not given up
            # on by --skip-wait-for-delete-timeout.
            now = self.clock.now()
            terminating = [
                p
                for p in pods
                if p.is_terminating
                and not _daemon(p)
                and not gave_up_waiting(p, settings.options, now)
            ]
            self.report.skipped = sorted(
                d.pod.key for d in decisions if d.verdict is not Verdict.EVICT
            )
            index = PdbIndex(self.cluster.list_pdbs())
            candidates = [
                _candidate(p, index.covering(p), index, self._startup_hint(p)) for p in evictable
            ]
            budgets = {key: index.budget(key) for key in index.by_key}
            for candidate in candidates:
                if len(candidate.pdbs) > 1 and not candidate.free and not settings.disable_eviction:
                    # The Eviction API refuses such a pod every time: waiting out the timeout
                    # would only hide the reason.
                    raise _two_pdbs(candidate.pod, candidate.pdbs)
            if not candidates and not terminating and self._replacements_ready():
                self.report.finished_at = self.clock.now()
                self._report_refused_nodes(decisions)
                return self.report
            if settings.disable_eviction:
                # No Eviction API, so no budget to spend: every pod goes, a batch at a time.
                chosen = candidates[: settings.unbudgeted_limit]
            else:
                chosen = [
                    c
                    for c in next_evictions(
                        candidates, budgets, unbudgeted_limit=settings.unbudgeted_limit
                    )
                    if c.pod.key not in self._denied
                ]
            hopeless = self._hopeless(candidates, chosen, terminating, index)
            if self.clock.now() >= deadline or hopeless:
                self.report.stuck = self._stuck(candidates, terminating, index, nodes)
                self.report.finished_at = self.clock.now()
                raise DrainTimeoutError(self.report, settings.timeout_seconds, hopeless=hopeless)
            for candidate in chosen:
                self._evict(candidate.pod)
            if self.observer is not None:
                self.observer.drain_progress(
                    len(nodes),
                    len(candidates),
                    len(self.report.evicted),
                    waiting_on(candidates, budgets),
                    tally=self._tally(nodes, candidates, terminating, budgets),
                )
            self.clock.sleep(settings.poll_seconds)

    def _tally(
        self,
        nodes: list[Node],
        candidates: list[Candidate],
        terminating: list[Pod],
        budgets: dict[str, int],
    ) -> DrainTally:
        if self._estimate is None and candidates:
            # The budget bound as the drain starts: what the planner's estimate predicts, read
            # from the live budgets (the plan's may be a hop old).
            covering = {c.pod.key: (c.pdbs[0] if c.pdbs else None) for c in candidates}
            self._estimate = budget_bound([c.pod for c in candidates], covering, budgets)
        busy = {c.pod.node_name for c in candidates} | {p.node_name for p in terminating}
        binding = {pdb for c in candidates for pdb in c.pdbs}
        held = waiting_on(candidates, budgets)
        return DrainTally(
            headroom=sum(max(0, budgets.get(pdb, 0)) for pdb in binding),
            held=sum(len(pods) for pods in held.values()),
            nodes_total=len(nodes),
            nodes_drained=sum(1 for n in nodes if n.name not in busy),
            replacements_pending=self._pending,
            elapsed=self.clock.now() - self.report.started_at,
            estimate=self._estimate,
        )

    def _prepare_nodes(self, nodes: list[Node]) -> list[Node]:
        """Taint and cordon every node not yet so; a failure here stops the drain."""
        self.report.nodes = sorted({*self.report.nodes, *(n.name for n in nodes)})
        prepared = []
        taint = self.settings.taint
        for listed in nodes:
            node = listed
            if taint is not None and taint not in node.taints:
                node = self.cluster.add_taint(node.name, taint)
            if not node.unschedulable:
                node = self.cluster.set_unschedulable(node.name, True)
            prepared.append(node)
        return prepared

    def _pods_on(self, nodes: list[Node]) -> list[Pod]:
        pods: list[Pod] = []
        for node in nodes:
            pods.extend(
                self.cluster.list_pods(
                    node_name=node.name, label_selector=self.settings.pod_selector
                )
            )
        return pods

    def _grace(self, pod: Pod) -> int | None:
        grace = self.settings.grace_period_seconds
        cap = self.settings.max_grace_period_seconds
        if grace is None and cap is not None:
            grace = min(pod.spec.termination_grace_seconds, cap)
            if grace < pod.spec.termination_grace_seconds:
                self.report.grace_capped.append(
                    f"{pod.key} {pod.spec.termination_grace_seconds}s->{grace}s"
                )
        return grace

    def _startup_hint(self, pod: Pod) -> float:
        return pod.startup_seconds or DEFAULT_STARTUP_SECONDS

    def _delete(self, pod: Pod) -> None:
        """--disable-eviction: journaled, then deleted; no budget is asked."""
        if self.settings.journal is not None:
            self.settings.journal(
                f"delete pod {pod.key} on {pod.node_name} without the Eviction API "
                "(--disable-eviction: no PodDisruptionBudget is asked)"
            )
        self._note_ready_before(pod)
        try:
            self.cluster.delete_pod(pod.namespace, pod.name, self._grace(pod))
        except NotFoundError:
            return
        self.report.evicted.append(pod.key)
        owner = _workload_of(pod)
        if owner is not None:
            self._displaced.add(owner)

    def _evict(self, pod: Pod) -> None:
        if self.settings.disable_eviction:
            self._delete(pod)
            return
        self._note_ready_before(pod)
        try:
            self.cluster.evict_pod(pod.namespace, pod.name, self._grace(pod))
        except NotFoundError:
            return
        except EvictionBlockedError:
            self.report.refused_evictions += 1
            return
        except NamespaceTerminatingError:
            return  # the namespace controller is deleting the pod anyway
        except EvictionDeniedError as error:
            # A webhook said no; asking again each round would only repeat its answer.
            self._denied[pod.key] = str(error)
            return
        except MultiplePdbsError as error:
            raise _two_pdbs(pod, error.pdbs) from error
        self.report.evicted.append(pod.key)
        owner = _workload_of(pod)
        if owner is not None:
            self._displaced.add(owner)

    def _note_ready_before(self, pod: Pod) -> None:
        owner = _workload_of(pod)
        if owner is None or owner in self._ready_before:
            return
        try:
            self._ready_before[owner] = self.cluster.get_workload(*owner).ready_replicas
        except NotFoundError:
            return

    def _replacements_ready(self) -> bool:
        pending = 0
        for key in sorted(self._displaced):  # sorted: the same calls each run
            try:
                workload = self.cluster.get_workload(*key)
            except NotFoundError:
                continue
            if workload.replicas is None:
                continue
            wanted = min(workload.replicas, self._ready_before.get(key, workload.replicas))
            if workload.ready_replicas < wanted:
                pending += 1
        self._pending = pending
        return pending == 0

    def _refuse_new_nodes(self, decisions: list[PodDecision]) -> None:
        for decision in refusals(decisions):
            if decision.pod.node_name:
                self._refused_nodes.add(decision.pod.node_name)

    def _report_refused_nodes(self, decisions: list[PodDecision]) -> None:
        if self._refused_nodes:
            raise DrainRefusedError(refusals(decisions))

    def _facts(self, nodes: list[Node]) -> DrainFacts:
        # Every pod, not only those of the namespaces concerned: the room left on green is
        # taken by pods of any namespace. One read, when the drain stops.
        pods = self.cluster.list_pods()
        return DrainFacts(pods, frozenset(n.name for n in nodes), self.cluster.list_nodes())

    def _hopeless(
        self,
        candidates: list[Candidate],
        chosen: list[Candidate],
        terminating: list[Pod],
        index: PdbIndex,
    ) -> bool:
        """True when nothing is moving and every pod left is held by something waiting cannot
        change (a webhook's refusal, a budget that never allows one); seen twice in a row, so
        a PDB edited meanwhile is noticed before the drain gives up."""
        if chosen or terminating or not candidates or not self._replacements_ready():
            self._hopeless_rounds = 0
            return False
        if any(
            c.pod.key not in self._denied
            and not (len(c.pdbs) == 1 and never_allows(index.by_key[c.pdbs[0]]))
            for c in candidates
        ):
            self._hopeless_rounds = 0
            return False
        self._hopeless_rounds += 1
        return self._hopeless_rounds >= 2

    def _stuck(
        self,
        candidates: list[Candidate],
        terminating: list[Pod],
        index: PdbIndex,
        nodes: list[Node],
    ) -> list[StuckPod]:
        facts = self._facts(nodes)
        stuck = []
        for c in candidates:
            pdb = c.pdbs[0] if len(c.pdbs) == 1 else None
            found = diagnose(
                c.pod, [index.by_key[k] for k in c.pdbs], facts, self._denied.get(c.pod.key)
            )
            stuck.append(
                StuckPod(
                    c.pod.key,
                    c.pod.node_name or "",
                    pdb,
                    index.budget(pdb) if pdb else None,
                    found.reason,
                    found.cause.value,
                    found.advice,
                )
            )
        stuck.extend(
            StuckPod(
                p.key,
                p.node_name or "",
                None,
                None,
                f"terminating (grace {p.spec.termination_grace_seconds}s)",
                Cause.TERMINATING.value,
                "wait for its grace period; a pod stuck Terminating on a dead kubelet needs "
                "--skip-wait-for-delete-timeout",
            )
            for p in terminating
        )
        if not stuck:
            stuck.extend(self._behind(facts))
        return stuck

    def _behind(self, facts: DrainFacts) -> list[StuckPod]:
        """The displaced workloads still short of Ready replicas, with their pods' state."""
        workloads = []
        for kind, ns, name in sorted(self._displaced):
            try:
                workloads.append(self.cluster.get_workload(kind, ns, name))
            except NotFoundError:
                continue
        return [
            StuckPod(key, "", None, None, found.reason, found.cause.value, found.advice)
            for key, found in behind(workloads, facts)
        ]


def _two_pdbs(pod: Pod, pdbs: tuple[str, ...]) -> PermanentError:
    return PermanentError(
        f"cannot evict {pod.key}: it matches more than one PodDisruptionBudget "
        f"({', '.join(pdbs)}); the Eviction API refuses such pods. Merge or narrow "
        "those PDBs, then resume"
    )


def _candidate(pod: Pod, pdbs: tuple[str, ...], index: PdbIndex, startup: float) -> Candidate:
    return Candidate(pod, pdbs, startup, free=index.free(pod, pdbs))


def _daemon(pod: Pod) -> bool:
    return pod.owner is not None and pod.owner.kind == "DaemonSet"


def _workload_of(pod: Pod) -> tuple[WorkloadKind, str, str] | None:
    """The workload whose readiness says the pod's replacement is up."""
    if pod.owner is None:
        return None
    if pod.owner.kind == "ReplicaSet":
        return (WorkloadKind.REPLICA_SET, pod.namespace, pod.owner.name)
    if pod.owner.kind == "StatefulSet":
        return (WorkloadKind.STATEFUL_SET, pod.namespace, pod.owner.name)
    return None
