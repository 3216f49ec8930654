"""eksup's `upgrader.core.kube` values as the Kubernetes API's JSON: the reverse of
`upgrader.adapters.kubernetes.wire`.

The sandbox API server answers the official Python client and kubectl with these documents, so
every shape here is what those clients parse (see /work/shared/notes/kubectl_wire.md): every
object and list carries `kind` and `apiVersion`; a pod has at least one named container; an owner
reference has apiVersion, kind, name, uid and `controller: true` (kubectl drain counts only
controller references); node info and PDB status carry every field the client's models require.
Pure functions of the values and the virtual time, so they are tested without a server.
"""

from __future__ import annotations

import hashlib
import re
import uuid
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from upgrader.adapters.kubernetes.encode import (
    label_selector,
    micro_timestamp,
    pod_spec,
    pod_template,
    requirement,
    taint,
    timestamp,
)
from upgrader.core.kube import (
    MATCH_NOTHING,
    ConfigMap,
    Lease,
    Node,
    OwnerRef,
    PersistentVolume,
    Pod,
    PodDisruptionBudget,
    PodPhase,
    Service,
    Workload,
    WorkloadKind,
)

Json = dict[str, Any]

_UID_NAMESPACE = uuid.UUID("7d5b0f3e-6a43-4c1b-9a4e-2f3c7a9e1b00")
# apiVersion and plural of each owner/workload kind
_KINDS: dict[str, tuple[str, str]] = {
    "Deployment": ("apps/v1", "deployments"),
    "ReplicaSet": ("apps/v1", "replicasets"),
    "StatefulSet": ("apps/v1", "statefulsets"),
    "DaemonSet": ("apps/v1", "daemonsets"),
    "Job": ("batch/v1", "jobs"),
    "CronJob": ("batch/v1", "cronjobs"),
}
WORKLOAD_RESOURCES: dict[str, WorkloadKind] = {
    "deployments": WorkloadKind.DEPLOYMENT,
    "replicasets": WorkloadKind.REPLICA_SET,
    "statefulsets": WorkloadKind.STATEFUL_SET,
    "daemonsets": WorkloadKind.DAEMON_SET,
    "jobs": WorkloadKind.JOB,
}


# uids and versions --------------------------------------------------------------------------------


def uid_for(*parts: str) -> str:
    """A stable uid for objects the domain gives none (nodes, workloads, PDBs)."""
    return str(uuid.uuid5(_UID_NAMESPACE, "/".join(parts)))


def version_of(value: object) -> str:
    """A resourceVersion for a value the fake does not version: it changes when the value does."""
    return str(zlib.crc32(repr(value).encode()))


def metadata(
    name: str,
    namespace: str | None,
    *,
    uid: str,
    created_at: float,
    resource_version: str,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Json:
    meta: Json = {
        "name": name,
        "uid": uid,
        "resourceVersion": resource_version,
        "creationTimestamp": timestamp(created_at),
    }
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def owner_references(owner: OwnerRef | None, namespace: str) -> list[Json]:
    if owner is None:
        return []
    api_version, _ = _KINDS.get(owner.kind, ("v1", ""))
    ref: Json = {
        "apiVersion": api_version,
        "kind": owner.kind,
        "name": owner.name,
        "uid": uid_for(owner.kind, namespace, owner.name),
    }
    if owner.controller:
        ref["controller"] = True
        ref["blockOwnerDeletion"] = True
    return [ref]


# pods -------------------------------------------------------------------------------------------


def pod(value: Pod) -> Json:
    meta = metadata(
        value.name,
        value.namespace,
        uid=value.uid,
        created_at=value.created_at,
        resource_version=version_of(value),
        labels=value.labels,
        annotations=value.annotations,
    )
    refs = owner_references(value.owner, value.namespace)
    if refs:
        meta["ownerReferences"] = refs
    if value.deletion_timestamp is not None:
        meta["deletionTimestamp"] = timestamp(value.deletion_timestamp)
        meta["deletionGracePeriodSeconds"] = value.spec.termination_grace_seconds
    status: Json = {"phase": value.phase.value, "conditions": pod_conditions(value)}
    if value.node_name:
        status["hostIP"] = node_ip(value.node_name)
        status["podIP"] = pod_ip(value)
        status["containerStatuses"] = [
            {
                "name": "main",
                "image": "public.ecr.aws/sandbox/app:1",
                "imageID": "",
                "ready": value.ready,
                "restartCount": value.restart_count,
                "started": value.phase is PodPhase.RUNNING,
                "state": container_state(value),
            }
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": pod_spec(value.spec, value.node_name),
        "status": status,
    }


def pod_conditions(value: Pod) -> list[Json]:
    """What kube-scheduler and the kubelet write: before binding only PodScheduled (False,
    reason Unschedulable, with the scheduler's message, once an attempt failed;
    pkg/scheduler/schedule_one.go); once bound, the kubelet's conditions too
    (pkg/kubelet/status/generate.go; the Pod Lifecycle page of the Kubernetes docs)."""
    if not value.node_name:
        if value.unschedulable is None:
            return []
        return [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": value.unschedulable,
                "lastTransitionTime": timestamp(value.created_at),
            }
        ]
    ready = "True" if value.ready else "False"
    since = value.ready_since if value.ready_since is not None else value.created_at
    started = "True" if value.started_at is not None else "False"
    return [
        {"type": "PodReadyToStartContainers", "status": started},
        {"type": "Initialized", "status": "True"},
        {"type": "Ready", "status": ready, "lastTransitionTime": timestamp(since)},
        {"type": "ContainersReady", "status": ready, "lastTransitionTime": timestamp(since)},
        {"type": "PodScheduled", "status": "True"},
    ]


def container_state(value: Pod) -> Json:
    """The container's state as the kubelet reports it: waiting ContainerCreating until it
    starts (kubectl prints that reason as the pod's STATUS), then running, then terminated."""
    if value.phase is PodPhase.SUCCEEDED:
        return {"terminated": {"exitCode": 0, "reason": "Completed"}}
    if value.phase is PodPhase.FAILED:
        return {"terminated": {"exitCode": 1, "reason": "Error"}}
    if value.phase is PodPhase.RUNNING:
        started = value.started_at if value.started_at is not None else value.created_at
        return {"running": {"startedAt": timestamp(started)}}
    return {"waiting": {"reason": "ContainerCreating"}}


def persistent_volume(value: PersistentVolume, created_at: float) -> Json:
    """A bound PV as the PV controller leaves it: claimRef, the required node affinity the
    provisioner wrote (an EBS volume's zone), the CSI driver."""
    spec: Json = {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "10Gi"}}
    if value.claim:
        namespace, name = value.claim.split("/", 1)
        spec["claimRef"] = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "namespace": namespace,
            "name": name,
        }
    if value.driver:
        spec["csi"] = {"driver": value.driver, "volumeHandle": f"vol-{uid_for(value.name)[:17]}"}
    if value.node_affinity.terms:
        spec["nodeAffinity"] = {
            "required": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [requirement(r.key, r.operator, r.values) for r in term]}
                    for term in value.node_affinity.terms
                ]
            }
        }
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": metadata(
            value.name,
            None,
            uid=uid_for("pv", value.name),
            created_at=created_at,
            resource_version=version_of(value),
        ),
        "spec": spec,
        "status": {"phase": value.phase},
    }


# nodes ------------------------------------------------------------------------------------------


def node(value: Node) -> Json:
    meta = metadata(
        value.name,
        None,
        uid=uid_for("Node", value.name),
        created_at=value.created_at,
        resource_version=version_of(value),
        labels=value.labels,
    )
    spec: Json = {}
    if value.provider_id:
        spec["providerID"] = value.provider_id
    if value.unschedulable:
        spec["unschedulable"] = True
    if value.taints:
        spec["taints"] = [taint(t) for t in value.taints]
    allocatable = {
        "cpu": f"{value.allocatable.cpu_millis}m",
        "memory": str(value.allocatable.memory_bytes),
        "pods": str(value.allocatable.pods),
    }
    stamp = timestamp(value.created_at)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta,
        "spec": spec,
        "status": {
            "capacity": allocatable,
            "allocatable": allocatable,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if value.ready else "False",
                    "reason": "KubeletReady" if value.ready else "KubeletNotReady",
                    "message": "kubelet is posting ready status" if value.ready else "",
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": stamp,
                }
            ],
            "addresses": [
                {"type": "InternalIP", "address": node_ip(value.name)},
                {"type": "Hostname", "address": value.name},
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": uid_for("boot", value.name),
                "containerRuntimeVersion": "containerd://1.7.11",
                "kernelVersion": "5.10.210-201.852.amzn2.x86_64",
                "kubeProxyVersion": value.kubelet_version,
                "kubeletVersion": value.kubelet_version,
                "machineID": uid_for("machine", value.name).replace("-", ""),
                "operatingSystem": "linux",
                "osImage": "Amazon Linux 2",
                "systemUUID": uid_for("system", value.name),
            },
        },
    }


def node_ip(name: str) -> str:
    """The node's InternalIP: what its EC2-style name says (ip-10-0-100-7... is 10.0.100.7), or
    a stable address derived from the name."""
    match = re.match(r"(?:fargate-)?ip-(\d+)-(\d+)-(\d+)-(\d+)", name)
    if match:
        return ".".join(match.groups())
    digest = hashlib.sha256(name.encode()).digest()
    return f"10.0.{digest[0]}.{digest[1] % 254 + 1}"


def pod_ip(value: Pod) -> str:
    """A pod's IP, stable for its uid: the VPC CNI gives pods addresses of the VPC."""
    digest = hashlib.sha256(f"{value.namespace}/{value.name}/{value.uid}".encode()).digest()
    return f"10.{64 + digest[0] % 64}.{digest[1]}.{digest[2] % 254 + 1}"


# workloads, budgets, services -------------------------------------------------------------------


def workload(value: Workload, created_at: float) -> Json:
    api_version, _ = _KINDS[value.kind.value]
    meta = metadata(
        value.name,
        value.namespace,
        uid=uid_for(value.kind.value, value.namespace, value.name),
        created_at=value.created_at or created_at,
        resource_version=version_of(value),
        labels=value.labels,
        annotations=value.annotations,
    )
    meta["generation"] = value.generation
    refs = owner_references(value.owner, value.namespace)
    if refs:
        meta["ownerReferences"] = refs
    spec: Json = {
        "selector": label_selector(value.selector) or {},
        "template": pod_template(value.template),
    }
    status: Json = {"observedGeneration": value.observed_generation}
    if value.kind is WorkloadKind.DAEMON_SET:
        status.update(
            currentNumberScheduled=value.ready_replicas,
            desiredNumberScheduled=value.ready_replicas,
            numberMisscheduled=0,
            numberReady=value.ready_replicas,
            numberAvailable=value.available_replicas,
            updatedNumberScheduled=value.ready_replicas,
        )
    elif value.kind is WorkloadKind.JOB:
        spec["parallelism"] = value.replicas
        status = {"ready": value.ready_replicas, "active": value.ready_replicas}
    else:
        spec["replicas"] = value.replicas
        status.update(
            replicas=value.replicas,
            readyReplicas=value.ready_replicas,
            availableReplicas=value.available_replicas,
            updatedReplicas=value.replicas,
        )
        if value.kind is WorkloadKind.STATEFUL_SET:
            # `kubectl rollout status sts` needs RollingUpdate and the revisions (kubectl's
            # StatefulSetStatusViewer); the fake rolls pods in place, one revision at a time.
            spec["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
            spec["podManagementPolicy"] = "OrderedReady"
            revision = f"{value.name}-{uid_for(value.name, str(value.generation))[:10]}"
            status.update(
                currentReplicas=value.ready_replicas,
                currentRevision=revision,
                updateRevision=revision,
            )
        elif value.kind is WorkloadKind.DEPLOYMENT:
            spec["strategy"] = {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            }
    return {
        "apiVersion": api_version,
        "kind": value.kind.value,
        "metadata": meta,
        "spec": spec,
        "status": status,
    }


def pod_disruption_budget(value: PodDisruptionBudget, created_at: float) -> Json:
    spec: Json = {
        # policy/v1: null selects no pod, `{}` every pod; the two must not be confused.
        "selector": None if value.selector == MATCH_NOTHING else label_selector(value.selector),
        "unhealthyPodEvictionPolicy": value.unhealthy_pod_eviction_policy,
    }
    if value.min_available is not None:
        spec["minAvailable"] = value.min_available
    if value.max_unavailable is not None:
        spec["maxUnavailable"] = value.max_unavailable
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(
            value.name,
            value.namespace,
            uid=uid_for("PodDisruptionBudget", value.namespace, value.name),
            created_at=value.created_at or created_at,
            resource_version=version_of(value),
        ),
        "spec": spec,
        "status": {
            "currentHealthy": value.current_healthy,
            "desiredHealthy": value.desired_healthy,
            "disruptionsAllowed": value.disruptions_allowed,
            "expectedPods": value.expected_pods,
            "observedGeneration": 1,
        },
    }


def service(value: Service, created_at: float) -> Json:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(
            value.name,
            value.namespace,
            uid=uid_for("Service", value.namespace, value.name),
            created_at=value.created_at or created_at,
            resource_version=version_of(value),
            annotations=value.annotations,
        ),
        "spec": {"selector": dict(value.selector), "type": value.type},
        "status": {},
    }


# leases and config maps -------------------------------------------------------------------------


def lease(value: Lease) -> Json:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata(
            value.name,
            value.namespace,
            uid=uid_for("Lease", value.namespace, value.name),
            created_at=value.acquired_at,
            resource_version=value.resource_version,
        ),
        "spec": {
            "holderIdentity": value.holder,
            "acquireTime": micro_timestamp(value.acquired_at),
            "renewTime": micro_timestamp(value.renewed_at),
            "leaseDurationSeconds": value.duration_seconds,
        },
    }


def config_map(value: ConfigMap, created_at: float) -> Json:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(
            value.name,
            value.namespace,
            uid=uid_for("ConfigMap", value.namespace, value.name),
            created_at=value.created_at or created_at,
            resource_version=value.resource_version,
        ),
        "data": dict(value.data),
    }


# lists and statuses -----------------------------------------------------------------------------


def object_list(kind: str, api_version: str, items: Iterable[Json], cont: str = "") -> Json:
    meta: Json = {"resourceVersion": "1"}
    if cont:
        meta["continue"] = cont
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "items": list(items)}


def status(code: int, reason: str, message: str, details: Json | None = None) -> Json:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason,
        "details": details or {},
        "code": code,
    }
