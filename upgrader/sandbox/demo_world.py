"""The demo cluster: a small but realistic EKS 1.29 cluster that `eksup demo` upgrades.

Two managed node groups (one labelled and tainted for batch work), about a dozen nodes and
eighty pods: Deployments with PDBs of several tightnesses, a StatefulSet, DaemonSets, a Job, a
Cluster Autoscaler, and one bare pod, so every interesting rule of an upgrade shows up once.
"""

from __future__ import annotations

from dataclasses import dataclass

from upgrader.core.kube import (
    LabelSelector,
    Pod,
    PodDisruptionBudget,
    PodSpec,
    PodTemplate,
    Resources,
    TaintEffect,
    Toleration,
    Volume,
    Workload,
    WorkloadKind,
)
from upgrader.sandbox.world import Sandbox

MIB = 2**20
DEMO_CLUSTER = "demo"
DEMO_VERSION = "1.29"
BATCH_TOLERATION = Toleration("dedicated", "Equal", "batch", TaintEffect.NO_SCHEDULE)
# Node agents (aws-node, kube-proxy) tolerate every taint, as their EKS manifests do.
TOLERATE_ALL = Toleration(operator="Exists")


@dataclass(frozen=True)
class App:
    kind: WorkloadKind
    namespace: str
    name: str
    replicas: int | None
    cpu_millis: int
    memory_mib: int
    startup_seconds: float
    grace_seconds: int = 30
    batch: bool = False
    empty_dir: bool = False
    readiness_probe: bool = True
    pdb_min_available: int | str | None = None
    pdb_max_unavailable: int | str | None = None


APPS = [
    # kube-system
    App(WorkloadKind.DAEMON_SET, "kube-system", "aws-node", None, 25, 64, 5),
    App(WorkloadKind.DAEMON_SET, "kube-system", "kube-proxy", None, 100, 64, 3),
    App(WorkloadKind.DEPLOYMENT, "kube-system", "coredns", 2, 100, 70, 5, pdb_max_unavailable=1),
    App(WorkloadKind.DEPLOYMENT, "kube-system", "ebs-csi-controller", 2, 50, 128, 10),
    App(WorkloadKind.DEPLOYMENT, "kube-system", "cluster-autoscaler", 1, 100, 300, 10),
    # the shop: the busy part of the cluster
    App(WorkloadKind.DEPLOYMENT, "shop", "web", 12, 250, 256, 15, pdb_min_available="80%"),
    App(WorkloadKind.DEPLOYMENT, "shop", "api", 8, 500, 512, 30, pdb_max_unavailable="25%"),
    App(WorkloadKind.DEPLOYMENT, "shop", "cart", 6, 250, 256, 20, pdb_max_unavailable=2),
    App(WorkloadKind.DEPLOYMENT, "shop", "checkout", 4, 500, 512, 45, pdb_min_available=3),
    App(WorkloadKind.DEPLOYMENT, "shop", "search", 4, 500, 1024, 60, empty_dir=True),
    # payments: a tight budget and a StatefulSet
    App(
        WorkloadKind.DEPLOYMENT,
        "payments",
        "payments-api",
        3,
        500,
        512,
        40,
        60,
        pdb_min_available=2,
    ),
    App(
        WorkloadKind.STATEFUL_SET, "payments", "ledger", 3, 500, 1024, 90, 60, pdb_max_unavailable=1
    ),
    # reporting: one replica and no readiness probe (the plan warns)
    App(
        WorkloadKind.DEPLOYMENT,
        "reporting",
        "report-builder",
        1,
        250,
        512,
        20,
        readiness_probe=False,
    ),
    # batch work on its own tainted node group
    App(WorkloadKind.DEPLOYMENT, "batch", "worker", 6, 1000, 1024, 25, 120, batch=True),
    App(WorkloadKind.JOB, "batch", "nightly-etl", 2, 500, 512, 5, batch=True),
]


def _agent_tolerations(app: App) -> tuple[Toleration, ...]:
    return (TOLERATE_ALL,) if app.kind is WorkloadKind.DAEMON_SET else ()


def _workload(app: App) -> Workload:
    labels = {"app": app.name}
    spec = PodSpec(
        requests=Resources(app.cpu_millis, app.memory_mib * MIB, 1),
        tolerations=(BATCH_TOLERATION,) if app.batch else _agent_tolerations(app),
        node_selector={"workload": "batch"} if app.batch else {},
        volumes=(Volume("scratch", empty_dir=True),) if app.empty_dir else (),
        termination_grace_seconds=app.grace_seconds,
        has_readiness_probe=app.readiness_probe,
    )
    return Workload(
        kind=app.kind,
        namespace=app.namespace,
        name=app.name,
        selector=LabelSelector(labels),
        template=PodTemplate(labels=labels, spec=spec),
        replicas=app.replicas,
        labels=labels,
    )


def build_demo_world(world: Sandbox) -> None:
    """Create the demo cluster in `world` and let it settle (nodes Ready, pods Running)."""
    subnets = world.create_network()
    world.create_cluster(DEMO_CLUSTER, DEMO_VERSION, subnets)
    world.install_addons(
        DEMO_CLUSTER, DEMO_VERSION, ("vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver")
    )
    world.create_nodegroup(
        DEMO_CLUSTER,
        "general",
        instance_type_name="m5.xlarge",
        size=8,
        subnets=subnets,
        labels={"workload": "general"},
    )
    world.create_nodegroup(
        DEMO_CLUSTER,
        "batch",
        instance_type_name="c5.xlarge",
        size=4,
        subnets=subnets,
        labels={"workload": "batch"},
        taints=[{"key": "dedicated", "value": "batch", "effect": "NO_SCHEDULE"}],
    )
    world.settle(300)  # the node groups become ACTIVE and their nodes join
    kube = world.kube(DEMO_CLUSTER)
    for app in APPS:
        kube.add_workload(_workload(app), startup_seconds=app.startup_seconds)
        if app.pdb_min_available is not None or app.pdb_max_unavailable is not None:
            kube.add_pdb(
                PodDisruptionBudget(
                    namespace=app.namespace,
                    name=f"{app.name}-pdb",
                    selector=LabelSelector({"app": app.name}),
                    min_available=app.pdb_min_available,
                    max_unavailable=app.pdb_max_unavailable,
                )
            )
    kube.add_pod(
        Pod(
            namespace="default",
            name="debug-shell",
            uid="debug-shell",
            labels={"run": "debug-shell"},
            owner=None,
            spec=PodSpec(requests=Resources(100, 64 * MIB, 1)),
        )
    )
    world.settle(300)


def add_shop_candidate(world: Sandbox) -> None:
    """The shop's `web-candidate` Deployment (what a canary releases), Ready: the one copy for
    the demo's canary and the examples' world."""
    labels = {"app": "web", "track": "candidate"}
    world.kube(DEMO_CLUSTER).add_workload(
        Workload(
            WorkloadKind.DEPLOYMENT,
            "shop",
            "web-candidate",
            LabelSelector(labels),
            PodTemplate(labels=labels, spec=PodSpec(Resources(250, 256 * MIB, 1))),
            replicas=3,
        ),
        startup_seconds=15,
    )
    world.settle(120)
