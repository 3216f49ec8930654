"""One cluster of a fleet run: `eksup execute <its plan> --resume --yes`, plus what a fleet adds.

Both engines run every cluster through `run_cluster`: the local pool calls it in a thread, an
Argo step calls it through `eksup fleet execute-cluster` in a pod. It adds two things to a plain
execute. The cluster plan's own approval gate: with `clusterApproval: fleet` (the default) the
fleet's gates and its reviewed runbook stand in for it, so it is approved in the cluster's
journal as the fleet run's (who and which run are recorded, as `eksup approve` would); with
`each` the cluster waits there. And the soak between control plane and nodes: the run stops
before the first node step and the fleet resumes it when the soak is over, so EKS's 7-day
control-plane rollback stays open while the nodes are one minor behind.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from upgrader.core.errors import EksupError
from upgrader.core.ports import Clock
from upgrader.core.run.journal import journal_path_for
from upgrader.execute.integrity import verify_digest
from upgrader.execute.reporter import NullReporter
from upgrader.execute.steps.base import ExecuteOptions
from upgrader.fleet.run_doc import FleetRun, RunCluster
from upgrader.fleet.state import ClusterStatus
from upgrader.plan.document import Plan, Step, StepKind
from upgrader.usecases.identity import prove
from upgrader.usecases.targets import Target, engine_ports

NODE_STEPS = frozenset(
    {
        StepKind.NODEGROUP_BLUE_GREEN,
        StepKind.NODEGROUP_IN_PLACE,
        StepKind.SELF_MANAGED_GROUP,
        StepKind.KARPENTER_DRIFT,
        StepKind.FARGATE_RESTART,
    }
)


@dataclass(frozen=True)
class LeafResult:
    status: ClusterStatus  # succeeded, failed, soaking, waiting or stopped
    detail: str
    soak_until: float | None = None


class LineReporter(NullReporter):
    """One line per step, prefixed with the cluster: several clusters share one terminal."""

    def __init__(self, cluster: str, log: Callable[[str], None]) -> None:
        self.cluster, self.log = cluster, log
        self.last: str | None = None  # the last step done or skipped (for the soak boundary)

    def step_finished(self, step: Step, detail: str, seconds: float) -> None:
        self.last = step.id
        self.log(f"{self.cluster}: done {step.id} ({seconds / 60:.1f} min): {detail}")

    def step_skipped(self, step: Step, reason: str) -> None:
        del reason  # finished by an earlier run: nothing to say
        self.last = step.id

    def step_failed(self, step: Step, error: str) -> None:
        self.log(f"{self.cluster}: FAILED {step.id}: {error}")

    def warning(self, message: str) -> None:
        if message.startswith("waiting for approval of"):
            return  # the fleet approves it, or says the cluster waits, in its own words
        self.log(f"{self.cluster}: warning: {message}")


def boundary_step(plan: Plan) -> str | None:
    """The step right before the first node step: where the control-plane soak starts."""
    for index, step in enumerate(plan.steps):
        if step.kind in NODE_STEPS:
            return plan.steps[index - 1].id if index > 0 else None
    return None


def execute_options(run: FleetRun, cluster: RunCluster) -> ExecuteOptions:
    """`eksup execute --resume --yes` with fleet.yaml's execute settings for this cluster (its
    drain timeout went into its plan)."""
    options = ExecuteOptions(resume=True, yes=True, holder=f"eksup fleet {run.run_id}")
    settings = cluster.execute
    if settings is None:
        return options
    return replace(
        options,
        force=settings.force,
        delete_emptydir_data=settings.delete_emptydir_data,
        pod_selector=settings.pod_selector,
        grace_period_seconds=settings.grace_period,
        max_grace_period_seconds=settings.max_grace_period,
        skip_wait_for_delete_timeout_seconds=settings.skip_wait_for_delete_timeout,
        surge=settings.surge,
    )


def cluster_plan_file(directory: Path, cluster: str) -> Path:
    return directory / f"{cluster}.plan.json"


def run_cluster(
    run: FleetRun,
    cluster: RunCluster,
    plan_file: Path,
    target: Target,
    clock: Clock,
    *,
    soak_done: bool,
    log: Callable[[str], None],
) -> LeafResult:
    """Run (or resume) one cluster's plan; never raises eksup's errors, returns them."""
    from upgrader.execute.engine import RunStatus, execute
    from upgrader.usecases.approve import Approver, approve

    plan = cluster.plan
    if plan is None:
        return LeafResult(ClusterStatus.FAILED, f"no plan: {cluster.reason}")
    try:
        # As `eksup execute` does: the plan is the content `eksup fleet plan` sealed, and the
        # member reached (its account, role, region, context) is the very cluster it was made
        # for; or nothing is done to it.
        verify_digest(plan, f"the fleet run's plan of {cluster.name}")
        prove(plan, target, plan_file=str(plan_file))
    except EksupError as error:
        return LeafResult(ClusterStatus.FAILED, f"refused: {error}")
    ports = engine_ports(target, clock)
    if not plan_file.exists():
        plan_file.parent.mkdir(parents=True, exist_ok=True)
        plan_file.write_text(plan.to_json(), encoding="utf-8")
    boundary = (
        None if soak_done or not cluster.soak_after_control_plane_seconds else (boundary_step(plan))
    )
    reporter = LineReporter(cluster.name, log)
    options = execute_options(run, cluster)
    approved_once = False
    while True:
        try:
            result = execute(
                plan,
                ports,
                journal_path=journal_path_for(plan_file),
                options=options,
                reporter=reporter,
                confirm=lambda _question: True,
                should_stop=lambda: boundary is not None and reporter.last == boundary,
                plan_file=str(plan_file),
            )
        except EksupError as error:  # refused before any change (stale plan, lock, ...)
            return LeafResult(ClusterStatus.FAILED, f"refused: {error}")
        if result.status is RunStatus.SUCCEEDED:
            return LeafResult(ClusterStatus.SUCCEEDED, f"at {plan.target_version}")
        if result.status is not RunStatus.STOPPED:
            return LeafResult(ClusterStatus.FAILED, result.error or result.status.value)
        if result.waiting_for is None:
            if boundary is not None and reporter.last == boundary:
                until = ports.clock.now() + cluster.soak_after_control_plane_seconds
                return LeafResult(
                    ClusterStatus.SOAKING, "control plane upgraded; nodes wait", until
                )
            return LeafResult(ClusterStatus.STOPPED, result.error or "stopped")
        if run.cluster_approval != "fleet" or approved_once:
            return LeafResult(
                ClusterStatus.WAITING,
                f"waits at its approval gate {result.waiting_for} (clusterApproval: each)",
            )
        try:
            approve(
                plan,
                plan_file,
                ports.cluster,
                ports.clock,
                Approver(
                    f"fleet run {run.run_id}",
                    socket.gethostname(),
                    "clusterApproval: fleet (the fleet's gates and reviewed runbook stand in)",
                ),
                step_id=result.waiting_for,
                warn=lambda message: log(f"{cluster.name}: warning: {message}"),
                journal_path=journal_path_for(plan_file),
            )
        except EksupError as error:
            return LeafResult(ClusterStatus.FAILED, f"cannot approve its gate: {error}")
        approved_once = True
