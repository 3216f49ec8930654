"""The HTTP shapes of the sandbox API server: a request, a response, and the Status bodies
and codes the real API server sends for eksup's errors (kubectl_wire.md §8): 404 NotFound, 409
Conflict, 429 for an eviction a PDB refuses (with the PDB named in `details.causes`), 500 for a
pod under several PDBs, 403 for a terminating namespace. Every route module builds on these.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from upgrader.core.errors import (
    ConflictError,
    EksupError,
    EvictionBlockedError,
    MultiplePdbsError,
    NamespaceTerminatingError,
    NotFoundError,
    ServiceUnavailableError,
    TemporaryError,
    ThrottledError,
    UserError,
)
from upgrader.sandbox.apiserver import objects, protobuf

Json = dict[str, Any]
_EVICTION_REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."


@dataclass(frozen=True)
class Response:
    code: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None  # a watch: sent chunked, `body` unused


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    accept: str = ""
    content_type: str = ""
    body: bytes = b""
    user_agent: str = ""

    @classmethod
    def parse(
        cls, method: str, target: str, headers: Mapping[str, str], body: bytes = b""
    ) -> Request:
        path, _, raw_query = target.partition("?")
        query = {k: v[-1] for k, v in parse_qs(raw_query, keep_blank_values=True).items()}
        return cls(
            method=method,
            path=path.rstrip("/") or "/",
            query=query,
            accept=headers.get("Accept", ""),
            content_type=headers.get("Content-Type", ""),
            body=body,
            user_agent=headers.get("User-Agent", ""),
        )

    def json(self) -> Json:
        """The body as JSON. The Python client sends POST and PUT with no Content-Type."""
        if not self.body:
            return {}
        if "protobuf" in self.content_type:
            try:
                return protobuf.decode(self.body)
            except protobuf.ProtobufError as e:
                raise HttpError(415, "UnsupportedMediaType", str(e)) from e
        try:
            value = json.loads(self.body)
        except ValueError as e:
            raise HttpError(400, "BadRequest", f"the body is not JSON: {e}") from e
        if not isinstance(value, dict):
            raise HttpError(400, "BadRequest", "the body is not a JSON object")
        return value

    @property
    def wants_table(self) -> bool:
        return "as=Table" in self.accept


class HttpError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: Json | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.details = code, reason, details or {}


def json_response(code: int, value: Json) -> Response:
    """A JSON body, compact as the API server writes it."""
    return Response(code, json.dumps(value, separators=(",", ":")).encode())


def error_response(error: EksupError, resource: str, name: str) -> Response:
    message = str(error)
    details: Json = {"name": name, "kind": resource}
    if isinstance(error, EvictionBlockedError):
        cause = message.removeprefix(_EVICTION_REFUSED.rstrip(".")).lstrip(". ")
        details = {"causes": [{"reason": "DisruptionBudget", "message": cause}]}
        return json_response(
            429, objects.status(429, "TooManyRequests", _EVICTION_REFUSED, details)
        )
    if isinstance(error, MultiplePdbsError):
        return json_response(500, objects.status(500, "InternalError", message))
    if isinstance(error, NamespaceTerminatingError):
        details["causes"] = [{"type": "NamespaceTerminating", "message": message}]
        return json_response(403, objects.status(403, "Forbidden", message, details))
    if isinstance(error, NotFoundError):
        return json_response(404, objects.status(404, "NotFound", message, details))
    if isinstance(error, ConflictError):
        reason = "AlreadyExists" if "already exists" in message else "Conflict"
        return json_response(409, objects.status(409, reason, message, details))
    if isinstance(error, ThrottledError):
        return json_response(429, objects.status(429, "TooManyRequests", message, details))
    if isinstance(error, ServiceUnavailableError | TemporaryError):
        return json_response(503, objects.status(503, "ServiceUnavailable", message, details))
    if isinstance(error, UserError):
        return json_response(422, objects.status(422, "Invalid", message, details))
    return json_response(500, objects.status(500, "InternalError", message, details))
