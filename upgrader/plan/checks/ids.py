"""Every check's id: the stable names a `.eksup.yaml` suppresses and docs/checks.md lists.

Their own module, below both the registry (which refuses to register an id not named here) and
the config (which refuses to suppress one), so that neither imports the other: the config needs
the ids without loading every check, and the registry needs the config's `Suppression`.
"""

from __future__ import annotations

# versions.py
TARGET_VERSION = "target-version"
TARGET_SUPPORT = "target-support"
CONTROL_PLANE_HOPS = "control-plane-hops"
UPGRADE_NOTES = "upgrade-notes"
VERSION_DATA = "version-data"

# nodes.py
KUBELET_SKEW = "kubelet-skew"
KUBELET_SKEW_HOPS = "kubelet-skew-hops"
AL2_AMI = "al2-ami"
NODES_NOT_READY = "nodes-not-ready"
NODEGROUP_HEALTH = "nodegroup-health"
NODES_HELD_BY_HAND = "nodes-held-by-hand"

# addons.py
ADDON_COMPATIBILITY = "addon-compatibility"

# apis.py
REMOVED_APIS = "removed-apis"

# aws_health.py
CLUSTER_HEALTH = "cluster-health"
ADDON_HEALTH = "addon-health"
CLUSTER_SUBNET_IPS = "cluster-subnet-ips"
EKS_INSIGHTS = "eks-insights"
KUBE_CONTEXT = "kube-context"

# disruption.py
PDB_ZERO_DISRUPTIONS = "pdb-zero-disruptions"
PDB_NO_PODS = "pdb-no-pods"
PDB_OVERLAP = "pdb-overlap"
SINGLE_REPLICA = "single-replica"
BARE_PODS = "bare-pods"
LOCAL_STORAGE = "local-storage"
READINESS_PROBE = "readiness-probe"
TERMINATION_GRACE = "termination-grace"

# capacity.py
CAPACITY = "capacity"
SURGE_CAPACITY = "surge-capacity"

# zones.py
ZONAL_PLACEMENT = "zonal-placement"

# ownership.py
IAC_DRIFT = "iac-drift"
CLUSTER_AUTOSCALER = "cluster-autoscaler"
KARPENTER = "karpenter"

# karpenter_placement.py
KARPENTER_PLACEMENT = "karpenter-placement"

CHECK_IDS = frozenset(
    {
        TARGET_VERSION,
        TARGET_SUPPORT,
        CONTROL_PLANE_HOPS,
        UPGRADE_NOTES,
        VERSION_DATA,
        KUBELET_SKEW,
        KUBELET_SKEW_HOPS,
        AL2_AMI,
        NODES_NOT_READY,
        NODEGROUP_HEALTH,
        NODES_HELD_BY_HAND,
        ADDON_COMPATIBILITY,
        REMOVED_APIS,
        CLUSTER_HEALTH,
        ADDON_HEALTH,
        CLUSTER_SUBNET_IPS,
        EKS_INSIGHTS,
        KUBE_CONTEXT,
        PDB_ZERO_DISRUPTIONS,
        PDB_NO_PODS,
        PDB_OVERLAP,
        SINGLE_REPLICA,
        BARE_PODS,
        LOCAL_STORAGE,
        READINESS_PROBE,
        TERMINATION_GRACE,
        CAPACITY,
        SURGE_CAPACITY,
        ZONAL_PLACEMENT,
        IAC_DRIFT,
        CLUSTER_AUTOSCALER,
        KARPENTER,
        KARPENTER_PLACEMENT,
    }
)
