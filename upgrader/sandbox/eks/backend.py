"""The sandbox's EKS backend: moto's, plus the calls eksup needs and the rules AWS enforces.

Adds version updates (control plane and node groups) and DescribeUpdate/ListUpdates, with node
groups from `nodegroups`, add-ons and insights from `addons` and version rollback from
`rollback`, and refuses what AWS refuses with AWS's error codes and messages: skipping a minor,
going down (but for a rollback), a second update while one runs, node groups newer than the
control plane or behind it when it moves. It also fixes what moto gets wrong that an upgrader
relies on (see `Nodegroups.create_nodegroup`). Everything time-dependent is derived from
`settings.clock` on read; see `models`.

Messages are AWS's where known (seen in public bug reports); the others are plausible.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any, ClassVar

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.eks import models as moto_models

from upgrader.sandbox.eks import catalog
from upgrader.sandbox.eks.addons import AddonsAndInsights
from upgrader.sandbox.eks.errors import in_use, invalid_parameter, not_found
from upgrader.sandbox.eks.models import (
    SUCCESSFUL,
    Cluster,
    Update,
    now,
    replayed,
    running,
    same_request,
)
from upgrader.sandbox.eks.nodegroups import Nodegroups
from upgrader.sandbox.eks.rollback import (
    VERSION_ROLLBACK,
    check_rollback,
)
from upgrader.sandbox.eks.rules import (
    check_no_cluster_update,
    check_upgrade_readiness,
    validate_role_arn,
)
from upgrader.sandbox.eks.state import settings
from upgrader.sandbox.eks.versions import platform_version


class SandboxEKSBackend(Nodegroups, AddonsAndInsights, moto_models.EKSBackend):
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

    # moto derives the URL table's module from the backend's (moto.eks.models -> .urls); ours
    # is the response module, which serves the backend and so imports it: `extension.install`,
    # which imports both, sets it here before moto builds the first backend (no import cycle).
    url_module: ClassVar[ModuleType | None] = None

    @property
    def _url_module(self) -> Any:
        if self.url_module is None:
            raise RuntimeError("the sandbox's EKS has no URL table: call moto_eks.install() first")
        return self.url_module


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
