"""The Argo Server's REST API, as `eksup fleet` needs it (argo-workflows `api/openapi-spec/
swagger.json`, WorkflowService): create, get, resume (optionally one node), suspend, stop, retry.

Plain HTTP with the standard library; the token, when given, is sent as `Authorization: Bearer`
as `argo` does. Errors become one `EksupError` line naming the call and Argo's message.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from typing import Any

from upgrader.core.errors import EksupError


class ArgoServerError(EksupError):
    pass


class ArgoServer:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            token = self.token if self.token.startswith("Bearer ") else f"Bearer {self.token}"
            request.add_header("Authorization", token)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            with contextlib.suppress(json.JSONDecodeError, AttributeError):
                detail = json.loads(detail).get("message", detail)
            raise ArgoServerError(f"Argo Server {method} {path}: {error.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ArgoServerError(
                f"cannot reach the Argo Server at {self.base_url}: {reason}"
            ) from None
        return json.loads(text) if text else {}

    def create(self, namespace: str, workflow: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"/api/v1/workflows/{namespace}", {"workflow": workflow})

    def get(self, namespace: str, name: str) -> dict[str, Any]:
        return self._call("GET", f"/api/v1/workflows/{namespace}/{name}")

    def resume(self, namespace: str, name: str, node_field_selector: str = "") -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "namespace": namespace}
        if node_field_selector:
            body["nodeFieldSelector"] = node_field_selector
        return self._call("PUT", f"/api/v1/workflows/{namespace}/{name}/resume", body)

    def suspend(self, namespace: str, name: str) -> dict[str, Any]:
        body = {"name": name, "namespace": namespace}
        return self._call("PUT", f"/api/v1/workflows/{namespace}/{name}/suspend", body)

    def stop(self, namespace: str, name: str, message: str = "") -> dict[str, Any]:
        body = {"name": name, "namespace": namespace, "message": message}
        return self._call("PUT", f"/api/v1/workflows/{namespace}/{name}/stop", body)

    def retry(self, namespace: str, name: str) -> dict[str, Any]:
        body = {"name": name, "namespace": namespace}
        return self._call("PUT", f"/api/v1/workflows/{namespace}/{name}/retry", body)
