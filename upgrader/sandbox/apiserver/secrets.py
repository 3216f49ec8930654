"""Secrets on the sandbox server: `kubectl create secret generic|tls|docker-registry`, `apply`,
`get secret` (kubectl's columns), `describe secret`, `delete secret`.

What the API server does and the sandbox follows (k8s.io/kubernetes pkg/apis/core):
- `data` is bytes, shown and taken as base64 in JSON; `stringData` is write-only plain text
  merged over `data` on every write (v1 conversion, Convert_v1_Secret_To_core_Secret), so it is
  never read back.
- `type` defaults to Opaque (v1/defaults.go SetDefaults_Secret); each key must be a valid
  config key, `[-._a-zA-Z0-9]+` (validation.go ValidateSecret / IsConfigMapKey).
- Columns: printers.go secretColumnDefinitions (Name, Type, Data, Age).

The FakeCluster keeps no Secrets (eksup reads only Helm's release Secrets, which it serves from
its Helm releases), so the Secrets people create are kept by the server, beside its other
API-only state (`stores`: namespaces, Service addresses). Helm's release Secrets are listed
with them.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from upgrader.adapters.kubernetes import wire
from upgrader.core.errors import ConflictError, NotFoundError
from upgrader.core.kube import HelmRelease
from upgrader.core.label_selector import parse_label_selector
from upgrader.sandbox.apiserver import objects, patches, tables
from upgrader.sandbox.apiserver.http import HttpError, Request, Response, json_response
from upgrader.sandbox.apiserver.selectors import field_matches, field_selector, page_of
from upgrader.sandbox.apiserver.stores import Secret

if TYPE_CHECKING:
    from upgrader.sandbox.apiserver.state import ApiState

Json = dict[str, Any]
_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_MAX_BYTES = 1024 * 1024  # MaxSecretSize


def _invalid(name: str, field_name: str, detail: str) -> HttpError:
    details = {
        "name": name,
        "kind": "Secret",
        "causes": [{"reason": "FieldValueInvalid", "message": detail, "field": field_name}],
    }
    message = f'Secret "{name}" is invalid: {field_name}: {detail}'
    return HttpError(422, "Invalid", message, details)


def parse_secret(body: Mapping[str, Any], namespace: str, created_at: float) -> Secret:
    meta = body.get("metadata") or {}
    name = str(meta.get("name") or "")
    if not name:
        raise _invalid(name, "metadata.name", "Required value: name or generateName is required")
    data: dict[str, bytes] = {}
    for key, value in (body.get("data") or {}).items():
        try:
            data[str(key)] = base64.b64decode(str(value or ""), validate=True)
        except (binascii.Error, ValueError) as e:
            raise HttpError(
                400, "BadRequest", f'Secret in version "v1" cannot be handled: data[{key}]: {e}'
            ) from e
    for key, value in (body.get("stringData") or {}).items():
        data[str(key)] = str(value).encode()  # stringData wins over data (v1 conversion)
    for key in data:
        if not _KEY.match(key):
            raise _invalid(
                name,
                f"data[{key}]",
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            )
    if sum(len(v) for v in data.values()) > _MAX_BYTES:
        raise _invalid(name, "data", "Too long: must have at most 1048576 bytes")
    return Secret(
        namespace=namespace,
        name=name,
        type=str(body.get("type") or "Opaque"),
        data=data,
        labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
        annotations={str(k): str(v) for k, v in (meta.get("annotations") or {}).items()},
        created_at=created_at,
    )


def secret_json(secret: Secret) -> Json:
    wire: Json = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": objects.metadata(
            secret.name,
            secret.namespace,
            uid=objects.uid_for("Secret", secret.namespace, secret.name, str(secret.created_at)),
            created_at=secret.created_at,
            resource_version=str(secret.version),
            labels=secret.labels,
            annotations=secret.annotations,
        ),
        "type": secret.type,
    }
    if secret.data:
        wire["data"] = {k: base64.b64encode(v).decode() for k, v in sorted(secret.data.items())}
    return wire


_FIELDS: dict[str, Any] = {
    "type": lambda s: str(s.get("type", "")),
    "metadata.name": lambda s: str(s["metadata"]["name"]),
    "metadata.namespace": lambda s: str(s["metadata"]["namespace"]),
}


def _every(api: ApiState, namespace: str | None) -> list[Json]:
    """Helm's release Secrets (from the FakeCluster's releases) and the created ones."""
    helm = [
        helm_release_secret(r, api.created_at)
        for r in api.cluster.helm_releases()
        if namespace is None or r.namespace == namespace
    ]
    made = [secret_json(s) for s in api.secrets.list(namespace)]
    key = lambda s: (s["metadata"]["namespace"], s["metadata"]["name"])  # noqa: E731
    return sorted([*helm, *made], key=key)


def _table(api: ApiState, secrets: Sequence[Json], cont: str) -> Json:
    now = api.now()
    columns = [("Name", 0), ("Type", 0), ("Data", 0), ("Age", 0)]
    rows = []
    for s in secrets:
        born = wire.epoch(s["metadata"]["creationTimestamp"])
        cells = [
            s["metadata"]["name"],
            s["type"],
            len(s.get("data") or {}),
            tables.age(now - born),
        ]
        rows.append((cells, s))
    return tables.table(columns, rows, cont)


def list_secrets(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    checks = field_selector(request.query.get("fieldSelector", ""), _FIELDS)
    labels = parse_label_selector(request.query.get("labelSelector") or "")
    secrets = [
        s
        for s in _every(api, args[0] if args else None)
        if labels.matches(s["metadata"].get("labels") or {})
        and all(field_matches(_FIELDS, s, c) for c in checks)
    ]
    chosen, cont = page_of(secrets, request)
    if request.wants_table:
        return json_response(200, _table(api, chosen, cont))
    return json_response(200, objects.object_list("SecretList", "v1", chosen, cont))


def _find(api: ApiState, namespace: str, name: str) -> Json:
    for secret in _every(api, namespace):
        if secret["metadata"]["name"] == name:
            return secret
    raise NotFoundError(f'secrets "{name}" not found')


def get_secret(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    secret = _find(api, args[0], args[1])
    if request.wants_table:
        return json_response(200, _table(api, [secret], ""))
    return json_response(200, secret)


def create_secret(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    secret = parse_secret(request.json(), args[0], api.now())
    if any(s["metadata"]["name"] == secret.name for s in _every(api, args[0])):
        raise ConflictError(f'secrets "{secret.name}" already exists')
    return json_response(201, secret_json(api.secrets.put(secret, create=True)))


def patch_secret(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    """A merge or strategic merge patch (a second `kubectl apply`, `kubectl patch`); the type
    cannot change (validation.go ValidateSecretUpdate: field is immutable)."""
    namespace, name = args
    current = api.secrets.get(namespace, name)
    if current is None:
        _find(api, namespace, name)  # a Helm release Secret: 404 if it is not one either
        raise HttpError(405, "MethodNotAllowed", "Helm's release Secrets are read-only here")
    patched = patches.apply_patch(secret_json(current), request.json(), request.content_type)
    updated = parse_secret(patched, namespace, current.created_at)
    if updated.type != current.type:
        raise _invalid(name, "type", "Invalid value: field is immutable")
    stored = api.secrets.put(replace(updated, name=name), create=False)
    return json_response(200, secret_json(stored))


def delete_secret(api: ApiState, _: Request, args: Sequence[str]) -> Response:
    api.secrets.delete(args[0], args[1])
    return json_response(200, objects.status(200, "Success", f'secret "{args[1]}" deleted'))


SECRET_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/v1/secrets", list_secrets),
    ("GET", "/api/v1/namespaces/{ns}/secrets", list_secrets),
    ("GET", "/api/v1/namespaces/{ns}/secrets/{name}", get_secret),
    ("POST", "/api/v1/namespaces/{ns}/secrets", create_secret),
    ("PATCH", "/api/v1/namespaces/{ns}/secrets/{name}", patch_secret),
    ("DELETE", "/api/v1/namespaces/{ns}/secrets/{name}", delete_secret),
]


HELM_RELEASE_TYPE = "helm.sh/release.v1"


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
        "metadata": objects.metadata(
            name,
            value.namespace,
            uid=objects.uid_for("Secret", value.namespace, name),
            created_at=created_at,
            resource_version=objects.version_of(value),
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
