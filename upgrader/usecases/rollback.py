"""The `eksup rollback` use case: undo the last control-plane upgrade, where EKS allows it.

EKS takes `UpdateClusterVersion` with the previous minor as a rollback (a `VersionRollback`
update) only when the current version came from an in-place upgrade that completed less than 7
days ago; never for a cluster created at its version, after a rollback, or further than one
minor, nor to a version out of support or (unless the upgrade policy is EXTENDED) in extended
support. eksup reads that from the cluster's own update history and its version data, and
refuses, saying which rule holds, before asking EKS. EKS's update history gives an upgrade's
start, not its end, so eksup counts the 7 days from the start: it may refuse in the last
minutes EKS would still accept.

EKS rolls back the API server and nothing else. Kubelets newer than the API server break the
skew policy, so AWS's order is: managed node groups first (UpdateNodegroupVersion, which
`--nodegroups` does here), then the control plane; self-managed and Fargate nodes are the
owner's to replace, and add-ons keep their versions. Those are listed with the commands that
fix them. ERROR rollback readiness insights, node groups, and newer self-managed or Fargate nodes
block the rollback unless `--force`, which EKS honours for its readiness checks only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from upgrader.core.aws import Addon, EksUpdate, Insight, Nodegroup, UpdateStatus
from upgrader.core.errors import AwsApiError, NotFoundError, PermanentError, RefusedError
from upgrader.core.kube import FARGATE_COMPUTE_LABEL
from upgrader.core.ports import Clock, Cluster, ControlPlane
from upgrader.core.shell import command
from upgrader.execute.reporter import Reporter
from upgrader.execute.steps.base import Timeouts, Waiter, wait_for_eks_update
from upgrader.versions import KubeVersion, SupportStatus, default_catalog

VERSION_UPDATE = "VersionUpdate"
VERSION_ROLLBACK = "VersionRollback"
ROLLBACK_READINESS = "ROLLBACK_READINESS"
# EKS's answers when a rollback is not allowed: nothing changed, so a refusal (exit 3).
# InvalidStateException: rollback readiness checks failed (what `force` overrides).
_EKS_REFUSALS = ("InvalidRequestException", "InvalidParameterException", "InvalidStateException")


@dataclass(frozen=True)
class RollbackOptions:
    to: str | None = None  # None: the previous minor
    yes: bool = False
    dry_run: bool = False
    force: bool = False  # override ERROR readiness insights and newer nodes, as EKS's force
    nodegroups: bool = False  # roll managed node groups back first (UpdateNodegroupVersion)
    region: str = ""  # only for the commands printed
    timeouts: Timeouts = field(default_factory=Timeouts)


@dataclass(frozen=True)
class AddonFix:
    name: str
    version: str
    fix: str | None  # the target version's default build, None when EKS has none


@dataclass(frozen=True)
class Assessment:
    """What a rollback of `cluster` from `current` to `target` involves."""

    cluster: str
    current: str
    target: str
    upgrade: EksUpdate  # the upgrade being undone
    window_closes: float
    nodegroups_ahead: tuple[Nodegroup, ...]
    other_nodes_ahead: tuple[str, ...]  # "name (self-managed, 1.30)", "name (Fargate, 1.30)"
    addons: tuple[AddonFix, ...]  # add-ons whose version the target does not support
    insight_errors: tuple[Insight, ...]
    insight_warnings: tuple[Insight, ...]
    in_flight: EksUpdate | None = None  # a rollback to `target` already running
    extended_support: bool = False  # `target` is in extended support (billed as such)

    def blockers(self, options: RollbackOptions) -> list[str]:
        """What stops the rollback with these options, each with what to do."""
        if options.force:
            return []
        found = [
            f"rollback readiness insight {i.name!r} is ERROR: {i.recommendation or i.description}"
            for i in self.insight_errors
        ]
        if self.nodegroups_ahead and not options.nodegroups:
            groups = ", ".join(f"{g.name} ({g.version})" for g in self.nodegroups_ahead)
            found.append(
                f"managed node groups newer than {self.target} must be rolled back first: "
                f"{groups}; pass --nodegroups to have eksup do it"
            )
        if self.other_nodes_ahead:
            found.append(
                f"nodes newer than {self.target} that EKS does not roll back: "
                f"{', '.join(self.other_nodes_ahead)}; replace them (Fargate: delete the pods)"
            )
        return found


@dataclass
class RollbackResult:
    assessment: Assessment
    dry_run: bool
    update_id: str = ""
    nodegroups_rolled_back: list[str] = field(default_factory=list)
    region: str = ""

    def summary(self) -> str:
        a = self.assessment
        head = (
            f"dry run: would roll back {a.cluster} from {a.current} to {a.target}; nothing changed"
            if self.dry_run
            else f"control plane of {a.cluster} rolled back to {a.target} (update {self.update_id})"
        )
        return "\n".join([head, *self.still_to_do()])

    def still_to_do(self) -> list[str]:
        """What the rollback did not roll back, with the command that does it."""
        a = self.assessment
        region = ("--region", self.region) if self.region else ()
        lines = []
        for group in a.nodegroups_ahead:
            if group.name not in self.nodegroups_rolled_back:
                lines.append(
                    f"node group {group.name} is at {group.version}, newer than the control "
                    "plane: "
                    + command(
                        "aws",
                        "eks",
                        "update-nodegroup-version",
                        "--cluster-name",
                        a.cluster,
                        "--nodegroup-name",
                        group.name,
                        "--kubernetes-version",
                        str(a.target),
                        *region,
                    )
                )
        lines += [f"node {node}: replace it with one at {a.target}" for node in a.other_nodes_ahead]
        for addon in a.addons:
            fix = (
                command(
                    "aws",
                    "eks",
                    "update-addon",
                    "--cluster-name",
                    a.cluster,
                    "--addon-name",
                    addon.name,
                    "--addon-version",
                    addon.fix,
                    *region,
                )
                if addon.fix
                else "EKS offers no build for it: remove or replace it"
            )
            lines.append(f"add-on {addon.name} {addon.version} does not support {a.target}: {fix}")
        if lines:
            lines.insert(0, "not rolled back (EKS leaves these to you):")
        return lines


def _when(seconds: float) -> str:
    return f"{datetime.fromtimestamp(seconds, tz=UTC):%Y-%m-%d %H:%M UTC}"


def assess(
    eks: ControlPlane, kube: Cluster, clock: Clock, cluster: str, to: str | None
) -> Assessment:
    """Read everything the rollback depends on; a RefusedError says which EKS rule forbids it."""
    rules = default_catalog().data.upgrade_rules.rollback
    described = eks.describe_cluster(cluster)
    current = KubeVersion.parse(described.version)
    target = current - 1 if to is None else KubeVersion.parse(to)
    if target >= current:
        raise RefusedError(
            f"{cluster} is at {current}: a rollback goes to an older version, not {target} "
            "(upgrades are `eksup plan`)"
        )
    if current - target > rules.max_minors or current - target != 1:
        raise RefusedError(
            f"EKS rolls back one minor version only: {cluster} can go from {current} to "
            f"{current - 1}, not to {target}"
        )
    updates = _version_changes(eks, cluster)
    in_flight = next(
        (
            u
            for u in updates
            if u.type == VERSION_ROLLBACK
            and u.status is UpdateStatus.IN_PROGRESS
            and u.params.get("Version") == str(target)
        ),
        None,
    )
    if in_flight is None and described.status != "ACTIVE":
        raise RefusedError(f"{cluster} is {described.status}, not ACTIVE: wait, then try again")
    upgrade = _upgrade_to_undo(cluster, str(current), updates, in_flight)
    closes = upgrade.created_at + rules.window_days * 24 * 3600.0
    if in_flight is None and clock.now() > closes:
        raise RefusedError(
            f"{cluster} was upgraded to {current} on {_when(upgrade.created_at)}; EKS allows a "
            f"rollback only within {rules.window_days} days of an upgrade, and that window "
            f"closed around {_when(closes)}"
        )
    support = _support_of(target, clock)
    if in_flight is None and support is SupportStatus.UNSUPPORTED:
        raise RefusedError(f"{target} is past the end of EKS support: EKS cannot roll back to it")
    if (
        in_flight is None
        and support is SupportStatus.EXTENDED
        and (described.support_type != "EXTENDED")
    ):
        raise RefusedError(
            f"{target} is in extended support and {cluster}'s upgrade policy is "
            f"{described.support_type}: EKS rolls back to it only with the EXTENDED policy "
            "("
            + command(
                *("aws", "eks", "update-cluster-config", "--name", cluster),
                *("--upgrade-policy", "supportType=EXTENDED"),
            )
            + "), which resumes extended-support charges"
        )
    insights = [
        i
        for i in eks.list_insights(cluster)
        if i.category == ROLLBACK_READINESS and i.kubernetes_version in ("", str(target))
    ]
    return Assessment(
        cluster=cluster,
        current=str(current),
        target=str(target),
        upgrade=upgrade,
        window_closes=closes,
        nodegroups_ahead=tuple(_nodegroups_ahead(eks, cluster, target)),
        other_nodes_ahead=tuple(_other_nodes_ahead(kube, target)),
        addons=tuple(_addons_to_fix(eks, cluster, str(target))),
        insight_errors=tuple(i for i in insights if i.status == "ERROR"),
        insight_warnings=tuple(i for i in insights if i.status == "WARNING"),
        in_flight=in_flight,
        extended_support=support is SupportStatus.EXTENDED,
    )


def _support_of(version: KubeVersion, clock: Clock) -> SupportStatus:
    today = datetime.fromtimestamp(clock.now(), tz=UTC).date()
    return default_catalog().support_status(version, today)


def _version_changes(eks: ControlPlane, cluster: str) -> list[EksUpdate]:
    """The cluster's version updates and rollbacks, oldest first."""
    found = []
    for update_id in eks.list_updates(cluster):
        try:
            update = eks.describe_update(cluster, update_id)
        except NotFoundError:
            continue
        if update.type in (VERSION_UPDATE, VERSION_ROLLBACK):
            found.append(update)
    return sorted(found, key=lambda u: u.created_at)


def _upgrade_to_undo(
    cluster: str, current: str, updates: list[EksUpdate], in_flight: EksUpdate | None
) -> EksUpdate:
    done = [u for u in updates if u.status is UpdateStatus.SUCCESSFUL]
    if in_flight is not None:
        done = [u for u in done if u.created_at < in_flight.created_at]
    last = done[-1] if done else None
    if last is None or last.params.get("Version") != current:
        raise RefusedError(
            f"{cluster} was created at {current}: its update history has no in-place upgrade "
            f"to {current}, and EKS rolls back only an upgrade"
        )
    if last.type == VERSION_ROLLBACK:
        raise RefusedError(
            f"{cluster} reached {current} by a rollback (update {last.id}); EKS rolls back only "
            "an in-place upgrade, once"
        )
    return last


def _nodegroups_ahead(eks: ControlPlane, cluster: str, target: KubeVersion) -> list[Nodegroup]:
    ahead = []
    for name in eks.list_nodegroups(cluster):
        try:
            group = eks.describe_nodegroup(cluster, name)
        except NotFoundError:
            continue
        if group.status != "DELETING" and KubeVersion.parse(group.version) > target:
            ahead.append(group)
    return ahead


def _other_nodes_ahead(kube: Cluster, target: KubeVersion) -> list[str]:
    """Self-managed and Fargate nodes whose kubelet is newer than `target` (managed node groups'
    nodes follow their group, which EKS reports)."""
    ahead = []
    for node in kube.list_nodes():
        version = KubeVersion.try_parse(node.kubelet_version)
        if node.nodegroup is not None or version is None or version <= target:
            continue
        kind = "Fargate" if node.labels.get(FARGATE_COMPUTE_LABEL) == "fargate" else "self-managed"
        ahead.append(f"{node.name} ({kind}, {version})")
    return sorted(ahead)


def _addons_to_fix(eks: ControlPlane, cluster: str, target: str) -> list[AddonFix]:
    fixes = []
    for name in eks.list_addons(cluster):
        addon: Addon = eks.describe_addon(cluster, name)
        builds = eks.describe_addon_versions(target, name)
        if any(b.version == addon.version and b.compatible_with(target) for b in builds):
            continue
        default = next((b.version for b in builds if b.default_for(target)), None)
        fixes.append(AddonFix(name, addon.version, default))
    return fixes


def run_rollback(
    eks: ControlPlane,
    kube: Cluster,
    clock: Clock,
    cluster: str,
    options: RollbackOptions,
    *,
    reporter: Reporter,
    confirm: Callable[[str], bool],
) -> RollbackResult:
    """Assess, refuse or confirm, then roll node groups (with --nodegroups) and the control
    plane back, each step logged before it runs and waited on to its end."""
    if options.dry_run:
        from upgrader.execute.dry_run import DryRunControlPlane, Recorder

        eks = DryRunControlPlane(eks, Recorder(reporter))
    assessment = assess(eks, kube, clock, cluster, options.to)
    result = RollbackResult(assessment, options.dry_run, region=options.region)
    waiter = Waiter(clock, reporter, lambda: None, dry_run=options.dry_run)
    if assessment.in_flight is not None:
        reporter.info(f"following rollback {assessment.in_flight.id}, issued earlier")
        result.update_id = assessment.in_flight.id
        _wait(eks, waiter, assessment, result.update_id, options)
        return result

    for insight in assessment.insight_warnings:
        reporter.warning(f"rollback readiness insight {insight.name!r} is WARNING")
    if assessment.extended_support:
        reporter.warning(
            f"{assessment.target} is in extended support: the cluster is billed for extended "
            "support again once rolled back"
        )
    for addon in assessment.addons:
        reporter.warning(
            f"add-on {addon.name} {addon.version} has no build for {assessment.target}; EKS "
            "leaves add-ons as they are (what to do is listed at the end)"
        )
    blockers = assessment.blockers(options)
    if blockers:
        raise RefusedError(f"rollback of {cluster} refused: {'; '.join(blockers)}")
    if options.force:
        for insight in assessment.insight_errors:
            reporter.warning(f"--force: overriding ERROR insight {insight.name!r}")
    groups = list(assessment.nodegroups_ahead) if options.nodegroups else []
    question = f"Roll back {cluster} from {assessment.current} to {assessment.target}" + (
        f", node groups {', '.join(g.name for g in groups)} first?" if groups else "?"
    )
    if not (options.yes or options.dry_run) and not confirm(question):
        raise RefusedError("not confirmed; nothing was changed")

    for group in groups:
        _intend(
            reporter,
            options,
            f"eks:UpdateNodegroupVersion cluster={cluster} "
            f"nodegroup={group.name} version={assessment.target}",
        )
        update = eks.update_nodegroup_version(cluster, group.name, version=assessment.target)
        wait_for_eks_update(
            eks,
            cluster,
            waiter,
            update.id,
            what=f"node group {group.name} -> {assessment.target}",
            timeout=options.timeouts.nodegroup_update,
            nodegroup=group.name,
            hint="the control plane was not rolled back; fix the cause, then run "
            "`eksup rollback` again",
        )
        result.nodegroups_rolled_back.append(group.name)

    _intend(
        reporter,
        options,
        f"eks:UpdateClusterVersion cluster={cluster} "
        f"version={assessment.target} (rollback{', force' if options.force else ''})",
    )
    try:
        update = eks.update_cluster_version(cluster, assessment.target, force=options.force)
    except AwsApiError as error:
        if error.code not in _EKS_REFUSALS:
            raise
        if result.nodegroups_rolled_back:
            raise PermanentError(
                f"EKS refused the control-plane rollback: {error}; node groups "
                f"{', '.join(result.nodegroups_rolled_back)} are already at {assessment.target}"
            ) from error
        raise RefusedError(f"EKS refused the rollback, nothing was changed: {error}") from error
    result.update_id = update.id
    _wait(eks, waiter, assessment, update.id, options)
    return result


def _intend(reporter: Reporter, options: RollbackOptions, description: str) -> None:
    """Log a change before it runs (a dry run's recorder prints the call itself)."""
    if not options.dry_run:
        reporter.action(description, dry_run=False)


def _wait(
    eks: ControlPlane,
    waiter: Waiter,
    assessment: Assessment,
    update_id: str,
    options: RollbackOptions,
) -> None:
    wait_for_eks_update(
        eks,
        assessment.cluster,
        waiter,
        update_id,
        what=f"control plane {assessment.cluster} -> {assessment.target}",
        timeout=options.timeouts.control_plane,
        hint="run `eksup rollback` again while the 7-day window is open",
    )
    after = eks.describe_cluster(assessment.cluster)
    if not options.dry_run and after.version != assessment.target:
        raise PermanentError(
            f"rollback {update_id} succeeded but {assessment.cluster} reports {after.version}"
        )
