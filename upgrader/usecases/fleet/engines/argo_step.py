"""One cluster's Argo step (`eksup fleet execute-cluster --workflow NS/NAME`): the fleet's rules
first (a person's skip, the stage's allowances, the upstream), then the cluster's upgrade.
What happened goes to the step's `outcome` output, which `eksup fleet status` reads back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from upgrader.fleet.run_doc import FleetRun, RunCluster
from upgrader.fleet.state import ClusterStatus
from upgrader.usecases.fleet.engines.argo_guard import GO, Verdict, judge, read_skip_marker
from upgrader.usecases.fleet.leaf import run_cluster
from upgrader.usecases.targets import Target


def argo_step(
    run: FleetRun,
    member: RunCluster,
    plan_file: Path,
    target: Target,
    *,
    soak_done: bool,
    read_workflow: Callable[[], dict[str, Any]] | None,
    log: Callable[[str], None],
) -> Verdict:
    """Returns the step's outcome; SUCCEEDED, SOAKING, SKIPPED and PENDING (not started) end
    the step well (exit 0), the others fail it."""
    from upgrader.adapters.argo_workflow import offloaded

    reason = read_skip_marker(target.kube, run, member.name)
    if reason is not None:
        return Verdict(ClusterStatus.SKIPPED, reason)
    if read_workflow is not None:
        workflow = read_workflow()
        if offloaded(workflow):
            log(
                f"{member.name}: warning: the Workflow's node statuses are offloaded to Argo's "
                "database; the failure allowances are checked when the group ends"
            )
        else:
            verdict = judge(run, member.name, workflow)
            if verdict != GO:
                return verdict
    result = run_cluster(run, member, plan_file, target, target.clock, soak_done=soak_done, log=log)
    return Verdict(result.status, result.detail)


def step_ok(verdict: Verdict) -> bool:
    return verdict.status in (
        ClusterStatus.SUCCEEDED,
        ClusterStatus.SOAKING,
        ClusterStatus.SKIPPED,
        ClusterStatus.PENDING,
    )
