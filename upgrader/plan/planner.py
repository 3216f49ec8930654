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
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from upgrader import __version__
from upgrader.core.aws import AddonVersion, Nodegroup
from upgrader.core.defaults import DEFAULT_DRAIN_TIMEOUT_SECONDS
from upgrader.core.errors import UserError
from upgrader.core.kube import KARPENTER_NODECLASS_LABEL, Node, WorkloadKind
from upgrader.core.shell import Raw, command, comment, fill_command, quote
from upgrader.plan.ami_move import green_ami_type
from upgrader.plan.checks import CheckContext, Finding, NodeStrategy, run_checks, sort_key, verdict
from upgrader.plan.checks.findings import CheckStatus, Severity
from upgrader.plan.checks.ownership import find_cluster_autoscaler
from upgrader.plan.document import (
    NOTE_STATUS,
    AddonUpdate,
    Alternative,
    Plan,
    PlannedFinding,
    Step,
    StepKind,
    Verdict,
)
from upgrader.plan.drain_estimate import estimate_drain
from upgrader.plan.fingerprint import fingerprint, fingerprint_facts
from upgrader.plan.runbooks import (
    Command,
    Repeat,
    Runbook,
    RunbookStep,
    fill,
    get_runbook,
    shared_steps,
)
from upgrader.plan.snapshot import ClusterSnapshot, NodeOwner, NodeOwnerKind
from upgrader.plan.step_params import (
    DEFAULT_TAINT,
    AddonsParams,
    AutoscalerParams,
    BlueGreenParams,
    ControlPlaneParams,
    FargateParams,
    GenericParams,
    InPlaceParams,
    KarpenterParams,
    SelfManagedParams,
    StepParams,
    VerifyParams,
)
from upgrader.versions import KubeVersion, NodeKind, VersionCatalog, default_catalog

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

# A drain is given at least twice its budget bound: start-up times vary, and replacements queue
# behind each other on a fresh green group.
DRAIN_TIMEOUT_MARGIN = 2.0
AUTOSCALER_PRESENT = "autoscaler-present"
RUNBOOK_FOR_STRATEGY = {
    NodeStrategy.BLUE_GREEN: "eks-upgrade-blue-green",
    NodeStrategy.IN_PLACE: "eks-upgrade-in-place",
}
_MANAGED_STEP_KINDS = {
    StepKind.NODEGROUP_BLUE_GREEN: NodeStrategy.BLUE_GREEN,
    StepKind.NODEGROUP_IN_PLACE: NodeStrategy.IN_PLACE,
}
_EKS_NODEGROUP_NAME_LIMIT = 63
# "-1-29", "_1_29", "-v1-29" at the end of a node group name: a version suffix to replace.
_VERSION_SUFFIX = re.compile(r"[-_]v?1[-_]\d{1,2}$")
_ADDON_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(?:.*?eksbuild\.(\d+))?")
_RESTARTABLE = (WorkloadKind.DEPLOYMENT.value, WorkloadKind.STATEFUL_SET.value)


# -- which groups move, and when ---------------------------------------------------------------


@dataclass(frozen=True)
class NodeUnit:
    """Nodes replaced as a whole: a managed node group, a self-managed Auto Scaling group, a
    Karpenter node pool, or every Fargate pod of the cluster."""

    owner: NodeOwnerKind
    name: str
    version: KubeVersion | None  # None: unknown (a self-managed group with no nodes to read)

    @property
    def node_kind(self) -> NodeKind:
        if self.owner is NodeOwnerKind.MANAGED:
            return NodeKind.MANAGED_NODE_GROUP
        if self.owner is NodeOwnerKind.FARGATE:
            return NodeKind.FARGATE
        return NodeKind.SELF_MANAGED  # Karpenter nodes trail like self-managed ones

    @property
    def label(self) -> str:
        return {
            NodeOwnerKind.MANAGED: f"node group {self.name}",
            NodeOwnerKind.SELF_MANAGED: f"self-managed group {self.name}",
            NodeOwnerKind.KARPENTER: f"Karpenter node pool {self.name}",
            NodeOwnerKind.FARGATE: "Fargate pods",
        }.get(self.owner, self.name)


def replacement_versions(
    unit: NodeUnit, current: KubeVersion, target: KubeVersion, catalog: VersionCatalog
) -> list[KubeVersion]:
    """The control-plane versions at which `unit` must be replaced, fewest first-to-last.

    Walking the stages current, current+1, ..., target (the control plane's version after each
    hop): a unit that must match the control plane moves at every stage it is behind, before
    the next hop; one that may trail moves only when staying would break the kubelet skew at
    the next hop, to the version the control plane is on then (it can go no further), and
    once more at the end. Moving as late as possible is what makes the count minimal.
    """
    at = unit.version
    if at is None:
        return []
    moves = []
    for step in range(target - current + 1):
        stage = current + step
        if at >= stage:
            continue
        if stage == target or catalog.must_match_control_plane(unit.node_kind):
            needed = True
        else:
            needed = not catalog.kubelet_skew_ok(at, stage + 1)
        if needed:
            moves.append(stage)
            at = stage
    return moves


def node_units(snapshot: ClusterSnapshot) -> list[NodeUnit]:
    """Everything that carries nodes eksup must replace, in the order the plan replaces them."""
    by_owner = snapshot.nodes_by_owner
    units = [
        NodeUnit(NodeOwnerKind.MANAGED, g.name, KubeVersion.try_parse(g.version))
        for g in sorted(snapshot.nodegroups, key=lambda g: g.name)
    ]
    for group in sorted(snapshot.self_managed_groups, key=lambda g: g.name):
        nodes = by_owner.get(NodeOwner(NodeOwnerKind.SELF_MANAGED, group.name), ())
        version = _oldest_kubelet(nodes) or _version_of_image(snapshot, group.image_id)
        units.append(NodeUnit(NodeOwnerKind.SELF_MANAGED, group.name, version))
    pools = sorted((o for o in by_owner if o.kind is NodeOwnerKind.KARPENTER), key=lambda o: o.name)
    units += [
        NodeUnit(NodeOwnerKind.KARPENTER, o.name, _oldest_kubelet(by_owner[o])) for o in pools
    ]
    fargate = by_owner.get(NodeOwner(NodeOwnerKind.FARGATE, ""), ())
    if fargate:
        units.append(NodeUnit(NodeOwnerKind.FARGATE, "fargate", _oldest_kubelet(fargate)))
    return units


def _oldest_kubelet(nodes: Iterable[Node]) -> KubeVersion | None:
    versions = [v for v in (KubeVersion.try_parse(n.kubelet_version) for n in nodes) if v]
    return min(versions, default=None)


def _version_of_image(snapshot: ClusterSnapshot, image_id: str | None) -> KubeVersion | None:
    """The Kubernetes version of an EKS-optimized AMI, when discovery read its SSM parameter
    (the parameter path names the version): how an empty self-managed group is placed."""
    if not image_id:
        return None
    for parameter, image in snapshot.ami_ids.items():
        match = re.search(r"/(?:aws-k8s-|EKS_Optimized-|optimized-ami/)(1\.\d+)", parameter)
        if image == image_id and match:
            return KubeVersion.parse(match.group(1))
    return None


def _reason(
    unit: NodeUnit, moves: Sequence[KubeVersion], target: KubeVersion, catalog: VersionCatalog
) -> str:
    count = f"{len(moves)} replacement{'s' if len(moves) != 1 else ''}"
    where = ", ".join(str(v) for v in moves)
    head = f"{unit.label} (at {unit.version}): {count}, at {where}"
    if catalog.must_match_control_plane(unit.node_kind):
        what = "Fargate pods" if unit.owner is NodeOwnerKind.FARGATE else "managed node groups"
        return (
            f"{head}: AWS requires {what} to run the control plane's minor before its next "
            "upgrade, so they move at every hop"
        )
    early = [v for v in moves if v != target]
    why = "; ".join(
        f"at {v} its kubelet would fall outside the skew of {v + 1} "
        f"({catalog.max_kubelet_skew(v + 1)} minors)"
        for v in early
    )
    trail = (
        "it may trail the control plane within the upstream kubelet skew, so it moves once, "
        "at the end"
    )
    return f"{head}: {why}; then once at the end" if why else f"{head}: {trail}"


# -- names -------------------------------------------------------------------------------------


def green_name(blue: str, version: KubeVersion, taken: Iterable[str] = ()) -> str:
    """ "general" -> "general-1-30"; a name that already ends in a version gets it replaced
    ("general-1-29" -> "general-1-30"). Kept within EKS's 63 characters and clear of `taken`."""
    base = _VERSION_SUFFIX.sub("", blue) or blue
    suffix = f"-{version.major}-{version.minor}"
    used = set(taken)
    for attempt in range(1, 100):
        extra = "" if attempt == 1 else f"-{attempt}"
        name = base[: _EKS_NODEGROUP_NAME_LIMIT - len(suffix) - len(extra)] + suffix + extra
        if name not in used:
            return name
    raise UserError(f"no free node group name for {blue} at {version}")


# -- add-ons -------------------------------------------------------------------------------------


def _addon_key(version: str) -> tuple[int, int, int, int]:
    match = _ADDON_VERSION.match(version.strip())
    if match is None:
        return (-1, -1, -1, -1)
    major, minor, patch, build = match.groups()
    return (int(major), int(minor), int(patch), int(build or 0))


def _candidates(listing: Iterable[AddonVersion], name: str, hop: str) -> list[AddonVersion]:
    return [
        v
        for v in listing
        if v.addon_name == name and (not v.compatibilities or v.compatible_with(hop))
    ]


def _default_version(snapshot: ClusterSnapshot, name: str, hop: str) -> str:
    """The hop's default build of add-on `name` (else its newest compatible one); "" when
    discovery did not read the hop's add-on versions or none is compatible."""
    candidates = _candidates(snapshot.addon_versions.get(hop, ()), name, hop)
    defaults = [v.version for v in candidates if v.default_for(hop)]
    pool = defaults or [v.version for v in candidates]
    return max(pool, key=_addon_key, default="")


def _addon_path(
    snapshot: ClusterSnapshot,
    catalog: VersionCatalog,
    name: str,
    *,
    current: str,
    target: str,
    hop: str,
) -> list[str]:
    """Versions to apply in order, ending at `target`. For an add-on that moves one minor at a
    time, each minor in between is its newest build compatible with the hop; a minor EKS
    publishes no such build of is skipped, as there is nothing to stop at."""
    try:
        minors = catalog.addon_upgrade_minors(name, current, target)
    except UserError:
        return [target]
    listing = _candidates(snapshot.addon_versions.get(hop, ()), name, hop)
    path = []
    for minor in minors[:-1]:
        wanted = KubeVersion.parse(minor)
        builds = [v.version for v in listing if KubeVersion.try_parse(v.version) == wanted]
        if builds:
            path.append(max(builds, key=_addon_key))
    return [*path, target]


def addon_updates(
    snapshot: ClusterSnapshot,
    catalog: VersionCatalog,
    hop: str,
    installed: Mapping[str, str],
) -> list[AddonUpdate]:
    """Each installed add-on's move at `hop`; add-ons already at (or past) the hop's default
    are left alone."""
    updates = []
    for name, current in sorted(installed.items()):
        target = _default_version(snapshot, name, hop)
        if target and current and _addon_key(current) >= _addon_key(target):
            continue
        path = (
            _addon_path(snapshot, catalog, name, current=current, target=target, hop=hop)
            if target and current
            else []
        )
        updates.append(AddonUpdate(name=name, current=current, target=target, path=path))
    return updates


# -- templates -----------------------------------------------------------------------------------


_UNIT_STEP_KINDS = {
    NodeOwnerKind.SELF_MANAGED: StepKind.SELF_MANAGED_GROUP,
    NodeOwnerKind.KARPENTER: StepKind.KARPENTER_DRIFT,
    NodeOwnerKind.FARGATE: StepKind.FARGATE_RESTART,
}


@dataclass(frozen=True)
class _Shape:
    """A runbook cut in three: once-steps before the hops, the repeated block, once-steps after."""

    before: list[RunbookStep]
    block: list[RunbookStep]
    after: list[RunbookStep]
    strategy: NodeStrategy


def _shape(runbook: Runbook) -> _Shape:
    repeated = [i for i, s in enumerate(runbook.steps) if s.repeat is not Repeat.ONCE]
    if not repeated:
        raise UserError(f"runbook {runbook.id!r} has no per-hop steps: it cannot plan an upgrade")
    first, last = repeated[0], repeated[-1]
    block = runbook.steps[first : last + 1]
    if any(s.repeat is Repeat.ONCE for s in block):
        raise UserError(
            f"runbook {runbook.id!r}: a once-only step between per-hop steps is not supported"
        )
    kinds = {s.kind for s in block}
    managed = [_MANAGED_STEP_KINDS[k] for k in kinds if k in _MANAGED_STEP_KINDS]
    if len(managed) != 1:
        raise UserError(
            f"runbook {runbook.id!r} must have exactly one node group step "
            "(nodegroup-blue-green or nodegroup-in-place)"
        )
    extra = [t for k, t in shared_steps().items() if k not in kinds]
    return _Shape(runbook.steps[:first], [*block, *extra], runbook.steps[last + 1 :], managed[0])


# -- filling a template --------------------------------------------------------------------------


def _lines(commands: Sequence[Command], values: dict[str, str]) -> list[str]:
    """Commands as a person types them; an instruction (`manual`) and a note become comments."""
    lines = []
    for template in commands:
        if template.tool == "manual":
            line = f"# {comment(fill(template.run, values))}"
        else:  # every value shell-quoted: names come from the cluster (upgrader.core.shell)
            line = fill_command(template.run, values)
        if template.note:
            line += f"  # {comment(fill(template.note, values))}"
        lines.append(line)
    return lines


def _expand(lines: list[str], marker: str, each: Sequence[Callable[[str], list[str]]]) -> list[str]:
    """Lines naming `marker` repeated for each concrete object (one add-on, one workload), so
    the Markdown shows the exact commands; other lines, or no objects, stay as they are."""
    if not each:
        return lines
    out = []
    for line in lines:
        if marker in line:
            for make in each:
                out.extend(make(line))
        else:
            out.append(line)
    return out


@dataclass(frozen=True)
class _Ctx:
    """What every step of one plan shares."""

    snapshot: ClusterSnapshot
    catalog: VersionCatalog
    current: KubeVersion
    target: KubeVersion
    values: dict[str, str]  # the runbook placeholders common to every step
    taint: str
    drain_timeout_seconds: int
    max_unavailable: str | None  # in-place updates; None: each group's own setting
    # A group's budget bound depends only on the snapshot: computed once, reused at every hop.
    drain_bounds: dict[NodeOwner, float] = field(default_factory=dict)
    ami_family: str | None = None  # green groups move off AL2 to it (upgrader.plan.ami_move)


def _step(
    template: RunbookStep,
    ctx: _Ctx,
    *,
    step_id: str,
    target: str,
    hop: KubeVersion | None = None,
    values: Mapping[str, str] | None = None,
    params: StepParams | None = None,
    **extra: object,
) -> Step:
    filled = {**ctx.values, **(values or {})}
    if hop is not None:
        filled["hop"] = str(hop)
    return Step.model_validate(
        {
            "id": step_id,
            "kind": template.kind,
            "target": target,
            "title": fill(template.title, filled),
            "description": fill(template.description, filled),
            "hop": str(hop) if hop is not None else None,
            "params": params or GenericParams(),
            "mutating": template.mutating,
            "approval": template.approval,
            "verifies": list(template.verifies),
            "preconditions": [fill(p, filled) for p in template.preconditions],
            "commands": _lines(template.actions, filled),
            "verification": _lines(template.verify, filled),
            "rollback": _lines(template.rollback, filled),
            **extra,
        }
    )


# -- the plan ------------------------------------------------------------------------------------


@dataclass
class _Lineage:
    """Where each managed node group stands as the plan advances: its current (blue) name."""

    current: dict[str, str]
    taken: set[str]

    def advance(self, original: str, version: KubeVersion) -> tuple[str, str]:
        blue = self.current[original]
        green = green_name(blue, version, self.taken)
        self.taken.add(green)
        self.current[original] = green
        return blue, green


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
    path (a downgrade, a version eksup does not know or EKS does not offer)."""
    catalog = catalog or default_catalog()
    strategy = NodeStrategy(node_strategy)
    runbook = runbook or get_runbook(RUNBOOK_FOR_STRATEGY[strategy])
    shape = _shape(runbook)
    if shape.strategy is not strategy:
        raise UserError(
            f"runbook {runbook.id!r} replaces node groups {shape.strategy.value}, "
            f"not {strategy.value}"
        )
    current = KubeVersion.parse(snapshot.cluster.version)
    goal = KubeVersion.parse(target)
    hops = [] if goal == current else [KubeVersion.parse(h) for h in catalog.hops(current, goal)]
    ctx = _Ctx(
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
    ctx: _Ctx, templates: Iterable[RunbookStep], conditions: Mapping[str, bool]
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
        step = _step(
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


def _autoscaler_lines(ctx: _Ctx, step: Step) -> Step:
    found = find_cluster_autoscaler(ctx.snapshot)

    def rename(namespace: str, name: str) -> Callable[[str], list[str]]:
        real = command("-n", namespace, "scale", "deployment", name)
        return lambda line: [line.replace(_DEFAULT_AUTOSCALER, real)]

    each = [rename(w.namespace, w.name) for w in found]
    return step.model_copy(
        update={
            "commands": _expand(step.commands, _DEFAULT_AUTOSCALER, each),
            "rollback": _expand(step.rollback, _DEFAULT_AUTOSCALER, each),
        }
    )


def _once_params(ctx: _Ctx, template: RunbookStep) -> StepParams:
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
    ctx: _Ctx,
    block: Sequence[RunbookStep],
    hops: Sequence[KubeVersion],
    units: Sequence[NodeUnit],
    moves: Mapping[NodeUnit, list[KubeVersion]],
) -> list[Step]:
    """The repeated block at each control-plane version: the current one (only node groups
    that are behind it) and then every hop."""
    lineage = _Lineage(
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
                    steps.extend(_bridge_addons(ctx, block, stage, previous, addons))
                    steps.append(_control_plane(ctx, template, stage, previous))
            elif template.kind is StepKind.ADDONS:
                if stage != ctx.current:
                    steps.extend(_addons(ctx, template, stage, addons))
            elif template.kind in _MANAGED_STEP_KINDS:
                managed = [u for u in due if u.owner is NodeOwnerKind.MANAGED]
                steps.extend(
                    _managed(ctx, template, stage, u, moves[u], lineage=lineage) for u in managed
                )
            elif template.kind is StepKind.FARGATE_RESTART:
                fargate = [u for u in due if u.owner is NodeOwnerKind.FARGATE]
                steps.extend(_fargate(ctx, template, stage, u, moves[u]) for u in fargate)
            elif template.kind in (StepKind.SELF_MANAGED_GROUP, StepKind.KARPENTER_DRIFT):
                trailing = [u for u in due if _UNIT_STEP_KINDS.get(u.owner) is template.kind]
                steps.extend(_trailing(ctx, template, stage, u, moves[u]) for u in trailing)
            elif stage != ctx.current:
                steps.append(_generic(ctx, template, stage))
        previous = stage
    return steps


def _from(unit: NodeUnit, moves: Sequence[KubeVersion], stage: KubeVersion) -> str:
    before = [v for v in moves if v < stage]
    start = before[-1] if before else unit.version
    return str(start) if start else ""


def _control_plane(
    ctx: _Ctx, template: RunbookStep, hop: KubeVersion, previous: KubeVersion
) -> Step:
    return _step(
        template,
        ctx,
        step_id=f"{template.id}-{hop}",
        target=f"cluster/{ctx.snapshot.cluster.name}",
        hop=hop,
        params=ControlPlaneParams(version=str(hop), from_version=str(previous)),
    )


def _addons(
    ctx: _Ctx, template: RunbookStep, hop: KubeVersion, installed: dict[str, str]
) -> list[Step]:
    updates = addon_updates(ctx.snapshot, ctx.catalog, str(hop), installed)
    if not updates:
        return []
    for update in updates:
        installed[update.name] = update.target  # the next hop starts from here
    step = _step(
        template,
        ctx,
        step_id=f"{template.id}-{hop}",
        target="addons",
        hop=hop,
        params=AddonsParams(
            version=str(hop),
            addons=[u.name for u in updates],
            addon_versions={u.name: u.target for u in updates},
        ),
        addon_updates=updates,
    )
    return [
        step.model_copy(
            update={
                "commands": _addon_lines(step.commands, updates),
                "verification": _addon_lines(step.verification, updates),
                "rollback": _addon_lines(step.rollback, updates),
            }
        )
    ]


def bridge_step_id(hop: str) -> str:
    return f"addons-before-{hop}"


def _bridge_addons(
    ctx: _Ctx,
    block: Sequence[RunbookStep],
    hop: KubeVersion,
    previous: KubeVersion,
    installed: dict[str, str],
) -> list[Step]:
    """Add-ons whose installed version does not run on `hop` move first to the newest version
    that runs on both minors (the `addon-compatibility` finding's advice, the same pick), so
    the control plane never runs an add-on it does not support; the add-on step after the
    hop then leaves them alone when they are already at or past its default."""
    template = next((t for t in block if t.kind is StepKind.ADDONS), None)
    if template is None:
        return []
    updates = []
    for name, current in sorted(installed.items()):
        now = {
            v.version
            for v in _candidates(
                ctx.snapshot.addon_versions.get(str(previous), ()), name, str(previous)
            )
        }
        then = {
            v.version
            for v in _candidates(ctx.snapshot.addon_versions.get(str(hop), ()), name, str(hop))
        }
        if not now or not then or current in then:
            continue
        bridge = now & then
        if not bridge:
            continue  # no version runs on both: the addon-compatibility check blocks
        pick = max(bridge, key=_addon_key)
        if _addon_key(pick) <= _addon_key(current):
            continue
        # One minor at a time where the add-on asks for it (vpc-cni), each step a build that
        # runs on the control plane as it is now.
        path = _addon_path(
            ctx.snapshot, ctx.catalog, name, current=current, target=pick, hop=str(previous)
        )
        updates.append(AddonUpdate(name=name, current=current, target=pick, path=path))
        installed[name] = pick
    if not updates:
        return []
    names = ", ".join(u.name for u in updates)
    step = _step(
        template,
        ctx,
        step_id=bridge_step_id(str(hop)),
        target="addons",
        hop=hop,
        # The control plane is still on `previous`: the step's precondition checks that.
        params=AddonsParams(
            version=str(previous),
            addons=[u.name for u in updates],
            addon_versions={u.name: u.target for u in updates},
        ),
        addon_updates=updates,
    )
    return [
        step.model_copy(
            update={
                "title": f"Add-ons that do not run on {hop}, before the control plane moves",
                "description": f"{names}: the installed version does not run on Kubernetes "
                f"{hop}; each moves first to the newest version that runs on both {previous} "
                f"and {hop}, one at a time, each waited on until ACTIVE.",
                "commands": _addon_lines(step.commands, updates),
                "verification": _addon_lines(step.verification, updates),
                "rollback": _addon_lines(step.rollback, updates),
            }
        )
    ]


def _addon_lines(lines: list[str], updates: Sequence[AddonUpdate]) -> list[str]:
    def for_addon(update: AddonUpdate) -> Callable[[str], list[str]]:
        def make(line: str) -> list[str]:
            line = line.replace("<addon>", quote(update.name)).replace(
                "<previous version>", quote(update.current)
            )
            if "<default version>" in line and update.path:
                return [line.replace("<default version>", quote(v)) for v in update.path]
            return [line]

        return make

    return _expand(lines, "<addon>", [for_addon(u) for u in updates])


def _ami(ctx: _Ctx, version: KubeVersion, ami_type: str | None) -> tuple[str | None, str | None]:
    """(SSM parameter, AMI id) of the recommended AMI at `version`, when known."""
    if not ami_type:
        return None, None
    try:
        parameter = ctx.catalog.ami_parameter(version, ami_type)
    except UserError:
        return None, None
    return parameter, ctx.snapshot.ami_ids.get(parameter) if parameter else None


def _max_unavailable(group: Nodegroup | None) -> str:
    if group is None:
        return "1"
    config = group.update_config
    if config.max_unavailable_percentage is not None:
        return f"{config.max_unavailable_percentage}%"
    return str(config.max_unavailable or 1)


def _managed(
    ctx: _Ctx,
    template: RunbookStep,
    stage: KubeVersion,
    unit: NodeUnit,
    moves: Sequence[KubeVersion],
    *,
    lineage: _Lineage,
) -> Step:
    group = ctx.snapshot.nodegroup_by_name.get(unit.name)
    in_place = template.kind is StepKind.NODEGROUP_IN_PLACE
    blue, green = (unit.name, unit.name) if in_place else lineage.advance(unit.name, stage)
    ami_type = group.ami_type if group else None
    if not in_place:
        ami_type = green_ami_type(ctx.ami_family, ami_type)
    parameter, ami_id = _ami(ctx, stage, ami_type)
    common = {
        "nodegroup": blue,
        "original_nodegroup": unit.name,
        "version": str(stage),
        "from_version": _from(unit, moves, stage),
        "ami_type": ami_type,
        "ami_parameter": parameter,
        "ami_id": ami_id,
        "max_unavailable": ctx.max_unavailable or _max_unavailable(group),
    }
    timeout = ctx.drain_timeout_seconds
    params: StepParams
    if in_place:
        params = InPlaceParams.model_validate(common)
    else:
        timeout = _drain_timeout(ctx, NodeOwner(NodeOwnerKind.MANAGED, unit.name))
        params = BlueGreenParams.model_validate(
            {
                **common,
                "green_nodegroup": green,
                "taint": ctx.taint,
                "drain_timeout_seconds": timeout,
            }
        )
    return _step(
        template,
        ctx,
        step_id=f"{template.id}-{unit.name}-{stage}",
        target=f"nodegroup/{blue}",
        hop=stage,
        values={
            "nodegroup": blue,
            "green_nodegroup": green,
            "drain_timeout": f"{timeout}s",
            **_str(params),
        },
        params=params,
    )


def _drain_timeout(ctx: _Ctx, owner: NodeOwner) -> int:
    """The configured timeout, raised to twice the group's budget bound when that is longer:
    a drain given less time than its budgets need fails half-way, with blue cordoned."""
    bound = ctx.drain_bounds.get(owner)
    if bound is None:
        nodes = [n.name for n in ctx.snapshot.nodes_by_owner.get(owner, ())]
        bound = ctx.drain_bounds[owner] = estimate_drain(ctx.snapshot, nodes).seconds
    return max(ctx.drain_timeout_seconds, math.ceil(DRAIN_TIMEOUT_MARGIN * bound))


def _trailing(
    ctx: _Ctx,
    template: RunbookStep,
    stage: KubeVersion,
    unit: NodeUnit,
    moves: Sequence[KubeVersion],
) -> Step:
    common = {
        "nodegroup": unit.name,
        "version": str(stage),
        "from_version": _from(unit, moves, stage),
    }
    prefix = "asg"
    params: StepParams
    if unit.owner is NodeOwnerKind.SELF_MANAGED:
        params = SelfManagedParams.model_validate(
            {**common, **_self_managed_params(ctx, stage, unit.name)}
        )
    else:
        prefix = "nodepool"
        node_class = _node_class_of_pool(ctx.snapshot, unit.name)
        params = KarpenterParams.model_validate({**common, "node_class": node_class})
    values = _str(params)
    if unit.owner is NodeOwnerKind.KARPENTER and "node_class" not in values:
        # No node to read it from: the commands look it up in the NodePool.
        lookup = "jsonpath={.spec.template.spec.nodeClassRef.name}"
        read = command("kubectl", "get", "nodepool", unit.name, "-o", lookup)
        # Unquoted: Kubernetes names hold no blank or glob character to split on.
        values["node_class"] = Raw(f"$({read})")
    return _step(
        template,
        ctx,
        step_id=f"{template.id}-{unit.name}-{stage}",
        target=f"{prefix}/{unit.name}",
        hop=stage,
        values=values,
        params=params,
    )


def _self_managed_params(ctx: _Ctx, stage: KubeVersion, name: str) -> dict[str, object]:
    group = next(g for g in ctx.snapshot.self_managed_groups if g.name == name)
    ref = group.asg.launch_template
    ami_type = _ami_type_of_image(ctx, group.image_id)
    parameter, ami_id = _ami(ctx, stage, ami_type)
    return {
        "launch_template": ref.id if ref else None,
        "launch_template_version": ref.version if ref and ref.version else None,
        "image_id": group.image_id,
        "ami_type": ami_type,
        "ami_parameter": parameter,
        "ami_id": ami_id,
        "taint": ctx.taint,
        "drain_timeout_seconds": _drain_timeout(ctx, NodeOwner(NodeOwnerKind.SELF_MANAGED, name)),
    }


def _node_class_of_pool(snapshot: ClusterSnapshot, pool: str) -> str | None:
    """The EC2NodeClass a Karpenter pool's nodes were launched from (their label), when they
    agree on one; else the step reads it from the NodePool when it runs."""
    nodes = snapshot.nodes_by_owner.get(NodeOwner(NodeOwnerKind.KARPENTER, pool), ())
    classes = {n.labels.get(KARPENTER_NODECLASS_LABEL) for n in nodes}
    return classes.pop() if len(classes) == 1 else None


def _ami_type_of_image(ctx: _Ctx, image_id: str | None) -> str | None:
    """The AMI type whose recommended image (at the current version) the group runs."""
    if not image_id:
        return None
    for ami_type in ctx.catalog.data.amis.ssm_parameters:
        parameter, ami_id = _ami(ctx, ctx.current, ami_type)
        if parameter and ami_id == image_id:
            return ami_type
    return None


def _fargate(
    ctx: _Ctx,
    template: RunbookStep,
    stage: KubeVersion,
    unit: NodeUnit,
    moves: Sequence[KubeVersion],
) -> Step:
    workloads = _fargate_workloads(ctx.snapshot)
    step = _step(
        template,
        ctx,
        step_id=f"{template.id}-{stage}",
        target="fargate",
        hop=stage,
        params=FargateParams(
            version=str(stage),
            from_version=_from(unit, moves, stage),
            profiles=sorted(p.name for p in ctx.snapshot.fargate_profiles),
            workloads=workloads,
        ),
    )

    def restart(workload: str) -> Callable[[str], list[str]]:
        kind, namespace, name = workload.split("/", 2)
        restart = command(
            "kubectl", "-n", namespace, "rollout", "restart", f"{kind.lower()}/{name}"
        )
        return lambda line: [line.replace("kubectl rollout restart <workload on Fargate>", restart)]

    marker = "<workload on Fargate>"
    return step.model_copy(
        update={"commands": _expand(step.commands, marker, [restart(w) for w in workloads])}
    )


def _fargate_workloads(snapshot: ClusterSnapshot) -> list[str]:
    """ "Kind/namespace/name" of every Deployment or StatefulSet with a pod on Fargate."""
    fargate = snapshot.nodes_by_owner.get(NodeOwner(NodeOwnerKind.FARGATE, ""), ())
    found = set()
    for node in fargate:
        for pod in snapshot.pods_by_node.get(node.name, ()):
            controller = snapshot.controller_of(pod)
            if controller and controller[0] in _RESTARTABLE:
                found.add(f"{controller[0]}/{pod.namespace}/{controller[1]}")
    return sorted(found)


def _generic(ctx: _Ctx, template: RunbookStep, hop: KubeVersion) -> Step:
    """A per-hop step of a kind the planner gives no special meaning (e.g. a manual check)."""
    return _step(
        template,
        ctx,
        step_id=f"{template.id}-{hop}",
        target=f"cluster/{ctx.snapshot.cluster.name}",
        hop=hop,
        params=GenericParams(version=str(hop)),
    )


def _str(params: StepParams) -> dict[str, str]:
    """Scalar params as runbook placeholder values (missing ones stay `<name>` when filled)."""
    written = params.model_dump(mode="json").items()
    return {k: str(v) for k, v in written if isinstance(v, str | int) and v != ""}


# -- why, and what else --------------------------------------------------------------------------


def _reasons(
    snapshot: ClusterSnapshot,
    units: Sequence[NodeUnit],
    moves: Mapping[NodeUnit, list[KubeVersion]],
    target: KubeVersion,
    catalog: VersionCatalog,
) -> list[str]:
    reasons = [_reason(u, moves[u], target, catalog) for u in units if moves[u]]
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
