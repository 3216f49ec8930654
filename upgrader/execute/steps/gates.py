"""The steps that change nothing but decide whether the run goes on: pre-flight, approval,
manual work, and the final verification.

An approval gate (a step of kind `approval`, or any step the runbook marks `approval: true`)
is a person's decision, recorded in the journal by `eksup approve`: a run that reaches one
nobody approved stops there (exit 4), even with `--yes`, which only skips confirmation
prompts. A dry run notes that it would wait and goes on, so CI never hangs on a gate.

Pre-flight re-reads the cluster right before the first change: the blocking checks (when the
CLI wires them in) and the drain's refusals for every node group the plan replaces, all at
once, so a bare pod on the last group stops the run before the first control-plane update
rather than an hour into it. Verification compares the end state with the plan's target and
with the workloads that were Ready when the run began (recorded in the journal then).
"""

from __future__ import annotations

import datetime as dt
import json

from upgrader.core.kube import WorkloadKind
from upgrader.core.ports import Cluster
from upgrader.core.run.journal import Record
from upgrader.core.shell import command
from upgrader.drain.drainer import DrainRefusedError
from upgrader.drain.rules import PodDecision
from upgrader.execute.steps.base import (
    GateDeclinedError,
    PreconditionError,
    StepContext,
    StepFailedError,
    StepResult,
    WaitTimeoutError,
)
from upgrader.execute.steps.consent import resume_command
from upgrader.execute.steps.drain_settings import drain_refusals
from upgrader.execute.steps.karpenter_placement import check_pools_placement
from upgrader.execute.steps.managed_group import describe_or_none, group_nodes
from upgrader.plan.document import Step, StepKind
from upgrader.plan.step_params import KarpenterParams, ManagedGroupParams, VerifyParams
from upgrader.versions import KubeVersion

READY_WORKLOADS = "ready_workloads"  # run-level memo: what must be Ready again at the end
_REPLACED = (StepKind.NODEGROUP_BLUE_GREEN, StepKind.NODEGROUP_IN_PLACE)


def run_preflight(ctx: StepContext) -> StepResult:
    blocking = ctx.checks() if ctx.checks is not None else []
    if blocking:
        raise PreconditionError("pre-flight checks block the upgrade: " + "; ".join(blocking))
    groups = []
    for step in ctx.plan.steps:
        if isinstance(step.params, ManagedGroupParams):
            groups.append(step.params.nodegroup)  # blue, for a blue/green step
    refused: list[PodDecision] = []
    checked = []
    for group in dict.fromkeys(groups):
        # Later hops' groups do not exist yet; their nodes are checked when their step runs.
        if describe_or_none(ctx, group) is None:
            continue
        checked.append(group)
        names = [n.name for n in group_nodes(ctx, group)]
        refused += drain_refusals(ctx, names)
    if refused:
        raise DrainRefusedError(refused)
    # Karpenter pools drift at their step, or as soon as the control plane moves (an alias
    # EC2NodeClass): their pods must be able to land before the first change either way.
    pools = [s.params.nodegroup for s in ctx.plan.steps if isinstance(s.params, KarpenterParams)]
    if pools:
        check_pools_placement(ctx, list(dict.fromkeys(pools)))
        checked += [f"NodePool {p}" for p in dict.fromkeys(pools)]
    what = f"drain rules pass on {', '.join(checked)}" if checked else "no node group to drain"
    checked_now = "checks pass" if ctx.checks else "checks ran before the first change"
    return StepResult(f"{what}; {checked_now}")


class ApprovalPendingError(GateDeclinedError):
    """The run reached an approval gate nobody has approved: stop, resumable after
    `eksup approve`."""

    def __init__(self, step_id: str, message: str) -> None:
        super().__init__(message)
        self.step_id = step_id


def is_gate(step: Step) -> bool:
    return step.kind is StepKind.APPROVAL or step.approval


def approve_command(plan_file: str, step_id: str, target_flags: tuple[str, ...] = ()) -> str:
    return command("eksup", "approve", plan_file, "--step", step_id, *target_flags)


def approval_text(record: Record) -> str:
    """ "approved by alice (laptop) at 2026-01-01 00:00:00 UTC: comment" """
    at = dt.datetime.fromtimestamp(record.at, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    host = record.data.get("host", "")
    text = f"approved by {record.data.get('by', '?')}{f' ({host})' if host else ''} at {at}"
    comment = record.data.get("comment", "")
    return f"{text}: {comment}" if comment else text


def require_approval(ctx: StepContext) -> Record | None:
    """The journal's approval of the context's gate. Without one a real run stops
    (ApprovalPendingError) and a dry run says it would wait (None)."""
    step = ctx.step
    approval = ctx.journal.state.approval(step.id, ctx.plan.fingerprint)
    if approval is not None:
        return approval
    approve = approve_command(ctx.plan_file, step.id, ctx.options.target_flags)
    if ctx.dry_run:
        ctx.reporter.action(
            f"wait for approval of {step.id} ({step.title or step.description}): `{approve}`",
            dry_run=True,
        )
        return None
    resume = resume_command(ctx.plan_file, ctx.options, ctx.options.target_flags)
    raise ApprovalPendingError(
        step.id, f"waiting for approval of {step.id}: run `{approve}`, then `{resume}`"
    )


def run_approval(ctx: StepContext) -> StepResult:
    approval = require_approval(ctx)
    if approval is None:
        return StepResult("would wait for approval")
    return StepResult(approval_text(approval))


def run_manual(ctx: StepContext) -> StepResult:
    commands = "\n".join(f"  {c}" for c in ctx.step.commands)
    question = f"Manual step {ctx.step.id}: {ctx.step.description}\n{commands}\nIs it done?"
    if ctx.dry_run:
        ctx.reporter.action(f"ask a person to do: {ctx.step.title or ctx.step.id}", dry_run=True)
        return StepResult("manual step")
    # Asked even with --yes: --yes skips confirmations, it cannot do a person's work.
    if not ctx.confirm(question):
        raise GateDeclinedError(
            f"manual step {ctx.step.id} is not done yet; do it, then re-run with --resume"
        )
    return StepResult("done by hand")


def ready_workloads(cluster: Cluster) -> list[str]:
    """Deployments and StatefulSets fully Ready now, as "Kind/namespace/name"."""
    found = []
    for kind in (WorkloadKind.DEPLOYMENT, WorkloadKind.STATEFUL_SET):
        for workload in cluster.list_workloads(kind):
            if workload.replicas and workload.ready_replicas >= workload.replicas:
                found.append(f"{kind.value}/{workload.namespace}/{workload.name}")
    return sorted(found)


def run_verify(ctx: StepContext) -> StepResult:
    version = ctx.step.params_of(VerifyParams).version
    if ctx.dry_run:
        ctx.reporter.action(
            f"verify every node and the control plane at {version}, add-ons ACTIVE, and the "
            "workloads Ready before Ready again",
            dry_run=True,
        )
        return StepResult("verification runs after a real run")
    problems = []
    cluster = ctx.ports.control_plane.describe_cluster(ctx.cluster_name)
    if KubeVersion.parse(cluster.version) != KubeVersion.parse(version):
        problems.append(f"control plane at {cluster.version}")
    behind: list[str] = []

    def nodes_at_version() -> bool:
        # Nodes of retired instances linger until the node lifecycle controller deletes them
        # (and Fargate pods' nodes until their pods go): wait for them, do not read once.
        nodes = ctx.ports.cluster.list_nodes()
        behind[:] = [n.name for n in nodes if n.minor_version != version]
        return not behind

    try:
        ctx.waiter.until(
            nodes_at_version,
            reason=lambda: f"nodes at {version}: {len(behind)} not yet: {', '.join(behind[:5])}",
            timeout=ctx.options.timeouts.nodes_ready,
            poll=10.0,
        )
    except WaitTimeoutError:
        problems.append(f"{len(behind)} nodes not at {version}: {', '.join(behind[:5])}")
    for name in ctx.ports.control_plane.list_addons(ctx.cluster_name):
        status = ctx.ports.control_plane.describe_addon(ctx.cluster_name, name).status
        if status != "ACTIVE":
            problems.append(f"add-on {name} is {status}")
    recorded = ctx.recall_global(READY_WORKLOADS)
    expected = set(json.loads(recorded)) if recorded else set()
    missing: list[str] = []

    def all_ready() -> bool:
        missing[:] = sorted(expected - set(ready_workloads(ctx.ports.cluster)))
        return not missing

    if expected:
        try:
            ctx.waiter.until(
                all_ready,
                reason=lambda: "workloads Ready again: " + ", ".join(missing[:5]),
                timeout=ctx.options.timeouts.workloads_ready,
                poll=10.0,
            )
        except WaitTimeoutError:
            problems.append(f"not Ready as before: {', '.join(missing[:10])}")
    if problems:
        raise StepFailedError("verification failed: " + "; ".join(problems))
    return StepResult(
        f"control plane and {len(ctx.ports.cluster.list_nodes())} nodes at {version}; "
        f"{len(expected)} workloads Ready as before"
    )
