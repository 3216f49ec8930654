"""Replacing a managed node group by a green clone at the new version, then retiring blue.

The wiki runbook, done by software: create green (blue's settings at the hop version, tagged
`eksup.io/replaces=<blue>`); wait for it ACTIVE and its nodes Ready; taint and cordon blue;
drain blue within every PodDisruptionBudget; check nothing evictable is left on blue and every
displaced workload is Ready; only then delete blue and wait until it is gone.

Safety, in order of the flow:
- The drain's refusals (bare pods, emptyDir, pods under two PDBs) are found for every blue node
  before anything is created, so a refusal costs nothing to fix.
- Until the drain starts, a green group that fails to come up is rolled back: green deleted,
  blue untainted and uncordoned (only nodes carrying our taint: a node someone else cordoned
  stays cordoned). Once the drain has started (a journal memo says so) there is no automatic
  way back: the step stops with blue cordoned and says how to go on or back.
- Blue is deleted only after the checks above; deleting a group with pods still on it is the
  one way this step could lose pods.

Each phase reads fresh state first, so a re-run after a crash picks up where the last stopped:
green that exists (with our tag) is not created again, nodes already tainted and cordoned are
left alone, a drain continues with what is left, a blue group DELETING is only waited on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import NoReturn

from upgrader.core.aws import Nodegroup, NodegroupSpec
from upgrader.core.defaults import drain_timeout
from upgrader.core.errors import NotFoundError
from upgrader.core.kube import Node, Pod, Taint, WorkloadKind
from upgrader.drain.drainer import DrainTimeoutError, drain_summary
from upgrader.drain.rules import DrainOptions, gave_up_waiting
from upgrader.drain.schedule import PdbIndex
from upgrader.execute.steps.base import (
    PreconditionError,
    StepContext,
    StepFailedError,
    StepResult,
    WaitTimeoutError,
)
from upgrader.execute.steps.drain_settings import drain_options, drain_settings
from upgrader.execute.steps.green_placement import check_green_placement
from upgrader.execute.steps.managed_group import (
    describe_or_none,
    evictable,
    group_nodes,
    preflight,
    template_for_hop,
)
from upgrader.execute.steps.old_nodes import DrainProgress, taint_and_cordon
from upgrader.execute.steps.surge import run_drain
from upgrader.plan.step_params import BlueGreenParams, parse_taint
from upgrader.versions import KubeVersion

# The tag on a green group naming the blue group it replaces: how a resumed run knows the
# group is its own, and how a later hop finds what a group replaced.
REPLACES_TAG = "eksup.io/replaces"

DRAIN_STARTED = "drain_started"
_FAILED_STATES = ("CREATE_FAILED", "DELETE_FAILED", "DEGRADED", "DELETING")


class GreenFailedError(StepFailedError):
    """The green group will not come up: CREATE_FAILED, DEGRADED, or never ACTIVE."""


def run_blue_green(ctx: StepContext) -> StepResult:
    p = ctx.step.params_of(BlueGreenParams)
    taint = parse_taint(ctx.options.taint) if ctx.options.taint else p.taint
    blue = describe_or_none(ctx, p.blue)
    green = describe_or_none(ctx, p.green)
    if blue is None:
        return _blue_gone(ctx, p, green)
    if blue.status == "DELETING":  # a crash after the delete was accepted
        _wait_gone(ctx, p.blue)
        return StepResult(f"{p.blue} deleted; {p.green} serves its workloads")
    _check_preconditions(ctx, p, blue, green)

    options = drain_options(ctx)
    preflight(ctx, p.blue, options)

    if green is None:
        spec = _green_spec(ctx, blue, p)
        ctx.intend(
            f"eks:CreateNodegroup cluster={ctx.cluster_name} nodegroup={p.green} "
            f"version={spec.version or '(launch template AMI)'} cloned from {p.blue} "
            f"(desired {spec.scaling.desired_size})"
        )
        ctx.ports.control_plane.create_nodegroup(spec)
    drain_started = ctx.recall(DRAIN_STARTED) is not None
    try:
        _wait_green_up(ctx, p.green)
    except (GreenFailedError, WaitTimeoutError) as error:
        if drain_started:
            raise StepFailedError(
                f"green node group {p.green} is unhealthy after the drain of {p.blue} started: "
                f"{error}. {p.blue} stays tainted and cordoned; fix {p.green}, then --resume"
            ) from error
        _rollback(ctx, p.blue, p.green, taint, str(error))

    if not drain_started:
        check_green_placement(ctx, p.blue, p.green, _evictable_on(ctx, p.blue, options))
    nodes = group_nodes(ctx, p.blue)
    taint_and_cordon(ctx, f"nodes of {p.blue}", nodes, taint)
    displaced = _displaced(ctx, nodes, options)
    if ctx.dry_run:
        source, would_be = _would_be_nodes(ctx, p.blue, nodes)
        _report_drain(ctx, p.blue, would_be, options, source=source)
    else:
        if not drain_started:
            ctx.remember(DRAIN_STARTED, "true")
        timeout = drain_timeout(ctx.options.drain_timeout_seconds, p.drain_timeout_seconds)
        ctx.intend(
            f"drain {len(nodes)} nodes of {p.blue} within their PodDisruptionBudgets "
            f"(timeout {timeout:.0f}s)"
        )
        moved = _drain(ctx, p, taint, options)
        ctx.reporter.info(f"drained {p.blue}: {moved}")
        _verify_empty(ctx, p.blue, options)
    _wait_workloads(ctx, displaced)

    ctx.intend(
        f"eks:DeleteNodegroup cluster={ctx.cluster_name} nodegroup={p.blue} "
        "(nothing evictable left on it)"
    )
    ctx.ports.control_plane.delete_nodegroup(ctx.cluster_name, p.blue)
    _wait_gone(ctx, p.blue)
    return StepResult(f"{p.blue} replaced by {p.green} at {p.version}")


def _superseded(ctx: StepContext, green: str) -> bool:
    """Whether a later hop's green replaced this step's green already (its tag says so)."""
    for name in ctx.ports.control_plane.list_nodegroups(ctx.cluster_name):
        group = describe_or_none(ctx, name)
        if group is not None and group.tags.get(REPLACES_TAG) == green:
            return True
    return False


# -- before anything changes ---------------------------------------------------------------------


def _blue_gone(ctx: StepContext, p: BlueGreenParams, green: Nodegroup | None) -> StepResult:
    """Blue no longer exists: done, if green (or a later hop's green) took its place."""
    if green is None and _superseded(ctx, p.green):
        return StepResult(f"{p.green} already replaced at a later hop", already_done=True)
    if green is None:
        raise PreconditionError(
            f"neither node group {p.blue} nor {p.green} exists: the cluster changed since "
            "the plan was made; re-plan"
        )
    _wait_green_up(ctx, p.green)
    return StepResult(f"{p.blue} already replaced by {p.green}", already_done=True)


def _check_preconditions(
    ctx: StepContext, p: BlueGreenParams, blue: Nodegroup, green: Nodegroup | None
) -> None:
    if blue.status not in ("ACTIVE", "DEGRADED"):
        raise PreconditionError(f"node group {p.blue} is {blue.status}: wait, then --resume")
    cluster = ctx.ports.control_plane.describe_cluster(ctx.cluster_name)
    if KubeVersion.parse(cluster.version) < KubeVersion.parse(p.version):
        raise PreconditionError(
            f"cluster {ctx.cluster_name} is at {cluster.version}: a {p.version} node group "
            "needs the control plane there first"
        )
    if green is not None and green.tags.get(REPLACES_TAG) != p.blue:
        raise PreconditionError(
            f"node group {p.green} exists but was not created by eksup to replace {p.blue} "
            f"(no {REPLACES_TAG}={p.blue} tag); rename or remove it, then re-plan"
        )


def _evictable_on(ctx: StepContext, group: str, options: DrainOptions) -> list[Pod]:
    cluster = ctx.ports.cluster
    return [
        pod
        for node in group_nodes(ctx, group)
        for pod in evictable(cluster.list_pods(node_name=node.name), options)
    ]


def _green_spec(ctx: StepContext, blue: Nodegroup, p: BlueGreenParams) -> NodegroupSpec:
    version: str | None = p.version
    # The plan's type: blue's own, or the one `eksup plan --ami-type` moves green to.
    ami_type: str | None = p.ami_type or blue.ami_type or None
    template = blue.launch_template
    if template is not None:
        template, custom = template_for_hop(ctx, template, p.blue, p.version, p)
        if custom:
            # The AMI comes from the template: EKS refuses a version or AMI type beside it.
            version = ami_type = None
    return NodegroupSpec(
        cluster=ctx.cluster_name,
        name=p.green,
        node_role=blue.node_role,
        subnets=blue.subnets,
        scaling=blue.scaling,
        version=version,
        release_version=p.release_version if version is not None else None,
        ami_type=ami_type,
        capacity_type=blue.capacity_type or "ON_DEMAND",
        instance_types=blue.instance_types,
        labels=dict(blue.labels),
        taints=blue.taints,
        launch_template=template,
        update_config=blue.update_config,
        disk_size=blue.disk_size if template is None else None,
        tags={**blue.tags, REPLACES_TAG: p.blue},
    )


# -- green ---------------------------------------------------------------------------------------


def _wait_green_up(ctx: StepContext, green: str) -> None:
    eks = ctx.ports.control_plane
    seen: list[Nodegroup] = []

    def active() -> bool:
        group = eks.describe_nodegroup(ctx.cluster_name, green)
        seen.append(group)
        if group.status in _FAILED_STATES:
            issues = "; ".join(group.health_issues) or "no health issues reported"
            raise GreenFailedError(f"green node group {green} is {group.status}: {issues}")
        return group.status == "ACTIVE"

    ctx.waiter.until(
        active,
        reason=lambda: f"node group {green} ACTIVE (now {seen[-1].status if seen else '?'})",
        timeout=ctx.options.timeouts.nodegroup_create,
        poll=15.0,
    )
    desired = seen[-1].scaling.desired_size if seen else 0
    ready = [0]

    def nodes_ready() -> bool:
        ready[0] = sum(1 for n in group_nodes(ctx, green) if n.ready)
        return ready[0] >= desired

    ctx.waiter.until(
        nodes_ready,
        reason=lambda: f"nodes of {green} Ready in the cluster: {ready[0]}/{desired}",
        timeout=ctx.options.timeouts.nodes_ready,
        poll=10.0,
    )


def _rollback(ctx: StepContext, blue: str, green: str, taint: Taint, reason: str) -> NoReturn:
    ctx.intend(
        f"roll back: uncordon and untaint the nodes of {blue} that carry {taint}, "
        f"delete node group {green} ({reason})"
    )
    cluster = ctx.ports.cluster
    for node in group_nodes(ctx, blue):
        if any(t.key == taint.key and t.effect == taint.effect for t in node.taints):
            cluster.remove_taint(node.name, taint.key, taint.effect)
            if node.unschedulable:
                cluster.set_unschedulable(node.name, False)
    group = describe_or_none(ctx, green)
    if group is not None and group.status != "DELETING":
        ctx.ports.control_plane.delete_nodegroup(ctx.cluster_name, green)
    if group is not None:
        _wait_gone(ctx, green)
    raise StepFailedError(
        f"green node group {green} did not come up ({reason}); rolled back: {green} deleted, "
        f"{blue} untouched and schedulable. Fix the cause, then --resume to try again"
    )


# -- blue ----------------------------------------------------------------------------------------


_Workload = tuple[WorkloadKind, str, str]
_OWNER_KINDS: Mapping[str, WorkloadKind] = {
    "ReplicaSet": WorkloadKind.REPLICA_SET,
    "StatefulSet": WorkloadKind.STATEFUL_SET,
}


def _displaced(ctx: StepContext, nodes: list[Node], options: DrainOptions) -> list[_Workload]:
    """The workloads whose pods the drain moves (remembered, so a resumed drain still checks
    the ones it moved before the crash)."""
    found: set[_Workload] = set()
    for node in nodes:
        for pod in evictable(ctx.ports.cluster.list_pods(node_name=node.name), options):
            if pod.owner is not None and pod.owner.kind in _OWNER_KINDS:
                found.add((_OWNER_KINDS[pod.owner.kind], pod.namespace, pod.owner.name))
    earlier = ctx.recall("displaced")
    if earlier:
        for item in earlier.split(","):
            kind, namespace, name = item.split("/", 2)
            found.add((WorkloadKind(kind), namespace, name))
    ordered = sorted(found)
    text = ",".join(f"{k.value}/{ns}/{n}" for k, ns, n in ordered)
    if ordered and text != earlier:
        ctx.remember("displaced", text)
    _remember_ready_before(ctx, ordered)
    return ordered


def _remember_ready_before(ctx: StepContext, workloads: list[_Workload]) -> None:
    """Each displaced workload's Ready replicas before the drain, remembered once: the step
    waits for that much again, not for more (a pod that never started was not Ready before)."""
    known = _ready_before(ctx)
    new = {}
    for kind, namespace, name in workloads:
        key = f"{kind.value}/{namespace}/{name}"
        if key in known:
            continue
        try:
            new[key] = ctx.ports.cluster.get_workload(kind, namespace, name).ready_replicas
        except NotFoundError:
            continue
    if new and not ctx.dry_run:
        merged = {**known, **new}
        ctx.remember("ready_before", ",".join(f"{k}={v}" for k, v in sorted(merged.items())))


def _ready_before(ctx: StepContext) -> dict[str, int]:
    text = ctx.recall("ready_before") or ""
    return {k: int(v) for k, _, v in (item.rpartition("=") for item in text.split(",") if item)}


def _drain(ctx: StepContext, p: BlueGreenParams, taint: Taint, options: DrainOptions) -> str:
    settings = replace(drain_settings(ctx, p.drain_timeout_seconds, taint), options=options)
    try:
        report = run_drain(ctx, lambda: group_nodes(ctx, p.blue), settings, DrainProgress(ctx))
    except DrainTimeoutError as error:
        go_on = error.advice or "free the budget (or give a longer --drain-timeout) and --resume"
        raise StepFailedError(
            f"{error}. Nothing was deleted; {p.blue} stays tainted and cordoned. To go on: "
            f"{go_on}. To go back: uncordon and untaint {p.blue}'s nodes and delete {p.green}"
        ) from error
    return drain_summary(report)


def _would_be_nodes(ctx: StepContext, blue: str, nodes: list[Node]) -> tuple[str, list[Node]]:
    """A later hop's blue group exists only in the dry run's overlay (an earlier step would
    have created it), with no node yet: it would hold what the group it replaces holds now
    (green is cloned from blue at its size, and takes blue's pods). Returns the group whose
    nodes stand in ("" when blue's own) and the nodes."""
    name = blue
    while not nodes:
        before = next(
            (
                params.blue
                for params in (step.params for step in ctx.plan.steps)
                if isinstance(params, BlueGreenParams) and params.green == name
            ),
            None,
        )
        if before is None or before == name:
            return "", nodes
        name = before
        nodes = group_nodes(ctx, name)
    return ("" if name == blue else name), nodes


def _report_drain(
    ctx: StepContext, blue: str, nodes: list[Node], options: DrainOptions, *, source: str = ""
) -> None:
    """What the drain would do, for a dry run: the pods it would evict and the budgets that
    are spent right now. `source`: the group whose nodes and pods stand in for a group that
    only an earlier step of the dry run would have created."""
    cluster = ctx.ports.cluster
    pods = [
        pod for node in nodes for pod in evictable(cluster.list_pods(node_name=node.name), options)
    ]
    index = PdbIndex(cluster.list_pdbs())
    spent = sorted({k for pod in pods for k in index.covering(pod) if index.budget(k) <= 0})
    text = f"drain {len(nodes)} nodes of {blue}: evict {len(pods)} pods"
    if source:
        text += f" (counted from {source} now: {blue} would hold its nodes and pods by then)"
    if spent:
        text += f" (PDBs allowing no disruption right now: {', '.join(spent)})"
    ctx.reporter.action(text, dry_run=True)


def _verify_empty(ctx: StepContext, blue: str, options: DrainOptions) -> None:
    left = []
    for node in group_nodes(ctx, blue):
        pods = ctx.ports.cluster.list_pods(node_name=node.name)
        now = ctx.ports.clock.now()
        left += [p.key for p in evictable(pods, options)]
        left += [p.key for p in pods if p.is_terminating and not gave_up_waiting(p, options, now)]
    if left:
        chosen = ctx.options.pod_selector
        again = (
            f"--resume without --pod-selector {chosen} drains the rest"
            if chosen
            else "--resume drains again"
        )
        raise StepFailedError(
            f"after the drain, pods remain on {blue}: {', '.join(left[:10])}; {blue} is not "
            f"deleted. {again}"
        )


def _wait_workloads(ctx: StepContext, workloads: list[_Workload]) -> None:
    cluster = ctx.ports.cluster
    behind: list[str] = []
    before = _ready_before(ctx)

    def ready() -> bool:
        behind.clear()
        for kind, namespace, name in workloads:
            try:
                workload = cluster.get_workload(kind, namespace, name)
            except NotFoundError:
                continue  # a ReplicaSet replaced by a rollout meanwhile
            if workload.replicas is None:
                continue
            wanted = min(
                workload.replicas, before.get(f"{kind.value}/{namespace}/{name}", workload.replicas)
            )
            if workload.ready_replicas < wanted:
                behind.append(
                    f"{kind.value} {namespace}/{name} {workload.ready_replicas}/{workload.replicas}"
                )
        return not behind

    ctx.waiter.until(
        ready,
        reason=lambda: "displaced workloads Ready: " + ", ".join(behind[:5]),
        timeout=ctx.options.timeouts.workloads_ready,
        poll=5.0,
    )


def _wait_gone(ctx: StepContext, group: str) -> None:
    status = [""]

    def gone() -> bool:
        # The group, then its Node objects: they outlive their instances until the node
        # lifecycle controller deletes them, and the steps after (verify) count every node.
        found = describe_or_none(ctx, group)
        if found is not None:
            status[0] = found.status
            return False
        left = len(group_nodes(ctx, group))
        status[0] = f"gone, {left} of its nodes still registered"
        return left == 0

    ctx.waiter.until(
        gone,
        reason=lambda: f"node group {group} deleted (now {status[0]})",
        timeout=ctx.options.timeouts.nodegroup_delete,
        poll=20.0,
    )
