"""Pod JSON the size of a production pod's, for the benchmarks that read through the real client.

The sandbox's pods are small (about 1.3 KB of JSON); a pod on a real EKS cluster is about 6 KB:
managedFields (one entry per field manager, with the fieldsV1 tree of every field it set), an
env list, probes, a securityContext, status details. Decoding is what big lists cost a client,
so the benchmarks serve pods padded with such fields. Only fields eksup does not read are added
(no annotations, volumes, tolerations, containers or readiness probes), so the plan is the same
as for the unpadded world. Normal sandbox worlds never use this.
"""

from __future__ import annotations

import json
from typing import Any

from upgrader.core.kube import Pod
from upgrader.sandbox.apiserver import objects

Json = dict[str, Any]


def _fields(*paths: str) -> Json:
    """A fieldsV1 tree: each dotted path becomes nested `f:` keys, leaves `{}`."""
    tree: Json = {}
    for path in paths:
        node = tree
        for part in path.split("."):
            node = node.setdefault(part if part.startswith(("k:", ".")) else f"f:{part}", {})
    return tree


_CONTAINER = 'k:{"name":"main"}.'  # the fieldsV1 key of a list element, as the API server writes it
_MANAGED_FIELDS = [
    {
        "manager": "kube-controller-manager",
        "operation": "Update",
        "apiVersion": "v1",
        "time": "2026-01-05T10:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": _fields(
            "metadata.generateName",
            "metadata.labels.app",
            "metadata.labels.pod-template-hash",
            'metadata.ownerReferences.k:{"uid":"6c0d5b2e-0000-4000-8000-000000000000"}',
            *(
                _CONTAINER + f
                for f in (
                    "env",
                    "image",
                    "imagePullPolicy",
                    "livenessProbe.httpGet.path",
                    "livenessProbe.httpGet.port",
                    "livenessProbe.periodSeconds",
                    "name",
                    "ports",
                    "resources.requests.cpu",
                    "resources.requests.memory",
                    "resources.limits.memory",
                    "securityContext.allowPrivilegeEscalation",
                    "securityContext.readOnlyRootFilesystem",
                    "securityContext.runAsNonRoot",
                    "terminationMessagePath",
                    "terminationMessagePolicy",
                )
            ),
            "spec.dnsPolicy",
            "spec.enableServiceLinks",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.securityContext.fsGroup",
            "spec.serviceAccount",
            "spec.serviceAccountName",
            "spec.terminationGracePeriodSeconds",
            "spec.topologySpreadConstraints",
        ),
    },
    {
        "manager": "kubelet",
        "operation": "Update",
        "apiVersion": "v1",
        "time": "2026-01-05T10:00:12Z",
        "fieldsType": "FieldsV1",
        "subresource": "status",
        "fieldsV1": _fields(
            'status.conditions.k:{"type":"ContainersReady"}.lastProbeTime',
            'status.conditions.k:{"type":"ContainersReady"}.lastTransitionTime',
            'status.conditions.k:{"type":"ContainersReady"}.status',
            'status.conditions.k:{"type":"Initialized"}.lastTransitionTime',
            'status.conditions.k:{"type":"PodReadyToStartContainers"}.status',
            'status.conditions.k:{"type":"Ready"}.lastTransitionTime',
            'status.conditions.k:{"type":"Ready"}.status',
            "status.containerStatuses",
            "status.hostIP",
            "status.hostIPs",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.startTime",
        ),
    },
]
_ENV = [
    {"name": name, "value": value}
    for name, value in (
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_STS_REGIONAL_ENDPOINTS", "regional"),
        ("AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/app-service-role"),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/eks.amazonaws.com/token"),
        ("LOG_LEVEL", "info"),
        ("LOG_FORMAT", "json"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.observability:4317"),
        ("OTEL_RESOURCE_ATTRIBUTES", "service.namespace=shop,deployment.environment=prod"),
        ("JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=75 -XX:+ExitOnOutOfMemoryError"),
        ("DATABASE_URL", "postgresql://app@db.internal.example:5432/app?sslmode=require"),
        ("REDIS_URL", "redis://cache.internal.example:6379/0"),
        ("FEATURE_FLAGS_URL", "http://flags.platform.svc.cluster.local:8080"),
        ("HTTP_PORT", "8080"),
        ("METRICS_PORT", "9090"),
        ("GRACEFUL_SHUTDOWN_SECONDS", "25"),
        *(
            (f"UPSTREAM_{n}_URL", f"http://upstream-{n}.shop.svc.cluster.local:8080/api/v2")
            for n in range(12)
        ),
    )
] + [
    {
        "name": "POD_NAME",
        "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
    },
    {
        "name": "POD_IP",
        "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}},
    },
    {
        "name": "NODE_NAME",
        "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}},
    },
]
_CONTAINER_EXTRAS: Json = {
    "env": _ENV,
    "imagePullPolicy": "IfNotPresent",
    "ports": [
        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
    ],
    "livenessProbe": {
        "httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
        "periodSeconds": 10,
        "timeoutSeconds": 1,
        "successThreshold": 1,
        "failureThreshold": 3,
    },
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    },
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
}
_SPEC_EXTRAS: Json = {
    "dnsPolicy": "ClusterFirst",
    "enableServiceLinks": True,
    "restartPolicy": "Always",
    "schedulerName": "default-scheduler",
    "securityContext": {"fsGroup": 65534},
    "serviceAccount": "app",
    "serviceAccountName": "app",
    "preemptionPolicy": "PreemptLowerPriority",
    "priority": 0,
    # No topologySpreadConstraints: eksup reads them (placement), and padding adds only what
    # eksup ignores, so a padded pod decodes to the same pod.
}


def production_pod(pod: Pod) -> Json:
    """The sandbox's JSON for `pod`, padded to a production pod's size (the padding's objects
    are shared between pods: only their serialisation costs per pod, as on a real server)."""
    wire = objects.pod(pod)
    meta = wire["metadata"]
    meta["generateName"] = pod.name.rsplit("-", 1)[0] + "-"
    meta["managedFields"] = _MANAGED_FIELDS
    wire["spec"]["containers"][0].update(_CONTAINER_EXTRAS)
    wire["spec"].update(_SPEC_EXTRAS)
    status = wire["status"]
    status["qosClass"] = "Burstable"
    status["startTime"] = meta["creationTimestamp"]
    if "podIP" in status:
        status["podIPs"] = [{"ip": status["podIP"]}]
        status["hostIPs"] = [{"ip": status["hostIP"]}]
    return wire


def size_of(pod: Pod) -> int:
    return len(json.dumps(production_pod(pod), separators=(",", ":")))
