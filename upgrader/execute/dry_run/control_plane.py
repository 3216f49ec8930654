"""`ControlPlane` in a dry run: EKS reads pass through, changes are recorded and overlaid."""

from __future__ import annotations

import itertools
from dataclasses import replace

from upgrader.core.aws import (
    Addon,
    AddonVersion,
    EksCluster,
    EksUpdate,
    EksVersionFacts,
    FargateProfile,
    Insight,
    Nodegroup,
    NodegroupSpec,
    UpdateConfig,
    UpdateStatus,
)
from upgrader.core.errors import NotFoundError
from upgrader.core.ports import ControlPlane
from upgrader.execute.dry_run.record import DRY_RUN_UPDATE_PREFIX, Recorder
from upgrader.versions import KubeVersion


class DryRunControlPlane:
    """`ControlPlane`: reads through to `inner`, records changes and overlays their effect."""

    def __init__(self, inner: ControlPlane, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder
        self._ids = itertools.count(1)
        self._cluster_version: dict[str, str] = {}
        self._created: dict[tuple[str, str], Nodegroup] = {}
        self._deleted: set[tuple[str, str]] = set()
        self._group_version: dict[tuple[str, str], str] = {}
        self._addon_version: dict[tuple[str, str], str] = {}
        self._update_config: dict[tuple[str, str], UpdateConfig] = {}

    def _update(self, kind: str, **params: str) -> EksUpdate:
        return EksUpdate(
            f"{DRY_RUN_UPDATE_PREFIX}{next(self._ids)}", kind, UpdateStatus.IN_PROGRESS, params
        )

    # reads, with the overlay
    def describe_cluster(self, name: str) -> EksCluster:
        cluster = self.inner.describe_cluster(name)
        version = self._cluster_version.get(name)
        return replace(cluster, version=version, status="ACTIVE") if version else cluster

    def list_nodegroups(self, cluster: str) -> list[str]:
        names = [
            n for n in self.inner.list_nodegroups(cluster) if (cluster, n) not in self._deleted
        ]
        names += [n for (c, n) in self._created if c == cluster and (c, n) not in self._deleted]
        return sorted(set(names))

    def describe_nodegroup(self, cluster: str, name: str) -> Nodegroup:
        key = (cluster, name)
        if key in self._deleted:
            raise NotFoundError(f"node group {name} (deleted in this dry run)")
        group = self._created.get(key) or self.inner.describe_nodegroup(cluster, name)
        if key in self._update_config:
            group = replace(group, update_config=self._update_config[key])
        version = self._group_version.get(key)
        return replace(group, version=version, status="ACTIVE") if version else group

    def describe_update(
        self,
        cluster: str,
        update_id: str,
        *,
        nodegroup: str | None = None,
        addon: str | None = None,
    ) -> EksUpdate:
        if update_id.startswith(DRY_RUN_UPDATE_PREFIX):
            return EksUpdate(update_id, "", UpdateStatus.SUCCESSFUL)
        return self.inner.describe_update(cluster, update_id, nodegroup=nodegroup, addon=addon)

    def list_updates(
        self, cluster: str, nodegroup: str | None = None, addon: str | None = None
    ) -> list[str]:
        if (cluster, nodegroup or "") in self._created:
            return []
        return self.inner.list_updates(cluster, nodegroup=nodegroup, addon=addon)

    def list_addons(self, cluster: str) -> list[str]:
        return self.inner.list_addons(cluster)

    def describe_addon(self, cluster: str, name: str) -> Addon:
        addon = self.inner.describe_addon(cluster, name)
        version = self._addon_version.get((cluster, name))
        return replace(addon, version=version, status="ACTIVE") if version else addon

    def describe_addon_versions(
        self, kubernetes_version: str, addon_name: str | None = None
    ) -> list[AddonVersion]:
        return self.inner.describe_addon_versions(kubernetes_version, addon_name)

    def list_insights(self, cluster: str) -> list[Insight]:
        return self.inner.list_insights(cluster)

    def describe_cluster_versions(self) -> list[EksVersionFacts]:
        return self.inner.describe_cluster_versions()

    def list_fargate_profiles(self, cluster: str) -> list[FargateProfile]:
        return self.inner.list_fargate_profiles(cluster)

    # changes: recorded, and overlaid
    def update_cluster_version(
        self, cluster: str, version: str, *, force: bool = False
    ) -> EksUpdate:
        before = self.describe_cluster(cluster).version
        self.recorder.record(
            "eks", "UpdateClusterVersion", cluster=cluster, version=version, force=force or None
        )
        self._cluster_version[cluster] = version
        down = KubeVersion.parse(version) < KubeVersion.parse(before)
        return self._update("VersionRollback" if down else "VersionUpdate", Version=version)

    def create_nodegroup(self, spec: NodegroupSpec) -> Nodegroup:
        self.recorder.record(
            "eks",
            "CreateNodegroup",
            cluster=spec.cluster,
            nodegroup=spec.name,
            version=spec.version,
            instanceTypes=",".join(spec.instance_types) or None,
            desired=spec.scaling.desired_size,
        )
        version = spec.version or self.describe_cluster(spec.cluster).version
        group = Nodegroup(
            cluster=spec.cluster,
            name=spec.name,
            arn="(dry run)",
            status="ACTIVE",
            version=version,
            release_version=spec.release_version or "",
            ami_type=spec.ami_type or "",
            capacity_type=spec.capacity_type,
            instance_types=spec.instance_types,
            subnets=spec.subnets,
            scaling=spec.scaling,
            node_role=spec.node_role,
            labels=spec.labels,
            taints=spec.taints,
            launch_template=spec.launch_template,
            update_config=spec.update_config or UpdateConfig(),
            disk_size=spec.disk_size,
            tags=spec.tags,
        )
        self._created[(spec.cluster, spec.name)] = group
        self._deleted.discard((spec.cluster, spec.name))
        return group

    def delete_nodegroup(self, cluster: str, name: str) -> Nodegroup:
        self.recorder.record("eks", "DeleteNodegroup", cluster=cluster, nodegroup=name)
        group = self.describe_nodegroup(cluster, name)
        self._deleted.add((cluster, name))
        return replace(group, status="DELETING")

    def update_nodegroup_version(
        self,
        cluster: str,
        name: str,
        *,
        version: str | None = None,
        release_version: str | None = None,
        launch_template_version: str | None = None,
        force: bool = False,
    ) -> EksUpdate:
        self.recorder.record(
            "eks",
            "UpdateNodegroupVersion",
            cluster=cluster,
            nodegroup=name,
            version=version,
            releaseVersion=release_version,
            launchTemplateVersion=launch_template_version,
            force=force or None,
        )
        target = version or self.describe_cluster(cluster).version
        self._group_version[(cluster, name)] = target
        return self._update("VersionUpdate", Version=target)

    def update_nodegroup_scaling(
        self, cluster: str, name: str, min_size: int, max_size: int, desired_size: int
    ) -> EksUpdate:
        self.recorder.record(
            "eks",
            "UpdateNodegroupConfig",
            cluster=cluster,
            nodegroup=name,
            minSize=min_size,
            maxSize=max_size,
            desiredSize=desired_size,
        )
        return self._update("ConfigUpdate")

    def update_nodegroup_update_config(
        self, cluster: str, name: str, config: UpdateConfig
    ) -> EksUpdate:
        key = (
            "maxUnavailablePercentage"
            if config.max_unavailable_percentage is not None
            else "maxUnavailable"
        )
        self.recorder.record(
            "eks", "UpdateNodegroupConfig", cluster=cluster, nodegroup=name, **{key: str(config)}
        )
        self._update_config[(cluster, name)] = config
        return self._update("ConfigUpdate")

    def update_addon(self, cluster: str, name: str, version: str) -> EksUpdate:
        self.recorder.record("eks", "UpdateAddon", cluster=cluster, addon=name, version=version)
        self._addon_version[(cluster, name)] = version
        return self._update("AddonUpdate", AddonVersion=version)
