"""Pure translations between EKS's API shapes and `upgrader.core.aws` values, both ways: what
Describe* returns becomes a value, a `NodegroupSpec` becomes a CreateNodegroup request. Apart
from the calls (`eks.py`), so each is tested without a network.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from upgrader.adapters.aws.clients import epoch
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
        UpdateTypeDef,
    )


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
        request["launchTemplate"] = launch_template_request(spec.launch_template)
    if spec.update_config is not None:
        request["updateConfig"] = update_config_request(spec.update_config)
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


def update_config_request(config: UpdateConfig) -> NodegroupUpdateConfigTypeDef:
    if config.max_unavailable_percentage is not None:
        return {"maxUnavailablePercentage": config.max_unavailable_percentage}
    return {"maxUnavailable": config.max_unavailable or 1}


def launch_template_request(ref: LaunchTemplateRef) -> LaunchTemplateSpecificationTypeDef:
    # EKS takes the id or the name, never both.
    result: LaunchTemplateSpecificationTypeDef = {"id": ref.id} if ref.id else {"name": ref.name}
    if ref.version:
        result["version"] = ref.version
    return result
