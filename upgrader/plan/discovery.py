"""Discovery: read a cluster through the ports, once, into one `ClusterSnapshot`.

Everything `eksup plan` decides comes from this one picture, so the checks all see the same
cluster and the plan can be fingerprinted against it. Two rules shape the code:

- One list call per kind. Nodes, pods (all namespaces), workloads, PodDisruptionBudgets and
  services are each listed once and paged by the adapter; nothing is fetched per node or per
  pod, so a 5,000-node, 150,000-pod cluster costs a handful of requests. The per-object AWS
  calls that remain (describe_nodegroup, describe_addon, one launch template per self-managed
  group) are how the EKS and EC2 APIs are shaped, and their counts are small.
- A denied read never fails discovery. It leaves its field empty and records the missing
  permission in `not_assessed`, so every check that needs it says "not assessed" instead of
  passing on an empty list. Only the cluster itself is indispensable: without DescribeCluster
  there is nothing to plan.

Discovery only reads; it is not pure (it calls the ports), but it decides nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from upgrader.core.aws import (
    Addon,
    AddonVersion,
    AutoScalingGroup,
    EksCluster,
    FargateProfile,
    LaunchTemplateVersion,
    Nodegroup,
)
from upgrader.core.errors import NotFoundError, PermissionDeniedError, UserError
from upgrader.core.ports import Clock, Cluster, Compute, ControlPlane
from upgrader.plan.manifests import scan_manifests, usages_in_text
from upgrader.plan.snapshot import ApiUsage, ClusterSnapshot, Read, SelfManagedGroup, UsageSource
from upgrader.versions import KubeVersion, VersionCatalog, default_catalog

__all__ = ["MANAGED_NODEGROUP_ASG_TAG", "discover", "versions_to_read"]

# EKS tags the Auto Scaling group behind each managed node group with it; such a group is not
# self-managed even when the node group itself could not be described.
MANAGED_NODEGROUP_ASG_TAG = "eks:nodegroup-name"

_T = TypeVar("_T")


@dataclass
class _Reads:
    """Runs each read, turning a denied one into a `not_assessed` entry and a default."""

    denied: dict[str, str] = field(default_factory=dict)

    def attempt(self, read: Read, call: Callable[[], _T]) -> _T | None:
        """`call()`, or None when it was denied."""
        try:
            return call()
        except PermissionDeniedError as error:
            # The first denial of a read names the permission; later ones would say the same.
            self.denied.setdefault(read.value, error.action)
            return None


def discover(
    cluster_name: str,
    control_plane: ControlPlane,
    compute: Compute,
    kube: Cluster,
    clock: Clock,
    *,
    kube_endpoint: str | None = None,
    kube_context: str = "",
    target_version: str | None = None,
    manifests_dir: Path | None = None,
    region: str | None = None,
    catalog: VersionCatalog | None = None,
    cluster: EksCluster | None = None,
) -> ClusterSnapshot:
    """Read `cluster_name` through the ports into a snapshot (reads only).

    `target_version` decides which Kubernetes versions' add-on catalogue and AMI ids are read:
    the current one and every hop to the target. Without it (or when it is no valid target;
    the checks say why) only the current version's are read.
    """
    catalog = catalog or default_catalog()
    name = cluster_name
    # `cluster`: the caller already described it (to resolve `--to next`); not read twice.
    cluster = cluster or describe_cluster(control_plane, name, region)
    versions = versions_to_read(catalog, cluster.version, target_version)
    reads = _Reads()

    nodegroups = reads.attempt(Read.NODEGROUPS, lambda: _nodegroups(control_plane, name)) or ()
    self_managed = _self_managed_groups(compute, name, nodegroups, reads)
    fargate = (
        reads.attempt(Read.FARGATE_PROFILES, lambda: control_plane.list_fargate_profiles(name))
        or []
    )
    addons = reads.attempt(Read.ADDONS, lambda: _addons(control_plane, name)) or ()
    installed = {a.name for a in addons}
    addon_versions = (
        reads.attempt(
            Read.ADDON_VERSIONS, lambda: _addon_versions(control_plane, versions, installed)
        )
        or {}
    )
    insights = reads.attempt(Read.INSIGHTS, lambda: control_plane.list_insights(name)) or []
    subnet_ids = _subnet_ids(cluster, nodegroups, self_managed, fargate)
    subnets = reads.attempt(Read.SUBNETS, lambda: compute.describe_subnets(subnet_ids)) or []
    ami_ids = (
        reads.attempt(
            Read.AMI_IDS, lambda: _ami_ids(compute, catalog, versions, nodegroups, self_managed)
        )
        or {}
    )

    server_version = _server_version(kube)
    nodes = reads.attempt(Read.NODES, kube.list_nodes) or []
    pods = reads.attempt(Read.PODS, kube.list_pods) or []
    workloads = reads.attempt(Read.WORKLOADS, kube.list_workloads) or []
    pdbs = reads.attempt(Read.PDBS, kube.list_pdbs) or []
    services = reads.attempt(Read.SERVICES, kube.list_services) or []
    volumes = reads.attempt(Read.PERSISTENT_VOLUMES, kube.list_persistent_volumes) or []
    node_pools = reads.attempt(Read.NODE_POOLS, kube.list_node_pools) or []
    # Only for where the pools' nodes may launch (their subnets' zones): none without pools.
    node_classes = (
        (reads.attempt(Read.NODE_CLASSES, kube.list_node_classes) or []) if node_pools else []
    )

    scan = scan_manifests(manifests_dir) if manifests_dir is not None else None
    usages, sources, errors = _api_usage(kube, reads)
    if scan is not None:
        usages.extend(scan.usages)
        sources.add(UsageSource.MANIFEST)
        errors.extend(scan.errors)
    return ClusterSnapshot(
        cluster=cluster,
        taken_at=clock.now(),
        server_version=server_version,
        kube_context=kube_context,
        kube_endpoint=kube_endpoint,
        subnets=tuple(subnets),
        nodegroups=nodegroups,
        self_managed_groups=self_managed,
        fargate_profiles=tuple(fargate),
        addons=addons,
        addon_versions=addon_versions,
        insights=tuple(insights),
        nodes=tuple(nodes),
        pods=tuple(pods),
        workloads=tuple(workloads),
        pdbs=tuple(pdbs),
        services=tuple(services),
        persistent_volumes=tuple(volumes),
        node_pools=tuple(node_pools),
        node_classes=tuple(node_classes),
        api_usage=tuple(usages),
        api_usage_sources=frozenset(sources),
        manifest_errors=tuple(errors),
        ami_ids=ami_ids,
        not_assessed=dict(reads.denied),
    )


def _api_usage(kube: Cluster, reads: _Reads) -> tuple[list[ApiUsage], set[UsageSource], list[str]]:
    """Deprecated API versions in use, from the API server's metric and from Helm releases;
    a source whose read was denied stays out of the returned sources (not assessed)."""
    usages: list[ApiUsage] = []
    sources: set[UsageSource] = set()
    errors: list[str] = []
    requests = reads.attempt(Read.DEPRECATED_API_METRICS, kube.deprecated_api_requests)
    if requests is not None:
        sources.add(UsageSource.API_SERVER)
        usages.extend(
            ApiUsage(
                group_version=r.group_version,
                kind=r.resource,
                source=UsageSource.API_SERVER,
                object=f"requests to {r.group_version} {r.resource}",
                detail=f"removed in {r.removed_release}" if r.removed_release else "",
            )
            for r in requests
        )
    releases = reads.attempt(Read.HELM_RELEASES, kube.helm_releases)
    if releases is not None:
        sources.add(UsageSource.HELM)
        for release in releases:
            where = f"helm {release.namespace}/{release.name} (revision {release.revision})"
            found, problem = usages_in_text(release.manifest, where, UsageSource.HELM)
            usages.extend(found)
            if problem:
                errors.append(problem)
    return usages, sources, errors


def versions_to_read(catalog: VersionCatalog, current: str, target: str | None) -> list[str]:
    """The current minor and every hop to `target`; just the current one when the target is
    missing or invalid (a downgrade, unknown): the `target-version` check reports that."""
    minor = KubeVersion.try_parse(current)
    if minor is None:
        return []
    if target is None:
        return [str(minor)]
    try:
        return [str(minor), *catalog.hops(minor, target)]
    except UserError:
        return [str(minor)]


# -- AWS -------------------------------------------------------------------------------------


def describe_cluster(control_plane: ControlPlane, name: str, region: str | None) -> EksCluster:
    """The cluster, or one line saying it is not there or may not be read."""
    where = f"region {region}" if region else "this region"
    try:
        return control_plane.describe_cluster(name)
    except NotFoundError:
        raise UserError(
            f"cluster {name!r} not found in {where}; check --cluster/--region"
        ) from None
    except PermissionDeniedError as error:
        raise UserError(
            f"cannot describe cluster {name!r} in {where}: missing permission {error.action}"
        ) from None


def _nodegroups(control_plane: ControlPlane, cluster: str) -> tuple[Nodegroup, ...]:
    names = control_plane.list_nodegroups(cluster)
    groups = []
    for name in sorted(names):
        try:
            groups.append(control_plane.describe_nodegroup(cluster, name))
        except NotFoundError:
            continue  # deleted between the list and the describe: it no longer needs upgrading
    return tuple(groups)


def _self_managed_groups(
    compute: Compute, cluster: str, nodegroups: Sequence[Nodegroup], reads: _Reads
) -> tuple[SelfManagedGroup, ...]:
    groups = (
        reads.attempt(
            Read.SELF_MANAGED_GROUPS, lambda: compute.list_cluster_auto_scaling_groups(cluster)
        )
        or []
    )
    managed = {asg for group in nodegroups for asg in group.auto_scaling_groups}
    own = sorted(
        (g for g in groups if g.name not in managed and MANAGED_NODEGROUP_ASG_TAG not in g.tags),
        key=lambda g: g.name,
    )
    templates = reads.attempt(Read.LAUNCH_TEMPLATES, lambda: _launch_templates(compute, own)) or {}
    return tuple(
        SelfManagedGroup(asg=group, launch_template=templates.get(_template_key(group)))
        for group in own
    )


def _template_key(group: AutoScalingGroup) -> tuple[str, str] | None:
    ref = group.launch_template
    if ref is None or not ref.id:
        return None
    # An ASG that names no version follows the template's default version.
    return ref.id, ref.version or "$Default"


def _launch_templates(
    compute: Compute, groups: Iterable[AutoScalingGroup]
) -> dict[tuple[str, str] | None, LaunchTemplateVersion]:
    """One describe per distinct (template, version): groups often share a template."""
    found: dict[tuple[str, str] | None, LaunchTemplateVersion] = {}
    for key in {_template_key(g) for g in groups}:
        if key is None:
            continue
        try:
            found[key] = compute.describe_launch_template_version(*key)
        except NotFoundError:
            continue  # the group's template version is gone; the group check reports it
    return found


def _addons(control_plane: ControlPlane, cluster: str) -> tuple[Addon, ...]:
    names = sorted(control_plane.list_addons(cluster))
    return tuple(control_plane.describe_addon(cluster, name) for name in names)


def _addon_versions(
    control_plane: ControlPlane, versions: Sequence[str], installed: set[str]
) -> dict[str, tuple[AddonVersion, ...]]:
    """Per Kubernetes minor, the versions of the installed add-ons. One unfiltered call per
    minor rather than one per add-on and minor; the (large) marketplace rest is dropped."""
    if not installed:
        return dict.fromkeys(versions, ())
    return {
        version: tuple(
            v for v in control_plane.describe_addon_versions(version) if v.addon_name in installed
        )
        for version in versions
    }


def _subnet_ids(
    cluster: EksCluster,
    nodegroups: Iterable[Nodegroup],
    self_managed: Iterable[SelfManagedGroup],
    fargate: Iterable[FargateProfile],
) -> list[str]:
    ids = set(cluster.subnet_ids)
    ids.update(s for g in nodegroups for s in g.subnets)
    ids.update(s for g in self_managed for s in g.asg.subnets)
    ids.update(s for p in fargate for s in p.subnets)
    return sorted(ids)


def _ami_ids(
    compute: Compute,
    catalog: VersionCatalog,
    versions: Sequence[str],
    nodegroups: Iterable[Nodegroup],
    self_managed: Sequence[SelfManagedGroup],
) -> dict[str, str]:
    """SSM parameter -> recommended AMI id, for the current version and every hop.

    Managed groups name their AMI type; a self-managed group only has an image id, so its type
    is found by matching that id against the current version's parameter of every AMI type,
    and only the types found in use are read for the hops.
    """
    if not versions:
        return {}
    current, *hops = versions
    found: dict[str, str] = {}
    types = {g.ami_type for g in nodegroups}
    if self_managed:
        every_type = catalog.data.amis.ssm_parameters.keys()
        found.update(_read_parameters(compute, _parameters(catalog, [current], every_type)))
        images = {g.image_id for g in self_managed if g.image_id}
        types |= {
            t for t in every_type if found.get(_parameter(catalog, current, t) or "") in images
        }
    found.update(_read_parameters(compute, _parameters(catalog, [current, *hops], types)))
    return found


def _parameter(catalog: VersionCatalog, version: str, ami_type: str) -> str | None:
    try:
        return catalog.ami_parameter(version, ami_type)
    except UserError:
        return None  # an AMI type newer than eksup's version data: nothing to look up


def _parameters(catalog: VersionCatalog, versions: Iterable[str], types: Iterable[str]) -> set[str]:
    wanted = (_parameter(catalog, v, t) for v in versions for t in sorted(types))
    return {p for p in wanted if p is not None}


def _read_parameters(compute: Compute, names: Iterable[str]) -> dict[str, str]:
    found = {}
    for name in sorted(names):
        try:
            found[name] = compute.get_parameter(name)
        except NotFoundError:
            continue  # not published in this region (or partition): no AMI to recommend
    return found


# -- Kubernetes --------------------------------------------------------------------------------


def _server_version(kube: Cluster) -> str:
    try:
        return kube.server_version()
    except PermissionDeniedError:
        return ""  # /version is open to every authenticated user; an odd RBAC leaves it unknown
