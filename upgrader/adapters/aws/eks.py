"""The `ControlPlane` port on Amazon EKS through boto3.

Responses become `upgrader.core.aws` values here and nowhere else; the `_to_*` functions are pure so
the shape translation is tested without a network. Mutating calls carry a `clientRequestToken`
chosen once per logical request, so a retry after a dropped connection is the same request to
EKS, not a second update.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from upgrader.adapters.aws.clients import AwsClients, epoch
from upgrader.core.aws import (
    Addon,
    AddonCompatibility,
    AddonVersion,
    EksCluster,
    EksUpdate,
    EksVersionFacts,
    FargateProfile,
    Insight,
    LaunchTemplateRef,
    Nodegroup,
    NodegroupSpec,
    NodegroupTaint,
    ScalingConfig,
    UpdateConfig,
    UpdateStatus,
)
from upgrader.core.errors import UserError

if TYPE_CHECKING:
    from mypy_boto3_eks.literals import AMITypesType, CapacityTypesType, TaintEffectType
    from mypy_boto3_eks.type_defs import (
        AddonInfoTypeDef,
        AddonTypeDef,
        ClusterIssueTypeDef,
        ClusterTypeDef,
        ClusterVersionInformationTypeDef,
        CreateNodegroupRequestTypeDef,
        FargateProfileTypeDef,
        InsightSummaryTypeDef,
        IssueTypeDef,
        LaunchTemplateSpecificationTypeDef,
        NodegroupTypeDef,
        NodegroupUpdateConfigTypeDef,
        TaintTypeDef,
        UpdateNodegroupVersionRequestTypeDef,
        UpdateTypeDef,
    )


def _token() -> str:
    return str(uuid.uuid4())


def cluster_from_eks(cluster: ClusterTypeDef) -> EksCluster:
    vpc = cluster.get("resourcesVpcConfig", {})
    return EksCluster(
        name=cluster.get("name", ""),
        arn=cluster.get("arn", ""),
        version=cluster.get("version", ""),
        platform_version=cluster.get("platformVersion", ""),
        status=cluster.get("status", ""),
        endpoint=cluster.get("endpoint", ""),
        subnet_ids=tuple(vpc.get("subnetIds", ())),
        security_group_ids=tuple(vpc.get("securityGroupIds", ())),
        role_arn=cluster.get("roleArn", ""),
        tags=dict(cluster.get("tags", {})),
        created_at=epoch(cluster.get("createdAt")),
        # EKS puts every cluster on extended support unless told otherwise.
        support_type=cluster.get("upgradePolicy", {}).get("supportType", "EXTENDED"),
        health_issues=_issue_lines(cluster.get("health", {}).get("issues", ())),
        certificate_authority=cluster.get("certificateAuthority", {}).get("data", ""),
    )


def _issue_lines(issues: Iterable[IssueTypeDef | ClusterIssueTypeDef]) -> tuple[str, ...]:
    """Health issues as "code: message" lines."""
    return tuple(f"{issue.get('code', '')}: {issue.get('message', '')}" for issue in issues)


def _launch_template_ref(
    spec: LaunchTemplateSpecificationTypeDef | None,
) -> LaunchTemplateRef | None:
    if not spec:
        return None
    return LaunchTemplateRef(
        id=spec.get("id", ""), name=spec.get("name", ""), version=spec.get("version", "")
    )


def nodegroup_from_eks(group: NodegroupTypeDef) -> Nodegroup:
    scaling = group.get("scalingConfig", {})
    update = group.get("updateConfig", {})
    percentage = update.get("maxUnavailablePercentage")
    return Nodegroup(
        cluster=group.get("clusterName", ""),
        name=group.get("nodegroupName", ""),
        arn=group.get("nodegroupArn", ""),
        status=group.get("status", ""),
        version=group.get("version", ""),
        release_version=group.get("releaseVersion", ""),
        ami_type=group.get("amiType", ""),
        capacity_type=group.get("capacityType", ""),
        instance_types=tuple(group.get("instanceTypes", ())),
        subnets=tuple(group.get("subnets", ())),
        scaling=ScalingConfig(
            min_size=scaling.get("minSize", 0),
            max_size=scaling.get("maxSize", 0),
            desired_size=scaling.get("desiredSize", 0),
        ),
        node_role=group.get("nodeRole", ""),
        labels=dict(group.get("labels", {})),
        taints=tuple(
            NodegroupTaint(
                key=t.get("key", ""), value=t.get("value", ""), effect=t.get("effect", "")
            )
            for t in group.get("taints", ())
        ),
        launch_template=_launch_template_ref(group.get("launchTemplate")),
        # EKS's default when updateConfig is absent is maxUnavailable=1.
        update_config=UpdateConfig(
            max_unavailable=None if percentage is not None else update.get("maxUnavailable", 1),
            max_unavailable_percentage=percentage,
        ),
        disk_size=group.get("diskSize"),
        tags=dict(group.get("tags", {})),
        health_issues=_issue_lines(group.get("health", {}).get("issues", ())),
        auto_scaling_groups=tuple(
            asg["name"]
            for asg in group.get("resources", {}).get("autoScalingGroups", ())
            if "name" in asg
        ),
        created_at=epoch(group.get("createdAt")),
    )


def update_from_eks(update: UpdateTypeDef) -> EksUpdate:
    return EksUpdate(
        id=update.get("id", ""),
        type=update.get("type", ""),
        status=UpdateStatus(update.get("status", UpdateStatus.IN_PROGRESS.value)),
        params={p["type"]: p.get("value", "") for p in update.get("params", ()) if "type" in p},
        errors=tuple(
            f"{e.get('errorCode', '')}: {e.get('errorMessage', '')}"
            for e in update.get("errors", ())
        ),
        created_at=epoch(update.get("createdAt")),
    )


def addon_from_eks(addon: AddonTypeDef) -> Addon:
    return Addon(
        name=addon.get("addonName", ""),
        version=addon.get("addonVersion", ""),
        status=addon.get("status", ""),
        service_account_role_arn=addon.get("serviceAccountRoleArn"),
        configuration_values=addon.get("configurationValues"),
    )


def addon_versions_from_eks(info: AddonInfoTypeDef) -> list[AddonVersion]:
    """One add-on's catalogue entry flattened to one value per version."""
    name = info.get("addonName", "")
    return [
        AddonVersion(
            addon_name=name,
            version=version.get("addonVersion", ""),
            compatibilities=tuple(
                AddonCompatibility(
                    cluster_version=c.get("clusterVersion", ""),
                    default_version=c.get("defaultVersion", False),
                )
                for c in version.get("compatibilities", ())
            ),
        )
        for version in info.get("addonVersions", ())
    ]


def version_facts_from_eks(info: ClusterVersionInformationTypeDef) -> EksVersionFacts:
    def day(key: str) -> dt.date | None:
        moment = cast("dt.datetime | None", info.get(key))
        return moment.astimezone(dt.UTC).date() if moment is not None else None

    return EksVersionFacts(
        version=info.get("clusterVersion", ""),
        status=info.get("versionStatus", "UNSUPPORTED"),
        release=day("releaseDate"),
        end_of_standard_support=day("endOfStandardSupportDate"),
        end_of_extended_support=day("endOfExtendedSupportDate"),
        default=bool(info.get("defaultVersion", False)),
    )


def insight_from_eks(insight: InsightSummaryTypeDef, recommendation: str = "") -> Insight:
    return Insight(
        id=insight.get("id", ""),
        name=insight.get("name", ""),
        category=insight.get("category", ""),
        status=insight.get("insightStatus", {}).get("status", "UNKNOWN"),
        kubernetes_version=insight.get("kubernetesVersion", ""),
        description=insight.get("description", ""),
        recommendation=recommendation,
    )


def fargate_profile_from_eks(profile: FargateProfileTypeDef) -> FargateProfile:
    return FargateProfile(
        name=profile.get("fargateProfileName", ""),
        status=profile.get("status", ""),
        selectors=tuple(
            {"namespace": s.get("namespace", ""), **s.get("labels", {})}
            for s in profile.get("selectors", ())
        ),
        subnets=tuple(profile.get("subnets", ())),
    )


def create_nodegroup_request(spec: NodegroupSpec, token: str) -> CreateNodegroupRequestTypeDef:
    """The create_nodegroup parameters for a spec; absent optional fields stay absent, so EKS
    applies its own defaults (and refuses conflicts such as instance types in two places)."""
    request: CreateNodegroupRequestTypeDef = {
        "clusterName": spec.cluster,
        "nodegroupName": spec.name,
        "nodeRole": spec.node_role,
        "subnets": list(spec.subnets),
        "scalingConfig": {
            "minSize": spec.scaling.min_size,
            "maxSize": spec.scaling.max_size,
            "desiredSize": spec.scaling.desired_size,
        },
        "capacityType": cast("CapacityTypesType", spec.capacity_type),
        "clientRequestToken": token,
    }
    if spec.version is not None:
        request["version"] = spec.version
    if spec.release_version is not None:
        request["releaseVersion"] = spec.release_version
    if spec.ami_type is not None:
        request["amiType"] = cast("AMITypesType", spec.ami_type)
    if spec.instance_types:
        request["instanceTypes"] = list(spec.instance_types)
    if spec.labels:
        request["labels"] = dict(spec.labels)
    if spec.taints:
        request["taints"] = [_taint_request(t) for t in spec.taints]
    if spec.launch_template is not None:
        request["launchTemplate"] = _launch_template_request(spec.launch_template)
    if spec.update_config is not None:
        request["updateConfig"] = _update_config_request(spec.update_config)
    if spec.disk_size is not None:
        request["diskSize"] = spec.disk_size
    if spec.tags:
        request["tags"] = dict(spec.tags)
    return request


def _taint_request(taint: NodegroupTaint) -> TaintTypeDef:
    result: TaintTypeDef = {"key": taint.key, "effect": cast("TaintEffectType", taint.effect)}
    if taint.value:
        result["value"] = taint.value
    return result


def _update_config_request(config: UpdateConfig) -> NodegroupUpdateConfigTypeDef:
    if config.max_unavailable_percentage is not None:
        return {"maxUnavailablePercentage": config.max_unavailable_percentage}
    return {"maxUnavailable": config.max_unavailable or 1}


def _launch_template_request(ref: LaunchTemplateRef) -> LaunchTemplateSpecificationTypeDef:
    # EKS takes the id or the name, never both.
    result: LaunchTemplateSpecificationTypeDef = {"id": ref.id} if ref.id else {"name": ref.name}
    if ref.version:
        result["version"] = ref.version
    return result


class Boto3ControlPlane:
    """`ControlPlane` on EKS. Build it from an `AwsClients` (shared with the other adapters)."""

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def describe_cluster(self, name: str) -> EksCluster:
        eks = self.clients.eks
        response = self.clients.call_eks(lambda: eks.describe_cluster(name=name))
        return cluster_from_eks(response["cluster"])

    def list_nodegroups(self, cluster: str) -> list[str]:
        eks = self.clients.eks

        def request() -> list[str]:
            pages = eks.get_paginator("list_nodegroups").paginate(clusterName=cluster)
            return [name for page in pages for name in page.get("nodegroups", ())]

        return self.clients.call_eks(request)

    def describe_nodegroup(self, cluster: str, name: str) -> Nodegroup:
        eks = self.clients.eks
        response = self.clients.call_eks(
            lambda: eks.describe_nodegroup(clusterName=cluster, nodegroupName=name)
        )
        return nodegroup_from_eks(response["nodegroup"])

    def create_nodegroup(self, spec: NodegroupSpec) -> Nodegroup:
        eks = self.clients.eks
        request = create_nodegroup_request(spec, _token())
        response = self.clients.call_eks(lambda: eks.create_nodegroup(**request))
        return nodegroup_from_eks(response["nodegroup"])

    def delete_nodegroup(self, cluster: str, name: str) -> Nodegroup:
        eks = self.clients.eks
        response = self.clients.call_eks(
            lambda: eks.delete_nodegroup(clusterName=cluster, nodegroupName=name)
        )
        return nodegroup_from_eks(response["nodegroup"])

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
        eks = self.clients.eks
        request: UpdateNodegroupVersionRequestTypeDef = {
            "clusterName": cluster,
            "nodegroupName": name,
            "force": force,
            "clientRequestToken": _token(),
        }
        if version is not None:
            request["version"] = version
        if release_version is not None:
            request["releaseVersion"] = release_version
        if launch_template_version is not None:
            # EKS wants the template's id or name with the version; the port only carries
            # the version, so take the template the group already uses.
            current = self.describe_nodegroup(cluster, name).launch_template
            if current is None:
                raise UserError(
                    f"node group {cluster}/{name} has no launch template; "
                    "update it by version or release version instead"
                )
            request["launchTemplate"] = _launch_template_request(
                LaunchTemplateRef(id=current.id, name=current.name, version=launch_template_version)
            )
        response = self.clients.call_eks(lambda: eks.update_nodegroup_version(**request))
        return update_from_eks(response["update"])

    def update_nodegroup_scaling(
        self, cluster: str, name: str, min_size: int, max_size: int, desired_size: int
    ) -> EksUpdate:
        eks = self.clients.eks
        token = _token()
        response = self.clients.call_eks(
            lambda: eks.update_nodegroup_config(
                clusterName=cluster,
                nodegroupName=name,
                scalingConfig={
                    "minSize": min_size,
                    "maxSize": max_size,
                    "desiredSize": desired_size,
                },
                clientRequestToken=token,
            )
        )
        return update_from_eks(response["update"])

    def update_nodegroup_update_config(
        self, cluster: str, name: str, config: UpdateConfig
    ) -> EksUpdate:
        eks = self.clients.eks
        token = _token()
        response = self.clients.call_eks(
            lambda: eks.update_nodegroup_config(
                clusterName=cluster,
                nodegroupName=name,
                updateConfig=_update_config_request(config),
                clientRequestToken=token,
            )
        )
        return update_from_eks(response["update"])

    def update_cluster_version(
        self, cluster: str, version: str, *, force: bool = False
    ) -> EksUpdate:
        eks = self.clients.eks
        token = _token()
        response = self.clients.call_eks(
            lambda: eks.update_cluster_version(
                name=cluster, version=version, force=force, clientRequestToken=token
            )
        )
        return update_from_eks(response["update"])

    def describe_update(
        self,
        cluster: str,
        update_id: str,
        *,
        nodegroup: str | None = None,
        addon: str | None = None,
    ) -> EksUpdate:
        eks = self.clients.eks
        if nodegroup is not None:
            response = self.clients.call_eks(
                lambda: eks.describe_update(
                    name=cluster, updateId=update_id, nodegroupName=nodegroup
                )
            )
        elif addon is not None:
            response = self.clients.call_eks(
                lambda: eks.describe_update(name=cluster, updateId=update_id, addonName=addon)
            )
        else:
            response = self.clients.call_eks(
                lambda: eks.describe_update(name=cluster, updateId=update_id)
            )
        return update_from_eks(response["update"])

    def list_updates(
        self, cluster: str, nodegroup: str | None = None, addon: str | None = None
    ) -> list[str]:
        eks = self.clients.eks

        def request() -> list[str]:
            paginator = eks.get_paginator("list_updates")
            if nodegroup is not None:
                pages = paginator.paginate(name=cluster, nodegroupName=nodegroup)
            elif addon is not None:
                pages = paginator.paginate(name=cluster, addonName=addon)
            else:
                pages = paginator.paginate(name=cluster)
            return [update for page in pages for update in page.get("updateIds", ())]

        return self.clients.call_eks(request)

    def list_addons(self, cluster: str) -> list[str]:
        eks = self.clients.eks

        def request() -> list[str]:
            pages = eks.get_paginator("list_addons").paginate(clusterName=cluster)
            return [name for page in pages for name in page.get("addons", ())]

        return self.clients.call_eks(request)

    def describe_addon(self, cluster: str, name: str) -> Addon:
        eks = self.clients.eks
        response = self.clients.call_eks(
            lambda: eks.describe_addon(clusterName=cluster, addonName=name)
        )
        return addon_from_eks(response["addon"])

    def update_addon(self, cluster: str, name: str, version: str) -> EksUpdate:
        eks = self.clients.eks
        token = _token()
        response = self.clients.call_eks(
            lambda: eks.update_addon(
                clusterName=cluster,
                addonName=name,
                addonVersion=version,
                # PRESERVE keeps settings someone changed on the cluster by hand: an upgrade
                # should not silently revert them (OVERWRITE would).
                resolveConflicts="PRESERVE",
                clientRequestToken=token,
            )
        )
        return update_from_eks(response["update"])

    def describe_addon_versions(
        self, kubernetes_version: str, addon_name: str | None = None
    ) -> list[AddonVersion]:
        eks = self.clients.eks

        def request() -> list[AddonVersion]:
            paginator = eks.get_paginator("describe_addon_versions")
            if addon_name is not None:
                pages = paginator.paginate(
                    kubernetesVersion=kubernetes_version, addonName=addon_name
                )
            else:
                pages = paginator.paginate(kubernetesVersion=kubernetes_version)
            return [
                version
                for page in pages
                for info in page.get("addons", ())
                for version in addon_versions_from_eks(info)
            ]

        return self.clients.call_eks(request)

    def list_insights(self, cluster: str) -> list[Insight]:
        """Every insight; those not PASSING also carry their recommendation, which only
        describe_insight returns (one extra call each, for the few that need action)."""
        eks = self.clients.eks

        def request() -> list[InsightSummaryTypeDef]:
            pages = eks.get_paginator("list_insights").paginate(clusterName=cluster)
            return [insight for page in pages for insight in page.get("insights", ())]

        insights = []
        for summary in self.clients.call_eks(request):
            status = summary.get("insightStatus", {}).get("status", "UNKNOWN")
            recommendation = ""
            if status != "PASSING" and "id" in summary:
                recommendation = self._recommendation(cluster, summary["id"])
            insights.append(insight_from_eks(summary, recommendation))
        return insights

    def describe_cluster_versions(self) -> list[EksVersionFacts]:
        eks = self.clients.eks

        def request() -> list[ClusterVersionInformationTypeDef]:
            pages = eks.get_paginator("describe_cluster_versions").paginate()
            return [v for page in pages for v in page.get("clusterVersions", ())]

        return [version_facts_from_eks(v) for v in self.clients.call_eks(request)]

    def _recommendation(self, cluster: str, insight_id: str) -> str:
        eks = self.clients.eks
        response = self.clients.call_eks(
            lambda: eks.describe_insight(clusterName=cluster, id=insight_id)
        )
        return response["insight"].get("recommendation", "")

    def list_fargate_profiles(self, cluster: str) -> list[FargateProfile]:
        eks = self.clients.eks

        def request() -> list[str]:
            pages = eks.get_paginator("list_fargate_profiles").paginate(clusterName=cluster)
            return [name for page in pages for name in page.get("fargateProfileNames", ())]

        return [self._fargate_profile(cluster, name) for name in self.clients.call_eks(request)]

    def _fargate_profile(self, cluster: str, name: str) -> FargateProfile:
        eks = self.clients.eks
        response = self.clients.call_eks(
            lambda: eks.describe_fargate_profile(clusterName=cluster, fargateProfileName=name)
        )
        return fargate_profile_from_eks(response["fargateProfile"])
