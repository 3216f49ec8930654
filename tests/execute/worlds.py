"""Small sandbox worlds, hand-made plans and fault-injecting wrappers for the engine tests.

The worlds are the demo's shape at a smaller size (two managed node groups, Deployments with
PDBs of several tightnesses, a StatefulSet, a DaemonSet, Cluster Autoscaler), at any version,
and without a VPC: moto does not check subnet ids, and skipping EC2 saves most of a second.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from upgrader.core.kube import (
    LabelSelector,
    Pod,
    PodDisruptionBudget,
    PodSpec,
    PodTemplate,
    Resources,
    TaintEffect,
    Toleration,
    Workload,
    WorkloadKind,
)
from upgrader.execute.engine import ExecuteOptions, Ports, RunResult, execute
from upgrader.execute.reporter import PlainReporter
from upgrader.plan.document import Plan, Step, StepKind, Verdict
from upgrader.sandbox.world import Sandbox

CLUSTER = "prod"
MIB = 2**20
SUBNETS = ["subnet-0a", "subnet-0b", "subnet-0c"]
BATCH = Toleration("dedicated", "Equal", "batch", TaintEffect.NO_SCHEDULE)
EVERYTHING = Toleration(operator="Exists")


class Crash(BaseException):
    """An injected crash. A BaseException, so the engine's `except Exception` does not see it:
    like a SIGKILL, it leaves the journal without an end for the step it interrupts."""


def _app(
    kind: WorkloadKind,
    namespace: str,
    name: str,
    replicas: int | None,
    *,
    cpu: int = 250,
    batch: bool = False,
    grace: int = 30,
) -> Workload:
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


def build_world(
    world: Sandbox,
    version: str = "1.28",
    *,
    general: int = 3,
    batch: int = 2,
    autoscaler: bool = True,
    network: bool = False,
) -> None:
    """`network`: real subnets in moto's EC2, for discovery (which describes them)."""
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
        (_app(WorkloadKind.DAEMON_SET, "kube-system", "aws-node", None, cpu=25), 5, None),
        (
            _app(WorkloadKind.DEPLOYMENT, "kube-system", "coredns", 2, cpu=100),
            5,
            {"max_unavailable": 1},
        ),
        (_app(WorkloadKind.DEPLOYMENT, "shop", "web", 6), 15, {"min_available": "80%"}),
        (_app(WorkloadKind.DEPLOYMENT, "shop", "api", 4, cpu=500), 30, {"max_unavailable": 1}),
        (
            _app(WorkloadKind.STATEFUL_SET, "payments", "ledger", 3, grace=60),
            40,
            {"max_unavailable": 1},
        ),
    ]
    if autoscaler:
        apps.append(
            (_app(WorkloadKind.DEPLOYMENT, "kube-system", "cluster-autoscaler", 1), 10, None)
        )
    if batch:
        apps.append((_app(WorkloadKind.DEPLOYMENT, "batch", "worker", 3, batch=True), 20, None))
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


def add_bare_pod(world: Sandbox, name: str = "debug") -> Pod:
    return world.kube(CLUSTER).add_pod(
        Pod(
            namespace="default",
            name=name,
            uid=name,
            labels={"run": name},
            spec=PodSpec(requests=Resources(100, 64 * MIB, 1)),
        )
    )


def ready_workloads(world: Sandbox) -> set[str]:
    return {
        f"{w.kind.value}/{w.namespace}/{w.name}"
        for w in world.kube(CLUSTER).list_workloads()
        if w.kind in (WorkloadKind.DEPLOYMENT, WorkloadKind.STATEFUL_SET)
        and w.replicas
        and w.ready_replicas >= w.replicas
    }


# -- plans ---------------------------------------------------------------------------------------


def step(kind: StepKind, step_id: str, hop: str | None = None, **params: Any) -> Step:
    return Step(
        id=step_id,
        kind=kind,
        target=f"cluster/{CLUSTER}",
        title=step_id,
        description=f"{kind.value} {step_id}",
        hop=hop,
        params=params,
        mutating=kind not in (StepKind.PREFLIGHT, StepKind.APPROVAL, StepKind.VERIFY),
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


# -- running -------------------------------------------------------------------------------------


@dataclass
class Runner:
    """Runs plans on one world, collecting what the reporter said."""

    world: Sandbox
    tmp_path: Path
    out: io.StringIO = field(default_factory=io.StringIO)
    questions: list[str] = field(default_factory=list)
    answer: bool = True

    @property
    def journal_path(self) -> Path:
        return self.tmp_path / "plan.journal.jsonl"

    def ports(self, **overrides: Any) -> Ports:
        base: dict[str, Any] = {
            "cluster": self.world.kube(CLUSTER),
            "control_plane": self.world.aws,
            "compute": self.world.aws,
            "clock": self.world.clock,
        }
        base.update(overrides)
        return Ports(**base)

    def confirm(self, question: str) -> bool:
        self.questions.append(question)
        return self.answer

    def run(
        self,
        plan: Plan,
        *,
        ports: Ports | None = None,
        reporter: Any = None,
        should_stop: Callable[[], bool] = lambda: False,
        **options: Any,
    ) -> RunResult:
        settings: dict[str, Any] = {"yes": True, "skip_fingerprint": True}
        settings.update(options)
        return execute(
            plan,
            ports or self.ports(),
            journal_path=self.journal_path,
            options=ExecuteOptions(**settings),
            reporter=reporter or PlainReporter(self.out, self.world.clock),
            confirm=self.confirm,
            should_stop=should_stop,
        )


# -- fault injection -----------------------------------------------------------------------------


class Delegate:
    """Passes every call to `inner` unless a subclass says otherwise."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


_MUTATING = (
    "update_cluster_version",
    "create_nodegroup",
    "delete_nodegroup",
    "update_nodegroup_version",
    "update_addon",
    "update_nodegroup_scaling",
)


class CountingControlPlane(Delegate):
    """Counts the mutating calls that reached AWS, across every run that uses it; `crash_after`
    raises Crash right after the n-th call of a method returned (the journal has not heard)."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.calls: Counter[str] = Counter()
        self.crash_after: dict[str, int] = {}
        self.fail_reads: dict[str, list[BaseException]] = {}

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if name in _MUTATING:

            def call(*args: Any, **kwargs: Any) -> Any:
                result = target(*args, **kwargs)
                self.calls[name] += 1
                if self.crash_after.get(name) == self.calls[name]:
                    raise Crash(f"crash after {name} #{self.calls[name]}")
                return result

            return call
        if self.fail_reads.get(name):

            def failing(*args: Any, **kwargs: Any) -> Any:
                errors = self.fail_reads[name]
                if errors:
                    raise errors.pop(0)
                return target(*args, **kwargs)

            return failing
        return target


class CrashingReporter(PlainReporter):
    """Crashes at chosen moments: ("started", step) before the journal hears of the step,
    ("finished", step) after it recorded the end, ("action", text) after the journal recorded
    a change and before it is made."""

    def __init__(self, runner: Runner, at: tuple[str, str]) -> None:
        super().__init__(runner.out, runner.world.clock)
        self.at = at
        self.fired = False

    def _maybe(self, event: str, subject: str) -> None:
        kind, text = self.at
        if not self.fired and kind == event and text in subject:
            self.fired = True
            raise Crash(f"crash at {event} {subject}")

    def step_started(self, step: Step, index: int, total: int) -> None:
        super().step_started(step, index, total)
        self._maybe("started", step.id)

    def step_finished(self, step: Step, detail: str, seconds: float) -> None:
        super().step_finished(step, detail, seconds)
        self._maybe("finished", step.id)

    def action(self, description: str, *, dry_run: bool) -> None:
        super().action(description, dry_run=dry_run)
        self._maybe("action", description)
