"""HTTP side of the sandbox's EKS: request parsing for the added operations, and the URL table.

moto routes a request by URL to a response class, then picks the handler method named after the
botocore operation the request matches (UpdateClusterVersion -> `update_cluster_version`). This
module is also the backend's "URL module" (`url_bases`, `url_paths`), the role moto's
`moto.eks.urls` plays for moto's backend: every EKS path, moto's and ours, is served by
`SandboxEKSResponse`. A routed path needs a handler for each operation on it, or moto's server
answers 500 (which boto3 retries): the canary test checks that against botocore's model.
"""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.eks import urls as moto_urls
from moto.eks.responses import EKSResponse

from upgrader.sandbox.eks.backend import SandboxEKSBackend, eks_backend
from upgrader.sandbox.eks.rules import page
from upgrader.sandbox.eks.state import settings
from upgrader.sandbox.eks.versions import describe_cluster_versions


class SandboxEKSResponse(EKSResponse):
    @property
    def sandbox(self) -> SandboxEKSBackend:
        return eks_backend(self.region, self.current_account)

    def create_cluster(self) -> ActionResult:
        # moto's handler drops upgradePolicy.
        get = self._get_param
        cluster = self.sandbox.create_cluster(
            name=get("name"),
            version=get("version"),
            role_arn=get("roleArn"),
            resources_vpc_config=get("resourcesVpcConfig"),
            kubernetes_network_config=get("kubernetesNetworkConfig"),
            logging=get("logging"),
            client_request_token=get("clientRequestToken"),
            tags=get("tags"),
            encryption_config=get("encryptionConfig"),
            remote_network_config=get("remoteNetworkConfig"),
            upgrade_policy=get("upgradePolicy"),
        )
        return ActionResult({"cluster": cluster})

    def update_cluster_config(self) -> ActionResult:
        # moto's answers the cluster; EKS answers an update.
        get = self._get_param
        update = self.sandbox.update_cluster_config(
            name=get("name"),
            resources_vpc_config=get("resourcesVpcConfig"),
            logging=get("logging"),
            client_request_token=get("clientRequestToken"),
            upgrade_policy=get("upgradePolicy"),
        )
        return ActionResult({"update": update})

    def create_nodegroup(self) -> ActionResult:
        # moto's handler drops updateConfig and nodeRepairConfig.
        get = self._get_param
        nodegroup = self.sandbox.create_nodegroup(
            cluster_name=get("name"),
            nodegroup_name=get("nodegroupName"),
            node_role=get("nodeRole"),
            subnets=get("subnets"),
            scaling_config=get("scalingConfig"),
            disk_size=self._get_int_param("diskSize"),
            instance_types=get("instanceTypes"),
            ami_type=get("amiType"),
            remote_access=get("remoteAccess"),
            labels=get("labels"),
            taints=get("taints"),
            tags=get("tags"),
            client_request_token=get("clientRequestToken"),
            launch_template=get("launchTemplate"),
            capacity_type=get("capacityType"),
            version=get("version"),
            release_version=get("releaseVersion"),
            update_config=get("updateConfig"),
            node_repair_config=get("nodeRepairConfig"),
        )
        return ActionResult({"nodegroup": nodegroup})

    def update_cluster_version(self) -> ActionResult:
        update = self.sandbox.update_cluster_version(
            name=self._get_param("name"),
            version=self._get_param("version"),
            client_request_token=self._get_param("clientRequestToken"),
            force=bool(self._get_param("force", False)),
        )
        return ActionResult({"update": update})

    def update_nodegroup_version(self) -> ActionResult:
        update = self.sandbox.update_nodegroup_version(
            cluster_name=self._get_param("name"),
            nodegroup_name=self._get_param("nodegroupName"),
            version=self._get_param("version"),
            release_version=self._get_param("releaseVersion"),
            launch_template=self._get_param("launchTemplate"),
            force=bool(self._get_param("force", False)),
            client_request_token=self._get_param("clientRequestToken"),
        )
        return ActionResult({"update": update})

    def describe_update(self) -> ActionResult:
        update = self.sandbox.describe_update(
            name=self._get_param("name"),
            update_id=self._get_param("updateId"),
            nodegroup_name=self._get_param("nodegroupName"),
            addon_name=self._get_param("addonName"),
        )
        return ActionResult({"update": update})

    def list_updates(self) -> ActionResult:
        ids = self.sandbox.list_updates(
            name=self._get_param("name"),
            nodegroup_name=self._get_param("nodegroupName"),
            addon_name=self._get_param("addonName"),
        )
        ids, token = page(ids, self._get_param("maxResults"), self._get_param("nextToken"))
        return ActionResult({"updateIds": ids, "nextToken": token})

    def create_addon(self) -> ActionResult:
        addon = self.sandbox.create_addon(
            cluster_name=self._get_param("name"),
            addon_name=self._get_param("addonName"),
            addon_version=self._get_param("addonVersion"),
            service_account_role_arn=self._get_param("serviceAccountRoleArn"),
            configuration_values=self._get_param("configurationValues"),
            tags=self._get_param("tags"),
            client_request_token=self._get_param("clientRequestToken"),
        )
        return ActionResult({"addon": addon})

    def describe_addon(self) -> ActionResult:
        addon = self.sandbox.describe_addon(
            cluster_name=self._get_param("name"), addon_name=self._get_param("addonName")
        )
        return ActionResult({"addon": addon})

    def update_addon(self) -> ActionResult:
        update = self.sandbox.update_addon(
            cluster_name=self._get_param("name"),
            addon_name=self._get_param("addonName"),
            addon_version=self._get_param("addonVersion"),
            service_account_role_arn=self._get_param("serviceAccountRoleArn"),
            resolve_conflicts=self._get_param("resolveConflicts"),
            configuration_values=self._get_param("configurationValues"),
            client_request_token=self._get_param("clientRequestToken"),
        )
        return ActionResult({"update": update})

    def delete_addon(self) -> ActionResult:
        addon = self.sandbox.delete_addon(
            cluster_name=self._get_param("name"), addon_name=self._get_param("addonName")
        )
        return ActionResult({"addon": addon})

    def list_addons(self) -> ActionResult:
        return ActionResult({"addons": self.sandbox.list_addons(self._get_param("name"))})

    def describe_addon_versions(self) -> ActionResult:
        addons = self.sandbox.describe_addon_versions(
            kubernetes_version=self._get_param("kubernetesVersion"),
            addon_name=self._get_param("addonName"),
        )
        addons, token = page(addons, self._get_param("maxResults"), self._get_param("nextToken"))
        return ActionResult({"addons": addons, "nextToken": token})

    def describe_cluster_versions(self) -> ActionResult:
        query = self.querystring
        rows, token = describe_cluster_versions(
            settings.clock.now(),
            include_all=self._get_param("includeAll") in (True, "true"),
            default_only=self._get_param("defaultOnly") in (True, "true"),
            versions=tuple(query.get("clusterVersions", ())),
            version_status=self._get_param("versionStatus"),
            max_results=self._get_param("maxResults"),
            next_token=self._get_param("nextToken"),
        )
        return ActionResult({"clusterVersions": rows, "nextToken": token})

    def list_insights(self) -> ActionResult:
        insights = self.sandbox.list_insights(
            cluster_name=self._get_param("name"), filters=self._get_param("filter")
        )
        insights, token = page(
            insights, self._get_param("maxResults"), self._get_param("nextToken")
        )
        return ActionResult({"insights": insights, "nextToken": token})

    def describe_insight(self) -> ActionResult:
        insight = self.sandbox.describe_insight(
            cluster_name=self._get_param("name"), insight_id=self._get_param("id")
        )
        return ActionResult({"insight": insight})


_CLUSTER = "{0}/clusters/(?P<name>[^/]+)"
_ADDED_PATHS = (
    _CLUSTER + "/updates$",
    _CLUSTER + "/updates/(?P<updateId>[^/]+)$",
    _CLUSTER + "/node-groups/(?P<nodegroupName>[^/]+)/update-version$",
    _CLUSTER + "/addons$",
    _CLUSTER + "/addons/(?P<addonName>[^/]+)$",
    _CLUSTER + "/addons/(?P<addonName>[^/]+)/update$",
    "{0}/addons/supported-versions$",
    "{0}/cluster-versions$",
    _CLUSTER + "/insights$",
    _CLUSTER + "/insights/(?P<id>[^/]+)$",
)

url_bases = moto_urls.url_bases
url_paths = dict.fromkeys((*moto_urls.url_paths, *_ADDED_PATHS), SandboxEKSResponse.dispatch)
