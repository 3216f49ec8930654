"""Fargate in the sandbox: a pod a Fargate profile selects runs alone on a node of its own.

On EKS, a pod whose namespace and labels match a selector of one of the cluster's ACTIVE
Fargate profiles is given `schedulerName: fargate-scheduler` by EKS's admission webhook; the
fargate-scheduler starts a micro-VM for it, whose kubelet registers a node named
`fargate-ip-...` labelled `eks.amazonaws.com/compute-type: fargate` (and tainted with it, so
nothing else lands there), at the Kubernetes version the control plane has when the pod
starts. The node goes when the pod goes. (EKS user guide, "Fargate pod configuration" and
"Fargate profile": selectors match on namespace and, if given, every label.) A pod keeps the
kubelet it started with, which is why the upgrade restarts Fargate workloads.

The profiles are read from the sandbox's moto EKS (create them with CreateFargateProfile); the
first profile, by name, whose selector matches wins, as on EKS.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from types import MappingProxyType
from typing import TYPE_CHECKING

from upgrader.core.kube import FARGATE_COMPUTE_LABEL, Node, Pod, Resources, Taint, TaintEffect

if TYPE_CHECKING:
    from upgrader.sandbox.cluster.world_view import WorldView

FARGATE_PROFILE_LABEL = "eks.amazonaws.com/fargate-profile"
_MIB = 2**20
_ZONES = ("a", "b", "c")


def _round_up(value: int, step: int) -> int:
    return max(step, -(-value // step) * step)


class FargateProfiles:
    """The `FargatePlacer` of one sandbox cluster: its moto Fargate profiles decide."""

    def __init__(self, world: WorldView, cluster: str) -> None:
        self.world = world
        self.cluster = cluster
        self._serial = itertools.count(1)

    def _profile_for(self, pod: Pod) -> str | None:
        from upgrader.sandbox.eks.backend import eks_backend

        try:
            cluster = eks_backend(self.world.region).clusters.get(self.cluster)
        except RuntimeError:
            return None  # moto's EKS not installed: no Fargate
        if cluster is None:
            return None
        for name in sorted(cluster.fargate_profiles):
            profile = cluster.fargate_profiles[name]
            if getattr(profile, "status", "ACTIVE") != "ACTIVE":
                continue
            for selector in profile.selectors or ():
                labels = selector.get("labels") or {}
                if selector.get("namespace") == pod.namespace and all(
                    pod.labels.get(k) == v for k, v in labels.items()
                ):
                    return str(name)
        return None

    def node_for(self, pod: Pod, server_version: str, now: float) -> Node | None:
        profile = self._profile_for(pod)
        if profile is None:
            return None
        serial = next(self._serial)
        name = f"fargate-ip-10-1-{(serial >> 8) & 255}-{serial & 255}.ec2.internal"
        zone = f"{self.world.region}{_ZONES[serial % len(_ZONES)]}"
        minor = re.match(r"v?(\d+\.\d+)", server_version)
        version = f"v{minor.group(1) if minor else '0.0'}.0-eks-fargate"
        # Fargate sizes the micro-VM to the pod's requests, rounded up to its vCPU and memory
        # steps (0.25 vCPU, 0.5 GiB at the smallest).
        requests = pod.spec.requests
        allocatable = Resources(
            _round_up(requests.cpu_millis, 250), _round_up(requests.memory_bytes, 512 * _MIB), 1
        )
        task = hashlib.sha256(f"{self.cluster}/{pod.key}/{serial}".encode()).hexdigest()[:32]
        labels = {
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            FARGATE_COMPUTE_LABEL: "fargate",
            FARGATE_PROFILE_LABEL: profile,
            "topology.kubernetes.io/zone": zone,
            "topology.kubernetes.io/region": self.world.region,
            "kubernetes.io/hostname": name,
        }
        return Node(
            name=name,
            labels=MappingProxyType(labels),
            taints=(Taint(FARGATE_COMPUTE_LABEL, TaintEffect.NO_SCHEDULE, "fargate"),),
            kubelet_version=version,
            allocatable=allocatable,
            created_at=now,
            provider_id=f"aws:///{zone}/{task}/{name}",
        )
