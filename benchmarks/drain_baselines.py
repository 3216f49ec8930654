"""The drains eksup is measured against, as they behave, driven on the FakeCluster.

- `serial_drain`: `kubectl drain` in a loop over the blue nodes. Per node: cordon; evict every
  evictable pod (each retried every 5 s after a 429, kubectl's fixed delay); poll every second
  until the pods are gone; next node. It does not wait for replacements to be Ready.
- `parallel_drain`: `eksctl drain nodegroup --parallel 25`: every node cordoned first, then up
  to 25 nodes drained at once (a semaphore: a finished node frees its slot for the next), blind
  to PDBs, each refused eviction retried every 10 s.

Both skip what kubectl skips (DaemonSet and mirror pods, pods already terminating) with the same
rules as eksup (`upgrader.drain.rules`), so they differ from eksup only in scheduling.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from upgrader.core.errors import EvictionBlockedError, NotFoundError
from upgrader.core.kube import OwnerKind, Pod
from upgrader.drain.rules import DrainOptions, Verdict, decide
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

TICK_SECONDS = 1.0  # kubectl's wait-for-delete poll interval
KUBECTL_RETRY_SECONDS = 5.0
EKSCTL_RETRY_SECONDS = 10.0
EKSCTL_PARALLEL = 25
GIVE_UP_SECONDS = 24 * 3600.0  # a baseline stuck this long is a bug in the benchmark


def occupying(pod: Pod) -> bool:
    """The pod still keeps its node from being empty: not a DaemonSet pod, not finished."""
    daemon = pod.owner is not None and pod.owner.kind == OwnerKind.DAEMON_SET
    return not daemon and not pod.is_finished


@dataclass
class _NodeDrain:
    """One node being drained the kubectl way: each pod evicted, retried after a 429."""

    node: str
    retry_seconds: float
    next_try: dict[str, float] = field(default_factory=dict)  # pod key -> when to try again
    pods: dict[str, Pod] = field(default_factory=dict)

    def start(self, cluster: FakeCluster, now: float) -> None:
        options = DrainOptions()
        for pod in cluster.list_pods(node_name=self.node):
            if decide(pod, options).verdict is Verdict.EVICT:
                self.pods[pod.key] = pod
                self.next_try[pod.key] = now

    def step(self, cluster: FakeCluster, now: float) -> bool:
        """Issue the evictions due; True once the node holds no occupying pod."""
        for key, when in list(self.next_try.items()):
            if when > now:
                continue
            pod = self.pods[key]
            try:
                cluster.evict_pod(pod.namespace, pod.name)
            except NotFoundError:
                pass
            except EvictionBlockedError:
                self.next_try[key] = now + self.retry_seconds
                continue
            del self.next_try[key]
        if self.next_try:
            return False
        return not any(occupying(p) for p in cluster.list_pods(node_name=self.node))


def serial_drain(cluster: FakeCluster, clock: VirtualClock, nodes: list[str]) -> None:
    """(a) `for n in blue; do kubectl drain $n; done`."""
    deadline = clock.now() + GIVE_UP_SECONDS
    for node in nodes:
        cluster.set_unschedulable(node, True)
        drain = _NodeDrain(node, KUBECTL_RETRY_SECONDS)
        drain.start(cluster, clock.now())
        while not drain.step(cluster, clock.now()):
            if clock.now() > deadline:
                raise RuntimeError(f"serial drain stuck on {node}")
            clock.sleep(TICK_SECONDS)


def parallel_drain(
    cluster: FakeCluster,
    clock: VirtualClock,
    nodes: list[str],
    parallel: int = EKSCTL_PARALLEL,
    retry_seconds: float = EKSCTL_RETRY_SECONDS,
) -> None:
    """(b) eksctl's `--parallel N`: all cordoned, then N nodes at a time, blind to PDBs."""
    deadline = clock.now() + GIVE_UP_SECONDS
    for node in nodes:
        cluster.set_unschedulable(node, True)
    queue = list(nodes)
    active: list[_NodeDrain] = []
    while queue or active:
        while queue and len(active) < parallel:
            drain = _NodeDrain(queue.pop(0), retry_seconds)
            drain.start(cluster, clock.now())
            active.append(drain)
        active = [d for d in active if not d.step(cluster, clock.now())]
        if queue and len(active) < parallel:
            continue  # a slot freed: the next node starts at once
        if active:
            if clock.now() > deadline:
                raise RuntimeError(f"parallel drain stuck on {[d.node for d in active]}")
            clock.sleep(TICK_SECONDS)
