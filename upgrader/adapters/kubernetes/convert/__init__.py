"""Pure conversions between kubernetes-client models and eksup's `upgrader.core.kube` values.

Kept apart from the API calls so that every rule here (how a pod's requests add up, which owner
reference counts, what a null PDB selector means) is tested on real client model objects without
a server, and so that a client upgrade that renames a field breaks one package. One module per
concept (pods and nodes, workloads, networking, records); `convert.X` names each of them.
"""

from __future__ import annotations

from upgrader.adapters.kubernetes.convert.errors import pdb_names
from upgrader.adapters.kubernetes.convert.meta import epoch, from_epoch
from upgrader.adapters.kubernetes.convert.networking import ingress, service
from upgrader.adapters.kubernetes.convert.pods import (
    label_selector,
    node,
    node_affinity,
    owner,
    pod,
    pod_requests,
    pod_spec,
    taint,
    taint_to_wire,
    toleration,
    volume,
)
from upgrader.adapters.kubernetes.convert.records import (
    config_map,
    config_map_to_k8s,
    lease,
    lease_to_k8s,
)
from upgrader.adapters.kubernetes.convert.workloads import (
    daemon_set,
    deployment,
    horizontal_pod_autoscaler,
    job,
    pod_disruption_budget,
    pod_template,
    replica_set,
    stateful_set,
)

__all__ = [
    "config_map",
    "config_map_to_k8s",
    "daemon_set",
    "deployment",
    "epoch",
    "from_epoch",
    "horizontal_pod_autoscaler",
    "ingress",
    "job",
    "label_selector",
    "lease",
    "lease_to_k8s",
    "node",
    "node_affinity",
    "owner",
    "pdb_names",
    "pod",
    "pod_disruption_budget",
    "pod_requests",
    "pod_spec",
    "pod_template",
    "replica_set",
    "service",
    "stateful_set",
    "taint",
    "taint_to_wire",
    "toleration",
    "volume",
]
