"""What a node of a given EC2 instance type offers to pods, for the simulated cluster.

Figures follow the EKS AMI's formulas rather than a measured table, so any type in the table
below gets a plausible allocatable:
- pods: the VPC CNI limit, ENIs x (IPv4 addresses per ENI - 1) + 2 (no prefix delegation);
- CPU: capacity minus kube-reserved (6% of the first core, 1% of the second, 0.5% of the next
  two, 0.25% of the rest);
- memory: about 93% of the nominal GiB reach the OS, minus kube-reserved (255 MiB + 11 MiB per
  pod) and the 100 MiB hard-eviction threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

from upgrader.core.errors import UserError
from upgrader.core.kube import Resources

MIB = 2**20


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_gib: float
    enis: int
    ips_per_eni: int
    arch: str = "x86_64"

    @property
    def max_pods(self) -> int:
        return self.enis * (self.ips_per_eni - 1) + 2

    @property
    def allocatable(self) -> Resources:
        return Resources(
            cpu_millis=self.vcpus * 1000 - _reserved_cpu_millis(self.vcpus),
            memory_bytes=int(self.memory_gib * 1024 * 0.93) * MIB
            - (255 + 11 * self.max_pods + 100) * MIB,
            pods=self.max_pods,
        )


def _reserved_cpu_millis(vcpus: int) -> int:
    # In tenths of a millicore per core, so the 0.25% band stays an integer.
    tenths = [600, 100, 50, 50]
    total = sum(tenths[:vcpus]) + max(0, vcpus - 4) * 25
    return total // 10


_TYPES = [
    InstanceType("t3.medium", 2, 4, 3, 6),
    InstanceType("t3.large", 2, 8, 3, 12),
    InstanceType("m5.large", 2, 8, 3, 10),
    InstanceType("m5.xlarge", 4, 16, 4, 15),
    InstanceType("m5.2xlarge", 8, 32, 4, 15),
    InstanceType("m5.4xlarge", 16, 64, 8, 30),
    InstanceType("m6i.large", 2, 8, 3, 10),
    InstanceType("m6i.xlarge", 4, 16, 4, 15),
    InstanceType("m6i.2xlarge", 8, 32, 4, 15),
    InstanceType("m7i.large", 2, 8, 3, 10),
    InstanceType("m7i.xlarge", 4, 16, 4, 15),
    InstanceType("c5.xlarge", 4, 8, 4, 15),
    InstanceType("c6i.xlarge", 4, 8, 4, 15),
    InstanceType("r5.large", 2, 16, 3, 10),
    InstanceType("r5.xlarge", 4, 32, 4, 15),
    InstanceType("m6g.large", 2, 8, 3, 10, arch="arm64"),
    InstanceType("m7g.large", 2, 8, 3, 10, arch="arm64"),
    InstanceType("m7g.xlarge", 4, 16, 4, 15, arch="arm64"),
]
INSTANCE_TYPES = {t.name: t for t in _TYPES}


def instance_type(name: str) -> InstanceType:
    try:
        return INSTANCE_TYPES[name]
    except KeyError:
        known = ", ".join(sorted(INSTANCE_TYPES))
        raise UserError(
            f"the sandbox does not know instance type {name!r}; use one of: {known}"
        ) from None
