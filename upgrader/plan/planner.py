"""The planner: a snapshot, a target version and a runbook in; a `Plan` out. Pure.

A plan is a runbook made concrete. Every step is an instance of one of the runbook's templates
(title, description, commands, rollback, the checks it re-verifies), filled for this cluster
with `runbooks.fill`, so the plan `execute` runs and the Markdown an on-call engineer follows
cannot drift apart. The planner only decides which instances there are and in which order:

- The control plane moves one minor per update; each hop is followed by its add-ons (each
  installed add-on to the hop's default version; vpc-cni one minor at a time).
- Node replacements are the fewest the rules allow (`replacement_versions`). AWS refuses the
  next control-plane update while a managed node group or a Fargate pod is on another minor,
  so those are replaced at every hop; self-managed groups and Karpenter pools may trail within
  the upstream kubelet skew (two minors before 1.28, three from 1.28), so they are replaced
  once, at the end, unless the skew forces an earlier move. A group already at a version is
  skipped, so planning an upgraded cluster again gives an empty plan.
- Cluster Autoscaler, when present, is paused around all of it (the runbook's `when:`).

Jumps of two minors or more also price the alternative (a new cluster at the target with the
traffic moved by weights) and say which needs fewer node replacements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from pydantic import ValidationError

from upgrader import __version__
from upgrader.core.defaults import DEFAULT_DRAIN_TIMEOUT_SECONDS
from upgrader.core.errors import UserError
from upgrader.core.shell import command
from upgrader.plan.addon_steps import addon_steps, bridge_addon_steps
from upgrader.plan.checks import CheckContext, Finding, NodeStrategy, run_checks, sort_key, verdict
from upgrader.plan.checks.findings import CheckStatus, Severity
from upgrader.plan.checks.ownership import find_cluster_autoscaler
from upgrader.plan.document import (
    NOTE_STATUS,
    Alternative,
    Plan,
    PlannedFinding,
    Step,
    StepKind,
    Verdict,
)
from upgrader.plan.fingerprint import fingerprint, fingerprint_facts
from upgrader.plan.node_steps import fargate_step, managed_step, trailing_step
from upgrader.plan.node_units import (
    Lineage,
    NodeUnit,
    green_name,
    node_units,
    replacement_reason,
    replacement_versions,
)
from upgrader.plan.runbooks import Runbook, RunbookStep, get_runbook
from upgrader.plan.snapshot import ClusterSnapshot, NodeOwner, NodeOwnerKind
from upgrader.plan.step_params import (
    DEFAULT_TAINT,
    AutoscalerParams,
    ControlPlaneParams,
    GenericParams,
    StepParams,
    VerifyParams,
)
from upgrader.plan.step_templates import (
    MANAGED_STEP_KINDS,
    UNIT_STEP_KINDS,
    PlanContext,
    build_step,
    expand_lines,
    runbook_shape,
)
from upgrader.versions import KubeVersion, VersionCatalog, default_catalog

__all__ = [
    "AUTOSCALER_PRESENT",
    "DEFAULT_DRAIN_TIMEOUT_SECONDS",
    "DEFAULT_TAINT",
    "RUNBOOK_FOR_STRATEGY",
    "NodeUnit",
    "green_name",
    "make_plan",
    "node_units",
    "plan_cluster",
    "replacement_versions",
]

AUTOSCALER_PRESENT = "autoscaler-present"
RUNBOOK_FOR_STRATEGY = {
    NodeStrategy.BLUE_GREEN: "eks-upgrade-blue-green",
    NodeStrategy.IN_PLACE: "eks-upgrade-in-place",
}


# -- the plan ------------------------------------------------------------------------------------


def make_plan(
    snapshot: ClusterSnapshot,
    target: str,
    *,
    findings: Sequence[Finding] = (),
    node_strategy: NodeStrategy | str = NodeStrategy.BLUE_GREEN,
    runbook: Runbook | None = None,
    region: str = "",
    now: float = 0.0,
    drain_timeout_seconds: int = DEFAULT_DRAIN_TIMEOUT_SECONDS,
    max_unavailable: str | None = None,
    taint: str = DEFAULT_TAINT,
    catalog: VersionCatalog | None = None,
    ami_family: str | None = None,
) -> Plan:
    """The plan to take `snapshot`'s cluster to `target`. Raises UserError when there is no
    path (a downgrade, a version eksup does not know or EKS does not offer), or when a value
    read from the cluster cannot go into a plan file (a name that is not valid Unicode text)."""
    with _cluster_values_checked(snapshot):
        catalog = catalog or default_catalog()
        strategy = NodeStrategy(node_strategy)
        runbook = runbook or get_runbook(RUNBOOK_FOR_STRATEGY[strategy])
        shape = runbook_shape(runbook)
        if shape.strategy is not strategy:
            raise UserError(
                f"runbook {runbook.id!r} replaces node groups {shape.strategy.value}, "
                f"not {strategy.value}"
            )
        current = KubeVersion.parse(snapshot.cluster.version)
        goal = KubeVersion.parse(target)
        hops = (
            [] if goal == current else [KubeVersion.parse(h) for h in catalog.hops(current, goal)]
        )
        ctx = PlanContext(
            snapshot=snapshot,
            catalog=catalog,
            current=current,
            target=goal,
            values={
                "cluster": snapshot.cluster.name,
                "region": region or "<region>",
                "from_version": str(current),
                "target_version": str(goal),
                "taint": taint,
                "drain_timeout": f"{drain_timeout_seconds}s",
            },
            taint=taint,
            drain_timeout_seconds=drain_timeout_seconds,
            max_unavailable=max_unavailable,
            ami_family=ami_family,
        )
        units = node_units(snapshot)
        moves = {u: replacement_versions(u, current, goal, catalog) for u in units}
        middle = _stages(ctx, shape.block, hops, units, moves)
        steps: list[Step] = []
        if any(s.mutating for s in middle):
            conditions = _conditions(snapshot)
            steps = [
                *_once(ctx, shape.before, conditions),
                *middle,
                *_once(ctx, shape.after, conditions),
            ]
        replacements = sum(len(v) for v in moves.values())
        return Plan(
            eksup_version=__version__,
            created_at=dt.datetime.fromtimestamp(now, dt.UTC).isoformat(timespec="seconds"),
            cluster=snapshot.cluster.name,
            region=region,
            current_version=str(current),
            target_version=str(goal),
            node_strategy=strategy.value,
            runbook=runbook.id,
            fingerprint=fingerprint(snapshot),
            fingerprint_facts=fingerprint_facts(snapshot),
            version_facts=snapshot.version_facts_source,
            verdict=verdict(findings) if steps else Verdict.NOTHING_TO_DO,
            hops=[str(h) for h in hops],
            node_replacements=replacements,
            replacement_reasons=_reasons(snapshot, units, moves, goal, catalog),
            alternatives=_alternatives(hops, units, replacements, goal),
            findings=[_planned(f) for f in sorted(findings, key=sort_key)],
            steps=steps,
        )


@contextmanager
def _cluster_values_checked(snapshot: ClusterSnapshot) -> Iterator[None]:
    """The step shapes check every value the cluster gave; one that fails is the cluster's
    data, not a bug to show as a traceback (a JSON `\\ud800` escape decodes to a lone
    surrogate, which no UTF-8 plan file can hold)."""
    try:
        yield
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        field = f"{error.title}.{where}" if where else error.title
        raise UserError(
            f"cluster {snapshot.cluster.name!r} cannot be planned: {field} "
            f"{first['input']!r}: {first['msg']}; correct that value in the cluster"
        ) from None


def plan_cluster(
    snapshot: ClusterSnapshot,
    context: CheckContext,
    *,
    region: str = "",
    now: float = 0.0,
    runbook: Runbook | None = None,
    taint: str = DEFAULT_TAINT,
) -> Plan:
    """Run every pre-flight check, then plan with their findings: `eksup plan` in one call."""
    return make_plan(
        snapshot,
        context.target,
        findings=run_checks(snapshot, context),
        node_strategy=context.strategy,
        runbook=runbook,
        region=region,
        now=now,
        drain_timeout_seconds=context.drain_timeout,
        max_unavailable=context.max_unavailable,
        taint=taint,
        catalog=context.catalog,
        ami_family=context.ami_family,
    )


def _planned(finding: Finding) -> PlannedFinding:
    return PlannedFinding(
        check_id=finding.check_id,
        severity=finding.severity.value,
        status=_shown_status(finding),
        message=finding.message,
        objects=list(finding.objects),
        remedy=finding.remedy,
        suppressed=finding.suppressed,
        suppressed_by=finding.suppressed_by,
    )


def _shown_status(finding: Finding) -> str:
    """An INFO finding is context, not a failed check: it reads "note" in every format."""
    if finding.severity is Severity.INFO and finding.status is CheckStatus.FAIL:
        return NOTE_STATUS
    return finding.status.value


def _conditions(snapshot: ClusterSnapshot) -> dict[str, bool]:
    """The `when:` conditions a runbook may name."""
    return {AUTOSCALER_PRESENT: bool(find_cluster_autoscaler(snapshot))}


def _once(
    ctx: PlanContext, templates: Iterable[RunbookStep], conditions: Mapping[str, bool]
) -> list[Step]:
    steps = []
    for template in templates:
        if template.when is not None:
            if template.when not in conditions:
                known = ", ".join(sorted(conditions))
                raise UserError(
                    f"runbook step {template.id!r}: unknown condition when: {template.when!r} "
                    f"(known: {known})"
                )
            if not conditions[template.when]:
                continue
        step = build_step(
            template,
            ctx,
            step_id=template.id,
            target=f"cluster/{ctx.snapshot.cluster.name}",
            params=_once_params(ctx, template),
        )
        if template.kind in (StepKind.PAUSE_AUTOSCALER, StepKind.RESUME_AUTOSCALER):
            step = _autoscaler_lines(ctx, step)
        steps.append(step)
    return steps


# The shipped runbooks name Cluster Autoscaler where most installs put it; a step for one that
# lives elsewhere (or for several) gets its real namespace and name in the commands.
_DEFAULT_AUTOSCALER = "-n kube-system scale deployment cluster-autoscaler"


def _autoscaler_lines(ctx: PlanContext, step: Step) -> Step:
    found = find_cluster_autoscaler(ctx.snapshot)

    def rename(namespace: str, name: str) -> Callable[[str], list[str]]:
        real = command("-n", namespace, "scale", "deployment", name)
        return lambda line: [line.replace(_DEFAULT_AUTOSCALER, real)]

    each = [rename(w.namespace, w.name) for w in found]
    return step.model_copy(
        update={
            "commands": expand_lines(step.commands, _DEFAULT_AUTOSCALER, each),
            "rollback": expand_lines(step.rollback, _DEFAULT_AUTOSCALER, each),
        }
    )


def _once_params(ctx: PlanContext, template: RunbookStep) -> StepParams:
    if template.kind in (StepKind.PAUSE_AUTOSCALER, StepKind.RESUME_AUTOSCALER):
        found = find_cluster_autoscaler(ctx.snapshot)
        return AutoscalerParams(
            deployments=[f"{w.namespace}/{w.name}" for w in found],
            replicas={f"{w.namespace}/{w.name}": str(w.replicas or 0) for w in found},
        )
    if template.kind is StepKind.VERIFY:
        return VerifyParams(version=str(ctx.target))
    return GenericParams()


def _stages(
    ctx: PlanContext,
    block: Sequence[RunbookStep],
    hops: Sequence[KubeVersion],
    units: Sequence[NodeUnit],
    moves: Mapping[NodeUnit, list[KubeVersion]],
) -> list[Step]:
    """The repeated block at each control-plane version: the current one (only node groups
    that are behind it) and then every hop."""
    lineage = Lineage(
        current={u.name: u.name for u in units if u.owner is NodeOwnerKind.MANAGED},
        taken={g.name for g in ctx.snapshot.nodegroups},
    )
    addons = {a.name: a.version for a in ctx.snapshot.addons}
    steps: list[Step] = []
    previous = ctx.current
    for stage in [ctx.current, *hops]:
        due = [u for u in units if stage in moves[u]]
        for template in block:
            if template.kind is StepKind.CONTROL_PLANE:
                if stage != ctx.current:
                    steps.extend(bridge_addon_steps(ctx, block, stage, previous, addons))
                    steps.append(_control_plane(ctx, template, stage, previous))
            elif template.kind is StepKind.ADDONS:
                if stage != ctx.current:
                    steps.extend(addon_steps(ctx, template, stage, addons))
            elif template.kind in MANAGED_STEP_KINDS:
                managed = [u for u in due if u.owner is NodeOwnerKind.MANAGED]
                steps.extend(
                    managed_step(ctx, template, stage, u, moves[u], lineage=lineage)
                    for u in managed
                )
            elif template.kind is StepKind.FARGATE_RESTART:
                fargate = [u for u in due if u.owner is NodeOwnerKind.FARGATE]
                steps.extend(fargate_step(ctx, template, stage, u, moves[u]) for u in fargate)
            elif template.kind in (StepKind.SELF_MANAGED_GROUP, StepKind.KARPENTER_DRIFT):
                trailing = [u for u in due if UNIT_STEP_KINDS.get(u.owner) is template.kind]
                steps.extend(trailing_step(ctx, template, stage, u, moves[u]) for u in trailing)
            elif stage != ctx.current:
                steps.append(_generic(ctx, template, stage))
        previous = stage
    return steps


def _control_plane(
    ctx: PlanContext, template: RunbookStep, hop: KubeVersion, previous: KubeVersion
) -> Step:
    return build_step(
        template,
        ctx,
        step_id=f"{template.id}-{hop}",
        target=f"cluster/{ctx.snapshot.cluster.name}",
        hop=hop,
        params=ControlPlaneParams(version=str(hop), from_version=str(previous)),
    )


def _generic(ctx: PlanContext, template: RunbookStep, hop: KubeVersion) -> Step:
    """A per-hop step of a kind the planner gives no special meaning (e.g. a manual check)."""
    return build_step(
        template,
        ctx,
        step_id=f"{template.id}-{hop}",
        target=f"cluster/{ctx.snapshot.cluster.name}",
        hop=hop,
        params=GenericParams(version=str(hop)),
    )


# -- why, and what else --------------------------------------------------------------------------


def _reasons(
    snapshot: ClusterSnapshot,
    units: Sequence[NodeUnit],
    moves: Mapping[NodeUnit, list[KubeVersion]],
    target: KubeVersion,
    catalog: VersionCatalog,
) -> list[str]:
    reasons = [replacement_reason(u, moves[u], target, catalog) for u in units if moves[u]]
    unplaced = [u.label for u in units if u.version is None]
    if unplaced:
        reasons.append(
            f"not planned, version unknown (no nodes and an unrecognised image): "
            f"{', '.join(unplaced)}; point them at the AMI for {target} by hand"
        )
    unknown = snapshot.nodes_by_owner.get(NodeOwner(NodeOwnerKind.UNKNOWN, ""), ())
    if unknown:
        reasons.append(
            f"not planned: {len(unknown)} node(s) with no owner eksup recognises (no node group, "
            "Auto Scaling group, Karpenter pool or Fargate); replace them by hand within the skew"
        )
    return reasons


def _alternatives(
    hops: Sequence[KubeVersion], units: Sequence[NodeUnit], replacements: int, target: KubeVersion
) -> list[Alternative]:
    """For a jump of two minors or more: a new cluster at the target, every group built there
    once, the traffic moved by Route 53 weights. It is called cheaper only when it needs fewer
    node replacements: control-plane updates cost no workload disruption, while a new cluster
    adds redeploying every workload and moving state, which the count leaves out."""
    if len(hops) < 2:
        return []
    groups = len(units)
    cheaper = groups < replacements
    verdict_text = (
        f"fewer node replacements ({groups} instead of {replacements})"
        if cheaper
        else f"no fewer node replacements ({groups} against {replacements})"
    )
    return [
        Alternative(
            name="new-cluster",
            summary=(
                f"Create a new cluster at {target}, build each of the {groups} node groups there "
                "once, redeploy the workloads and move traffic with Route 53 weighted records, "
                f"then retire this cluster: {verdict_text}, no control-plane update, but every "
                "workload is redeployed and stateful data must move"
            ),
            node_replacements=groups,
            control_plane_updates=0,
            cheaper=cheaper,
        )
    ]
