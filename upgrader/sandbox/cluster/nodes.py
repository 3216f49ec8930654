"""Nodes in the fake cluster: port calls (cordon, taints, labels), joining and leaving, node groups,
and the taint manager's NoExecute evictions.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import replace

from upgrader.core.errors import ConflictError
from upgrader.core.kube import NODEGROUP_LABEL, Node, Pod, Taint, TaintEffect
from upgrader.core.label_selector import parse_label_selector
from upgrader.sandbox.cluster.controllers import DaemonSetController
from upgrader.sandbox.cluster.node_groups import NodeGroupState, NodeTemplate
from upgrader.sandbox.cluster.pods import Pods
from upgrader.sandbox.cluster.store import frozen

DEFAULT_JOIN_DELAY_SECONDS = 90.0  # launch, boot and kubelet registration of an EKS node


class Nodes(Pods):
    """Nodes and node groups; a node that goes takes its pods with it."""

    def list_nodes(self, label_selector: str | None = None) -> list[Node]:
        with self._api("list", "nodes"):
            selector = parse_label_selector(label_selector or "")
            return [
                node for name, node in sorted(self._nodes.items()) if selector.matches(node.labels)
            ]

    def get_node(self, name: str) -> Node:
        with self._api("get", "nodes", "", name):
            return self._node(name)

    def set_unschedulable(self, name: str, unschedulable: bool) -> Node:
        with self._api("patch", "nodes", "", name):
            return self._update_node(replace(self._node(name), unschedulable=unschedulable))

    def add_taint(self, name: str, taint: Taint) -> Node:
        with self._api("patch", "nodes", "", name):
            node = self._node(name)
            others = tuple(t for t in node.taints if (t.key, t.effect) != (taint.key, taint.effect))
            return self._update_node(replace(node, taints=(*others, taint)))

    def remove_taint(self, name: str, key: str, effect: TaintEffect) -> Node:
        with self._api("patch", "nodes", "", name):
            node = self._node(name)
            kept = tuple(t for t in node.taints if (t.key, t.effect) != (key, effect))
            return self._update_node(replace(node, taints=kept))

    def label_node(self, name: str, labels: Mapping[str, str | None]) -> Node:
        with self._api("patch", "nodes", "", name):
            node = self._node(name)
            merged = dict(node.labels)
            for key, value in labels.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            return self._update_node(replace(node, labels=frozen(merged)))

    def add_node(self, node: Node) -> Node:
        """A node joins, Ready; `created_at` defaults to now."""
        with self._locked():
            if node.name in self._nodes:
                raise ConflictError(f'nodes "{node.name}" already exists')
            created = node.created_at or self._clock.now()
            node = replace(node, labels=frozen(node.labels), created_at=created)
            self._join(node)
            return node

    def remove_node(self, name: str) -> None:
        """The node vanishes (instance terminated); the pods still on it are lost."""
        with self._locked():
            self._node(name)
            self._remove_node(name)

    def scale_node_group(
        self,
        name: str,
        desired: int,
        template: NodeTemplate | None = None,
        join_delay_seconds: float = DEFAULT_JOIN_DELAY_SECONDS,
    ) -> None:
        """Grow (nodes join after the delay) or shrink (oldest nodes go at once) a node group.

        The template, when given, applies to the nodes that join from now on."""
        with self._locked():
            group = self._node_groups.get(name)
            if group is None:
                group = NodeGroupState(template or NodeTemplate(), epoch=next(self._serial))
                self._node_groups[name] = group
            elif template is not None:
                group.template = template
            members = self._group_members(name)
            surplus = len(members) + group.joining - desired
            if surplus < 0:
                group.joining += -surplus
                callback = functools.partial(self._nodes_join, name, group.epoch, -surplus)
                self._at(self._clock.now() + join_delay_seconds, callback)
                return
            cancelled = min(surplus, group.joining)
            group.joining -= cancelled
            oldest = sorted(members, key=lambda n: (self._nodes[n].created_at, n))
            for node_name in oldest[: surplus - cancelled]:
                self._remove_node(node_name)

    def delete_node_group(self, name: str, delay_seconds: float = 0.0) -> None:
        """Every node of the group vanishes after the delay; nodes still joining never do."""
        with self._locked():
            group = self._node_groups.get(name)
            if group is not None:
                group.epoch = next(self._serial)
                group.joining = 0
            if delay_seconds <= 0:
                self._delete_group_now(name)
            else:
                self._at(
                    self._clock.now() + delay_seconds,
                    functools.partial(self._locked_call, self._delete_group_now, name),
                )

    def node_group_nodes(self, name: str) -> list[str]:
        """Names of the nodes labelled with the node group, joined so far."""
        with self._lock:
            return self._group_members(name)

    def _group_members(self, group: str) -> list[str]:
        return sorted(
            name for name, node in self._nodes.items() if node.labels.get(NODEGROUP_LABEL) == group
        )

    def _join(self, node: Node) -> None:
        self._nodes[node.name] = node
        self._scheduler.add_node(node)
        self._pods_by_node.setdefault(node.name, {})
        self._node_changed(node.name)

    def _update_node(self, node: Node) -> Node:
        self._nodes[node.name] = node
        self._scheduler.update_node(node)
        self._node_changed(node.name)
        self._enforce_no_execute(node)
        return node

    def _node_changed(self, name: str) -> None:
        view = self._view()
        for ctrl in list(self._controllers.values()):
            if isinstance(ctrl, DaemonSetController):
                self._apply(ctrl.node_changed(view, name))
        self._fit_errors.clear()  # a node event requeues unschedulable pods at once
        self._request_scheduling()

    def _remove_node(self, name: str) -> None:
        """The node is gone: its pods are force-deleted, and recorded as lost unless they were
        DaemonSet pods, mirror pods (the kubelet owns them; they live and die with their node),
        finished, or already terminating."""
        self._nodes.pop(name)
        self._scheduler.remove_node(name)
        keys = list(self._pods_by_node.pop(name, {}))
        keys += [key for key, node in self._pinned.items() if node == name]
        cause = f"node {name} removed"
        for key in keys:
            pod = self._pods.get(key)
            if pod is None:
                continue
            ctrl = self._owner_of(pod)
            lost = (
                not isinstance(ctrl, DaemonSetController)
                and not pod.is_mirror
                and not pod.is_finished
                and pod.deletion_timestamp is None
            )
            losing = self._losing_budgets(pod) if lost else []
            if lost:
                self._counters.lost_pods.append(key)
            self._remove(key)
            if lost:
                self._check_budgets(losing, pod, cause)
        self._node_changed(name)

    def _nodes_join(self, group_name: str, epoch: int, count: int) -> None:
        with self._locked():
            group = self._node_groups.get(group_name)
            if group is None or group.epoch != epoch:
                return
            joining = min(count, group.joining)
            group.joining -= joining
            for _ in range(joining):
                self._join(self._node_factory.make(group_name, group.template, self._clock.now()))

    def _delete_group_now(self, name: str) -> None:
        for node_name in self._group_members(name):
            self._remove_node(node_name)
        group = self._node_groups.get(name)
        if group is not None and group.joining == 0:
            del self._node_groups[name]

    def _enforce_no_execute(self, node: Node) -> None:
        """The taint manager: pods that do not tolerate a NoExecute taint are deleted (PDBs are
        not asked), at once or after their tolerationSeconds."""
        if not any(t.effect is TaintEffect.NO_EXECUTE for t in node.taints):
            return
        for key in list(self._pods_by_node.get(node.name, {})):
            pod = self._pods[key]
            if pod.deletion_timestamp is not None or pod.is_finished:
                continue
            delay = _no_execute_delay(pod, node.taints)
            if delay == 0:
                self._terminate(key, None, cause=f"NoExecute taint on {node.name}")
            elif delay is not None:
                self._after(delay, self._no_execute_due, key, pod.uid)

    def _no_execute_due(self, key: str, uid: str) -> None:
        pod = self._pods.get(key)
        if pod is None or pod.uid != uid or pod.deletion_timestamp is not None:
            return
        node = self._nodes.get(pod.node_name or "")
        if node is not None and _no_execute_delay(pod, node.taints) is not None:
            self._terminate(key, None, cause=f"NoExecute taint on {node.name}")


def _no_execute_delay(pod: Pod, taints: tuple[Taint, ...]) -> float | None:
    """How long the pod may stay under these NoExecute taints: 0 = evict now, None = forever
    (the taint manager's getMinTolerationTime over the tolerations in use)."""
    no_execute = [t for t in taints if t.effect is TaintEffect.NO_EXECUTE]
    used = set()
    for taint in no_execute:
        matching = [t for t in pod.spec.tolerations if t.tolerates(taint)]
        if not matching:
            return 0.0
        used.update(matching)
    seconds = [t.toleration_seconds for t in used if t.toleration_seconds is not None]
    if not seconds:
        return None
    return float(max(0, min(seconds)))
