"""`eksup fleet plan`: plan every cluster (read-only, a bounded number at once) and freeze a run.

Each cluster is planned by the single-cluster use case (`upgrader.usecases.plan.plan_target`), so a
fleet plan shows exactly what `eksup plan` would for each cluster. A cluster that cannot be read
is `unreachable`, one with a blocking finding `blocked`, one already at the target `skipped`;
none of these stops the others from being planned.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass

from upgrader import __version__
from upgrader.core.errors import EksupError, UserError
from upgrader.execute.integrity import seal
from upgrader.fleet.order import Stage, resolve_stages
from upgrader.fleet.run_doc import (
    AddonChoice,
    AmiChoice,
    ClusterVerdict,
    FleetRun,
    RunCluster,
    RunGroup,
    RunStage,
)
from upgrader.fleet.spec import ClusterSpec, ExecuteSettings, FleetSpec
from upgrader.plan.document import Plan, StepKind
from upgrader.plan.step_params import ManagedGroupParams, SelfManagedParams
from upgrader.usecases.fleet.pool import Pool
from upgrader.usecases.fleet.targets import Address
from upgrader.usecases.targets import Target
from upgrader.versions import default_catalog

Opener = Callable[[Address], AbstractContextManager[Target]]
POLL_SECONDS = 1.0
MANAGED_STEPS = (StepKind.NODEGROUP_BLUE_GREEN, StepKind.NODEGROUP_IN_PLACE)
AL_IMAGE_SUFFIX = "/recommended/image_id"
RELEASE_SUFFIX = "/recommended/release_version"  # beside .../recommended/image_id (Amazon Linux)
BOTTLEROCKET_PREFIX = "/aws/service/bottlerocket/"
BOTTLEROCKET_IMAGE_SUFFIX = "/latest/image_id"
BOTTLEROCKET_VERSION_SUFFIX = "/latest/image_version"


@dataclass(frozen=True)
class _Planned:
    plan: Plan | None
    error: str | None
    addon_versions: dict[tuple[str, str], list[str]]  # (addon, k8s version) -> known versions
    releases: dict[tuple[str, str], str]  # (k8s version, AMI type) -> this region's recommended


def resolve_target(spec: FleetSpec, now: float) -> str:
    """`latest`: the newest version EKS offers today (the version catalog), for every cluster."""
    if spec.target != "latest":
        return spec.target
    today = dt.datetime.fromtimestamp(now, tz=dt.UTC).date()
    available = default_catalog().available_versions(today)
    if not available:
        raise UserError("target latest: the version catalog knows no available EKS version")
    return available[-1]


def _plan_one(
    opener: Opener, cluster: ClusterSpec, target_version: str, settings: ExecuteSettings | None
) -> _Planned:
    from upgrader.usecases.plan import plan_target

    drain_timeout = settings.drain_timeout if settings is not None else None
    try:
        with opener(cluster) as target:
            plan = plan_target(target, target_version, drain_timeout=drain_timeout)
            wanted = {
                (u.name, step.hop or plan.target_version)
                for step in plan.steps
                for u in step.addon_updates
            }
            known = {
                key: [
                    v.version
                    for v in target.control_plane.describe_addon_versions(key[1], key[0])
                    if v.compatible_with(key[1])
                ]
                for key in wanted
            }
            return _Planned(plan, None, known, _releases(plan, target))
    except EksupError as error:
        return _Planned(None, str(error), {}, {})


def release_parameter(image_parameter: str) -> str | None:
    """The public SSM parameter with the release of the AMI `image_parameter` names: Amazon
    Linux's `.../recommended/release_version`, Bottlerocket's `.../latest/image_version` (its OS
    version, which EKS takes as a managed node group's releaseVersion). None for anything else
    (a custom AMI has no public release)."""
    if image_parameter.endswith(AL_IMAGE_SUFFIX):
        return image_parameter.removesuffix(AL_IMAGE_SUFFIX) + RELEASE_SUFFIX
    if image_parameter.startswith(BOTTLEROCKET_PREFIX) and image_parameter.endswith(
        BOTTLEROCKET_IMAGE_SUFFIX
    ):
        return image_parameter.removesuffix(BOTTLEROCKET_IMAGE_SUFFIX) + BOTTLEROCKET_VERSION_SUFFIX
    return None


def _releases(plan: Plan, target: Target) -> dict[tuple[str, str], str]:
    """The recommended AMI release of each node group's hop in this cluster's region (managed
    and self-managed; Amazon Linux and Bottlerocket), read from the public SSM parameter beside
    the AMI id."""
    found: dict[tuple[str, str], str] = {}
    for step in plan.steps:
        params = step.params
        if step.kind not in (*MANAGED_STEPS, StepKind.SELF_MANAGED_GROUP):
            continue
        if not isinstance(params, (ManagedGroupParams, SelfManagedParams)):
            continue
        parameter, ami_type = params.ami_parameter, params.ami_type
        if parameter is None or not ami_type:
            continue
        key, where = (params.version, ami_type), release_parameter(parameter)
        if key in found or where is None:
            continue
        try:
            found[key] = target.compute.get_parameter(where)
        except EksupError:
            continue  # not published there: that group keeps EKS's default
    return found


def plan_fleet(
    spec: FleetSpec, spec_file: str, opener: Opener, pool: Pool, *, target: str | None = None
) -> FleetRun:
    target_version = target or resolve_target(spec, pool.clock.now())
    stages = resolve_stages(spec)
    results: dict[str, _Planned] = {}
    with pool.member():
        waiting = list(spec.clusters)
        running: dict[str, Future[_Planned]] = {}
        while waiting or running:
            while waiting and len(running) < spec.plan_concurrency:
                cluster = waiting.pop(0)
                running[cluster.name] = pool.spawn(
                    lambda c=cluster: _plan_one(  # type: ignore[misc]
                        opener, c, target_version, spec.execute_settings(c.name)
                    )
                )
            for name, future in list(running.items()):
                if future.done():
                    results[name] = future.result()
                    del running[name]
            if running:
                pool.clock.sleep(POLL_SECONDS)
    choices, notes = _consistent_addons(results)
    ami_choices = _consistent_amis(results)
    notes += _launch_template_notes(results, ami_choices)
    placed = {m: (s, g.name) for s in stages for g in s.groups for m in g.members}
    clusters = [
        _run_cluster(
            c,
            placed[c.name],
            results[c.name],
            target_version,
            (choices, ami_choices),
            settings=spec.execute_settings(c.name),
        )
        for c in spec.clusters
    ]
    clusters = _behind_upstreams(clusters)
    created = dt.datetime.fromtimestamp(pool.clock.now(), tz=dt.UTC)
    digest = hashlib.sha256(
        "".join(f"{c.name}:{c.fingerprint}" for c in clusters).encode()
        + created.isoformat().encode()
    ).hexdigest()[:8]
    return FleetRun(
        run_id=f"fleet-{created:%Y%m%d-%H%M}-{digest}",
        created_at=created.isoformat().replace("+00:00", "Z"),
        eksup_version=__version__,
        spec_file=spec_file,
        target_version=target_version,
        cluster_approval=spec.cluster_approval,
        stages=run_stages(stages),
        clusters=clusters,
        addon_choices=choices,
        ami_choices=ami_choices,
        notes=notes,
    )


def _run_cluster(
    spec: ClusterSpec,
    where: tuple[Stage, str],
    planned: _Planned,
    target_version: str,
    choices: tuple[list[AddonChoice], list[AmiChoice]],
    *,
    settings: ExecuteSettings | None = None,
) -> RunCluster:
    plan = planned.plan
    if plan is None:
        verdict, reason = ClusterVerdict.UNREACHABLE, planned.error or "could not be read"
    elif not any(s.mutating for s in plan.steps):
        verdict, reason = ClusterVerdict.SKIPPED, f"already at {target_version}"
    elif plan.blocking:
        blocking = [
            f"{f.check_id}: {f.message}"
            for f in plan.findings
            if f.severity == "error" and f.status != "pass" and not f.suppressed
        ]
        verdict, reason = ClusterVerdict.BLOCKED, "; ".join(blocking) or "the plan is NOT READY"
    else:
        warned = sorted(
            {f.check_id for f in plan.findings if f.severity == "warning" and f.status != "pass"}
        )
        verdict, reason = ClusterVerdict.READY, ("warnings: " + ", ".join(warned)) if warned else ""
        # Sealed again once pinned: the fleet wrote this content, and `eksup execute` (and
        # its dry run) refuses a plan whose content does not match its digest.
        plan = seal(_pin_amis(_pin_addons(plan, choices[0]), choices[1]))
    return RunCluster(
        name=spec.name,
        account=spec.account,
        region=spec.region,
        role_arn=spec.role_arn,
        context=spec.context,
        kubeconfig=spec.kubeconfig,
        upstream=spec.upstream,
        stage=where[0].name,
        group=where[1],
        soak_after_control_plane_seconds=spec.soak_after_control_plane or 0,
        window=spec.window or where[0].window,
        execute=settings,
        verdict=verdict,
        reason=reason,
        current_version=plan.current_version if plan is not None else None,
        fingerprint=plan.fingerprint if plan is not None else None,
        plan=plan,
    )


def _behind_upstreams(clusters: list[RunCluster]) -> list[RunCluster]:
    """Say so at plan time when a cluster's upstream cannot be upgraded: the run will stop at
    the upstream's stage (an upstream's failure is never tolerated), so this one will not start."""
    verdicts = {c.name: c.verdict for c in clusters}
    stuck = (ClusterVerdict.BLOCKED, ClusterVerdict.UNREACHABLE)
    marked = []
    for cluster in clusters:
        up = cluster.upstream
        if up is not None and verdicts[up] in stuck and cluster.verdict is ClusterVerdict.READY:
            note = f"will not start: its upstream {up} is {verdicts[up].value}"
            reason = f"{note}; {cluster.reason}" if cluster.reason else note
            marked.append(cluster.model_copy(update={"reason": reason}))
        else:
            marked.append(cluster)
    return marked


def _consistent_addons(results: dict[str, _Planned]) -> tuple[list[AddonChoice], list[str]]:
    """One version per (add-on, Kubernetes version) for the whole run, like Azure's
    `Consistent` node-image selection: the newest version every cluster's region offers that
    is no newer than what any cluster's plan chose on its own (so no cluster gets a version its
    own planner would not have reached)."""
    chosen: dict[tuple[str, str], dict[str, str]] = {}
    known: dict[tuple[str, str], list[set[str]]] = {}
    for name, planned in sorted(results.items()):
        if planned.plan is None:
            continue
        for step in planned.plan.steps:
            for update in step.addon_updates:
                key = (update.name, step.hop or planned.plan.target_version)
                if update.target:
                    chosen.setdefault(key, {})[name] = update.target
        for key, versions in planned.addon_versions.items():
            known.setdefault(key, []).append(set(versions))
    choices: list[AddonChoice] = []
    notes: list[str] = []
    for key, per_cluster in sorted(chosen.items()):
        everywhere = set.intersection(*known[key]) if key in known else set()
        ceiling = min(per_cluster.values(), key=_version_key)
        candidates = [v for v in everywhere if _version_key(v) <= _version_key(ceiling)]
        if not candidates:
            notes.append(
                f"{key[0]} for {key[1]}: no version offered in every region of the run; each "
                "cluster keeps its own plan's choice"
            )
            continue
        version = max(candidates, key=_version_key)
        differs = sorted({v for v in per_cluster.values() if v != version})
        note = f"instead of {', '.join(differs)}" if differs else ""
        choices.append(
            AddonChoice(
                addon=key[0],
                kubernetes_version=key[1],
                version=version,
                clusters=sorted(per_cluster),
                note=note,
            )
        )
    return choices, notes


def _consistent_amis(results: dict[str, _Planned]) -> list[AmiChoice]:
    """One AMI release per (Kubernetes version, AMI type): the oldest of the regions'
    recommended releases, i.e. the newest one every region has published (EKS keeps older
    releases available). Regions that agree need no choice; the note says when they did not."""
    per_key: dict[tuple[str, str], dict[str, str]] = {}
    for name, planned in sorted(results.items()):
        for key, release in planned.releases.items():
            per_key.setdefault(key, {})[name] = release
    choices = []
    for (version, ami_type), releases in sorted(per_key.items()):
        release = min(releases.values(), key=_release_key)
        newer = sorted({r for r in releases.values() if r != release})
        choices.append(
            AmiChoice(
                kubernetes_version=version,
                ami_type=ami_type,
                release_version=release,
                clusters=sorted(releases),
                note=f"some regions recommend {', '.join(newer)}" if newer else "",
            )
        )
    return choices


def _launch_template_notes(results: dict[str, _Planned], choices: list[AmiChoice]) -> list[str]:
    """What the fleet cannot choose, said in the run: a self-managed group's launch template
    names its AMI by id, a region's own, so each runs the image its region recommended at plan
    time (pinned in its plan); and a custom AMI is its owner's to update."""
    chosen = {(c.kubernetes_version, c.ami_type): c.release_version for c in choices}
    notes = []
    for name, planned in sorted(results.items()):
        for step in planned.plan.steps if planned.plan else []:
            params = step.params
            if not isinstance(params, (ManagedGroupParams, SelfManagedParams)):
                continue
            key = (params.version, str(params.ami_type))
            if not params.ami_parameter:
                notes.append(
                    f"{name}: {step.target} runs a custom AMI: no release is chosen for it "
                    "(its launch template's image is its owner's to update)"
                )
            elif isinstance(params, SelfManagedParams) and key in chosen:
                release = planned.releases.get(key)
                if release is not None and release != chosen[key]:
                    notes.append(
                        f"{name}: {step.target} gets image {params.ami_id} (release "
                        f"{release}, its region's recommended at plan time), not {chosen[key]}: "
                        "a launch template names an AMI by id, per region"
                    )
    return notes


def _pin_amis(plan: Plan, choices: list[AmiChoice]) -> Plan:
    pinned = {(c.kubernetes_version, c.ami_type): c.release_version for c in choices}
    steps = []
    for step in plan.steps:
        params = step.params
        if step.kind in MANAGED_STEPS and isinstance(params, ManagedGroupParams):
            release = pinned.get((params.version, str(params.ami_type)))
            if release is not None:
                params = params.model_copy(update={"release_version": release})
        steps.append(step.model_copy(update={"params": params}))
    return plan.model_copy(update={"steps": steps})


def _release_key(release: str) -> tuple[int, ...]:
    """Amazon Linux `1.31.2-20250201` orders by kubelet then date; Bottlerocket
    `1.50.0-8e21d4c5` by its OS version (the suffix is a commit, not an order)."""
    version, _, suffix = release.partition("-")
    return _version_key(release if suffix.isdigit() else version)


def _version_key(version: str) -> tuple[int, ...]:
    digits = "".join(c if c.isdigit() else " " for c in version).split()
    return tuple(int(d) for d in digits)


def _pin_addons(plan: Plan, choices: list[AddonChoice]) -> Plan:
    pinned = {(c.addon, c.kubernetes_version): c.version for c in choices}
    steps = []
    for step in plan.steps:
        updates = []
        for update in step.addon_updates:
            version = pinned.get((update.name, step.hop or plan.target_version))
            if version is None or version == update.target or not update.target:
                updates.append(update)
                continue
            path = [*update.path[:-1], version] if update.path else [version]
            updates.append(update.model_copy(update={"target": version, "path": path}))
        steps.append(step.model_copy(update={"addon_updates": updates}))
    return plan.model_copy(update={"steps": steps})


def run_stages(stages: tuple[Stage, ...]) -> list[RunStage]:
    """The resolved stages as the run document freezes them."""
    return [
        RunStage(
            name=s.name,
            groups=[
                RunGroup(
                    name=g.name,
                    members=list(g.members),
                    max_concurrency=g.max_concurrency,
                    allowed_failures=g.allowed_failures,
                    before_gates=list(g.before_gates),
                    after_gates=list(g.after_gates),
                )
                for g in s.groups
            ],
            max_concurrency=s.max_concurrency,
            allowed_failures=s.allowed_failures,
            after_wait_seconds=s.after_wait_seconds,
            before_gates=list(s.before_gates),
            after_gates=list(s.after_gates),
        )
        for s in stages
    ]
