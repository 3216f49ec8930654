"""eksup's `upgrader.core.kube` values as Kubernetes API JSON: the inverse of `wire`.

One codec for both directions of the wire: `wire` reads API JSON into eksup's values (every
adapter read, the sandbox server's request bodies), this module writes the spec-level shapes
back (the sandbox server's responses, the adapter's lease and config map writes).
`tests/sandbox/apiserver/test_codec_roundtrip.py` checks that what is written here reads back
equal. Whole objects with the metadata and status a live cluster would add (uids, IPs,
conditions) are simulation, and stay in the sandbox (`upgrader/sandbox/apiserver/objects.py`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from upgrader.core.kube import (
    ConfigMap,
    LabelSelector,
    Lease,
    PodSpec,
    PodTemplate,
    Taint,
    TopologySpread,
)

Json = dict[str, Any]

# PodSpec keeps only what eksup decides on, not containers: the written spec carries its
# requests and readiness probe on one container with a placeholder image.
PLACEHOLDER_CONTAINER = "main"
PLACEHOLDER_IMAGE = "public.ecr.aws/sandbox/app:1"


def timestamp(seconds: float) -> str:
    """RFC 3339 in UTC with a Z, as the API server writes metav1.Time."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_timestamp(seconds: float) -> str:
    """metav1.MicroTime (Lease acquire and renew times)."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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


def requirement(key: str, operator: str, values: tuple[str, ...]) -> Json:
    wire: Json = {"key": key, "operator": operator}
    if values:
        wire["values"] = list(values)
    return wire


def taint(value: Taint) -> Json:
    wire: Json = {"key": value.key, "effect": value.effect.value}
    if value.value:
        wire["value"] = value.value
    return wire


def pod_spec(spec: PodSpec, node_name: str | None = None) -> Json:
    requests: Json = {}
    if spec.requests.cpu_millis:
        requests["cpu"] = f"{spec.requests.cpu_millis}m"
    if spec.requests.memory_bytes:
        requests["memory"] = str(spec.requests.memory_bytes)
    container: Json = {"name": PLACEHOLDER_CONTAINER, "image": PLACEHOLDER_IMAGE}
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


def pod_template(template: PodTemplate) -> Json:
    meta: Json = {}
    if template.labels:
        meta["labels"] = dict(template.labels)
    if template.annotations:
        meta["annotations"] = dict(template.annotations)
    return {"metadata": meta, "spec": pod_spec(template.spec)}


def lease(value: Lease) -> Json:
    """A Lease to create or replace; no resourceVersion when it has none (a create)."""
    meta: Json = {"name": value.name, "namespace": value.namespace}
    if value.resource_version:
        meta["resourceVersion"] = value.resource_version
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": {
            "holderIdentity": value.holder,
            "acquireTime": micro_timestamp(value.acquired_at),
            "renewTime": micro_timestamp(value.renewed_at),
            "leaseDurationSeconds": value.duration_seconds,
        },
    }


def config_map(value: ConfigMap) -> Json:
    """A ConfigMap to create; no resourceVersion when it has none."""
    meta: Json = {"name": value.name, "namespace": value.namespace}
    if value.resource_version:
        meta["resourceVersion"] = value.resource_version
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": dict(value.data)}
