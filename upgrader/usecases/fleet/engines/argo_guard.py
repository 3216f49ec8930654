"""What an Argo step checks before its cluster starts, so the Workflow keeps the local engine's
rules: nothing new starts once a stage is over its failure allowance (its group's, or the
stage's across all its groups), a cluster waits for its upstream to reach the target, and a
cluster a person skipped (`eksup fleet skip`) is not upgraded.

The step reads its own Workflow's node statuses (Argo's, folded by `workflow_state` exactly as
`eksup fleet status` folds them) and asks the same `policy` functions the local engine asks.
It reports what it did through its `outcome` output parameter, which `status` reads back:
`skipped: why`, `not-started: why`, or `failed: why`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from upgrader.core.errors import NotFoundError
from upgrader.core.kube import ConfigMap
from upgrader.core.ports import Cluster
from upgrader.core.run.journal import JOURNAL_NAMESPACE
from upgrader.fleet.policy import policy_failed, upstream_blocker
from upgrader.fleet.run_doc import FleetRun
from upgrader.fleet.state import ClusterStatus
from upgrader.usecases.fleet.engines.argo_status import workflow_state


@dataclass(frozen=True)
class Verdict:
    status: ClusterStatus  # SKIPPED, PENDING (not started) or FAILED; RUNNING: go on
    reason: str = ""

    @property
    def outcome(self) -> str:
        word = {ClusterStatus.PENDING: "not-started"}.get(self.status, self.status.value)
        return f"{word}: {self.reason}"


GO = Verdict(ClusterStatus.RUNNING)


def skip_marker_name(cluster: str) -> str:
    return f"eksup-fleet-skip-{cluster}"


def write_skip_marker(kube: Cluster, run: FleetRun, cluster: str, reason: str) -> None:
    """`eksup fleet skip` for a run on Argo: the mark lives in the member cluster, beside its
    journal's copy, where that cluster's step reads it before it starts."""
    kube.apply_config_map(
        ConfigMap(
            JOURNAL_NAMESPACE,
            skip_marker_name(cluster),
            {"run": run.run_id, "cluster": cluster, "reason": reason},
        )
    )


def read_skip_marker(kube: Cluster, run: FleetRun, cluster: str) -> str | None:
    try:
        found = kube.get_config_map(JOURNAL_NAMESPACE, skip_marker_name(cluster))
    except NotFoundError:
        return None
    if found.data.get("run") != run.run_id or found.data.get("cluster") != cluster:
        return None  # another run's mark: it does not skip this one
    return found.data.get("reason") or "skipped"


def judge(run: FleetRun, cluster: str, workflow: dict[str, Any]) -> Verdict:
    """Whether this cluster may start now, by the Workflow's node statuses."""
    state = workflow_state(run, workflow)
    stage = run.stage(run.cluster(cluster).stage)
    failed, why = policy_failed(run, stage, state)
    if failed:
        return Verdict(ClusterStatus.PENDING, f"stage {stage.name} failed: {why} (fail-fast)")
    blocker = upstream_blocker(run, cluster, state)
    if blocker is not None:
        return Verdict(ClusterStatus.FAILED, blocker)
    return GO
