"""An Argo step reading its own Workflow from the management cluster's Kubernetes API (in-pod
ServiceAccount; `deploy/fleet/serviceaccount.yaml` grants `get` on workflows).

Argo keeps node statuses in `status.nodes`, or gzipped and base64-encoded in
`status.compressedNodes` when the object grows large (argo-workflows
`workflow/packer/packer.go`); both are read here. With `nodeStatusOffLoad` the nodes live in
Argo's database instead, and the caller is told it cannot see them (`offloaded`).
"""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

from upgrader.core.errors import EksupError


class WorkflowReadError(EksupError):
    pass


def unpacked(workflow: dict[str, Any]) -> dict[str, Any]:
    """The Workflow with `status.nodes` filled in from `status.compressedNodes`."""
    status = dict(workflow.get("status") or {})
    packed = status.pop("compressedNodes", None)
    if packed and not status.get("nodes"):
        status["nodes"] = json.loads(gzip.decompress(base64.b64decode(packed)))
    return {**workflow, "status": status}


def offloaded(workflow: dict[str, Any]) -> bool:
    status = workflow.get("status") or {}
    return bool(status.get("offloadNodeStatusVersion")) and not status.get("nodes")


def read_own_workflow(namespace: str, name: str) -> dict[str, Any]:
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException

    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
        found: Any = client.CustomObjectsApi().get_namespaced_custom_object(
            "argoproj.io", "v1alpha1", namespace, "workflows", name
        )
    except ConfigException as error:
        raise WorkflowReadError(f"not inside a Kubernetes pod: {error}") from None
    except ApiException as error:
        raise WorkflowReadError(
            f"cannot read Workflow {namespace}/{name}: {error.status} {error.reason}"
        ) from None
    if not isinstance(found, dict):
        raise WorkflowReadError(f"Workflow {namespace}/{name}: not a JSON object")
    return unpacked(found)
