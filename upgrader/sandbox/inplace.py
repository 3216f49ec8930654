"""An in-place managed node group update, played out node by node in the fake cluster.

Without this, the sandbox's `UpdateNodegroupVersion` only flips the group's version when its
time is up, and the nodes keep their old kubelet: the in-place strategy could not be tested
end to end. With it, the update does what EKS documents for a managed node group update:
- scale up: new nodes at the new version join, `maxUnavailable` at a time;
- upgrade: once they are Ready, the same number of old nodes are cordoned and their pods
  evicted through the Eviction API (so PodDisruptionBudgets hold; DaemonSet and mirror pods
  stay), retrying refused evictions; a node whose pods are gone is terminated;
- an eviction still refused after 15 minutes fails the update with PodEvictionFailure,
  as EKS does without `force`;
- when no old node is left the update is Successful, and the group's version moves with it.

Each round is an event on the virtual clock, so the update takes virtual time and advances
only while the code under test waits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from upgrader.core.errors import EvictionBlockedError, MultiplePdbsError, NotFoundError
from upgrader.drain.rules import DrainOptions, Verdict, decide_all
from upgrader.sandbox.cluster.node_groups import NodeTemplate
from upgrader.sandbox.eks.backend import eks_backend
from upgrader.sandbox.eks.models import FAILED, SUCCESSFUL
from upgrader.sandbox.eks.state import NodegroupFacts

if TYPE_CHECKING:
    from upgrader.sandbox.cluster.fake_cluster import FakeCluster
    from upgrader.sandbox.cluster.world_view import WorldView

ROUND_SECONDS = 5.0  # how often the simulated EKS workflow looks again
EVICTION_PATIENCE_SECONDS = 15 * 60.0  # EKS's limit before PodEvictionFailure
# EKS evicts everything but DaemonSet and mirror pods: bare pods and emptyDir data are lost.
_EVICT_ALL = DrainOptions(delete_emptydir_data=True, force=True)


@dataclass
class InPlaceUpdate:
    world: WorldView
    facts: NodegroupFacts
    update_id: str
    template: NodeTemplate
    batch: list[str] = field(default_factory=list)  # old nodes being replaced now
    new_nodes_wanted: int = 0
    batch_started: float = 0.0

    @property
    def _kube(self) -> FakeCluster:
        return self.world.kube(self.facts.cluster)

    def start(self) -> None:
        self.world.clock.call_later(ROUND_SECONDS, self._round)

    def _batch_size(self, old: int) -> int:
        if self.facts.max_unavailable_percentage is not None:
            size = self.facts.desired_size * self.facts.max_unavailable_percentage // 100
        else:
            size = self.facts.max_unavailable or 1
        return max(1, min(size, old))

    def _round(self) -> None:
        kube = self._kube
        group = kube.node_group_nodes(self.facts.name)
        nodes = {name: kube.get_node(name) for name in group}
        new_ready = sum(
            1
            for n in nodes.values()
            if n.kubelet_version == self.template.kubelet_version and n.ready
        )
        if not self.batch:
            old = [n for n in nodes.values() if n.kubelet_version != self.template.kubelet_version]
            if not old:
                self._finish(SUCCESSFUL)
                return
            self.batch = [n.name for n in sorted(old, key=lambda n: n.name)][
                : self._batch_size(len(old))
            ]
            self.new_nodes_wanted += len(self.batch)
            kube.scale_node_group(
                self.facts.name,
                len(group) + len(self.batch),
                self.template,
                self.facts.delay,  # the sandbox's node join time, for an update
            )
            self.batch_started = self.world.clock.now()
        elif new_ready >= self.new_nodes_wanted and self._drain_batch():
            for name in self.batch:
                kube.remove_node(name)
            self.batch = []
        if self.batch and self.world.clock.now() - self.batch_started > EVICTION_PATIENCE_SECONDS:
            self._finish(
                FAILED,
                "PodEvictionFailure",
                "Reached max retries while trying to evict pods from nodes in node group "
                f"{self.facts.name}",
            )
            return
        self.world.clock.call_later(ROUND_SECONDS, self._round)

    def _drain_batch(self) -> bool:
        """Cordon and evict; True once nothing but DaemonSet and mirror pods is left."""
        kube = self._kube
        empty = True
        for name in self.batch:
            if not kube.get_node(name).unschedulable:
                kube.set_unschedulable(name, True)
            for decision in decide_all(kube.list_pods(node_name=name), _EVICT_ALL):
                pod = decision.pod
                if decision.verdict is not Verdict.EVICT or pod.is_finished:
                    continue
                empty = False
                if pod.is_terminating:
                    continue
                try:
                    kube.evict_pod(pod.namespace, pod.name)
                except (EvictionBlockedError, NotFoundError):
                    pass
                except MultiplePdbsError:
                    pass  # EKS retries these too, until its patience runs out
        return empty

    def _finish(self, status: str, code: str = "", message: str = "") -> None:
        errors = [{"errorCode": code, "errorMessage": message, "resourceIds": []}] if code else []
        eks_backend(self.world.region).finish_update(
            self.facts.cluster, self.update_id, status, errors
        )


def start_in_place_update(
    world: WorldView, facts: NodegroupFacts, update_id: str, template: NodeTemplate
) -> bool:
    """The `nodegroup_version_updating` hook: take the update over (always)."""
    InPlaceUpdate(world, facts, update_id, template).start()
    return True
