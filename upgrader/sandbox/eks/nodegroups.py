"""Node groups of the sandbox's EKS, mixed into `SandboxEKSBackend`.

moto's node group operations, corrected where an upgrader relies on them (see
`create_nodegroup`), with version updates as EKS runs them: never newer than the control plane,
never down but one minor while the cluster may roll back to it, one update at a time, and
AWS's error codes and messages for what it refuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from moto.eks import models as moto_models
from moto.eks.exceptions import InvalidRequestException

from upgrader.sandbox.eks import catalog
from upgrader.sandbox.eks.errors import in_use, invalid_parameter, not_found
from upgrader.sandbox.eks.models import (
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
from upgrader.sandbox.eks.rollback import rollback_open_to
from upgrader.sandbox.eks.rules import validate_role_arn
from upgrader.sandbox.eks.state import settings

if TYPE_CHECKING:
    # The mixin calls moto's operations through super(), as the backend it is mixed into does.
    _MotoEKS = moto_models.EKSBackend
else:
    _MotoEKS = object

DEFAULT_UPDATE_CONFIG = {"maxUnavailable": 1}


class Nodegroups(_MotoEKS):
    """The node group operations of SandboxEKSBackend."""

    def _cluster(self, name: str) -> Cluster:
        """The backend's lookup (which also drops what finished deleting)."""
        raise NotImplementedError

    def _nodegroup(self, cluster: Cluster, name: str) -> Nodegroup:
        nodegroup = cluster.nodegroups.get(name)
        if nodegroup is None:
            raise not_found(
                moto_models.NODEGROUP_NOT_FOUND_MSG.format(nodegroupName=name),
                cluster.name,
                nodegroup=name,
            )
        return nodegroup

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

    # --- for tests and the sandbox -------------------------------------------------------------

    def set_nodegroup_health(
        self, cluster_name: str, nodegroup_name: str, issues: Sequence[Mapping[str, Any]]
    ) -> None:
        """Health issues as AWS reports them (code, message, resourceIds); a group with any
        reads DEGRADED. Same as assigning `nodegroup.health["issues"]`."""
        nodegroup = self._nodegroup(self._cluster(cluster_name), nodegroup_name)
        nodegroup.health["issues"] = [dict(issue) for issue in issues]
