"""The ports: the only view of the outside world that planning, upgrading and rollouts get.

Each Protocol is shaped like eksup's domain, not like an SDK. boto3 and the kubernetes client
live behind these in `upgrader.adapters`; the sandbox (`FakeCluster`, the moto extension)
implements the same Protocols, so every test runs the real logic.

Errors crossing a port are `upgrader.core.errors` types only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from upgrader.core.aws import (
    Addon,
    AddonVersion,
    Alarm,
    AutoScalingGroup,
    EksCluster,
    EksUpdate,
    EksVersionFacts,
    FargateProfile,
    ForwardRule,
    Insight,
    LaunchTemplateVersion,
    MetricQuery,
    Nodegroup,
    NodegroupSpec,
    Subnet,
    TargetHealth,
    UpdateConfig,
    WeightedRecord,
)
from upgrader.core.kube import (
    AmiSelectorTerm,
    ConfigMap,
    DeprecatedApiRequest,
    HelmRelease,
    HorizontalPodAutoscaler,
    HTTPRoute,
    HTTPRouteRule,
    Ingress,
    Lease,
    Node,
    NodeClaim,
    NodeClass,
    NodePool,
    PersistentVolume,
    Pod,
    PodDisruptionBudget,
    Service,
    Taint,
    TaintEffect,
    Workload,
    WorkloadKind,
)


class CallerIdentity(Protocol):
    """Who the AWS credentials in use are."""

    def caller_arn(self) -> str:
        """The ARN STS GetCallerIdentity returns, e.g. arn:aws:sts::111:assumed-role/ops/alice."""
        ...


class Clock(Protocol):
    """Wall time and waiting. Every wait in eksup goes through here, so tests use virtual time."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def sleep(self, seconds: float) -> None: ...


class Cluster(Protocol):
    """The Kubernetes API, as the upgrader and the rollouts need it."""

    def server_version(self) -> str:
        """The API server's gitVersion, e.g. "v1.29.8-eks-a737599"."""
        ...

    def watching(self) -> AbstractContextManager[None]:
        """While open, the reads a drain repeats (nodes, pods, budgets, workloads) are answered
        from watches (client-go's informers: list once, then follow changes) instead of a list
        request each. An in-memory cluster is always current: a no-op there."""
        ...

    # nodes
    def list_nodes(self, label_selector: str | None = None) -> list[Node]: ...
    def get_node(self, name: str) -> Node:
        """Raises NotFoundError."""
        ...

    def set_unschedulable(self, name: str, unschedulable: bool) -> Node:
        """Cordon (True) or uncordon (False)."""
        ...

    def add_taint(self, name: str, taint: Taint) -> Node:
        """Adds or replaces the taint with the same key and effect."""
        ...

    def remove_taint(self, name: str, key: str, effect: TaintEffect) -> Node: ...
    def label_node(self, name: str, labels: Mapping[str, str | None]) -> Node:
        """Sets labels; a None value removes the label."""
        ...

    # pods
    def list_pods(
        self,
        namespace: str | None = None,
        node_name: str | None = None,
        label_selector: str | None = None,
    ) -> list[Pod]:
        """All pods matching every given filter (pages internally)."""
        ...

    def get_pod(self, namespace: str, name: str) -> Pod:
        """Raises NotFoundError."""
        ...

    def evict_pod(self, namespace: str, name: str, grace_period_seconds: int | None = None) -> None:
        """policy/v1 Eviction. Raises NotFoundError (404), EvictionBlockedError (429),
        MultiplePdbsError (500), NamespaceTerminatingError (403)."""
        ...

    def delete_pod(
        self, namespace: str, name: str, grace_period_seconds: int | None = None
    ) -> None:
        """Raises NotFoundError."""
        ...

    # workloads
    def list_workloads(
        self, kind: WorkloadKind | None = None, namespace: str | None = None
    ) -> list[Workload]: ...
    def get_workload(self, kind: WorkloadKind, namespace: str, name: str) -> Workload:
        """Raises NotFoundError."""
        ...

    def scale_workload(
        self, kind: WorkloadKind, namespace: str, name: str, replicas: int
    ) -> Workload: ...
    def restart_workload(self, kind: WorkloadKind, namespace: str, name: str) -> Workload:
        """`kubectl rollout restart`: bump the template's restartedAt annotation."""
        ...

    # disruption budgets and services
    def list_pdbs(self, namespace: str | None = None) -> list[PodDisruptionBudget]: ...
    def list_persistent_volumes(self) -> list[PersistentVolume]:
        """Every PersistentVolume (cluster-scoped): a bound one names its claim and the nodes
        it can be used from (an EBS volume's zone)."""
        ...

    def list_services(self, namespace: str | None = None) -> list[Service]: ...
    def get_service(self, namespace: str, name: str) -> Service:
        """Raises NotFoundError."""
        ...

    def patch_service_selector(
        self, namespace: str, name: str, selector: Mapping[str, str]
    ) -> Service: ...

    # autoscaling: an HPA owns its target's replica count, so surge moves its floor
    def list_hpas(self, namespace: str | None = None) -> list[HorizontalPodAutoscaler]: ...
    def set_hpa_min_replicas(
        self, namespace: str, name: str, min_replicas: int
    ) -> HorizontalPodAutoscaler:
        """Raises NotFoundError."""
        ...

    # ingresses (networking.k8s.io/v1), for traffic moved through the AWS Load Balancer Controller
    def get_ingress(self, namespace: str, name: str) -> Ingress:
        """Raises NotFoundError."""
        ...

    def patch_ingress_annotations(
        self, namespace: str, name: str, annotations: Mapping[str, str | None]
    ) -> Ingress:
        """Set these annotations (a None value removes one); the others are kept."""

    # Gateway API (gateway.networking.k8s.io/v1)
    def get_http_route(self, namespace: str, name: str) -> HTTPRoute:
        """The route with its parents' status. Raises NotFoundError."""
        ...

    def replace_http_route_rules(
        self, namespace: str, name: str, rules: Sequence[HTTPRouteRule], resource_version: str
    ) -> HTTPRoute:
        """Replace `spec.rules` only, as a compare-and-swap on `resource_version`: raises
        ConflictError when the route moved since it was read."""
        ...

    # what the upgrade must not break: deprecated APIs still in use
    def deprecated_api_requests(self) -> list[DeprecatedApiRequest]:
        """The API server's `apiserver_requested_deprecated_apis` metric (GET /metrics)."""
        ...

    def helm_releases(self) -> list[HelmRelease]:
        """The deployed revision of every Helm release (Secrets of type helm.sh/release.v1)."""
        ...

    # coordination and state
    def get_lease(self, namespace: str, name: str) -> Lease:
        """Raises NotFoundError."""
        ...

    def create_lease(self, lease: Lease) -> Lease:
        """Raises ConflictError when it exists."""
        ...

    def update_lease(self, lease: Lease) -> Lease:
        """Compare-and-swap on `resource_version`; raises ConflictError when it moved."""
        ...

    def delete_lease(self, namespace: str, name: str) -> None: ...
    def get_config_map(self, namespace: str, name: str) -> ConfigMap:
        """Raises NotFoundError."""
        ...

    def apply_config_map(self, config_map: ConfigMap) -> ConfigMap:
        """Create, or replace the data of, a ConfigMap."""
        ...

    # Karpenter v1: NodePools and NodeClaims (karpenter.sh), EC2NodeClasses (karpenter.k8s.aws).
    # A cluster without Karpenter's CRDs lists none and raises NotFoundError on a patch.
    def list_node_pools(self) -> list[NodePool]: ...
    def list_node_classes(self) -> list[NodeClass]: ...
    def get_node_class(self, name: str) -> NodeClass:
        """Raises NotFoundError."""
        ...

    def patch_node_class_ami_selector(
        self, name: str, terms: Sequence[AmiSelectorTerm]
    ) -> NodeClass:
        """Replace `spec.amiSelectorTerms` (a merge patch: the list is replaced whole)."""
        ...

    def list_node_claims(self, node_pool: str | None = None) -> list[NodeClaim]:
        """NodeClaims, of one NodePool (its karpenter.sh/nodepool label) when given."""
        ...


class ControlPlane(Protocol):
    """Amazon EKS: the cluster, its managed node groups, add-ons, updates and insights."""

    def describe_cluster(self, name: str) -> EksCluster:
        """Raises NotFoundError."""
        ...

    def list_nodegroups(self, cluster: str) -> list[str]: ...
    def describe_nodegroup(self, cluster: str, name: str) -> Nodegroup:
        """Raises NotFoundError."""
        ...

    def create_nodegroup(self, spec: NodegroupSpec) -> Nodegroup: ...
    def delete_nodegroup(self, cluster: str, name: str) -> Nodegroup: ...
    def update_nodegroup_version(
        self,
        cluster: str,
        name: str,
        *,
        version: str | None = None,
        release_version: str | None = None,
        launch_template_version: str | None = None,
        force: bool = False,
    ) -> EksUpdate: ...
    def update_nodegroup_scaling(
        self, cluster: str, name: str, min_size: int, max_size: int, desired_size: int
    ) -> EksUpdate: ...
    def update_nodegroup_update_config(
        self, cluster: str, name: str, config: UpdateConfig
    ) -> EksUpdate:
        """How many nodes an in-place update replaces at a time (UpdateNodegroupConfig)."""
        ...

    def update_cluster_version(
        self, cluster: str, version: str, *, force: bool = False
    ) -> EksUpdate:
        """One minor up (a VersionUpdate), or one back down within EKS's rollback window (a
        VersionRollback). `force` overrides EKS's upgrade or rollback readiness checks."""
        ...

    def describe_update(
        self,
        cluster: str,
        update_id: str,
        *,
        nodegroup: str | None = None,
        addon: str | None = None,
    ) -> EksUpdate: ...
    def list_updates(
        self, cluster: str, nodegroup: str | None = None, addon: str | None = None
    ) -> list[str]: ...
    def list_addons(self, cluster: str) -> list[str]: ...
    def describe_addon(self, cluster: str, name: str) -> Addon: ...
    def update_addon(self, cluster: str, name: str, version: str) -> EksUpdate: ...
    def describe_addon_versions(
        self, kubernetes_version: str, addon_name: str | None = None
    ) -> list[AddonVersion]: ...
    def list_insights(self, cluster: str) -> list[Insight]: ...
    def list_fargate_profiles(self, cluster: str) -> list[FargateProfile]: ...
    def describe_cluster_versions(self) -> list[EksVersionFacts]:
        """Every version EKS lists as supported today (standard or extended), with its dates."""
        ...


class Compute(Protocol):
    """EC2, Auto Scaling and SSM: subnets, launch templates, self-managed groups, AMI ids."""

    def describe_subnets(self, subnet_ids: Sequence[str]) -> list[Subnet]: ...
    def describe_launch_template_version(
        self, template_id: str, version: str
    ) -> LaunchTemplateVersion: ...
    def create_launch_template_version(
        self, template_id: str, source_version: str, image_id: str
    ) -> LaunchTemplateVersion: ...
    def check_launch_template_version(
        self, template_id: str, source_version: str, image_id: str
    ) -> None:
        """EC2's DryRun of that create: returns when it would succeed, raises (e.g.
        PermissionDeniedError) when EC2 would refuse it."""
        ...

    def list_cluster_auto_scaling_groups(self, cluster: str) -> list[AutoScalingGroup]:
        """Groups tagged `kubernetes.io/cluster/<cluster>` (self-managed and managed alike)."""
        ...

    def set_launch_template(self, group: str, template_id: str, version: str) -> None:
        """Point an Auto Scaling group at a launch template version (new instances use it)."""
        ...

    def set_desired_capacity(self, group: str, desired: int) -> None: ...
    def suspend_processes(self, group: str, processes: Sequence[str]) -> None: ...
    def resume_processes(self, group: str, processes: Sequence[str]) -> None: ...
    def terminate_instance(self, instance_id: str, decrement_desired: bool) -> None: ...
    def get_parameter(self, name: str) -> str:
        """An SSM parameter's value, e.g. the recommended EKS AMI id. Raises NotFoundError."""
        ...


class LoadBalancers(Protocol):
    """ELBv2: weighted forwarding on listeners and rules, and target health."""

    def describe_forward_rules(self, listener_arn: str) -> list[ForwardRule]:
        """The listener's default action first (priority "default"), then its rules."""
        ...

    def set_forward_weights(self, rule_arn: str, weights: Mapping[str, int]) -> ForwardRule:
        """Weights by target group ARN on a rule, or on a listener's default action when
        `rule_arn` is a listener ARN; returns the rule as read back."""
        ...

    def target_health(self, target_group_arn: str) -> list[TargetHealth]: ...
    def put_header_rule(
        self,
        listener_arn: str,
        priority: int,
        header: str,
        values: Sequence[str],
        *,
        target_group_arn: str,
        conditions: Sequence[Mapping[str, object]] = (),
    ) -> ForwardRule:
        """A new rule at `priority` forwarding to one target group when the HTTP header
        `header` matches one of `values` (ALB wildcards * and ?) and every one of `conditions`
        (ELBv2 condition documents, as `describe_forward_rules` returns them) holds; returns
        the rule as read back. Raises ConflictError when the priority is taken."""
        ...

    def delete_rule(self, rule_arn: str) -> None:
        """Raises NotFoundError when the rule is gone."""
        ...


class Dns(Protocol):
    """Route 53 weighted records."""

    def weighted_records(
        self, zone_id: str, name: str, record_type: str
    ) -> list[WeightedRecord]: ...
    def upsert_weighted_records(self, zone_id: str, records: Sequence[WeightedRecord]) -> str:
        """UPSERTs; returns the change id to wait on."""
        ...

    def change_status(self, change_id: str) -> str:
        """PENDING or INSYNC."""
        ...


class Metrics(Protocol):
    """CloudWatch: alarms and metric statistics."""

    def describe_alarms(self, names: Sequence[str]) -> list[Alarm]: ...
    def metric_values(self, query: MetricQuery, start: float, end: float) -> list[float]:
        """Datapoints in time order; empty when CloudWatch has no data."""
        ...


class HttpProbe(Protocol):
    """One HTTP request, for a rollout's health probe."""

    def get_status(self, url: str, timeout_seconds: float) -> int:
        """GET `url`; the status of whatever answer came back (5xx included). Raises
        ServiceUnavailableError when nothing answered (refused, unresolvable, timed out)."""
        ...
