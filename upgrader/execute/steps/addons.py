"""The add-ons of one hop: each to the version EKS gives as default for the new minor.

One add-on at a time, each update waited on and the add-on seen ACTIVE before the next: a
broken vpc-cni must stop the run before coredns moves too. An add-on whose path has several
versions (vpc-cni goes one minor at a time) gets one update per version. The versions come
from the plan; an entry the planner could not resolve (empty, or a bare minor such as "1.17")
is resolved here from `describe_addon_versions` for the hop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from upgrader.core.aws import AddonVersion, UpdateStatus
from upgrader.core.errors import NotFoundError
from upgrader.execute.steps.base import (
    PreconditionError,
    StepContext,
    StepFailedError,
    StepResult,
    wait_for_update,
)
from upgrader.plan.document import Step
from upgrader.plan.step_params import AddonsParams
from upgrader.versions import KubeVersion

_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?(?:.*?eksbuild\.(\d+))?")


def version_key(version: str) -> tuple[int, int, int, int]:
    """Orders "v1.18.3-eksbuild.2" style versions; unparseable ones sort first."""
    match = _VERSION.match(version.strip())
    if match is None:
        return (-1, -1, -1, -1)
    major, minor, patch, build = match.groups()
    return (int(major), int(minor), int(patch or 0), int(build or 0))


@dataclass(frozen=True)
class AddonTarget:
    name: str
    # Versions to apply in order; empty entries and bare minors ("1.17") are resolved from
    # describe-addon-versions when the step runs. Empty: the hop's default version.
    path: tuple[str, ...]


def addon_targets(step: Step) -> tuple[AddonTarget, ...] | None:
    """The add-ons the step moves, each with its path; None: every installed add-on. The
    step's addon_updates (each add-on's whole path) win over its params (one version each)."""
    if step.addon_updates:
        return tuple(
            AddonTarget(u.name, tuple(u.path or ([u.target] if u.target else [])))
            for u in step.addon_updates
        )
    params = step.params_of(AddonsParams)
    if params.addons is None:
        return None
    versions = params.addon_versions
    return tuple(AddonTarget(n, (versions[n],) if versions.get(n) else ()) for n in params.addons)


def run_addons(ctx: StepContext) -> StepResult:
    params = ctx.step.params_of(AddonsParams)
    eks = ctx.ports.control_plane
    name = ctx.cluster_name
    cluster = eks.describe_cluster(name)
    if KubeVersion.parse(cluster.version) < KubeVersion.parse(params.version):
        raise PreconditionError(
            f"cluster {name} is at {cluster.version}: its add-ons move to {params.version}'s "
            "versions only after the control plane does"
        )
    targets = addon_targets(ctx.step)
    if targets is None:
        targets = tuple(AddonTarget(a, ()) for a in eks.list_addons(name))
    moved, kept = [], []
    for target in targets:
        if _upgrade_one(ctx, target, params.version):
            moved.append(target.name)
        else:
            kept.append(target.name)
    if not moved:
        return StepResult(f"add-ons already at {params.version}'s versions", already_done=True)
    detail = f"updated {', '.join(moved)}"
    return StepResult(detail + (f"; already current: {', '.join(kept)}" if kept else ""))


def _upgrade_one(ctx: StepContext, target: AddonTarget, hop: str) -> bool:
    """Moves one add-on along its path; False when it was already there."""
    eks = ctx.ports.control_plane
    cluster = ctx.cluster_name
    try:
        addon = eks.describe_addon(cluster, target.name)
    except NotFoundError:
        ctx.reporter.warning(f"add-on {target.name} is no longer installed; skipped")
        return False
    path = _resolve_path(ctx, target, hop)
    in_flight = ctx.recall(f"{target.name}/update_id")
    if in_flight is None or not _running(ctx, target.name, in_flight):
        # The journal may not have heard of an update EKS accepted just before a crash.
        in_flight = _in_flight(ctx, target.name)
    if in_flight is not None:
        ctx.reporter.info(f"following add-on {target.name} update {in_flight} (not re-issued)")
        _wait(ctx, target.name, in_flight)
        addon = eks.describe_addon(cluster, target.name)
    # Only forward, each version once: a path may repeat its target or start behind.
    remaining: list[str] = []
    floor = addon.version
    for version in path:
        if version_key(version) > version_key(floor):
            remaining.append(version)
            floor = version
    previous = addon.version
    for version in remaining:
        _wait_active(ctx, target.name)
        ctx.intend(
            f"eks:UpdateAddon cluster={cluster} addon={target.name} version={version} "
            f"(from {previous})"
        )
        update = eks.update_addon(cluster, target.name, version)
        ctx.remember(f"{target.name}/update_id", update.id)
        _wait(ctx, target.name, update.id)
        previous = version
    if remaining and _wait_active(ctx, target.name) == "DEGRADED":
        ctx.reporter.warning(f"add-on {target.name} is DEGRADED after its update; check it")
    return bool(remaining) or in_flight is not None


def _resolve_path(ctx: StepContext, target: AddonTarget, hop: str) -> list[str]:
    listing: list[AddonVersion] | None = None

    def versions() -> list[AddonVersion]:
        nonlocal listing
        if listing is None:
            listing = [
                v
                for v in ctx.ports.control_plane.describe_addon_versions(hop, target.name)
                if v.addon_name == target.name and v.compatible_with(hop)
            ]
        return listing

    path = []
    entries = target.path or ("",)
    for entry in entries:
        if entry.count(".") >= 2:  # a full version, e.g. v1.18.3-eksbuild.2
            path.append(entry)
            continue
        if not entry:  # the hop's default
            defaults = [v.version for v in versions() if v.default_for(hop)]
            pool = defaults or [v.version for v in versions()]
        else:  # a bare minor: its newest build for the hop
            minor = version_key(entry)[:2]
            pool = [v.version for v in versions() if version_key(v.version)[:2] == minor]
        if not pool:
            raise StepFailedError(
                f"add-on {target.name}: EKS lists no version {entry or '(default)'} for "
                f"Kubernetes {hop}"
            )
        path.append(max(pool, key=version_key))
    return path


def _in_flight(ctx: StepContext, addon: str) -> str | None:
    eks = ctx.ports.control_plane
    for update_id in eks.list_updates(ctx.cluster_name, addon=addon):
        if _running(ctx, addon, update_id):
            return update_id
    return None


def _running(ctx: StepContext, addon: str, update_id: str) -> bool:
    try:
        update = ctx.ports.control_plane.describe_update(ctx.cluster_name, update_id, addon=addon)
    except NotFoundError:
        return False
    return update.status is UpdateStatus.IN_PROGRESS


def _wait(ctx: StepContext, addon: str, update_id: str) -> None:
    wait_for_update(
        ctx,
        update_id,
        what=f"add-on {addon}",
        timeout=ctx.options.timeouts.addon,
        addon=addon,
    )


def _wait_active(ctx: StepContext, addon: str) -> str:
    """Until the add-on is not busy (ACTIVE or DEGRADED); returns that status."""
    eks = ctx.ports.control_plane
    status = [""]

    def active() -> bool:
        status[0] = eks.describe_addon(ctx.cluster_name, addon).status
        if status[0] in ("CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED", "DELETING"):
            raise StepFailedError(f"add-on {addon} is {status[0]}; fix it, then --resume")
        return status[0] in ("ACTIVE", "DEGRADED")

    ctx.waiter.until(
        active,
        reason=lambda: f"add-on {addon} ACTIVE (now {status[0] or 'unknown'})",
        timeout=ctx.options.timeouts.addon,
        poll=10.0,
    )
    return status[0]
