"""The sandbox's EKS backend: moto's, plus the calls eksup needs and the rules AWS enforces.

Adds version updates (control plane and node groups) and DescribeUpdate/ListUpdates, with
add-ons and insights from `moto_eks_addons` and version rollback from `moto_eks_rollback`, and
refuses what AWS refuses with AWS's error codes and messages: skipping a minor, going down (but
for a rollback), a second update while one runs, node groups newer than the control plane or
behind it when it moves. It also fixes what moto gets wrong that an
upgrader relies on (see `create_nodegroup`). Everything time-dependent is derived from
`settings.clock` on read; see `moto_eks_models`.

Messages are AWS's where known (seen in public bug reports); the others are plausible.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from moto.core.base_backend import AccountSpecificBackend
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.eks import models as moto_models
from moto.eks.exceptions import InvalidParameterException, InvalidRequestException

from upgrader.sandbox.eks import catalog
from upgrader.sandbox.eks.addons import AddonsAndInsights
from upgrader.sandbox.eks.errors import in_use, invalid_parameter, not_found
from upgrader.sandbox.eks.models import (
    SUCCESSFUL,
    Cluster,
    Nodegroup,
    Update,
    new_id,
    now,
    replayed,
    running,
    same_request,
    timestamp,
)
from upgrader.sandbox.eks.rollback import (
    VERSION_ROLLBACK,
    check_rollback,
    rollback_open_to,
)
from upgrader.sandbox.eks.rules import check_no_cluster_update, check_upgrade_readiness
from upgrader.sandbox.eks.state import settings
from upgrader.sandbox.eks.versions import platform_version

DEFAULT_UPDATE_CONFIG = {"maxUnavailable": 1}
_ROLE_ARN = re.compile(r"arn:(?P<partition>.+):iam::[0-9]{12}:role/.+")


@cache
def _partitions() -> frozenset[str]:
    return frozenset(AccountSpecificBackend.get_session().get_available_partitions())


def validate_role_arn(arn: str) -> None:
    """moto's check (`moto.eks.utils.validate_role_arn`) without its cost: moto builds a boto3
    Session on every call (about 40 ms) only to list the partitions, which are fixed for a
    process; moto's own cached Session lists them once here."""
    match = _ROLE_ARN.match(arn or "")
    if match is None or match.group("partition") not in _partitions():
        raise InvalidParameterException(message=f"Invalid Role Arn: '{arn}'")


class SandboxEKSBackend(AddonsAndInsights, moto_models.EKSBackend):
    """moto's EKS backend with the sandbox's additions; one per account and region."""

    # --- lookups: every operation goes through these, which also drop what finished deleting

    def _cluster(self, name: str) -> Cluster:
        cluster = self.clusters.get(name)
        if not isinstance(cluster, Cluster):
            raise not_found(moto_models.CLUSTER_NOT_FOUND_MSG.format(clusterName=name), name)
        at = now()
        for ng_name, nodegroup in list(cluster.nodegroups.items()):
            gone = nodegroup.gone_at is not None and nodegroup.gone_at <= at
            # pop() is atomic: of two request threads purging at once, only one decrements.
            if gone and cluster.nodegroups.pop(ng_name, None) is not None:
                cluster.nodegroup_count -= 1
        for addon_name, addon in list(cluster.addons.items()):
            if addon.gone_at is not None and addon.gone_at <= at:
                cluster.addons.pop(addon_name, None)
        return cluster

    def _nodegroup(self, cluster: Cluster, name: str) -> Nodegroup:
        nodegroup = cluster.nodegroups.get(name)
        if nodegroup is None:
            raise not_found(
                moto_models.NODEGROUP_NOT_FOUND_MSG.format(nodegroupName=name),
                cluster.name,
                nodegroup=name,
            )
        return nodegroup

    def _updates(
        self, cluster: Cluster, nodegroup: str | None, addon: str | None
    ) -> dict[str, Update]:
        if nodegroup:
            return self._nodegroup(cluster, nodegroup).updates
        if addon:
            return self._addon(cluster, addon).updates
        return cluster.updates

    # --- clusters ------------------------------------------------------------------------------

    def create_cluster(  # type: ignore[override]
        self,
        name: str,
        role_arn: str,
        resources_vpc_config: dict[str, Any],
        version: str | None = None,
        client_request_token: str | None = None,
        **kwargs: Any,
    ) -> Cluster:
        existing = self.clusters.get(name)
        if isinstance(existing, Cluster) and same_request(existing, client_request_token):
            return existing
        if existing is not None:
            raise in_use(moto_models.CLUSTER_EXISTS_MSG.format(clusterName=name), name)
        version = version or settings.default_cluster_version
        if not catalog.is_supported(version):
            raise invalid_parameter("unsupported Kubernetes version", name)
        validate_role_arn(role_arn)
        # EKS's default upgrade policy is EXTENDED (moto keeps none).
        policy = kwargs.pop("upgrade_policy", None) or {"supportType": "EXTENDED"}
        cluster = Cluster(
            created=now(),
            name=name,
            role_arn=role_arn,
            resources_vpc_config=resources_vpc_config,
            version=version,
            account_id=self.account_id,
            region_name=self.region_name,
            aws_partition=self.partition,
            client_request_token=client_request_token,
            **kwargs,
        )
        cluster.upgradePolicy = dict(policy)
        cluster.endpoint = _endpoint(cluster.arn, self.region_name)
        cluster.certificate_authority = {"data": _certificate_authority(cluster.arn)}
        self.clusters[name] = cluster
        self.cluster_count += 1
        return cluster

    def update_cluster_config(  # type: ignore[override]
        self,
        name: str,
        resources_vpc_config: dict[str, Any] | None = None,
        logging: dict[str, Any] | None = None,
        client_request_token: str | None = None,
        upgrade_policy: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """moto's returns the cluster and accepts anything at any time; EKS returns an update
        and refuses while another cluster update runs (a version update included)."""
        cluster = self._cluster(name)
        if same := replayed(cluster.updates, client_request_token):
            return same.describe()
        kind = "UpgradePolicyUpdate" if upgrade_policy else "ConfigUpdate"
        check_no_cluster_update(cluster, kind)
        params: list[tuple[str, str]] = []
        if upgrade_policy:
            if upgrade_policy.get("supportType") not in ("STANDARD", "EXTENDED"):
                raise invalid_parameter("upgradePolicy.supportType must be STANDARD or EXTENDED")
            cluster.upgradePolicy = dict(upgrade_policy)
            params.append(("UpgradePolicy", str(upgrade_policy["supportType"])))
        if logging:
            kind = "LoggingUpdate"
            params.append(("ClusterLogging", str(logging)))
        super().update_cluster_config(name, resources_vpc_config or {}, logging, None, **kwargs)
        update = Update(
            type=kind, params=params, created=now(), completes=now(), token=client_request_token
        )
        cluster.updates[update.id] = update
        return update.describe()

    def created_before_start(self, name: str) -> None:
        """For world builders: the cluster existed before the sandbox's story starts, so it is
        ACTIVE now rather than CREATING for `settings.cluster_create_seconds`."""
        self._cluster(name).ready_at = now()

    def describe_cluster(self, name: str) -> Cluster:
        return self._cluster(name)

    def delete_cluster(self, name: str) -> moto_models.Cluster:
        self._cluster(name)
        return super().delete_cluster(name)

    def update_cluster_version(
        self,
        name: str,
        version: str | None,
        client_request_token: str | None = None,
        force: bool = False,
    ) -> dict[str, Any]:
        """One minor up, or (a rollback, see `moto_eks_rollback`) one minor back down."""
        cluster = self._cluster(name)
        if same := replayed(cluster.updates, client_request_token):
            return same.describe()
        check_no_cluster_update(cluster, "VersionUpdate")
        if busy := running(cluster.updates):
            raise in_use(
                f"Cannot VersionUpdate because cluster {name} currently has update "
                f"{busy.id} in progress",
                name,
            )
        current = cluster.version
        if not version or not catalog.is_supported(version):
            raise invalid_parameter("unsupported Kubernetes version", name)
        if catalog.minor(version) == catalog.minor(current) - 1:
            return self._roll_back(cluster, version, client_request_token, force)
        if catalog.minor(version) != catalog.minor(current) + 1:
            raise invalid_parameter(
                f"Unsupported Kubernetes minor version update from {current} to {version}", name
            )
        behind = sorted(
            ng.nodegroup_name
            for ng in cluster.nodegroups.values()
            if ng.gone_at is None and ng.version != current
        )
        if behind and settings.require_nodegroups_at_cluster_version:
            raise invalid_parameter(
                f"Nodegroups {','.join(behind)} must be updated to match cluster version "
                f"{current} before updating cluster version",
                name,
            )
        check_upgrade_readiness(cluster, version, force)
        delay = settings.cluster_update_seconds
        update = Update(
            type="VersionUpdate",
            params=[("Version", version), ("PlatformVersion", platform_version(version, now()))],
            created=now(),
            completes=now() + delay,
            effects={"version": version},
            token=client_request_token,
            from_values={"version": current, "platformVersion": cluster.platformVersion},
        )
        return self._start_version_change(cluster, update)

    def _roll_back(
        self, cluster: Cluster, version: str, token: str | None, force: bool
    ) -> dict[str, Any]:
        check_rollback(cluster, version, force)
        # EKS restores the previous minor at its latest platform version.
        platform = platform_version(version, now())
        update = Update(
            type=VERSION_ROLLBACK,
            params=[("Version", version), ("PlatformVersion", platform)],
            created=now(),
            completes=now() + settings.cluster_update_seconds,
            effects={"version": version},
            token=token,
            from_values={"version": cluster.version, "platformVersion": cluster.platformVersion},
        )
        return self._start_version_change(cluster, update)

    def _start_version_change(self, cluster: Cluster, update: Update) -> dict[str, Any]:
        cluster.updates[update.id] = update
        version = update.effects["version"]
        if settings.hooks is not None:
            settings.hooks.cluster_version_updating(
                cluster.name, version, update.id, settings.cluster_update_seconds
            )
        return update.describe()

    def auto_upgrade(self, cluster_name: str, support_ended: str) -> str:
        """For tests: EKS upgrades the cluster one minor by itself because its `support_ended`
        ("standard" or "extended") support ended; returns the update id."""
        cluster = self._cluster(cluster_name)
        current = cluster.version
        version = catalog.version_of(catalog.minor(current) + 1)
        update = Update(
            type="VersionUpdate",
            params=[("Version", version), ("PlatformVersion", platform_version(version, now()))],
            created=now(),
            completes=now() + settings.cluster_update_seconds,
            effects={"version": version},
            from_values={"version": current, "platformVersion": cluster.platformVersion},
            automatic=support_ended,
        )
        self._start_version_change(cluster, update)
        return update.id

    # --- node groups ---------------------------------------------------------------------------

    def create_nodegroup(  # type: ignore[override]
        self,
        cluster_name: str,
        *,
        node_role: str,
        nodegroup_name: str,
        subnets: list[str],
        scaling_config: dict[str, int] | None = None,
        disk_size: int | None = None,
        remote_access: dict[str, Any] | None = None,
        launch_template: dict[str, str] | None = None,
        ami_type: str | None = None,
        version: str | None = None,
        release_version: str | None = None,
        update_config: dict[str, int] | None = None,
        client_request_token: str | None = None,
        **kwargs: Any,
    ) -> Nodegroup:
        """moto's create_nodegroup, corrected: the version defaults to the cluster's (moto: 1.19)
        and may be neither newer than it nor further behind than the kubelet skew allows; the
        AMI type and release version default as on AWS; `updateConfig` is kept (moto drops it);
        each group gets its own scaling config (moto shares one default dict); and the group is
        CREATING for `settings.nodegroup_create_seconds`."""
        cluster = self._cluster(cluster_name)
        existing = cluster.nodegroups.get(nodegroup_name)
        if existing is not None and same_request(existing, client_request_token):
            return existing
        if existing is not None:
            raise in_use(
                moto_models.NODEGROUP_EXISTS_MSG.format(
                    nodegroupName=nodegroup_name, clusterName=cluster_name
                ),
                cluster_name,
                nodegroup=nodegroup_name,
            )
        if not cluster.is_active:
            raise InvalidRequestException(
                message=moto_models.CLUSTER_NOT_READY_MSG.format(clusterName=cluster_name)
            )
        if launch_template:
            moto_models.validate_launch_template_combination(disk_size, remote_access)
        validate_role_arn(node_role)
        version = version or cluster.version
        self._check_nodegroup_version(cluster, nodegroup_name, version)
        ami_type = ami_type or catalog.default_ami_type(version)
        release_version = release_version or self._release_for(
            cluster_name, nodegroup_name, version, ami_type
        )
        self._check_release(cluster_name, nodegroup_name, version, release_version, ami_type)
        scaling = dict(scaling_config or moto_models.DEFAULT_SCALING_CONFIG)
        self._check_scaling(cluster_name, nodegroup_name, scaling)
        created = now()
        nodegroup = Nodegroup(
            cluster_name=cluster_name,
            nodegroup_name=nodegroup_name,
            nodegroup_arn=moto_models.NODEGROUP_ARN_TEMPLATE.format(
                partition=self.partition,
                account_id=self.account_id,
                region=self.region_name,
                cluster_name=cluster_name,
                nodegroup_name=nodegroup_name,
                uuid=new_id(),
            ),
            node_role=node_role,
            subnets=subnets,
            scaling_config=scaling,
            version=version,
            release_version=release_version,
            ami_type=ami_type,
            created=created,
            ready_at=created + settings.nodegroup_create_seconds,
            disk_size=disk_size,
            remote_access=remote_access,
            launch_template=self._resolve_launch_template(cluster_name, launch_template),
            update_config=dict(update_config or DEFAULT_UPDATE_CONFIG),
            client_request_token=client_request_token,
            **kwargs,
        )
        cluster.nodegroups[nodegroup_name] = nodegroup
        cluster.nodegroup_count += 1
        if settings.hooks is not None:
            settings.hooks.nodegroup_created(nodegroup.facts(settings.nodegroup_create_seconds))
        return nodegroup

    def _resolve_launch_template(
        self, cluster: str, requested: dict[str, str] | None
    ) -> dict[str, str] | None:
        """Fill in the template's id and name from EC2, as AWS shows both; a template that does
        not exist is refused (moto accepts it silently)."""
        if not requested:
            return None
        from moto.ec2.exceptions import EC2ClientError
        from moto.ec2.models import ec2_backends

        ec2 = ec2_backends[self.account_id][self.region_name]
        try:
            if requested.get("id"):
                template = ec2.describe_launch_templates(template_ids=[requested["id"]])[0]
            else:
                template = ec2.describe_launch_templates(template_names=[requested["name"]])[0]
        except (IndexError, EC2ClientError) as error:
            raise invalid_parameter(
                f"Launch template {requested.get('id') or requested.get('name')} does not exist",
                cluster,
            ) from error
        resolved = {"id": template.id, "name": template.name}
        if requested.get("version"):
            resolved["version"] = str(requested["version"])
        return resolved

    def _check_nodegroup_version(self, cluster: Cluster, nodegroup: str, version: str) -> None:
        if not catalog.is_supported(version):
            raise invalid_parameter("unsupported Kubernetes version", cluster.name, nodegroup)
        lag = catalog.minor(cluster.version) - catalog.minor(version)
        if lag < 0:
            raise invalid_parameter(
                f"Requested Nodegroup version {version} is greater than cluster version "
                f"{cluster.version}",
                cluster.name,
                nodegroup,
            )
        if lag > catalog.max_kubelet_skew(cluster.version):
            raise invalid_parameter(
                f"Requested Nodegroup version {version} is too far behind cluster version "
                f"{cluster.version}",
                cluster.name,
                nodegroup,
            )

    @staticmethod
    def _release_for(cluster: str, nodegroup: str, version: str, ami_type: str) -> str:
        release = catalog.release_version(version, ami_type)
        if release is None:
            # AWS publishes no AL2 AMIs from 1.33: such a group must move to AL2023/Bottlerocket.
            raise invalid_parameter(
                f"AMI type {ami_type} is not supported for Kubernetes version {version}",
                cluster,
                nodegroup,
            )
        return release

    @staticmethod
    def _check_release(
        cluster: str, nodegroup: str, version: str, release: str, ami_type: str
    ) -> None:
        # Amazon Linux releases start with the kubelet version; Bottlerocket's with the OS's.
        amazon_linux = catalog.ami_family(ami_type) != "bottlerocket"
        if amazon_linux and not release.startswith(f"{version}."):
            raise invalid_parameter(
                f"Requested release version {release} is not valid for kubernetes version "
                f"{version}.",
                cluster,
                nodegroup,
            )

    @staticmethod
    def _check_scaling(cluster: str, nodegroup: str, scaling: Mapping[str, int]) -> None:
        low, desired, high = scaling["minSize"], scaling["desiredSize"], scaling["maxSize"]
        if not 0 <= low <= desired <= high or high < 1:
            raise invalid_parameter(
                f"Invalid scaling configuration: minSize {low}, desiredSize {desired}, "
                f"maxSize {high} (needs 0 <= minSize <= desiredSize <= maxSize, maxSize >= 1)",
                cluster,
                nodegroup,
            )

    # Ours is not moto's Nodegroup class but serializes the same: hence the override ignores.
    def describe_nodegroup(  # type: ignore[override]
        self, cluster_name: str, nodegroup_name: str
    ) -> Nodegroup:
        return self._nodegroup(self._cluster(cluster_name), nodegroup_name)

    def list_nodegroups(
        self, cluster_name: str, max_results: int, next_token: str | None
    ) -> tuple[list[moto_models.Nodegroup], moto_models.Nodegroup | None]:
        self._cluster(cluster_name)
        return super().list_nodegroups(cluster_name, max_results, next_token)

    def delete_nodegroup(  # type: ignore[override]
        self, cluster_name: str, nodegroup_name: str
    ) -> Nodegroup:
        """AWS drains and terminates first: the group reads DELETING until it is gone."""
        nodegroup = self._nodegroup(self._cluster(cluster_name), nodegroup_name)
        if nodegroup.gone_at is None:
            delay = settings.nodegroup_delete_seconds
            nodegroup.gone_at = now() + delay
            if settings.hooks is not None:
                settings.hooks.nodegroup_deleting(nodegroup.facts(delay))
        return nodegroup

    def update_nodegroup_config(  # type: ignore[override]
        self,
        cluster_name: str,
        nodegroup_name: str,
        scaling_config: dict[str, int] | None = None,
        client_request_token: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """moto's, but the update is recorded (DescribeUpdate finds it), the scaling config is
        checked, and the hooks hear of a new size."""
        cluster = self._cluster(cluster_name)
        nodegroup = self._nodegroup(cluster, nodegroup_name)
        if same := replayed(nodegroup.updates, client_request_token):
            return same.describe()
        self._check_ready_for_update(cluster, nodegroup, "ConfigUpdate")
        if scaling_config:
            merged = {**nodegroup.scaling_config, **scaling_config}
            self._check_scaling(cluster_name, nodegroup_name, merged)
        moto_update = super().update_nodegroup_config(
            cluster_name, nodegroup_name, scaling_config=scaling_config, **kwargs
        )
        update = Update(
            type="ConfigUpdate",
            params=[(p["type"], p["value"]) for p in moto_update["params"]],
            created=now(),
            completes=now(),
            token=client_request_token,
        )
        nodegroup.updates[update.id] = update
        nodegroup.modified_at = timestamp(now())
        if scaling_config and settings.hooks is not None:
            settings.hooks.nodegroup_scaled(nodegroup.facts(settings.node_join_seconds))
        return update.describe()

    def _check_ready_for_update(self, cluster: Cluster, nodegroup: Nodegroup, kind: str) -> None:
        if busy := running(nodegroup.updates):
            raise in_use(
                f"Cannot {kind} because nodegroup {nodegroup.nodegroup_name} currently "
                f"has update {busy.id} in progress",
                cluster.name,
                nodegroup.nodegroup_name,
            )
        if nodegroup.status not in ("ACTIVE", "DEGRADED"):
            raise in_use(
                f"Nodegroup {nodegroup.nodegroup_name} is in {nodegroup.status} status",
                cluster.name,
                nodegroup.nodegroup_name,
            )

    def update_nodegroup_version(
        self,
        cluster_name: str,
        nodegroup_name: str,
        *,
        version: str | None = None,
        release_version: str | None = None,
        launch_template: Mapping[str, str] | None = None,
        force: bool = False,  # noqa: ARG002 (accepted; the sandbox's PDB-bound update ignores it)
        client_request_token: str | None = None,
    ) -> dict[str, Any]:
        """In place, to the group's own version (newer AMI) or the cluster's: never newer than
        the control plane, never down but one minor while the cluster may roll back to it.
        Ends by time, or when a hook that took it over calls `finish_update`."""
        cluster = self._cluster(cluster_name)
        nodegroup = self._nodegroup(cluster, nodegroup_name)
        if same := replayed(nodegroup.updates, client_request_token):
            return same.describe()
        self._check_ready_for_update(cluster, nodegroup, "VersionUpdate")
        current, control_plane = nodegroup.version, cluster.version
        target = version or current
        if not catalog.is_supported(target):
            raise invalid_parameter("unsupported Kubernetes version", cluster_name, nodegroup_name)
        if catalog.minor(target) > catalog.minor(control_plane):
            raise invalid_parameter(
                f"Requested Nodegroup version {target} is greater than cluster version "
                f"{control_plane}",
                cluster_name,
                nodegroup_name,
            )
        back = catalog.minor(target) == catalog.minor(current) - 1
        if target not in (current, control_plane) and not (
            back and rollback_open_to(cluster, target)
        ):
            raise invalid_parameter(
                f"Requested Nodegroup version {target} is invalid. Allowed versions are "
                f"{current} (the node group's) and {control_plane} (the cluster's)",
                cluster_name,
                nodegroup_name,
            )
        release = release_version or self._release_for(
            cluster_name, nodegroup_name, target, nodegroup.ami_type
        )
        self._check_release(cluster_name, nodegroup_name, target, release, nodegroup.ami_type)
        params = [("Version", target), ("ReleaseVersion", release)]
        effects = {"version": target, "releaseVersion": release}
        if launch_template:
            params += self._launch_template_params(cluster_name, nodegroup, launch_template)
            if launch_template.get("version"):
                effects["launchTemplateVersion"] = str(launch_template["version"])
        # No "Force" param: EKS's UpdateParamType has none, and botocore's model is what
        # clients parse the answer with.
        update = Update(
            type="VersionUpdate",
            params=params,
            created=now(),
            completes=now() + settings.nodegroup_update_seconds,
            effects=effects,
            token=client_request_token,
        )
        nodegroup.updates[update.id] = update
        hooks = settings.hooks
        facts = nodegroup.facts(settings.node_join_seconds, version=target, release_version=release)
        if hooks is not None and hooks.nodegroup_version_updating(facts, update.id):
            update.completes = None
        return update.describe()

    @staticmethod
    def _launch_template_params(
        cluster: str, nodegroup: Nodegroup, requested: Mapping[str, str]
    ) -> list[tuple[str, str]]:
        current = nodegroup.launch_template
        same = current is not None and (
            requested.get("id") in (None, current.get("id"))
            and requested.get("name") in (None, current.get("name"))
        )
        if not same:
            raise invalid_parameter(
                "A launch template can only be updated to a version of the one the node group "
                "was created with",
                cluster,
                nodegroup.nodegroup_name,
            )
        assert current is not None
        params = [("LaunchTemplateName", current.get("name", ""))]
        if requested.get("version"):
            params.append(("LaunchTemplateVersion", str(requested["version"])))
        return params

    # --- updates -------------------------------------------------------------------------------

    def describe_update(
        self,
        name: str,
        update_id: str,
        nodegroup_name: str | None = None,
        addon_name: str | None = None,
    ) -> dict[str, Any]:
        updates = self._updates(self._cluster(name), nodegroup_name, addon_name)
        if update_id not in updates:
            raise not_found(
                f"No update found for ID: {update_id}", name, nodegroup_name, addon_name
            )
        return updates[update_id].describe()

    def list_updates(
        self, name: str, nodegroup_name: str | None = None, addon_name: str | None = None
    ) -> list[str]:
        return list(self._updates(self._cluster(name), nodegroup_name, addon_name))

    def finish_update(
        self,
        cluster_name: str,
        update_id: str,
        status: str = SUCCESSFUL,
        errors: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """End an update now: how a sandbox hook that took over a node group update reports its
        rolling replacement done (Successful) or not (Failed, with EKS ErrorDetail dicts:
        errorCode, errorMessage, resourceIds). Works for any of the cluster's updates."""
        cluster = self._cluster(cluster_name)
        scopes = [
            cluster.updates,
            *(ng.updates for ng in cluster.nodegroups.values()),
            *(addon.updates for addon in cluster.addons.values()),
        ]
        for updates in scopes:
            if update_id in updates:
                updates[update_id].finish(status, errors)
                return
        raise not_found(f"No update found for ID: {update_id}", cluster_name)

    # --- for tests and the sandbox -------------------------------------------------------------

    def set_nodegroup_health(
        self, cluster_name: str, nodegroup_name: str, issues: Sequence[Mapping[str, Any]]
    ) -> None:
        """Health issues as AWS reports them (code, message, resourceIds); a group with any
        reads DEGRADED. Same as assigning `nodegroup.health["issues"]`."""
        nodegroup = self._nodegroup(self._cluster(cluster_name), nodegroup_name)
        nodegroup.health["issues"] = [dict(issue) for issue in issues]

    @property
    def _url_module(self) -> Any:
        # moto derives the URL table's module from the backend's (moto.eks.models -> .urls);
        # ours lives beside the response class that serves it. Imported here: it imports us.
        from upgrader.sandbox.eks import responses as moto_eks_responses

        return moto_eks_responses


def eks_backend(region: str, account_id: str = DEFAULT_ACCOUNT_ID) -> SandboxEKSBackend:
    """The sandbox EKS backend of an account and region (created on first use, like moto's)."""
    backend = moto_models.eks_backends[account_id][region]
    if not isinstance(backend, SandboxEKSBackend):
        raise RuntimeError("moto's EKS is not the sandbox's: call moto_eks.install() first")
    return backend


def _endpoint(arn: str, region: str) -> str:
    """Each cluster's own API server URL, as EKS gives one per cluster ("https://<32 hex>.gr7.
    <region>.eks.amazonaws.com"); moto computes one at import and gives it to every cluster,
    which would let a kube context for one cluster pass for another's. Derived from the ARN,
    so the demo cluster keeps its URL from one sandbox to the next (a plan made in one is
    executed in another)."""
    digest = hashlib.sha256(arn.encode("utf-8")).hexdigest()[:32].upper()
    return f"https://{digest}.gr7.{region}.eks.amazonaws.com"


def _certificate_authority(arn: str) -> str:
    """A CA of the cluster's own (base64, like certificateAuthority.data): moto gives every
    cluster the one it computed at import. Not a real certificate: nothing verifies TLS with
    it in the sandbox; eksup compares it with what the kube context trusts."""
    body = hashlib.sha256(f"ca:{arn}".encode()).hexdigest()
    pem = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"
    return base64.b64encode(pem.encode("ascii")).decode("ascii")
