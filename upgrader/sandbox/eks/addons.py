"""Add-ons and insights of the sandbox's EKS, mixed into `SandboxEKSBackend`.

Add-on versions must come from the catalogue (`moto_eks_catalog`) and be built for the
cluster's Kubernetes version, as AWS refuses any other with "Addon version specified is not
supported"; creating, updating and deleting take `settings` time. Insights are computed by AWS
from the cluster's usage, which the sandbox does not have: the sandbox or a test states them with
`add_insight`, and eksup reads them back through ListInsights/DescribeInsight.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from upgrader.sandbox.eks import catalog
from upgrader.sandbox.eks.errors import in_use, invalid_parameter, not_found
from upgrader.sandbox.eks.models import (
    Addon,
    Cluster,
    Insight,
    Update,
    new_id,
    now,
    replayed,
    running,
    same_request,
)
from upgrader.sandbox.eks.rules import check_resolve_conflicts
from upgrader.sandbox.eks.state import settings

UPGRADE_READINESS = "UPGRADE_READINESS"
ROLLBACK_READINESS = "ROLLBACK_READINESS"
INSIGHT_STATUSES = ("PASSING", "WARNING", "ERROR", "UNKNOWN")


class AddonsAndInsights:
    """The add-on and insight operations of SandboxEKSBackend."""

    # Set by moto's BaseBackend.
    account_id: str
    region_name: str
    partition: str

    def _cluster(self, name: str) -> Cluster:
        """The backend's lookup (which also drops what finished deleting)."""
        raise NotImplementedError

    def _addon(self, cluster: Cluster, name: str) -> Addon:
        addon = cluster.addons.get(name)
        if addon is None:
            raise not_found(
                f"No addon: {name} found in cluster: {cluster.name}", cluster.name, addon=name
            )
        return addon

    def create_addon(
        self,
        cluster_name: str,
        addon_name: str,
        *,
        addon_version: str | None = None,
        service_account_role_arn: str | None = None,
        configuration_values: str | None = None,
        tags: Mapping[str, str] | None = None,
        client_request_token: str | None = None,
    ) -> dict[str, Any]:
        cluster = self._cluster(cluster_name)
        existing = cluster.addons.get(addon_name)
        if existing is not None and same_request(existing, client_request_token):
            return existing.describe()
        if existing is not None:
            raise in_use("Addon already exists.", cluster_name, addon=addon_name)
        spec = catalog.addon_catalogue().get(addon_name)
        default = spec.default(cluster.version) if spec else None
        if spec is None or default is None:
            raise invalid_parameter(
                f"Addon {addon_name} specified is not supported in {cluster.version} "
                "kubernetes version",
                cluster_name,
                addon=addon_name,
            )
        version = addon_version or default
        if not spec.is_compatible(version, cluster.version):
            raise invalid_parameter(
                "Addon version specified is not supported", cluster_name, addon=addon_name
            )
        created = now()
        addon = Addon(
            cluster=cluster_name,
            name=addon_name,
            version=version,
            arn=(
                f"arn:{self.partition}:eks:{self.region_name}:{self.account_id}:addon/"
                f"{cluster_name}/{addon_name}/{new_id()}"
            ),
            created=created,
            ready_at=created + settings.addon_create_seconds,
            service_account_role_arn=service_account_role_arn,
            configuration_values=configuration_values,
            tags=tags,
            client_request_token=client_request_token,
        )
        cluster.addons[addon_name] = addon
        return addon.describe()

    def describe_addon(self, cluster_name: str, addon_name: str) -> dict[str, Any]:
        return self._addon(self._cluster(cluster_name), addon_name).describe()

    def list_addons(self, cluster_name: str) -> list[str]:
        return sorted(self._cluster(cluster_name).addons)

    def update_addon(
        self,
        cluster_name: str,
        addon_name: str,
        *,
        addon_version: str | None = None,
        service_account_role_arn: str | None = None,
        resolve_conflicts: str | None = None,
        configuration_values: str | None = None,
        client_request_token: str | None = None,
    ) -> dict[str, Any]:
        cluster = self._cluster(cluster_name)
        addon = self._addon(cluster, addon_name)
        if same := replayed(addon.updates, client_request_token):
            return same.describe()
        if busy := running(addon.updates):
            raise in_use(
                f"Cannot AddonUpdate because addon {addon_name} currently has update {busy.id} "
                "in progress",
                cluster_name,
                addon=addon_name,
            )
        if addon.status not in ("ACTIVE", "DEGRADED"):
            raise in_use(
                f"Addon {addon_name} is in {addon.status} status", cluster_name, addon=addon_name
            )
        check_resolve_conflicts(resolve_conflicts, cluster_name, addon_name)
        spec = catalog.addon_catalogue()[addon_name]
        if addon_version and not spec.is_compatible(addon_version, cluster.version):
            raise invalid_parameter(
                "Addon version specified is not supported", cluster_name, addon=addon_name
            )
        params: list[tuple[str, str]] = []
        effects: dict[str, str] = {}
        if addon_version:
            params.append(("AddonVersion", addon_version))
            effects["addonVersion"] = addon_version
        if resolve_conflicts:
            params.append(("ResolveConflicts", resolve_conflicts))
        if service_account_role_arn is not None:
            params.append(("ServiceAccountRoleArn", service_account_role_arn))
            addon.service_account_role_arn = service_account_role_arn
        if configuration_values is not None:
            params.append(("ConfigurationValues", configuration_values))
            addon.configuration_values = configuration_values
        update = Update(
            type="AddonUpdate",
            params=params,
            created=now(),
            completes=now() + settings.addon_update_seconds,
            effects=effects,
            token=client_request_token,
        )
        addon.updates[update.id] = update
        addon.modified = now()
        return update.describe()

    def delete_addon(self, cluster_name: str, addon_name: str) -> dict[str, Any]:
        addon = self._addon(self._cluster(cluster_name), addon_name)
        if addon.gone_at is None:
            addon.gone_at = now() + settings.addon_delete_seconds
        return addon.describe()

    def describe_addon_versions(
        self, kubernetes_version: str | None = None, addon_name: str | None = None
    ) -> list[dict[str, Any]]:
        """The catalogue, newest build first; with `kubernetes_version`, only the builds for it
        and only its compatibility entry, as AWS answers a filtered query."""
        specs = catalog.addon_catalogue().values()
        described = (
            spec.describe(kubernetes_version) for spec in specs if addon_name in (None, spec.name)
        )
        return [addon for addon in described if addon["addonVersions"]]

    # --- insights ------------------------------------------------------------------------------

    def add_insight(
        self,
        cluster_name: str,
        name: str,
        status: str,
        *,
        reason: str = "",
        kubernetes_version: str | None = None,
        category: str = UPGRADE_READINESS,
        description: str = "",
        recommendation: str = "",
        additional_info: Mapping[str, str] | None = None,
        resources: Sequence[Mapping[str, Any]] = (),
    ) -> str:
        """Store an insight as AWS would report it, for the upgrader to find; returns its id.
        `kubernetes_version` defaults to the version the insight is about: the next minor for
        an upgrade insight, the previous one for a rollback readiness insight."""
        cluster = self._cluster(cluster_name)
        if status not in INSIGHT_STATUSES:
            raise ValueError(f"insight status must be one of {INSIGHT_STATUSES}, not {status}")
        insight = Insight(
            name=name,
            category=category,
            kubernetes_version=kubernetes_version
            or catalog.version_of(
                catalog.minor(cluster.version) + (-1 if category == ROLLBACK_READINESS else 1)
            ),
            status=status,
            reason=reason,
            description=description,
            recommendation=recommendation,
            refreshed=now(),
            transitioned=now(),
            additional_info=dict(additional_info or {}),
            resources=tuple(resources),
        )
        cluster.insights[insight.id] = insight
        return insight.id

    def set_insight_status(
        self, cluster_name: str, insight_id: str, status: str, reason: str = ""
    ) -> None:
        """What AWS's next refresh would find: a new status moves lastTransitionTime."""
        insight = self._insight(self._cluster(cluster_name), insight_id)
        if status != insight.status:
            insight.transitioned = now()
        insight.status, insight.reason, insight.refreshed = status, reason, now()

    def _insight(self, cluster: Cluster, insight_id: str) -> Insight:
        if insight_id not in cluster.insights:
            raise not_found(f"No insight found with id: {insight_id}", cluster.name)
        return cluster.insights[insight_id]

    def list_insights(
        self, cluster_name: str, filters: Mapping[str, Sequence[str]] | None = None
    ) -> list[dict[str, Any]]:
        filters = filters or {}
        wanted = {
            "category": filters.get("categories"),
            "kubernetes_version": filters.get("kubernetesVersions"),
            "status": filters.get("statuses"),
        }
        return [
            insight.summary()
            for insight in self._cluster(cluster_name).insights.values()
            if all(not want or getattr(insight, key) in want for key, want in wanted.items())
        ]

    def describe_insight(self, cluster_name: str, insight_id: str) -> dict[str, Any]:
        return self._insight(self._cluster(cluster_name), insight_id).describe()
