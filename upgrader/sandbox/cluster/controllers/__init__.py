"""The fake cluster's workload controllers, as decisions: given the pods, what to create and delete.

A drain's pace is set by these loops: the ReplicaSet replaces an evicted pod at once under a new
name, the StatefulSet only once the old pod is gone and under the same name, a DaemonSet pod
belongs to one node, a Job runs to completion. Each controller here reads a `View` of the world
and returns `Changes`; `FakeCluster` applies them, so the rules read apart from the
book-keeping.

Simplifications, on purpose: StatefulSets behave as `podManagementPolicy: Parallel`, Deployments
use the default RollingUpdate (25% surge, 25% unavailable, no minReadySeconds), DaemonSets
RollingUpdate with maxUnavailable 1, Jobs run `parallelism = completions` pods and never fail.

One module per controller; `base` holds what they share. This package re-exports them.
"""

from __future__ import annotations

from upgrader.sandbox.cluster.controllers.base import (
    POD_TEMPLATE_HASH_LABEL,
    RESTARTED_AT_ANNOTATION,
    REVISION_LABEL,
    Changes,
    Controller,
    NewPod,
    PodEvent,
    View,
    is_active,
    restarted,
    template_hash,
)
from upgrader.sandbox.cluster.controllers.daemon_set import DAEMON_TOLERATIONS, DaemonSetController
from upgrader.sandbox.cluster.controllers.deployment import (
    MAX_SURGE,
    MAX_UNAVAILABLE,
    DeploymentController,
    ReplicaSetController,
)
from upgrader.sandbox.cluster.controllers.job import JobController
from upgrader.sandbox.cluster.controllers.stateful_set import StatefulSetController

__all__ = [
    "DAEMON_TOLERATIONS",
    "MAX_SURGE",
    "MAX_UNAVAILABLE",
    "POD_TEMPLATE_HASH_LABEL",
    "RESTARTED_AT_ANNOTATION",
    "REVISION_LABEL",
    "Changes",
    "Controller",
    "DaemonSetController",
    "DeploymentController",
    "JobController",
    "NewPod",
    "PodEvent",
    "ReplicaSetController",
    "StatefulSetController",
    "View",
    "is_active",
    "restarted",
    "template_hash",
]
