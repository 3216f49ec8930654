"""Request bodies kubectl sends as Kubernetes protobuf, read into the JSON the routes take.

Why the sandbox must read protobuf. client-go's generated clients for built-in kinds prefer
protobuf whenever the caller has not chosen a content type (k8s.io/client-go gentype/type.go:
`PrefersProtobuf`, rest/request.go `UseProtobufAsDefault`), and kubectl's generator commands
(`create deployment|configmap|service|pdb|namespace|secret`) use those clients. Nothing a server
advertises turns that off: the only 415 fallback in the client is for CBOR
(rest/client.go `requestClientContentConfigProvider.UnsupportedMediaType`; "generated clients
accessing built-in kube resources are forced to protobuf, so those will not degrade to JSON").
A real API server accepts protobuf for every built-in kind, so the sandbox does too.

The envelope (k8s.io/apimachinery pkg/runtime/serializer/protobuf/protobuf.go): the 4 bytes
`k8s\\x00`, then a `runtime.Unknown` message (pkg/runtime/generated.proto): typeMeta = 1
(apiVersion = 1, kind = 2), raw = 2 (the object's own message). Field numbers below are the
ones in k8s.io/api's generated.proto files (apps/v1, core/v1, policy/v1) and apimachinery's
meta/v1, intstr and resource. Only the fields the sandbox models or echoes are listed; a field
not listed is skipped, as any protobuf reader skips what it does not know (the JSON routes drop
those fields too).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]
MAGIC = b"k8s\x00"

# A field: (JSON name, type). A type is a scalar name, a message name (a key of MESSAGES),
# "[]"+type for a repeated field, or "map:"+type for map<string, type>. "int*" and "bool*" are
# Go pointer fields, whose zero is a value; a plain int or bool is written even when zero and,
# as JSON's omitempty would, left out here.
_Fields = Mapping[int, tuple[str, str]]

_META: _Fields = {
    1: ("name", "string"),
    2: ("generateName", "string"),
    3: ("namespace", "string"),
    5: ("uid", "string"),
    6: ("resourceVersion", "string"),
    7: ("generation", "int"),
    8: ("creationTimestamp", "Time"),
    11: ("labels", "map:string"),
    12: ("annotations", "map:string"),
    13: ("ownerReferences", "[]OwnerReference"),
    14: ("finalizers", "[]string"),
}
MESSAGES: dict[str, _Fields] = {
    # k8s.io/apimachinery pkg/apis/meta/v1/generated.proto
    "ObjectMeta": _META,
    "OwnerReference": {
        5: ("apiVersion", "string"),
        1: ("kind", "string"),
        3: ("name", "string"),
        4: ("uid", "string"),
        6: ("controller", "bool*"),
        7: ("blockOwnerDeletion", "bool*"),
    },
    "LabelSelector": {1: ("matchLabels", "map:string"), 2: ("matchExpressions", "[]Requirement")},
    "Requirement": {1: ("key", "string"), 2: ("operator", "string"), 3: ("values", "[]string")},
    "DeleteOptions": {
        1: ("gracePeriodSeconds", "int*"),
        3: ("orphanDependents", "bool*"),
        4: ("propagationPolicy", "string"),
        5: ("dryRun", "[]string"),
    },
    # k8s.io/api apps/v1/generated.proto
    "Deployment": {1: ("metadata", "ObjectMeta"), 2: ("spec", "DeploymentSpec")},
    "DeploymentSpec": {
        1: ("replicas", "int*"),
        2: ("selector", "LabelSelector"),
        3: ("template", "PodTemplateSpec"),
        4: ("strategy", "DeploymentStrategy"),
        5: ("minReadySeconds", "int"),
        6: ("revisionHistoryLimit", "int*"),
        7: ("paused", "bool"),
        9: ("progressDeadlineSeconds", "int*"),
    },
    "DeploymentStrategy": {1: ("type", "string"), 2: ("rollingUpdate", "RollingUpdate")},
    "RollingUpdate": {1: ("maxUnavailable", "IntOrString"), 2: ("maxSurge", "IntOrString")},
    "StatefulSet": {1: ("metadata", "ObjectMeta"), 2: ("spec", "StatefulSetSpec")},
    "StatefulSetSpec": {
        1: ("replicas", "int*"),
        2: ("selector", "LabelSelector"),
        3: ("template", "PodTemplateSpec"),
        5: ("serviceName", "string"),
        6: ("podManagementPolicy", "string"),
    },
    # k8s.io/api core/v1/generated.proto
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta"), 2: ("spec", "PodSpec")},
    "PodSpec": {
        2: ("containers", "[]Container"),
        3: ("restartPolicy", "string"),
        4: ("terminationGracePeriodSeconds", "int*"),
        7: ("nodeSelector", "map:string"),
        22: ("tolerations", "[]Toleration"),
    },
    "Container": {
        1: ("name", "string"),
        2: ("image", "string"),
        3: ("command", "[]string"),
        4: ("args", "[]string"),
        6: ("ports", "[]ContainerPort"),
        7: ("env", "[]EnvVar"),
        8: ("resources", "ResourceRequirements"),
        11: ("readinessProbe", "present"),
    },
    "ContainerPort": {
        1: ("name", "string"),
        3: ("containerPort", "int"),
        4: ("protocol", "string"),
    },
    "EnvVar": {1: ("name", "string"), 2: ("value", "string")},
    "ResourceRequirements": {1: ("limits", "map:Quantity"), 2: ("requests", "map:Quantity")},
    "Toleration": {
        1: ("key", "string"),
        2: ("operator", "string"),
        3: ("value", "string"),
        4: ("effect", "string"),
        5: ("tolerationSeconds", "int*"),
    },
    "Service": {1: ("metadata", "ObjectMeta"), 2: ("spec", "ServiceSpec")},
    "ServiceSpec": {
        1: ("ports", "[]ServicePort"),
        2: ("selector", "map:string"),
        3: ("clusterIP", "string"),
        4: ("type", "string"),
        10: ("externalName", "string"),
    },
    "ServicePort": {
        1: ("name", "string"),
        2: ("protocol", "string"),
        3: ("port", "int"),
        4: ("targetPort", "IntOrString"),
        5: ("nodePort", "int"),
    },
    "ConfigMap": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "map:string"),
        3: ("binaryData", "map:bytes"),
        4: ("immutable", "bool*"),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "map:bytes"),
        3: ("type", "string"),
        4: ("stringData", "map:string"),
    },
    "Namespace": {1: ("metadata", "ObjectMeta")},
    # k8s.io/api policy/v1/generated.proto
    "PodDisruptionBudget": {1: ("metadata", "ObjectMeta"), 2: ("spec", "PDBSpec")},
    "PDBSpec": {
        1: ("minAvailable", "IntOrString"),
        2: ("selector", "LabelSelector"),
        3: ("maxUnavailable", "IntOrString"),
        4: ("unhealthyPodEvictionPolicy", "string"),
    },
}
# The kinds a request body may carry, by the envelope's kind.
TOP_LEVEL = frozenset(
    {
        "Deployment",
        "StatefulSet",
        "Service",
        "ConfigMap",
        "Secret",
        "Namespace",
        "PodDisruptionBudget",
        "DeleteOptions",
    }
)


class ProtobufError(ValueError):
    """The body is not a Kubernetes protobuf message the sandbox can read."""


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
        if shift > 63:
            raise ProtobufError("varint longer than 10 bytes")


def fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of one message: an int for a varint, bytes for a
    length-delimited field. Fixed-width fields are skipped (none of the listed fields has one)."""
    out: list[tuple[int, int | bytes]] = []
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
            out.append((number, value))
        elif wire == 2:
            size, at = _varint(data, at)
            if at + size > len(data):
                raise ProtobufError("truncated field")
            out.append((number, data[at : at + size]))
            at += size
        elif wire == 1:
            at += 8
        elif wire == 5:
            at += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    if at != len(data):
        raise ProtobufError("truncated fixed-width field")
    return out


def _signed(value: int) -> int:
    """int32/int64 go out as two's complement 64-bit varints."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _as_bytes(value: int | bytes) -> bytes:
    if isinstance(value, int):
        raise ProtobufError("a varint where a length-delimited field was expected")
    return value


def _int_or_string(data: bytes) -> int | str:
    parts = dict(fields(data))
    if parts.get(1, 0) == 1:  # type 1: String
        return _as_bytes(parts.get(3, b"")).decode()
    value = parts.get(2, 0)
    return _signed(value) if isinstance(value, int) else 0


def _time(data: bytes) -> str | None:
    parts = dict(fields(data))
    seconds = parts.get(1, 0)
    if not isinstance(seconds, int):
        raise ProtobufError("bad Time")
    if not seconds:
        return None  # the zero time: `null` in JSON
    return datetime.fromtimestamp(_signed(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(kind: str, value: int | bytes) -> Any:
    if kind in ("int", "int*"):
        if not isinstance(value, int):
            raise ProtobufError("a length-delimited field where a varint was expected")
        number = _signed(value)
        return None if number == 0 and kind == "int" else number
    if kind in ("bool", "bool*"):
        return None if not value and kind == "bool" else bool(value)
    raw = _as_bytes(value)
    readers: dict[str, Callable[[bytes], Any]] = {
        "string": lambda b: b.decode(),
        "bytes": lambda b: base64.b64encode(b).decode(),  # JSON carries bytes as base64
        "Quantity": lambda b: _as_bytes(dict(fields(b)).get(1, b"")).decode(),
        "IntOrString": _int_or_string,
        "Time": _time,
        "present": lambda _: {},  # only its presence is read (a readiness probe)
    }
    if kind in readers:
        return readers[kind](raw)
    return message(kind, raw)


def message(name: str, data: bytes) -> Json:
    """One message as the JSON object the API would have received instead."""
    schema = MESSAGES[name]
    out: Json = {}
    for number, value in fields(data):
        if number not in schema:
            continue
        key, kind = schema[number]
        if kind.startswith("map:"):
            entry = dict(fields(_as_bytes(value)))
            name_ = _as_bytes(entry.get(1, b"")).decode()
            out.setdefault(key, {})[name_] = _scalar(kind[4:], entry.get(2, b""))
        elif kind.startswith("[]"):
            out.setdefault(key, []).append(_scalar(kind[2:], value))
        else:
            scalar = _scalar(kind, value)
            # Go's protobuf writes a plain string or Time even when unset; JSON omits it.
            if scalar not in ("", None):
                out[key] = scalar
    return out


def decode(body: bytes) -> Json:
    """A protobuf request body as JSON, with the envelope's apiVersion and kind."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the body lacks the k8s protobuf prefix")
    try:
        envelope = dict(fields(body[len(MAGIC) :]))
        type_meta = dict(fields(_as_bytes(envelope.get(1, b""))))
        api_version = _as_bytes(type_meta.get(1, b"")).decode()
        kind = _as_bytes(type_meta.get(2, b"")).decode()
        if kind not in TOP_LEVEL:
            raise ProtobufError(
                f"the sandbox reads protobuf {', '.join(sorted(TOP_LEVEL))} bodies, not {kind!r}"
            )
        value = message(kind, _as_bytes(envelope.get(2, b"")))
    except UnicodeDecodeError as e:
        raise ProtobufError(f"a string field is not UTF-8: {e}") from e
    return {"apiVersion": api_version, "kind": kind, **value}
