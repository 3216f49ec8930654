"""Pods in the fake cluster: created, scheduled, started, finished, terminated, removed.

Controllers (`controllers`) decide which pods should exist; this layer makes them exist and
walks each through its lifecycle on the virtual clock, and tells the owner what happened so it
can react (replace a pod that went, move a rollout on once one is Ready).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from upgrader.core.errors import ConflictError, UserError
from upgrader.core.kube import Node, NodeAffinity, Pod, PodPhase, PodSpec, WorkloadKind
from upgrader.core.label_selector import parse_label_selector
from upgrader.sandbox.cluster.budgets import Budgets
from upgrader.sandbox.cluster.controllers import (
    Changes,
    Controller,
    JobController,
    NewPod,
    PodEvent,
)
from upgrader.sandbox.cluster.fit_error import fit_error, node_reasons
from upgrader.sandbox.cluster.node_groups import FARGATE_PROVISION_SECONDS, FargatePlacer
from upgrader.sandbox.cluster.store import evolve, frozen

# How often kube-scheduler retries a pod it found no node for, at most, when only pods come and
# go, and so rewrites its PodScheduled message: the back-off of a pod that keeps failing
# (podMaxBackoffSeconds, 10 s by default, pkg/scheduler/apis/config/v1/defaults.go). A node
# event rewrites it at the next pass, and the fake still binds a pod as soon as a node has room;
# only the message waits, which keeps a drain of a full cluster from recounting every node
# after every eviction.
UNSCHEDULABLE_RETRY_SECONDS = 10.0
# From binding to Ready, unless a workload or pod says otherwise.
DEFAULT_STARTUP_SECONDS = 5.0
# The kubelet's share of it: pod sandbox, image (cached on the node), containers started. A pod
# whose start-up delay is shorter starts its containers at the end of it.
CONTAINER_START_SECONDS = 2.0
DEFAULT_JOB_RUN_SECONDS = 60.0
_NO_ANNOTATIONS: Mapping[str, str] = MappingProxyType({})


class Pods(Budgets):
    """The pod lifecycle. Node changes it causes (a Fargate pod's own node) go through the
    node layer's `_join` and `_remove_node`."""

    def _join(self, node: Node) -> None:
        raise NotImplementedError  # `nodes.Nodes` answers

    def _remove_node(self, name: str) -> None:
        raise NotImplementedError  # `nodes.Nodes` answers

    def list_pods(
        self,
        namespace: str | None = None,
        node_name: str | None = None,
        label_selector: str | None = None,
    ) -> list[Pod]:
        with self._api("list", "pods", namespace or ""):
            selector = parse_label_selector(label_selector or "")
            keys: Mapping[str, object] = self._pods
            if node_name is not None:
                keys = self._pods_by_node.get(node_name, {})
            elif namespace is not None:
                keys = self._pods_by_namespace.get(namespace, {})
            found = [
                pod
                for pod in map(self._pods.__getitem__, keys)
                if (namespace is None or pod.namespace == namespace)
                and selector.matches(pod.labels)
            ]
            return sorted(found, key=lambda pod: (pod.namespace, pod.name))

    def get_pod(self, namespace: str, name: str) -> Pod:
        with self._api("get", "pods", namespace, name):
            return self._pod(namespace, name)

    def add_pod(
        self, pod: Pod, startup_seconds: float = DEFAULT_STARTUP_SECONDS, *, starts: bool = True
    ) -> Pod:
        """A pod no controller owns (even if `owner` says otherwise): never recreated. A pod
        with `node_name` is bound there directly, as a static or pre-bound pod would be.
        `starts=False`: its containers never start (an image that cannot be pulled, a volume
        that never mounts): once bound it stays Pending with spec.nodeName set, never Ready,
        as `kubectl get pods` shows ContainerCreating."""
        with self._locked():
            if pod.key in self._pods:
                raise ConflictError(f'pods "{pod.name}" already exists')
            target = pod.node_name
            pod = replace(
                pod,
                uid=pod.uid or self._new_uid(),
                labels=frozen(pod.labels),
                annotations=frozen(pod.annotations),
                node_name=None,
                phase=PodPhase.PENDING,
                ready=False,
                deletion_timestamp=None,
                created_at=self._clock.now(),
            )
            self._startup[pod.key] = startup_seconds
            if not starts:
                self._never_start.add(pod.key)
            self._insert(pod)
            if target is not None and target in self._nodes:
                self._bind(pod.key, target)
            return self._pods[pod.key]

    def finish_pod(self, namespace: str, name: str, phase: PodPhase = PodPhase.SUCCEEDED) -> None:
        """A running pod's containers exit for good (Succeeded or Failed), as a Job's do; its
        requests are released. For worlds with finished pods of any owner."""
        with self._locked():
            pod = self._pod(namespace, name)
            if pod.phase is not PodPhase.RUNNING or pod.deletion_timestamp is not None:
                raise UserError(f"pod {pod.key} is not running")
            if phase not in (PodPhase.SUCCEEDED, PodPhase.FAILED):
                raise UserError(f"a pod finishes as Succeeded or Failed, not {phase.value}")
            self._pods[pod.key] = evolve(pod, phase=phase, ready=False)
            if pod.node_name is not None:
                self._scheduler.release(pod.node_name, pod.spec.requests)
                self._request_scheduling()
            self._react(self._pods[pod.key], PodEvent.FINISHED)

    def set_pod_ready(self, namespace: str, name: str, ready: bool) -> None:
        """A running pod's readiness probe starts failing (False) or passing again (True)."""
        with self._locked():
            pod = self._pod(namespace, name)
            if pod.phase is not PodPhase.RUNNING or pod.deletion_timestamp is not None:
                raise UserError(f"pod {pod.key} is not running")
            self._pods[pod.key] = replace(pod, ready=ready)
            if ready:
                self._react(self._pods[pod.key], PodEvent.READY)

    def attach_fargate(self, placer: FargatePlacer) -> None:
        """Pods the placer gives a node run alone on it, as Fargate pods do; the node goes
        with its pod."""
        self._fargate = placer

    def _request_scheduling(self) -> None:
        if not self._pass_requested and self._unbound:
            self._pass_requested = True
            self._at(self._clock.now(), functools.partial(self._locked_call, self._schedule))

    def _insert(self, pod: Pod) -> None:
        key = pod.key
        self._pods[key] = pod
        self._pods_by_namespace.setdefault(pod.namespace, {})[key] = None
        self._label_group(pod).pods[key] = None
        self._unbound[key] = None
        if self._fargate is not None and key not in self._pinned:
            node = self._fargate.node_for(pod, self._version, self._clock.now())
            if node is not None:
                # Pinned to a node not there yet: the scheduler leaves it to the provisioning.
                self._pinned[key] = node.name
                self._fargate_nodes[key] = node
                self._after(FARGATE_PROVISION_SECONDS, self._fargate_arrived, key, pod.uid)
                return
        self._request_scheduling()

    def _fargate_arrived(self, key: str, uid: str) -> None:
        """The pod's micro-VM is up: its node joins and the fargate-scheduler binds the pod
        there (it ignores the node's own taint, which keeps every other pod away)."""
        pod = self._pods.get(key)
        node = self._fargate_nodes.get(key)
        if pod is None or pod.uid != uid or node is None or key not in self._unbound:
            return
        self._join(replace(node, created_at=self._clock.now()))
        self._bind(key, node.name)

    def _create(self, new: NewPod) -> None:
        ctrl = self._controllers[(WorkloadKind(new.owner.kind), new.namespace, new.owner.name)]
        name = new.name or self._generate_name(new.namespace, new.generate_name)
        pod = Pod(
            namespace=new.namespace,
            name=name,
            uid=self._new_uid(),
            labels=new.labels,
            annotations=new.annotations or _NO_ANNOTATIONS,
            owner=new.owner,
            spec=new.spec,
            created_at=self._clock.now(),
        )
        ctrl.adopt(pod.key, new)
        self._owners[pod.key] = ctrl
        if new.node is not None:
            self._pinned[pod.key] = new.node
        self._insert(pod)

    def _schedule(self) -> None:
        """One scheduling pass over the unbound pods, oldest first."""
        self._pass_requested = False
        # Within a pass room only shrinks, so a pod shape that found no node once won't later.
        hopeless: dict[tuple[object, str | None], str] = {}  # shape -> the scheduler's message
        written, self._fit_errors = self._fit_errors, {}
        now = self._clock.now()
        for key in list(self._unbound):
            pod = self._pods[key]
            pinned = self._pinned.get(key)
            spec = self._with_volume_affinity(pod) if self._volumes else pod.spec
            shape = (spec, pinned)
            message = hopeless.get(shape)
            if message is None:
                if pinned is None:
                    target = self._scheduler.choose(spec)
                else:
                    target = pinned if self._scheduler.fits(spec, pinned) else None
                if target is not None:
                    self._bind(key, target)
                    continue
                last = written.get(shape)
                if last is None or now - last[0] >= UNSCHEDULABLE_RETRY_SECONDS:
                    last = (now, self._fit_error(pod, spec, pinned))
                self._fit_errors[shape] = last
                message = hopeless[shape] = last[1]
            if pod.unschedulable != message and key not in self._fargate_nodes:
                # PodScheduled=False, reason Unschedulable (a Fargate pod waits for its own
                # node from the fargate-scheduler, which writes no such condition meanwhile)
                self._pods[key] = evolve(pod, unschedulable=message)

    def _fit_error(self, pod: Pod, spec: PodSpec, pinned: str | None) -> str:
        """kube-scheduler's message for a pod no node takes (see `fit_error`)."""
        return fit_error(
            node_reasons(spec, pod.spec, node, free, pinned)
            for node, free in self._scheduler.rooms()
        )

    def _never_starts(self, ctrl: Controller, namespace: str) -> bool:
        """Whether `ctrl`'s pods never start: it, or the Deployment that owns it (a ReplicaSet
        makes a Deployment's pods), was added with `starts=False`."""
        if not self._never_start_workloads:
            return False
        if (ctrl.kind, namespace, ctrl.name) in self._never_start_workloads:
            return True
        owner = ctrl.owner
        return owner is not None and (
            (WorkloadKind.DEPLOYMENT, namespace, owner.name) in self._never_start_workloads
        )

    def _with_volume_affinity(self, pod: Pod) -> PodSpec:
        """The pod's spec with its bound PersistentVolumes' node affinity ANDed into its own:
        the scheduler's VolumeBinding filter refuses nodes a bound volume cannot reach (an EBS
        volume's zone; pkg/scheduler/framework/plugins/volumebinding, checkBoundClaims)."""
        affinity = pod.spec.node_affinity
        for volume in pod.spec.volumes:
            if not volume.persistent_claim:
                continue
            claim = f"{pod.namespace}/{volume.persistent_claim}"
            pv = next((v for v in self._volumes.values() if v.claim == claim), None)
            if pv is None or pv.phase != "Bound" or not pv.node_affinity.terms:
                continue
            mine = affinity.terms or ((),)
            affinity = NodeAffinity(
                tuple(a + b for a in mine for b in pv.node_affinity.terms)  # (A or B) and (C or D)
            )
        if affinity is pod.spec.node_affinity:
            return pod.spec
        return replace(pod.spec, node_affinity=affinity)

    def _bind(self, key: str, node_name: str) -> None:
        pod = self._pods[key]
        self._scheduler.reserve(node_name, pod.spec.requests)
        ctrl = self._owner_of(pod)
        # Bound, a pod stays Pending while the kubelet creates its sandbox and starts its
        # containers (kubectl shows ContainerCreating); one that never starts stays so.
        self._pods[key] = evolve(pod, node_name=node_name, unschedulable=None)
        self._pods_by_node.setdefault(node_name, {})[key] = None
        del self._unbound[key]
        self._pinned.pop(key, None)
        stuck = key in self._never_start or (
            ctrl is not None and self._never_starts(ctrl, pod.namespace)
        )
        if stuck:
            return
        # The start-up delay runs from binding to Ready; the containers start within it.
        startup = ctrl.startup_seconds if ctrl is not None else self._startup[key]
        self._after(min(CONTAINER_START_SECONDS, startup), self._on_running, key, pod.uid)
        self._after(startup, self._on_started, key, pod.uid)

    def _on_running(self, key: str, uid: str) -> None:
        """The kubelet started the containers: phase Running, not Ready until readiness."""
        pod = self._pods.get(key)
        if pod is None or pod.uid != uid or pod.deletion_timestamp is not None:
            return
        self._pods[key] = evolve(pod, phase=PodPhase.RUNNING, started_at=self._clock.now())

    def _on_started(self, key: str, uid: str) -> None:
        """The readiness probe passed: Ready."""
        pod = self._pods.get(key)
        if pod is None or pod.uid != uid or pod.phase is not PodPhase.RUNNING:
            return
        if pod.deletion_timestamp is not None:
            return
        # ready_since is what a real pod's Ready condition says (lastTransitionTime): the drain
        # reads start-up times from it to evict the slowest-starting pods first.
        pod = self._pods[key] = evolve(pod, ready=True, ready_since=self._clock.now())
        ctrl = self._owner_of(pod)
        if isinstance(ctrl, JobController):
            run = DEFAULT_JOB_RUN_SECONDS if ctrl.run_seconds is None else ctrl.run_seconds
            self._after(run, self._on_finished, key, uid)
        self._react(pod, PodEvent.READY)

    def _on_finished(self, key: str, uid: str) -> None:
        pod = self._pods.get(key)
        if pod is None or pod.uid != uid or pod.deletion_timestamp is not None:
            return
        pod = self._pods[key] = evolve(pod, phase=PodPhase.SUCCEEDED, ready=False)
        if pod.node_name is not None:
            self._scheduler.release(pod.node_name, pod.spec.requests)
            self._request_scheduling()
        self._react(pod, PodEvent.FINISHED)

    def _terminate(self, key: str, grace_seconds: int | None, cause: str | None) -> None:
        """Delete a pod gracefully: listed as terminating until its grace period is over.
        `cause` marks a voluntary disruption, checked against the PDBs."""
        pod = self._pods[key]
        now = self._clock.now()
        grace = pod.spec.termination_grace_seconds if grace_seconds is None else grace_seconds
        if pod.deletion_timestamp is not None:
            # A second delete can shorten the grace period, never extend it.
            if now + grace < self._gone_at[key]:
                self._gone_at[key] = now + grace
                self._after(grace, self._on_grace_over, key, pod.uid)
            return
        losing = self._losing_budgets(pod) if cause is not None else []
        if pod.node_name is None or pod.is_finished or grace <= 0:
            self._remove(key)  # no kubelet has to stop anything
        else:
            pod = self._pods[key] = evolve(pod, deletion_timestamp=now, ready=False)
            self._gone_at[key] = now + grace
            self._after(grace, self._on_grace_over, key, pod.uid)
            self._react(pod, PodEvent.TERMINATING)
        if cause is not None:
            self._check_budgets(losing, pod, cause)

    def _on_grace_over(self, key: str, uid: str) -> None:
        pod = self._pods.get(key)
        if pod is not None and pod.uid == uid and self._gone_at[key] <= self._clock.now():
            self._remove(key)

    def _remove(self, key: str) -> Pod:
        """The pod object disappears; its controller may replace it."""
        pod = self._pods.pop(key)
        self._pods_by_namespace[pod.namespace].pop(key, None)
        self._unbound.pop(key, None)
        self._pinned.pop(key, None)
        self._gone_at.pop(key, None)
        self._startup.pop(key, None)
        groups = self._label_groups[pod.namespace]
        group = groups[id(pod.labels)]
        del group.pods[key]
        if not group.pods:
            del groups[id(pod.labels)]
            for budget in group.budgets:
                del budget.groups[id(group)]
        if pod.node_name is not None:
            self._pods_by_node.get(pod.node_name, {}).pop(key, None)
            if not pod.is_finished:
                self._scheduler.release(pod.node_name, pod.spec.requests)
                self._request_scheduling()
        fargate = self._fargate_nodes.pop(key, None)
        if fargate is not None and fargate.name in self._nodes:
            self._remove_node(fargate.name)  # a Fargate node lives and dies with its pod
        ctrl = self._owners.pop(key, None)
        if ctrl is not None:
            ctrl.release(key)
            self._apply(ctrl.react(self._view(), pod, PodEvent.GONE))
        return pod

    def _react(self, pod: Pod, event: PodEvent) -> None:
        ctrl = self._owner_of(pod)
        if ctrl is not None:
            self._apply(ctrl.react(self._view(), pod, event))

    def _apply(self, changes: Changes) -> None:
        for ctrl in changes.new_controllers:
            ctrl.created_at = ctrl.created_at or self._stamp()
            self._controllers[ctrl.key] = ctrl
        for new in changes.create:
            self._create(new)
        for key in changes.delete:
            pod = self._pods.get(key)
            if pod is not None and pod.deletion_timestamp is None:
                self._terminate(key, None, cause=None)
