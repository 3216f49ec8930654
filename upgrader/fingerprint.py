"""The fingerprint of the cluster state a plan was made from, so `execute` can refuse a stale plan.

A plan is only right for the cluster it was made from: if someone upgraded a node group, added
one, or moved an add-on by hand since, the steps (and their idempotency checks) may do the wrong
thing. `execute` takes a fresh snapshot, calls `fingerprint` on it, and compares.

What goes in is exactly what the plan's steps depend on: the control plane's version and
platform version, every managed node group's name, version, AMI release and status, every
self-managed group's image, the add-ons' versions, and each node's name and kubelet version.
Pods are left out on purpose: they churn every minute, and no step's shape depends on them
(the drain re-reads them anyway). Facts are serialised as sorted, canonical JSON and hashed
with SHA-256, so the value is stable across runs, machines and listing orders.
"""

from __future__ import annotations

import hashlib
import json

from upgrader.snapshot import ClusterSnapshot

__all__ = ["ALGORITHM", "fingerprint", "fingerprint_facts", "matches"]

ALGORITHM = "sha256"

Facts = dict[str, object]


def fingerprint_facts(snapshot: ClusterSnapshot) -> Facts:
    """The facts the fingerprint hashes, as plain JSON-able values (useful to diff two states)."""
    cluster = snapshot.cluster
    return {
        "cluster": {
            "name": cluster.name,
            "version": cluster.version,
            "platform_version": cluster.platform_version,
        },
        "nodegroups": sorted(
            [g.name, g.version, g.release_version, g.status] for g in snapshot.nodegroups
        ),
        "self_managed_groups": sorted(
            [g.name, g.image_id or ""] for g in snapshot.self_managed_groups
        ),
        "fargate_profiles": sorted(p.name for p in snapshot.fargate_profiles),
        "addons": sorted([a.name, a.version] for a in snapshot.addons),
        "nodes": sorted([n.name, n.kubelet_version] for n in snapshot.nodes),
    }


def fingerprint(snapshot: ClusterSnapshot) -> str:
    """ "sha256:<hex>" over `fingerprint_facts`; equal for equal states, whatever the order."""
    canonical = json.dumps(fingerprint_facts(snapshot), sort_keys=True, separators=(",", ":"))
    return f"{ALGORITHM}:{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def matches(plan_fingerprint: str, snapshot: ClusterSnapshot) -> bool:
    """Whether a plan made with `plan_fingerprint` still describes this (fresh) snapshot."""
    return plan_fingerprint == fingerprint(snapshot)
