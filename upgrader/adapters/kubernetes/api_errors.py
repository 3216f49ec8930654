"""The kubernetes client's errors as eksup's (`upgrader.core.errors`), translated once.

The Eviction API's refusals become the typed errors the drain schedules around (429 with the
PDB's name and Retry-After, 500 for overlapping PDBs, 403 for a terminating namespace); a
missing or unusable kubeconfig is a `KubeconfigError`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kubernetes.client.exceptions import ApiException

from upgrader.core.errors import (
    ConflictError,
    EksupError,
    EvictionBlockedError,
    EvictionDeniedError,
    MultiplePdbsError,
    NamespaceTerminatingError,
    NotFoundError,
    PermanentError,
    PermissionDeniedError,
    ServiceUnavailableError,
    ThrottledError,
    UserError,
)

_PDB_IN_MESSAGE = re.compile(r"disruption budget ([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)")


def pdb_names(*messages: str) -> tuple[str, ...]:
    """PDB names the Eviction API quotes ("The disruption budget web-pdb needs ..."), in order."""
    names: list[str] = []
    for message in messages:
        for name in _PDB_IN_MESSAGE.findall(message):
            if name not in names:
                names.append(name)
    return tuple(names)


class KubeconfigError(UserError):
    """No usable kubeconfig: missing file, unknown context, or no in-cluster service account."""


def _status_body(error: ApiException) -> dict[str, Any]:
    """The Status object the API server sent, or {} when the body is not one."""
    try:
        body = json.loads(error.body) if error.body else {}
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _header(error: ApiException, name: str) -> str | None:
    headers = error.headers or {}
    value = headers.get(name)
    if value is None:  # a plain dict is case-sensitive; urllib3's HTTPHeaderDict is not
        value = next((v for k, v in headers.items() if str(k).lower() == name.lower()), None)
    return str(value) if value is not None else None


def _retry_after(error: ApiException) -> float | None:
    value = _header(error, "Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date; the API server never sends one


def translate_api_exception(
    error: ApiException, verb: str, resource: str, name: str = ""
) -> EksupError:
    """The `upgrader.core.errors` value for an API error on `verb resource/name`."""
    status = int(error.status or 0)
    body = _status_body(error)
    causes = [c for c in (body.get("details") or {}).get("causes") or () if isinstance(c, dict)]
    message = str(body.get("message") or error.reason or f"HTTP {status}")
    target = f"{resource} {name}".strip()
    what = f"{verb} {target}: {message}"
    action = f"{verb} {resource}"
    if status == 404:
        return NotFoundError(f"{target} not found: {message}")
    if status == 429:
        if resource == "pods/eviction":
            pdbs = pdb_names(message, *(str(c.get("message", "")) for c in causes))
            return EvictionBlockedError(what, pdbs, _retry_after(error))
        return ThrottledError(what, _retry_after(error))
    if status == 500 and "more than one PodDisruptionBudget" in message:
        return MultiplePdbsError(what, pdb_names(message))
    if status == 403 and (
        any(c.get("type") == "NamespaceTerminating" for c in causes)
        or "being terminated" in message
    ):
        return NamespaceTerminatingError(what, _retry_after(error))
    if status == 403 and resource == "pods/eviction" and "admission webhook" in message:
        return EvictionDeniedError(what)
    if status == 409:
        return ConflictError(what, _retry_after(error))
    if status in (401, 403):
        return PermissionDeniedError(f"not allowed to {what}", action=action)
    if status >= 500:
        return ServiceUnavailableError(what, _retry_after(error))
    return PermanentError(f"{what} (HTTP {status})")
