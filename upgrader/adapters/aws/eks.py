"""The `ControlPlane` port on Amazon EKS through boto3.

Responses become `upgrader.core.aws` values through `eks_convert` and nowhere else: pure
functions, so the shape translation is tested without a network. Mutating calls carry a
`clientRequestToken` chosen once per logical request, so a retry after a dropped connection is
the same request to EKS, not a second update.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from upgrader.adapters.aws.clients import AwsClients
from upgrader.adapters.aws.eks_convert import (
    addon_from_eks,
    addon_versions_from_eks,
    cluster_from_eks,
    create_nodegroup_request,
    fargate_profile_from_eks,
    insight_from_eks,
    launch_template_request,
    nodegroup_from_eks,
    update_config_request,
    update_from_eks,
    version_facts_from_eks,
)
from upgrader.core.aws import (
    Addon,
    AddonVersion,
    EksCluster,
    EksUpdate,
    EksVersionFacts,
    FargateProfile,
    Insight,
    LaunchTemplateRef,
    Nodegroup,
    NodegroupSpec,
    UpdateConfig,
)
from upgrader.core.errors import UserError

if TYPE_CHECKING:
    from mypy_boto3_eks.type_defs import (
        ClusterVersionInformationTypeDef,
        InsightSummaryTypeDef,
        UpdateNodegroupVersionRequestTypeDef,
    )


def _token() -> str:
    return str(uuid.uuid4())


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
            request["launchTemplate"] = launch_template_request(
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
                updateConfig=update_config_request(config),
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
