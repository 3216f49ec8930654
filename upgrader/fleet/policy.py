"""The fleet's failure rules, one copy for both engines: the local engine asks them before it
starts each cluster, an Argo step asks them (over the Workflow's node statuses) before its
cluster starts, so both stop starting clusters at the same moment for the same reason.

- An upstream cluster's failure is never tolerated: its downstream clusters could not follow.
- Each group's failures against its own `maxAllowedFailures`, and the stage's, across all its
  groups, against the stage's (Azure evaluates both; the stage is the ceiling).
- A cluster starts only after its upstream reached the target: succeeded, or skipped because
  it was at the target already. One skipped by a person has not passed the version.
"""

from __future__ import annotations

from upgrader.fleet.run_doc import ClusterVerdict, FleetRun, RunStage
from upgrader.fleet.state import ClusterStatus, FleetState


def failures(members: list[str], state: FleetState) -> int:
    return sum(1 for m in members if state.cluster(m).status is ClusterStatus.FAILED)


def policy_failed(run: FleetRun, stage: RunStage, state: FleetState) -> tuple[bool, str]:
    """Whether the stage has failed under its failure rules, and why."""
    upstreams = {c.upstream for c in run.clusters if c.upstream}
    for name in stage.members:
        if name in upstreams and state.cluster(name).status is ClusterStatus.FAILED:
            return True, f"{name} failed and is the upstream of other clusters"
    for group in stage.groups:
        count = failures(group.members, state)
        if count > group.allowed_failures:
            return True, (
                f"group {group.name} has {count} failed cluster(s), more than its "
                f"maxAllowedFailures {group.allowed_failures}"
            )
    total = failures(stage.members, state)
    if total > stage.allowed_failures:
        return True, (
            f"{total} failed cluster(s), more than maxAllowedFailures {stage.allowed_failures}"
        )
    return False, ""


def upstream_blocker(run: FleetRun, name: str, state: FleetState) -> str | None:
    """Why `name` may not start because of its upstream, or None when it may."""
    upstream = run.cluster(name).upstream
    if upstream is None:
        return None
    status = state.cluster(upstream).status
    at_target = run.cluster(upstream).verdict is ClusterVerdict.SKIPPED
    if status is ClusterStatus.SUCCEEDED or (status is ClusterStatus.SKIPPED and at_target):
        return None
    return (
        f"not started: its upstream {upstream} did not reach {run.target_version} "
        f"({status.value}), and a version must pass the upstream first"
    )
