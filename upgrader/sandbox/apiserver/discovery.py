"""The discovery documents the sandbox API server serves, in the legacy (non-aggregated) form.

kubectl 1.37 asks for aggregated discovery but falls back to these when the answer's
Content-Type is plain `application/json`. Three details matter (kubectl_wire.md §2): every group
listed in /apis must have its resource list served, or kubectl logs errors; `shortNames` are how
`kubectl get pdb`/`no`/`po` resolve; and `pods/eviction` must carry group and version, or
`kubectl drain` silently DELETEs pods instead of evicting them and never meets a PDB.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

# (name, namespaced, kind, shortNames, verbs)
_Resource = tuple[str, bool, str, tuple[str, ...], tuple[str, ...]]
_READ = ("get", "list")
_WRITE = ("create", "delete", "get", "list", "patch")
_CREATE_DELETE = ("create", "delete", "get", "list")
_CORE: tuple[_Resource, ...] = (
    ("nodes", False, "Node", ("no",), ("get", "list", "patch")),
    ("pods", True, "Pod", ("po",), ("get", "list", "delete")),
    ("services", True, "Service", ("svc",), ("create", "delete", "get", "list", "patch")),
    ("configmaps", True, "ConfigMap", ("cm",), ("create", "delete", "get", "list", "update")),
    ("secrets", True, "Secret", (), ("create", "delete", "get", "list", "patch")),
    ("persistentvolumes", False, "PersistentVolume", ("pv",), ("list",)),
    ("events", True, "Event", ("ev",), _READ),
    ("namespaces", False, "Namespace", ("ns",), ("create", "get", "list", "patch")),
)
GROUPS: dict[str, tuple[_Resource, ...]] = {
    "apps/v1": (
        ("deployments", True, "Deployment", ("deploy",), _WRITE),
        ("replicasets", True, "ReplicaSet", ("rs",), ("get", "list", "patch")),
        ("statefulsets", True, "StatefulSet", ("sts",), _WRITE),
        ("daemonsets", True, "DaemonSet", ("ds",), ("get", "list", "patch")),
    ),
    "batch/v1": (("jobs", True, "Job", (), ("get", "list", "patch")),),
    "policy/v1": (
        (
            "poddisruptionbudgets",
            True,
            "PodDisruptionBudget",
            ("pdb",),
            ("create", "delete", "patch", *_READ),
        ),
    ),
    "coordination.k8s.io/v1": (
        ("leases", True, "Lease", (), ("create", "delete", "get", "list", "update")),
    ),
    # Served by name only (`networking.py`): what the rollout providers read and change.
    "networking.k8s.io/v1": (("ingresses", True, "Ingress", ("ing",), ("get", "patch")),),
    "gateway.networking.k8s.io/v1": (("httproutes", True, "HTTPRoute", (), ("get", "update")),),
    # Read-only (`karpenter.py`): what plan and the karpenter-drift step read.
    "karpenter.sh/v1": (("nodepools", False, "NodePool", (), _READ),),
}


def _resource(entry: _Resource) -> Json:
    name, namespaced, kind, short, verbs = entry
    doc: Json = {
        "name": name,
        "singularName": kind.lower(),
        "namespaced": namespaced,
        "kind": kind,
        "verbs": list(verbs),
    }
    if short:
        doc["shortNames"] = list(short)
    return doc


def api_versions() -> Json:
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}


def api_group_list() -> Json:
    groups = []
    for group_version in GROUPS:
        group, version = group_version.split("/")
        entry = {"groupVersion": group_version, "version": version}
        groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def core_resources() -> Json:
    resources = [_resource(r) for r in _CORE]
    resources.append(
        {
            "name": "pods/eviction",
            "singularName": "",
            "namespaced": True,
            "group": "policy",
            "version": "v1",
            "kind": "Eviction",
            "verbs": ["create"],
        }
    )
    return {"kind": "APIResourceList", "groupVersion": "v1", "resources": resources}


def group_resources(group_version: str) -> Json | None:
    entries = GROUPS.get(group_version)
    if entries is None:
        return None
    resources = [_resource(r) for r in entries]
    if group_version == "apps/v1":
        # `kubectl scale` finds the Scale kind through these subresources.
        for name in ("deployments", "statefulsets"):
            resources.append(
                {
                    "name": f"{name}/scale",
                    "singularName": "",
                    "namespaced": True,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def version(git_version: str) -> Json:
    """GET /version, from the fake's gitVersion ("v1.29.8-eks-a737599")."""
    core = git_version.lstrip("v").split("-")[0].split(".")
    return {
        "major": core[0],
        "minor": core[1] if len(core) > 1 else "0",
        "gitVersion": git_version,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.22.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }
