"""A test double of the Argo Server's REST API (argo-workflows api/openapi-spec/swagger.json,
WorkflowService: POST /api/v1/workflows/{namespace}, GET .../{name}, PUT .../{name}/resume|
suspend|stop|retry), served on loopback; the `argo` fixture (tests/usecases/fleet/conftest.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from upgrader.usecases.fleet.engines.argo import validate_workflow


class ArgoDouble:
    """Workflows in memory; node statuses set by the test, as the controller would."""

    def __init__(self) -> None:
        self.workflows: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def handle(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.calls.append((method, path, body))
        parts = path.strip("/").split("/")
        if parts[:3] != ["api", "v1", "workflows"] or len(parts) < 4:
            return 404, {"code": 5, "message": "not found"}
        namespace = parts[3]
        if method == "POST" and len(parts) == 4:
            workflow = body["workflow"]
            validate_workflow(workflow)  # what the server would refuse, refused here
            name = workflow["metadata"]["name"]
            workflow = {**workflow, "status": {"phase": "Running", "nodes": {}}}
            self.workflows[(namespace, name)] = workflow
            return 200, workflow
        key = (namespace, parts[4])
        if key not in self.workflows:
            return 404, {"code": 5, "message": f'workflows.argoproj.io "{parts[4]}" not found'}
        workflow = self.workflows[key]
        action = parts[5] if len(parts) > 5 else ""
        if method == "GET" and not action:
            return 200, workflow
        if method == "PUT" and action == "suspend":
            workflow["spec"]["suspend"] = True
        elif method == "PUT" and action == "resume":
            selector = body.get("nodeFieldSelector", "")
            if selector:
                wanted = selector.removeprefix("displayName=")
                for node in workflow["status"]["nodes"].values():
                    if node["displayName"] == wanted and node["type"] == "Suspend":
                        node["phase"] = "Succeeded"
            else:
                workflow["spec"].pop("suspend", None)
        elif method == "PUT" and action == "stop":
            workflow["status"]["phase"] = "Failed"
            workflow["status"]["message"] = body.get("message") or "Stopped with strategy 'Stop'"
        elif method == "PUT" and action == "retry":
            workflow["status"]["phase"] = "Running"
            for node in workflow["status"]["nodes"].values():
                if node["phase"] in ("Failed", "Error"):
                    node["phase"] = "Pending"
        else:
            return 404, {"code": 5, "message": "not found"}
        return 200, workflow

    def set_node(
        self, name: str, display: str, phase: str, kind: str = "Pod", message: str = ""
    ) -> None:
        workflow = next(iter(self.workflows.values()))
        workflow["status"]["nodes"][f"{name}-{display}"] = {
            "id": f"{name}-{display}",
            "name": f"{name}.{display}",
            "displayName": display,
            "type": kind,
            "phase": phase,
            "message": message,
        }


@pytest.fixture
def argo() -> Iterator[tuple[ArgoDouble, str]]:
    double = ArgoDouble()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else {}
            code, answer = double.handle(self.command, self.path, body)
            data = json.dumps(answer).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve  # noqa: N815 (http.server's names)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield double, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
