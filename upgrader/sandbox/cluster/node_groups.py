"""What a node group's nodes look like when they join the fake cluster.

The AWS side of the sandbox (moto) knows node groups as desired sizes and launch settings; the
Kubernetes side needs `Node`s labelled and sized as EKS would make them. A `NodeTemplate` holds
the launch settings that matter to Kubernetes, and `NodeFactory` turns it into named nodes.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from upgrader.core.kube import NODEGROUP_LABEL, Node, Pod, Resources, Taint

# An m5.xlarge as EKS reports it: 4 vCPU less kube-reserved, 16 GiB less reserved, 58 pods
# (the VPC CNI's ENI limit).
M5_XLARGE_ALLOCATABLE = Resources(cpu_millis=3920, memory_bytes=15_136 * 2**20, pods=58)


@dataclass(frozen=True)
class NodeTemplate:
    """A node group's launch settings, as far as Kubernetes can see them."""

    kubelet_version: str = "v1.29.8-eks-a737599"
    instance_type: str = "m5.xlarge"
    allocatable: Resources = M5_XLARGE_ALLOCATABLE
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    zones: tuple[str, ...] = ("us-east-1a", "us-east-1b", "us-east-1c")
    capacity_type: str = "ON_DEMAND"


class NodeFactory:
    """Names and labels new nodes the way EKS does: ip-10-x-y-z hostnames, AZs in rotation."""

    def __init__(self) -> None:
        self._serial = itertools.count(1)

    def make(self, group: str, template: NodeTemplate, now: float) -> Node:
        serial = next(self._serial)
        # From 10.0.100.1 up: moto hands self-managed instances addresses from the start of
        # their subnets (the sandbox's are 10.0.0.0/19 to 10.0.64.0/19), and a node's name is
        # its address, so the two must never meet.
        ip = (100 << 8) + serial
        name = f"ip-10-{(ip >> 16) & 255}-{(ip >> 8) & 255}-{ip & 255}.ec2.internal"
        zone = template.zones[serial % len(template.zones)]
        labels = {
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            **template.labels,  # may say arm64; the ones below are the node's own facts
            NODEGROUP_LABEL: group,
            "eks.amazonaws.com/capacityType": template.capacity_type,
            "node.kubernetes.io/instance-type": template.instance_type,
            "topology.kubernetes.io/zone": zone,
            "kubernetes.io/hostname": name,
        }
        return Node(
            name=name,
            labels=MappingProxyType(labels),
            taints=template.taints,
            kubelet_version=template.kubelet_version,
            allocatable=template.allocatable,
            created_at=now,
            provider_id=f"aws:///{zone}/i-{serial:017x}",
        )


@dataclass
class NodeGroupState:
    """The fake cluster's side of a node group: nodes promised but not joined yet."""

    template: NodeTemplate
    epoch: int  # a fresh token when the group is deleted, so that pending joins are void
    joining: int = 0


# A Fargate pod waits for its micro-VM: about a minute on AWS before the node registers.
FARGATE_PROVISION_SECONDS = 45.0


class FargatePlacer(Protocol):
    """Decides which pods run on Fargate, and the node each gets (see `fargate_nodes`)."""

    def node_for(self, pod: Pod, server_version: str, now: float) -> Node | None:
        """The pod's own node if a Fargate profile selects it, else None."""
        ...
