"""A fake cluster with room for pods, and a recorder of both Deployments over virtual time.

The recorder samples after every scale call and after every instant at which the virtual clock
fires events (pods starting, terminating pods going away), so no state the rollout passes
through is missed: the tests check the surge and unavailability bounds on every sample.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from strategies.spec import RolloutSpec
from tests.strategies.world import NAMESPACE, deployment
from upgrader.core.errors import ServiceUnavailableError
from upgrader.core.kube import NODEGROUP_LABEL, Node, PodTemplate, Resources, Workload, WorkloadKind
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

GI = 2**30


@dataclass(frozen=True)
class Sample:
    at: float
    stable_desired: int
    candidate_desired: int
    ready: int  # Ready pods of both Deployments
    running: int  # pods of both Deployments not terminating

    @property
    def desired(self) -> int:
        return self.stable_desired + self.candidate_desired


class RecordingClock(VirtualClock):
    """A VirtualClock that calls `observer` after each instant that fired events."""

    observer: Any = None

    def advance_to(self, when: float) -> None:
        while (at := self.next_event_at()) is not None and at <= when:
            super().advance_to(at)
            if self.observer is not None:
                self.observer()
        super().advance_to(when)


class RecordedCluster(FakeCluster):
    """FakeCluster sampling both Deployments after every scale call and clock event."""

    def __init__(self, clock: RecordingClock) -> None:
        super().__init__(clock)
        self.samples: list[Sample] = []
        self.recording = False
        clock.observer = self.sample

    def scale_workload(
        self, kind: WorkloadKind, namespace: str, name: str, replicas: int
    ) -> Workload:
        result = super().scale_workload(kind, namespace, name, replicas)
        self.sample()
        return result

    def sample(self) -> None:
        if not self.recording:
            return
        pods = [
            p
            for p in self.list_pods(NAMESPACE)
            if p.labels.get("app") in ("web-stable", "web-candidate")
        ]
        self.samples.append(
            Sample(
                at=self._clock.now(),
                stable_desired=self._desired("web-stable"),
                candidate_desired=self._desired("web-candidate"),
                ready=sum(1 for p in pods if p.ready),
                running=sum(1 for p in pods if p.deletion_timestamp is None),
            )
        )

    def _desired(self, name: str) -> int:
        return self.get_workload(WorkloadKind.DEPLOYMENT, NAMESPACE, name).replicas or 0


def with_room(kube: FakeCluster, nodes: int = 2) -> None:
    for index in range(nodes):
        kube.add_node(
            Node(
                name=f"node-{index}",
                labels={NODEGROUP_LABEL: "ng", "kubernetes.io/hostname": f"node-{index}"},
                kubelet_version="v1.30.4-eks-sandbox",
                allocatable=Resources(8000, 32 * GI, 110),
            )
        )


def unschedulable(name: str, replicas: int) -> Workload:
    """A Deployment whose pods ask for a node label no node has: they stay Pending."""
    base = deployment(name, replicas)
    template = PodTemplate(
        labels=base.template.labels,
        spec=replace(base.template.spec, node_selector={"pool": "nowhere"}),
    )
    return replace(base, template=template)


def compute_spec(strategy: dict[str, Any], **overrides: Any) -> RolloutSpec:
    document: dict[str, Any] = {
        "app": {
            "name": "web",
            "namespace": NAMESPACE,
            "stable": {"deployment": "web-stable"},
            "candidate": {"deployment": "web-candidate"},
        },
        "strategy": strategy,
        "deadlines": {"step_seconds": 300},
    }
    document.update(overrides)
    return RolloutSpec.model_validate(document)


class FakeProbe:
    """The HttpProbe port answering from a script: a status, or None for no answer."""

    def __init__(self, *answers: int | None) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, float]] = []

    def get_status(self, url: str, timeout_seconds: float) -> int:
        self.calls.append((url, timeout_seconds))
        answer = self.answers.pop(0)
        if answer is None:
            raise ServiceUnavailableError(f"GET {url}: no answer (Connection refused)")
        return answer
