"""A small EKS world to upgrade, and hand-made plans that upgrade it: the engine's tests
(`tests/execute/worlds.py`) and the execute benchmark (`benchmarks/execute_waits.py`) run on it.

The world is the demo's shape (`demo_world`) at a smaller size: two managed node groups (one
labelled and tainted for batch work), Deployments with PDBs of several tightnesses, a
StatefulSet, a DaemonSet and Cluster Autoscaler, at any version, and without a VPC unless asked:
moto does not check subnet ids, and skipping EC2 saves most of a second. The plans are the
planner's shape made by hand, so a test or a benchmark names exactly the steps it runs.
"""

from __future__ import annotations

from typing import Any

from upgrader.core.kube import (
    LabelSelector,
    PodDisruptionBudget,
    PodSpec,
    PodTemplate,
    Resources,
    TaintEffect,
    Toleration,
    Workload,
    WorkloadKind,
)
from upgrader.plan.document import Plan, Step, StepKind, Verdict
from upgrader.sandbox.world import Sandbox

CLUSTER = "prod"
MIB = 2**20
SUBNETS = ["subnet-0a", "subnet-0b", "subnet-0c"]
BATCH = Toleration("dedicated", "Equal", "batch", TaintEffect.NO_SCHEDULE)
EVERYTHING = Toleration(operator="Exists")


def app_workload(
    kind: WorkloadKind,
    namespace: str,
    name: str,
    replicas: int | None,
    *,
    cpu: int = 250,
    batch: bool = False,
    grace: int = 30,
) -> Workload:
    """An app of the world: 256 MiB and `cpu` millicores a pod; a batch app tolerates and
    selects the batch node group; a DaemonSet tolerates everything, as node agents do."""
    labels = {"app": name}
    tolerations: tuple[Toleration, ...] = ()
    if batch:
        tolerations = (BATCH,)
    elif kind is WorkloadKind.DAEMON_SET:
        tolerations = (EVERYTHING,)
    spec = PodSpec(
        requests=Resources(cpu, 256 * MIB, 1),
        tolerations=tolerations,
        node_selector={"workload": "batch"} if batch else {},
        termination_grace_seconds=grace,
    )
    return Workload(
        kind=kind,
        namespace=namespace,
        name=name,
        selector=LabelSelector(labels),
        template=PodTemplate(labels=labels, spec=spec),
        replicas=replicas,
        labels=labels,
    )


def build_upgrade_world(
    world: Sandbox,
    version: str = "1.28",
    *,
    general: int = 3,
    batch: int = 2,
    autoscaler: bool = True,
    network: bool = False,
) -> None:
    """Create cluster `prod` at `version` in `world` and let it settle (nodes Ready, pods
    Running). `network`: real subnets in moto's EC2, for discovery (which describes them)."""
    subnets = world.create_network() if network else SUBNETS
    world.create_cluster(CLUSTER, version, subnets)
    world.install_addons(CLUSTER, version, ("vpc-cni", "coredns", "kube-proxy"))
    world.create_nodegroup(
        CLUSTER,
        "general",
        instance_type_name="m5.xlarge",
        size=general,
        subnets=subnets,
        labels={"workload": "general"},
        tags={"team": "platform"},
    )
    if batch:
        world.create_nodegroup(
            CLUSTER,
            "batch",
            instance_type_name="c5.xlarge",
            size=batch,
            subnets=subnets,
            labels={"workload": "batch"},
            taints=[{"key": "dedicated", "value": "batch", "effect": "NO_SCHEDULE"}],
        )
    world.settle(300)
    kube = world.kube(CLUSTER)
    apps: list[tuple[Workload, float, dict[str, Any] | None]] = [
        (app_workload(WorkloadKind.DAEMON_SET, "kube-system", "aws-node", None, cpu=25), 5, None),
        (
            app_workload(WorkloadKind.DEPLOYMENT, "kube-system", "coredns", 2, cpu=100),
            5,
            {"max_unavailable": 1},
        ),
        (app_workload(WorkloadKind.DEPLOYMENT, "shop", "web", 6), 15, {"min_available": "80%"}),
        (
            app_workload(WorkloadKind.DEPLOYMENT, "shop", "api", 4, cpu=500),
            30,
            {"max_unavailable": 1},
        ),
        (
            app_workload(WorkloadKind.STATEFUL_SET, "payments", "ledger", 3, grace=60),
            40,
            {"max_unavailable": 1},
        ),
    ]
    if autoscaler:
        apps.append(
            (
                app_workload(WorkloadKind.DEPLOYMENT, "kube-system", "cluster-autoscaler", 1),
                10,
                None,
            )
        )
    if batch:
        apps.append(
            (app_workload(WorkloadKind.DEPLOYMENT, "batch", "worker", 3, batch=True), 20, None)
        )
    for workload, startup, pdb in apps:
        kube.add_workload(workload, startup_seconds=startup)
        if pdb is not None:
            kube.add_pdb(
                PodDisruptionBudget(
                    namespace=workload.namespace,
                    name=f"{workload.name}-pdb",
                    selector=workload.selector,
                    **pdb,
                )
            )
    world.settle(300)


# -- plans ---------------------------------------------------------------------------------------


def step(kind: StepKind, step_id: str, hop: str | None = None, **params: Any) -> Step:
    """A step of cluster `prod`; `params` are read as its kind's typed params, as a plan
    file's are."""
    return Step.model_validate(
        {
            "id": step_id,
            "kind": kind,
            "target": f"cluster/{CLUSTER}",
            "title": step_id,
            "description": f"{kind.value} {step_id}",
            "hop": hop,
            "params": params,
            "mutating": kind not in (StepKind.PREFLIGHT, StepKind.APPROVAL, StepKind.VERIFY),
        }
    )


def control_plane(version: str, from_version: str) -> Step:
    return step(
        StepKind.CONTROL_PLANE,
        f"control-plane-{version}",
        version,
        version=version,
        from_version=from_version,
    )


def addons(version: str) -> Step:
    return step(StepKind.ADDONS, f"addons-{version}", version, version=version)


def blue_green(blue: str, green: str, version: str, **params: Any) -> Step:
    return step(
        StepKind.NODEGROUP_BLUE_GREEN,
        f"nodegroup-{blue}-{version}",
        version,
        nodegroup=blue,
        green_nodegroup=green,
        version=version,
        **params,
    )


def in_place(group: str, version: str) -> Step:
    return step(
        StepKind.NODEGROUP_IN_PLACE,
        f"nodegroup-{group}-{version}",
        version,
        nodegroup=group,
        version=version,
    )


def hand_plan(steps: list[Step], current: str = "1.28", target: str = "1.30") -> Plan:
    return Plan(
        eksup_version="test",
        created_at="2026-01-01T00:00:00Z",
        cluster=CLUSTER,
        region="us-east-1",
        current_version=current,
        target_version=target,
        node_strategy="blue-green",
        runbook="eks-upgrade-blue-green",
        fingerprint="sha256:hand-made",
        verdict=Verdict.READY,
        hops=[],
        node_replacements=0,
        steps=steps,
    )


def full_plan(groups: tuple[str, ...] = ("batch", "general")) -> Plan:
    """1.28 -> 1.30 by hand, the planner's shape: CA paused, each hop's control plane, add-ons
    and node groups, CA restored, verify."""
    steps = [step(StepKind.PAUSE_AUTOSCALER, "pause-autoscaler")]
    names = {g: g for g in groups}
    for hop, previous in (("1.29", "1.28"), ("1.30", "1.29")):
        steps += [control_plane(hop, previous), addons(hop)]
        for group in groups:
            green = f"{group}-{hop.replace('.', '-')}"
            steps.append(blue_green(names[group], green, hop))
            names[group] = green
    steps += [
        step(StepKind.RESUME_AUTOSCALER, "resume-autoscaler"),
        step(StepKind.VERIFY, "verify", version="1.30"),
    ]
    return hand_plan(steps)
