"""`wire`, the adapter's one decoder, on objects built with the kubernetes client's models.

Each case builds its object with the client's typed models, as the API defines them, and
decodes the JSON the API server would send for it (`ApiClient.sanitize_for_serialization`, the
client's own serializer). Pods and pod specs are decoded twice, whole (single reads) and
projected (`projection`, the bulk lists), and must agree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubernetes.client import (
    ApiClient,
    V1Affinity,
    V1ConfigMap,
    V1ConfigMapVolumeSource,
    V1Container,
    V1ContainerStatus,
    V1DaemonSet,
    V1DaemonSetSpec,
    V1DaemonSetStatus,
    V1Deployment,
    V1DeploymentSpec,
    V1DeploymentStatus,
    V1EmptyDirVolumeSource,
    V1HostPathVolumeSource,
    V1Job,
    V1JobSpec,
    V1JobStatus,
    V1LabelSelector,
    V1LabelSelectorRequirement,
    V1Lease,
    V1Node,
    V1NodeAffinity,
    V1NodeCondition,
    V1NodeSelector,
    V1NodeSelectorRequirement,
    V1NodeSelectorTerm,
    V1NodeSpec,
    V1NodeStatus,
    V1NodeSystemInfo,
    V1ObjectMeta,
    V1OwnerReference,
    V1PersistentVolumeClaimVolumeSource,
    V1Pod,
    V1PodCondition,
    V1PodDisruptionBudget,
    V1PodDisruptionBudgetSpec,
    V1PodDisruptionBudgetStatus,
    V1PodSpec,
    V1PodStatus,
    V1PodTemplateSpec,
    V1Probe,
    V1ReplicaSet,
    V1ReplicaSetSpec,
    V1ResourceRequirements,
    V1Service,
    V1ServicePort,
    V1ServiceSpec,
    V1StatefulSet,
    V1StatefulSetSpec,
    V1StatefulSetStatus,
    V1Taint,
    V1TCPSocketAction,
    V1Toleration,
    V1Volume,
)

from upgrader.adapters.kubernetes import encode, projection, wire
from upgrader.adapters.kubernetes.api_errors import pdb_names
from upgrader.core.kube import (
    ConfigMap,
    HorizontalPodAutoscaler,
    IngressBackend,
    LabelSelector,
    Lease,
    NodeAffinity,
    OwnerRef,
    Pod,
    PodPhase,
    PodSpec,
    Resources,
    SelectorRequirement,
    ServicePort,
    Taint,
    TaintEffect,
    Toleration,
    Volume,
    WorkloadKind,
)

_SERIALIZER = ApiClient()


def served(model: Any) -> Any:
    """The JSON the API server sends for `model`."""
    return _SERIALIZER.sanitize_for_serialization(model)


class _Wire:
    """`wire`'s decoders, each given the served JSON of a model."""

    def pod(self, model: V1Pod) -> Pod:
        whole = wire.pod(served(model))
        assert wire.pod(projection.pod(served(model))) == whole, "projected pod"
        return whole

    def pod_spec(self, model: V1PodSpec) -> PodSpec:
        whole = wire.pod_spec(served(model))
        assert wire.pod_spec(projection.pod({"spec": served(model)})["spec"]) == whole
        return whole

    def pod_requests(self, model: V1PodSpec) -> Resources:
        whole = wire.pod_requests(served(model))
        assert wire.pod_requests(projection.pod({"spec": served(model)})["spec"]) == whole
        return whole

    def __getattr__(self, name: str) -> Callable[[Any], Any]:
        decode = wire.WORKLOADS[WORKLOAD_KINDS[name]] if name in WORKLOAD_KINDS else None
        decode = decode or getattr(wire, name)
        return lambda model: decode(served(model))


WORKLOAD_KINDS = {
    "deployment": WorkloadKind.DEPLOYMENT,
    "stateful_set": WorkloadKind.STATEFUL_SET,
    "replica_set": WorkloadKind.REPLICA_SET,
    "daemon_set": WorkloadKind.DAEMON_SET,
    "job": WorkloadKind.JOB,
}
decode = _Wire()

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 1, 0, 0, 42, tzinfo=UTC)
GIB = 2**30
MIB = 2**20


def owner_ref(kind: str, name: str, controller: bool | None) -> V1OwnerReference:
    return V1OwnerReference(
        api_version="apps/v1", kind=kind, name=name, uid=f"uid-{name}", controller=controller
    )


def container(
    name: str, cpu: str | None = None, memory: str | None = None, **extra: object
) -> V1Container:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return V1Container(
        name=name, resources=V1ResourceRequirements(requests=requests or None), **extra
    )


# nodes ------------------------------------------------------------------------------------------


def test_node() -> None:
    source = V1Node(
        metadata=V1ObjectMeta(
            name="ip-10-0-1-5.ec2.internal",
            labels={"eks.amazonaws.com/nodegroup": "blue"},
            creation_timestamp=T0,
        ),
        spec=V1NodeSpec(
            provider_id="aws:///us-east-1a/i-0abc",
            unschedulable=True,
            taints=[
                V1Taint(key="dedicated", value="web", effect="NoSchedule"),
                V1Taint(key="node.kubernetes.io/unreachable", effect="NoExecute", time_added=T1),
            ],
        ),
        status=V1NodeStatus(
            allocatable={"cpu": "3920m", "memory": "15246976Ki", "pods": "58"},
            conditions=[
                V1NodeCondition(type="MemoryPressure", status="False"),
                V1NodeCondition(type="Ready", status="True"),
            ],
            node_info=V1NodeSystemInfo(
                architecture="amd64",
                boot_id="b",
                container_runtime_version="containerd://1.7",
                kernel_version="6.1",
                kube_proxy_version="v1.29.3",
                kubelet_version="v1.29.3-eks-ae9a62a",
                machine_id="m",
                operating_system="linux",
                os_image="Amazon Linux 2023",
                system_uuid="u",
            ),
        ),
    )

    node = decode.node(source)

    assert node.name == "ip-10-0-1-5.ec2.internal"
    assert node.nodegroup == "blue"
    assert node.unschedulable
    assert node.ready
    assert node.kubelet_version == "v1.29.3-eks-ae9a62a"
    assert node.minor_version == "1.29"
    assert node.allocatable == Resources(3920, 15246976 * 1024, 58)
    assert node.taints == (
        Taint("dedicated", TaintEffect.NO_SCHEDULE, "web"),
        Taint("node.kubernetes.io/unreachable", TaintEffect.NO_EXECUTE),
    )
    assert node.created_at == T0.timestamp()
    assert node.provider_id == "aws:///us-east-1a/i-0abc"


def test_node_without_status_is_not_ready() -> None:
    node = decode.node(V1Node(metadata=V1ObjectMeta(name="new")))
    assert not node.ready
    assert not node.unschedulable
    assert node.kubelet_version == ""
    assert node.allocatable == Resources()

    unknown = V1Node(
        metadata=V1ObjectMeta(name="gone"),
        status=V1NodeStatus(conditions=[V1NodeCondition(type="Ready", status="Unknown")]),
    )
    assert not decode.node(unknown).ready


def test_taint_encodes_as_a_node_patch_carries_it() -> None:
    assert encode.taint(Taint("k", TaintEffect.NO_SCHEDULE, "v")) == {
        "key": "k",
        "effect": "NoSchedule",
        "value": "v",
    }
    assert encode.taint(Taint("k", TaintEffect.NO_EXECUTE)) == {"key": "k", "effect": "NoExecute"}


# pods -------------------------------------------------------------------------------------------


def web_pod(**spec_changes: object) -> V1Pod:
    spec = {
        "containers": [container("app", "250m", "256Mi", readiness_probe=probe())],
        "node_name": "ip-10-0-1-5",
        **spec_changes,
    }
    return V1Pod(
        metadata=V1ObjectMeta(
            namespace="default",
            name="web-7d4b9c-x1x1x",
            uid="u-1",
            labels={"app": "web"},
            annotations={"note": "x"},
            owner_references=[
                owner_ref("Node", "ip-10-0-1-5", None),
                owner_ref("ReplicaSet", "web-7d4b9c", True),
            ],
            creation_timestamp=T0,
        ),
        spec=V1PodSpec(**spec),
        status=V1PodStatus(
            phase="Running",
            conditions=[
                V1PodCondition(type="PodScheduled", status="True"),
                V1PodCondition(type="Ready", status="True", last_transition_time=T1),
            ],
            container_statuses=[
                V1ContainerStatus(
                    name=name, image="i", image_id="i", ready=True, restart_count=count
                )
                for name, count in (("app", 2), ("sidecar", 1))
            ],
        ),
    )


def probe() -> V1Probe:
    return V1Probe(tcp_socket=V1TCPSocketAction(port=8080))


def test_pod() -> None:
    pod = decode.pod(web_pod())

    assert pod.key == "default/web-7d4b9c-x1x1x"
    assert pod.uid == "u-1"
    assert pod.labels == {"app": "web"}
    assert pod.annotations == {"note": "x"}
    assert pod.owner == OwnerRef("ReplicaSet", "web-7d4b9c", controller=True)
    assert pod.node_name == "ip-10-0-1-5"
    assert pod.phase is PodPhase.RUNNING
    assert pod.ready
    assert pod.ready_since == T1.timestamp()
    assert pod.startup_seconds == 42.0
    assert pod.deletion_timestamp is None
    assert pod.restart_count == 3
    assert pod.created_at == T0.timestamp()
    assert pod.spec.requests == Resources(250, 256 * MIB, 1)
    assert pod.spec.has_readiness_probe
    assert pod.spec.termination_grace_seconds == 30


def test_pod_owners_and_phases() -> None:
    source = web_pod()
    assert source.metadata is not None
    assert source.status is not None
    source.metadata.owner_references = [owner_ref("ReplicaSet", "rs", False)]
    source.metadata.deletion_timestamp = T1
    source.status.phase = "Unknown"
    source.status.conditions = None

    pod = decode.pod(source)

    assert pod.owner == OwnerRef("ReplicaSet", "rs", controller=False)
    assert pod.is_terminating
    assert pod.deletion_timestamp == T1.timestamp()
    assert pod.phase is PodPhase.PENDING
    assert not pod.ready
    assert pod.ready_since is None

    source.metadata.owner_references = None
    assert decode.pod(source).owner is None


def test_pod_requests_follow_the_scheduler() -> None:
    spec = V1PodSpec(
        containers=[container("app", "500m", "1Gi"), container("proxy", "100m", "128Mi")],
        init_containers=[
            container("migrate", "2", "512Mi"),
            container("log-agent", "50m", "64Mi", restart_policy="Always"),
            container("warm-cache", "100m", "3Gi"),
        ],
        overhead={"cpu": "10m", "memory": "1Mi"},
    )

    requests = decode.pod_requests(spec)

    # CPU: the lone "migrate" init container (2000m) beats app + proxy + sidecar (650m).
    # Memory: "warm-cache" runs beside the sidecar started before it: 3Gi + 64Mi.
    assert requests == Resources(2000 + 10, 3 * GIB + 64 * MIB + 1 * MIB, 1)


def test_pod_level_requests_replace_the_containers_sum() -> None:
    spec = V1PodSpec(
        containers=[container("app", "500m", "1Gi")],
        resources=V1ResourceRequirements(requests={"cpu": "2"}),
    )
    assert decode.pod_requests(spec) == Resources(2000, GIB, 1)


def test_pod_spec_scheduling_facts() -> None:
    spec = decode.pod_spec(
        V1PodSpec(
            containers=[container("app")],
            tolerations=[
                V1Toleration(operator="Exists"),
                V1Toleration(
                    key="node.kubernetes.io/not-ready",
                    operator="Exists",
                    effect="NoExecute",
                    toleration_seconds=300,
                ),
                V1Toleration(key="dedicated", value="web", effect="NoSchedule"),
            ],
            node_selector={"kubernetes.io/os": "linux"},
            affinity=V1Affinity(
                node_affinity=V1NodeAffinity(
                    required_during_scheduling_ignored_during_execution=V1NodeSelector(
                        node_selector_terms=[
                            V1NodeSelectorTerm(
                                match_expressions=[
                                    V1NodeSelectorRequirement(
                                        key="pool", operator="In", values=["a", "b"]
                                    ),
                                    V1NodeSelectorRequirement(key="spot", operator="DoesNotExist"),
                                ]
                            ),
                            V1NodeSelectorTerm(
                                match_fields=[
                                    V1NodeSelectorRequirement(
                                        key="metadata.name", operator="In", values=["n1"]
                                    )
                                ]
                            ),
                        ]
                    )
                )
            ),
            volumes=[
                V1Volume(name="scratch", empty_dir=V1EmptyDirVolumeSource()),
                V1Volume(name="logs", host_path=V1HostPathVolumeSource(path="/var/log")),
                V1Volume(
                    name="data",
                    persistent_volume_claim=V1PersistentVolumeClaimVolumeSource(claim_name="d-0"),
                ),
                V1Volume(name="conf", config_map=V1ConfigMapVolumeSource(name="c")),
            ],
            termination_grace_period_seconds=0,
            priority_class_name="system-node-critical",
        )
    )

    assert spec.tolerations == (
        Toleration(operator="Exists"),
        Toleration(
            key="node.kubernetes.io/not-ready",
            operator="Exists",
            effect=TaintEffect.NO_EXECUTE,
            toleration_seconds=300,
        ),
        Toleration(key="dedicated", value="web", effect=TaintEffect.NO_SCHEDULE),
    )
    assert spec.node_selector == {"kubernetes.io/os": "linux"}
    assert spec.node_affinity == NodeAffinity(
        terms=(
            (
                SelectorRequirement("pool", "In", ("a", "b")),
                SelectorRequirement("spot", "DoesNotExist"),
            ),
            (),
        )
    )
    assert spec.volumes == (
        Volume("scratch", empty_dir=True),
        Volume("logs", host_path=True),
        Volume("data", persistent_claim="d-0"),
        Volume("conf"),
    )
    assert spec.termination_grace_seconds == 0
    assert not spec.has_readiness_probe
    assert spec.priority_class == "system-node-critical"
    assert spec.requests == Resources(pods=1)


# disruption budgets -----------------------------------------------------------------------------


def test_pdb() -> None:
    pdb = decode.pod_disruption_budget(
        V1PodDisruptionBudget(
            metadata=V1ObjectMeta(namespace="default", name="web-pdb"),
            spec=V1PodDisruptionBudgetSpec(
                max_unavailable="25%",
                selector=V1LabelSelector(
                    match_labels={"app": "web"},
                    match_expressions=[
                        V1LabelSelectorRequirement(key="tier", operator="In", values=["fe"])
                    ],
                ),
                unhealthy_pod_eviction_policy="AlwaysAllow",
            ),
            status=V1PodDisruptionBudgetStatus(
                current_healthy=3, desired_healthy=2, disruptions_allowed=1, expected_pods=4
            ),
        )
    )

    assert pdb.key == "default/web-pdb"
    assert pdb.max_unavailable == "25%"
    assert pdb.min_available is None
    assert pdb.selector == LabelSelector(
        {"app": "web"}, (SelectorRequirement("tier", "In", ("fe",)),)
    )
    assert pdb.unhealthy_pod_eviction_policy == "AlwaysAllow"
    assert (pdb.current_healthy, pdb.desired_healthy) == (3, 2)
    assert (pdb.disruptions_allowed, pdb.expected_pods) == (1, 4)


def test_pdb_selectors_null_and_empty() -> None:
    null = decode.pod_disruption_budget(
        V1PodDisruptionBudget(
            metadata=V1ObjectMeta(namespace="a", name="none"),
            spec=V1PodDisruptionBudgetSpec(min_available=1),
        )
    )
    empty = decode.pod_disruption_budget(
        V1PodDisruptionBudget(
            metadata=V1ObjectMeta(namespace="a", name="all"),
            spec=V1PodDisruptionBudgetSpec(min_available=1, selector=V1LabelSelector()),
        )
    )

    assert not null.selector.matches({"app": "web"})
    assert not null.selector.matches({})
    assert empty.selector.matches({"app": "web"})
    assert null.min_available == 1
    assert null.unhealthy_pod_eviction_policy == "IfHealthyBudget"
    assert null.disruptions_allowed == 0


def test_pdb_names() -> None:
    assert pdb_names(
        "Cannot evict pod as it would violate the pod's disruption budget.",
        "The disruption budget web-pdb needs 1 healthy pods and has 1 currently",
        "The disruption budget web-pdb needs 1 healthy pods and has 1 currently",
        "The disruption budget api.v2 needs 2 healthy pods and has 2 currently",
    ) == ("web-pdb", "api.v2")


# workloads ------------------------------------------------------------------------------------


def template() -> V1PodTemplateSpec:
    return V1PodTemplateSpec(
        metadata=V1ObjectMeta(labels={"app": "web"}, annotations={"a": "1"}),
        spec=V1PodSpec(containers=[container("app", "1", "1Gi")]),
    )


SELECTOR = V1LabelSelector(match_labels={"app": "web"})


def test_deployment() -> None:
    workload = decode.deployment(
        V1Deployment(
            metadata=V1ObjectMeta(
                namespace="default", name="web", generation=4, labels={"team": "x"}
            ),
            spec=V1DeploymentSpec(selector=SELECTOR, template=template(), replicas=3),
            status=V1DeploymentStatus(
                ready_replicas=2, available_replicas=1, observed_generation=4
            ),
        )
    )

    assert workload.key == "Deployment/default/web"
    assert workload.kind is WorkloadKind.DEPLOYMENT
    assert workload.selector == LabelSelector({"app": "web"})
    assert workload.template.labels == {"app": "web"}
    assert workload.template.annotations == {"a": "1"}
    assert workload.template.spec.requests == Resources(1000, GIB, 1)
    assert (workload.replicas, workload.ready_replicas, workload.available_replicas) == (3, 2, 1)
    assert (workload.generation, workload.observed_generation) == (4, 4)
    assert workload.labels == {"team": "x"}


def test_workload_not_yet_observed() -> None:
    workload = decode.deployment(
        V1Deployment(
            metadata=V1ObjectMeta(namespace="default", name="web", generation=2),
            spec=V1DeploymentSpec(selector=SELECTOR, template=template()),
        )
    )
    assert workload.replicas == 1  # the API server's default
    assert workload.ready_replicas == 0
    assert workload.observed_generation < workload.generation


def test_stateful_set_replica_set_daemon_set_job() -> None:
    stateful = decode.stateful_set(
        V1StatefulSet(
            metadata=V1ObjectMeta(namespace="db", name="pg"),
            spec=V1StatefulSetSpec(selector=SELECTOR, template=template(), replicas=3),
            status=V1StatefulSetStatus(replicas=3, ready_replicas=3, available_replicas=3),
        )
    )
    replicas = decode.replica_set(
        V1ReplicaSet(
            metadata=V1ObjectMeta(
                namespace="default",
                name="web-7d4b9c",
                owner_references=[owner_ref("Deployment", "web", True)],
            ),
            spec=V1ReplicaSetSpec(selector=SELECTOR, template=template(), replicas=2),
        )
    )
    daemons = decode.daemon_set(
        V1DaemonSet(
            metadata=V1ObjectMeta(namespace="kube-system", name="node-agent"),
            spec=V1DaemonSetSpec(selector=SELECTOR, template=template()),
            status=V1DaemonSetStatus(
                current_number_scheduled=3,
                desired_number_scheduled=3,
                number_misscheduled=0,
                number_ready=2,
                number_available=2,
            ),
        )
    )
    job = decode.job(
        V1Job(
            metadata=V1ObjectMeta(
                namespace="batch",
                name="report-123",
                generation=1,
                owner_references=[owner_ref("CronJob", "report", True)],
            ),
            spec=V1JobSpec(template=template(), selector=SELECTOR, parallelism=4),
            status=V1JobStatus(ready=3, active=4),
        )
    )

    assert (stateful.kind, stateful.replicas, stateful.ready_replicas) == (
        WorkloadKind.STATEFUL_SET,
        3,
        3,
    )
    assert replicas.owner == OwnerRef("Deployment", "web")
    assert daemons.replicas is None
    assert (daemons.ready_replicas, daemons.available_replicas) == (2, 2)
    assert (job.kind, job.replicas, job.ready_replicas) == (WorkloadKind.JOB, 4, 3)
    assert job.owner == OwnerRef("CronJob", "report")
    assert job.observed_generation == job.generation


# services, leases, config maps ----------------------------------------------------------------


def test_service() -> None:
    service = decode.service(
        V1Service(
            metadata=V1ObjectMeta(namespace="default", name="web", annotations={"a": "b"}),
            spec=V1ServiceSpec(selector={"app": "web", "track": "stable"}, type="LoadBalancer"),
        )
    )
    assert service.selector == {"app": "web", "track": "stable"}
    assert service.type == "LoadBalancer"
    assert service.annotations == {"a": "b"}
    assert decode.service(V1Service(metadata=V1ObjectMeta(name="x"))).type == "ClusterIP"


def test_service_ports_and_cluster_ip() -> None:
    """targetPort defaults to the port (pkg/apis/core/v1/defaults.go SetDefaults_ServicePort)."""
    service = decode.service(
        V1Service(
            metadata=V1ObjectMeta(namespace="shop", name="edge"),
            spec=V1ServiceSpec(
                type="NodePort",
                cluster_ip="172.20.4.7",
                ports=[
                    V1ServicePort(name="http", port=80, target_port=8080, node_port=30080),
                    V1ServicePort(name="grpc", port=9000, target_port="grpc", protocol="UDP"),
                    V1ServicePort(name="plain", port=7000),
                ],
            ),
        )
    )
    assert service.cluster_ip == "172.20.4.7"
    assert service.ports == (
        ServicePort(80, "TCP", "8080", "http", 30080),
        ServicePort(9000, "UDP", "grpc", "grpc"),
        ServicePort(7000, "TCP", "7000", "plain"),
    )


def test_lease_round_trip() -> None:
    lease = Lease(
        namespace="kube-system",
        name="eksup-lock",
        holder="alice@laptop",
        acquired_at=T0.timestamp(),
        renewed_at=T1.timestamp(),
        duration_seconds=60,
        resource_version="17",
    )

    source = encode.lease(lease)

    assert source["metadata"]["resourceVersion"] == "17"
    assert source["spec"]["renewTime"] == "2026-01-01T00:00:42.000000Z"
    assert wire.lease(source) == lease
    unversioned = encode.lease(Lease("ns", "l", "me", 0.0, 0.0, 10))
    assert "resourceVersion" not in unversioned["metadata"]


def test_lease_without_spec() -> None:
    lease = decode.lease(V1Lease(metadata=V1ObjectMeta(namespace="ns", name="l")))
    assert (lease.holder, lease.renewed_at, lease.duration_seconds) == ("", 0.0, 0)


def test_config_map() -> None:
    value = decode.config_map(
        V1ConfigMap(
            metadata=V1ObjectMeta(namespace="kube-system", name="eksup", resource_version="5"),
            data={"state": "{}"},
        )
    )
    assert value == ConfigMap("kube-system", "eksup", {"state": "{}"}, "5")
    back = encode.config_map(value)
    assert back["data"] == {"state": "{}"}
    assert back["metadata"]["resourceVersion"] == "5"
    assert wire.config_map(back) == value


def test_pod_spec_topology_spread_constraints() -> None:
    from kubernetes.client import V1TopologySpreadConstraint

    from upgrader.core.kube import TopologySpread

    spec = decode.pod_spec(
        V1PodSpec(
            containers=[container("app")],
            topology_spread_constraints=[
                V1TopologySpreadConstraint(
                    max_skew=1,
                    topology_key="topology.kubernetes.io/zone",
                    when_unsatisfiable="DoNotSchedule",
                )
            ],
        )
    )
    assert spec.topology_spread == (
        TopologySpread("topology.kubernetes.io/zone", 1, "DoNotSchedule"),
    )


def test_ingress_backends_in_rule_order() -> None:
    from kubernetes.client import (
        V1HTTPIngressPath,
        V1HTTPIngressRuleValue,
        V1Ingress,
        V1IngressBackend,
        V1IngressRule,
        V1IngressServiceBackend,
        V1IngressSpec,
        V1ServiceBackendPort,
        V1TypedLocalObjectReference,
    )

    def backend(name: str, port: V1ServiceBackendPort) -> V1IngressBackend:
        return V1IngressBackend(service=V1IngressServiceBackend(name=name, port=port))

    ingress = decode.ingress(
        V1Ingress(
            metadata=V1ObjectMeta(
                namespace="shop", name="web", annotations={"a": "b"}, resource_version="4"
            ),
            spec=V1IngressSpec(
                ingress_class_name="alb",
                default_backend=backend("fallback", V1ServiceBackendPort(name="http")),
                rules=[
                    V1IngressRule(
                        host="shop.example.com",
                        http=V1HTTPIngressRuleValue(
                            paths=[
                                V1HTTPIngressPath(
                                    path="/",
                                    path_type="Prefix",
                                    backend=backend("web", V1ServiceBackendPort(number=80)),
                                ),
                                # A resource backend routes to no Service: left out.
                                V1HTTPIngressPath(
                                    path="/static",
                                    path_type="Prefix",
                                    backend=V1IngressBackend(
                                        resource=V1TypedLocalObjectReference(
                                            api_group="k8s.example.com", kind="Bucket", name="s"
                                        )
                                    ),
                                ),
                            ]
                        ),
                    ),
                    V1IngressRule(host="empty.example.com"),
                ],
            ),
        )
    )

    assert (ingress.key, ingress.annotations, ingress.ingress_class) == (
        "shop/web",
        {"a": "b"},
        "alb",
    )
    assert ingress.resource_version == "4"
    assert ingress.backends == (
        IngressBackend("fallback", "http"),
        IngressBackend("web", "80", "shop.example.com", "/"),
    )
    assert decode.ingress(V1Ingress(metadata=V1ObjectMeta(name="x"))).backends == ()


def test_horizontal_pod_autoscaler() -> None:
    from kubernetes.client import (
        V2CrossVersionObjectReference,
        V2HorizontalPodAutoscaler,
        V2HorizontalPodAutoscalerSpec,
        V2HorizontalPodAutoscalerStatus,
    )

    hpa = decode.horizontal_pod_autoscaler(
        V2HorizontalPodAutoscaler(
            metadata=V1ObjectMeta(namespace="shop", name="web"),
            spec=V2HorizontalPodAutoscalerSpec(
                scale_target_ref=V2CrossVersionObjectReference(kind="Deployment", name="web"),
                max_replicas=20,
            ),
            status=V2HorizontalPodAutoscalerStatus(current_replicas=6, desired_replicas=7),
        )
    )
    assert hpa == HorizontalPodAutoscaler("shop", "web", "Deployment", "web", 1, 20, 6, 7)
