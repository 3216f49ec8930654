"""eksup's `upgrader.core.kube` values as the Kubernetes API's JSON: the reverse of
`upgrader.adapters.kubernetes.convert`.

The sandbox API server answers the official Python client and kubectl with these documents, so
every shape here is what those clients parse (see /work/shared/notes/kubectl_wire.md): every
object and list carries `kind` and `apiVersion`; a pod has at least one named container; an owner
reference has apiVersion, kind, name, uid and `controller: true` (kubectl drain counts only
controller references); node info and PDB status carry every field the client's models require.
Pure functions of the values and the virtual time, so they are tested without a server.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import uuid
import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from upgrader.core.kube import (
    MATCH_NOTHING,
    ConfigMap,
    HelmRelease,
    LabelSelector,
    Lease,
    Node,
    OwnerRef,
    PersistentVolume,
    Pod,
    PodDisruptionBudget,
    PodPhase,
    PodSpec,
    PodTemplate,
    Service,
    Taint,
    TaintEffect,
    TopologySpread,
    Workload,
    WorkloadKind,
)

Json = dict[str, Any]

HELM_RELEASE_TYPE = "helm.sh/release.v1"
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


# scalars ----------------------------------------------------------------------------------------


def timestamp(seconds: float) -> str:
    """RFC 3339 in UTC with a Z, as the API server writes metav1.Time."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_timestamp(seconds: float) -> str:
    """metav1.MicroTime (Lease acquire and renew times)."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str | None) -> float:
    """RFC 3339 with a Z or an offset ("+00:00", as the Python client sends it back)."""
    if not text:
        return 0.0
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def uid_for(*parts: str) -> str:
    """A stable uid for objects the domain gives none (nodes, workloads, PDBs)."""
    return str(uuid.uuid5(_UID_NAMESPACE, "/".join(parts)))


def version_of(value: object) -> str:
    """A resourceVersion for a value the fake does not version: it changes when the value does."""
    return str(zlib.crc32(repr(value).encode()))


def age(seconds: float) -> str:
    """kubectl's short human duration: 45s, 5m12s, 3h, 12d."""
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    if s < 600:
        return f"{s // 60}m{s % 60}s" if s % 60 else f"{s // 60}m"
    if s < 3 * 3600:
        return f"{s // 60}m"
    if s < 48 * 3600:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def _metadata(
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


# selectors and taints ---------------------------------------------------------------------------


def label_selector(selector: LabelSelector) -> Json | None:
    """None for the fake's match-nothing selector (policy/v1's null selector)."""
    if any(r.key == "" and r.operator == "In" and not r.values for r in selector.match_expressions):
        return None
    wire: Json = {}
    if selector.match_labels:
        wire["matchLabels"] = dict(selector.match_labels)
    if selector.match_expressions:
        wire["matchExpressions"] = [
            {
                "key": r.key,
                "operator": r.operator,
                **({"values": list(r.values)} if r.values else {}),
            }
            for r in selector.match_expressions
        ]
    return wire


def _requirement(key: str, operator: str, values: tuple[str, ...]) -> Json:
    wire: Json = {"key": key, "operator": operator}
    if values:
        wire["values"] = list(values)
    return wire


def taint(value: Taint) -> Json:
    wire: Json = {"key": value.key, "effect": value.effect.value}
    if value.value:
        wire["value"] = value.value
    return wire


def parse_taint(wire: Mapping[str, Any]) -> Taint:
    return Taint(
        key=str(wire["key"]), effect=TaintEffect(wire["effect"]), value=str(wire.get("value") or "")
    )


# pods -------------------------------------------------------------------------------------------


def pod_spec(spec: PodSpec, node_name: str | None = None) -> Json:
    requests: Json = {}
    if spec.requests.cpu_millis:
        requests["cpu"] = f"{spec.requests.cpu_millis}m"
    if spec.requests.memory_bytes:
        requests["memory"] = str(spec.requests.memory_bytes)
    container: Json = {"name": "main", "image": "public.ecr.aws/sandbox/app:1"}
    if requests:
        container["resources"] = {"requests": requests}
    if spec.has_readiness_probe:
        container["readinessProbe"] = {"tcpSocket": {"port": 8080}}
    wire: Json = {
        "containers": [container],
        "terminationGracePeriodSeconds": spec.termination_grace_seconds,
    }
    if node_name:
        wire["nodeName"] = node_name
    if spec.node_selector:
        wire["nodeSelector"] = dict(spec.node_selector)
    if spec.tolerations:
        wire["tolerations"] = [
            {
                k: v
                for k, v in (
                    ("key", t.key or None),
                    ("operator", t.operator),
                    ("value", t.value or None),
                    ("effect", t.effect.value if t.effect else None),
                    ("tolerationSeconds", t.toleration_seconds),
                )
                if v is not None
            }
            for t in spec.tolerations
        ]
    if spec.node_affinity.terms:
        wire["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": r.key, "operator": r.operator, "values": list(r.values)}
                                for r in term
                            ]
                        }
                        for term in spec.node_affinity.terms
                    ]
                }
            }
        }
    if spec.volumes:
        volumes = []
        for v in spec.volumes:
            entry: Json = {"name": v.name}
            if v.empty_dir:
                entry["emptyDir"] = {}
            elif v.host_path:
                entry["hostPath"] = {"path": f"/var/lib/{v.name}"}
            elif v.persistent_claim:
                entry["persistentVolumeClaim"] = {"claimName": v.persistent_claim}
            else:
                entry["configMap"] = {"name": v.name}
            volumes.append(entry)
        wire["volumes"] = volumes
    if spec.priority_class:
        wire["priorityClassName"] = spec.priority_class
    if spec.topology_spread:
        wire["topologySpreadConstraints"] = [topology_spread(c) for c in spec.topology_spread]
    return wire


def topology_spread(value: TopologySpread) -> Json:
    wire: Json = {
        "topologyKey": value.topology_key,
        "maxSkew": value.max_skew,
        "whenUnsatisfiable": value.when_unsatisfiable,
    }
    if value.label_selector is not None:
        wire["labelSelector"] = label_selector(value.label_selector) or {}
    if value.min_domains != 1:
        wire["minDomains"] = value.min_domains
    if value.node_affinity_policy != "Honor":
        wire["nodeAffinityPolicy"] = value.node_affinity_policy
    if value.node_taints_policy != "Ignore":
        wire["nodeTaintsPolicy"] = value.node_taints_policy
    if value.match_label_keys:
        wire["matchLabelKeys"] = list(value.match_label_keys)
    return wire


def pod(value: Pod) -> Json:
    meta = _metadata(
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
                    {"matchExpressions": [_requirement(r.key, r.operator, r.values) for r in term]}
                    for term in value.node_affinity.terms
                ]
            }
        }
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": _metadata(
            value.name,
            None,
            uid=uid_for("pv", value.name),
            created_at=created_at,
            resource_version=version_of(value),
        ),
        "spec": spec,
        "status": {"phase": value.phase},
    }


def pod_status_text(value: Pod) -> str:
    """kubectl's STATUS column."""
    if value.deletion_timestamp is not None:
        return "Terminating"
    if value.phase is PodPhase.SUCCEEDED:
        return "Completed"
    if value.phase is PodPhase.FAILED:
        return "Error"
    if value.phase is PodPhase.PENDING:
        return "ContainerCreating" if value.node_name else "Pending"
    return "Running"


# nodes ------------------------------------------------------------------------------------------


def node(value: Node) -> Json:
    meta = _metadata(
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


def node_status_text(value: Node) -> str:
    """kubectl's STATUS column: Ready, NotReady, and ",SchedulingDisabled" when cordoned."""
    text = "Ready" if value.ready else "NotReady"
    return f"{text},SchedulingDisabled" if value.unschedulable else text


# workloads, budgets, services -------------------------------------------------------------------


def _template(template: PodTemplate) -> Json:
    meta: Json = {}
    if template.labels:
        meta["labels"] = dict(template.labels)
    if template.annotations:
        meta["annotations"] = dict(template.annotations)
    return {"metadata": meta, "spec": pod_spec(template.spec)}


def workload(value: Workload, created_at: float) -> Json:
    api_version, _ = _KINDS[value.kind.value]
    meta = _metadata(
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
        "template": _template(value.template),
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
        "metadata": _metadata(
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
        "metadata": _metadata(
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
        "metadata": _metadata(
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


def parse_lease(body: Mapping[str, Any], namespace: str, name: str | None = None) -> Lease:
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    return Lease(
        namespace=namespace,
        name=name or str(meta.get("name", "")),
        holder=str(spec.get("holderIdentity") or ""),
        acquired_at=parse_timestamp(spec.get("acquireTime")),
        renewed_at=parse_timestamp(spec.get("renewTime")),
        duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
        resource_version=str(meta.get("resourceVersion") or ""),
    )


def config_map(value: ConfigMap, created_at: float) -> Json:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(
            value.name,
            value.namespace,
            uid=uid_for("ConfigMap", value.namespace, value.name),
            created_at=value.created_at or created_at,
            resource_version=value.resource_version,
        ),
        "data": dict(value.data),
    }


def parse_config_map(body: Mapping[str, Any], namespace: str, name: str | None = None) -> ConfigMap:
    meta = body.get("metadata") or {}
    return ConfigMap(
        namespace=namespace,
        name=name or str(meta.get("name", "")),
        data={str(k): str(v) for k, v in (body.get("data") or {}).items()},
        resource_version=str(meta.get("resourceVersion") or ""),
    )


# lists, tables, statuses ------------------------------------------------------------------------


def object_list(kind: str, api_version: str, items: Iterable[Json], cont: str = "") -> Json:
    meta: Json = {"resourceVersion": "1"}
    if cont:
        meta["continue"] = cont
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "items": list(items)}


def table(
    columns: Iterable[tuple[str, int]], rows: Iterable[tuple[list[Any], Json]], cont: str = ""
) -> Json:
    """A meta.k8s.io/v1 Table: kubectl prints the cells verbatim (priority 1 only with -o wide).
    Each row's object is PartialObjectMetadata with kind and apiVersion, or kubectl drops it."""
    meta: Json = {"resourceVersion": "1"}
    if cont:
        meta["continue"] = cont
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": [
            {"name": name, "type": "string", "format": "", "description": "", "priority": priority}
            for name, priority in columns
        ],
        "rows": [
            {
                "cells": cells,
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj["metadata"],
                },
            }
            for cells, obj in rows
        ],
    }


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


# helm -------------------------------------------------------------------------------------------


def helm_release_secret(value: HelmRelease, created_at: float) -> Json:
    """The Secret Helm 3 stores a deployed release revision in (type helm.sh/release.v1):
    `data.release` is base64 (the API's encoding of Secret data) of base64 (Helm's) of the
    gzipped release JSON."""
    release = {
        "name": value.name,
        "namespace": value.namespace,
        "version": value.revision,
        "info": {"status": "deployed"},
        "manifest": value.manifest,
    }
    helm_encoded = base64.b64encode(gzip.compress(json.dumps(release).encode(), mtime=0))
    name = f"sh.helm.release.v1.{value.name}.v{value.revision}"
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(
            name,
            value.namespace,
            uid=uid_for("Secret", value.namespace, name),
            created_at=created_at,
            resource_version=version_of(value),
            labels={
                "owner": "helm",
                "name": value.name,
                "status": "deployed",
                "version": str(value.revision),
            },
        ),
        "type": HELM_RELEASE_TYPE,
        "data": {"release": base64.b64encode(helm_encoded).decode()},
    }
