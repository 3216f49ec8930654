"""AWS resources as eksup sees them: plain values that cross the AWS ports.

Field names follow eksup's domain, not boto3's response shapes; the boto3 adapter translates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class UpdateStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    SUCCESSFUL = "Successful"

    @property
    def finished(self) -> bool:
        return self is not UpdateStatus.IN_PROGRESS


@dataclass(frozen=True)
class EksCluster:
    name: str
    arn: str
    version: str
    platform_version: str
    status: str  # CREATING, ACTIVE, DELETING, FAILED, UPDATING, PENDING
    endpoint: str
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    role_arn: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    support_type: str = "EXTENDED"
    health_issues: tuple[str, ...] = ()  # DescribeCluster health.issues, "code: message"
    certificate_authority: str = ""  # certificateAuthority.data: the API server's CA, base64 PEM


@dataclass(frozen=True)
class ScalingConfig:
    min_size: int
    max_size: int
    desired_size: int


@dataclass(frozen=True)
class UpdateConfig:
    """A managed node group's update parallelism: exactly one of the two is set."""

    max_unavailable: int | None = 1
    max_unavailable_percentage: int | None = None

    def __str__(self) -> str:
        """ "3" or "25%", as a plan and a person write it."""
        if self.max_unavailable_percentage is not None:
            return f"{self.max_unavailable_percentage}%"
        return str(self.max_unavailable or 1)

    @classmethod
    def parse(cls, text: str) -> UpdateConfig:
        """ "3" or "25%"; EKS takes 1-100 either way. Raises ValueError."""
        percent = text.endswith("%")
        number = int(text.removesuffix("%"))
        if not 1 <= number <= 100:  # EKS takes these bounds for both forms
            raise ValueError(f"maxUnavailable must be 1-100 or 1%-100%, got {text}")
        return cls(None, number) if percent else cls(number, None)


@dataclass(frozen=True)
class LaunchTemplateRef:
    id: str = ""
    name: str = ""
    version: str = ""


@dataclass(frozen=True)
class NodegroupTaint:
    """EKS spells taint effects NO_SCHEDULE / NO_EXECUTE / PREFER_NO_SCHEDULE."""

    key: str
    value: str
    effect: str


@dataclass(frozen=True)
class Nodegroup:
    cluster: str
    name: str
    arn: str
    status: str  # CREATING, ACTIVE, UPDATING, DELETING, CREATE_FAILED, DELETE_FAILED, DEGRADED
    version: str
    release_version: str
    ami_type: str
    capacity_type: str
    instance_types: tuple[str, ...]
    subnets: tuple[str, ...]
    scaling: ScalingConfig
    node_role: str
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[NodegroupTaint, ...] = ()
    launch_template: LaunchTemplateRef | None = None
    update_config: UpdateConfig = UpdateConfig()
    disk_size: int | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    health_issues: tuple[str, ...] = ()
    auto_scaling_groups: tuple[str, ...] = ()
    created_at: float = 0.0


@dataclass(frozen=True)
class NodegroupSpec:
    """What `create_nodegroup` needs; the green group is a blue group's spec at a new version."""

    cluster: str
    name: str
    node_role: str
    subnets: tuple[str, ...]
    scaling: ScalingConfig
    version: str | None = None
    release_version: str | None = None
    ami_type: str | None = None
    capacity_type: str = "ON_DEMAND"
    instance_types: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[NodegroupTaint, ...] = ()
    launch_template: LaunchTemplateRef | None = None
    update_config: UpdateConfig | None = None
    disk_size: int | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EksUpdate:
    id: str
    type: str  # VersionUpdate, ConfigUpdate, AddonUpdate, ...
    status: UpdateStatus
    params: Mapping[str, str] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    created_at: float = 0.0


@dataclass(frozen=True)
class Addon:
    name: str
    version: str
    status: str  # CREATING, ACTIVE, UPDATING, DEGRADED, ...
    service_account_role_arn: str | None = None
    configuration_values: str | None = None


@dataclass(frozen=True)
class AddonCompatibility:
    cluster_version: str
    default_version: bool


@dataclass(frozen=True)
class AddonVersion:
    addon_name: str
    version: str
    compatibilities: tuple[AddonCompatibility, ...] = ()

    def compatible_with(self, cluster_version: str) -> bool:
        return any(c.cluster_version == cluster_version for c in self.compatibilities)

    def default_for(self, cluster_version: str) -> bool:
        return any(
            c.cluster_version == cluster_version and c.default_version for c in self.compatibilities
        )


@dataclass(frozen=True)
class EksVersionFacts:
    """One Kubernetes version as EKS's DescribeClusterVersions reports it today."""

    version: str  # "1.31"
    status: str  # STANDARD_SUPPORT, EXTENDED_SUPPORT, UNSUPPORTED
    release: dt.date | None
    end_of_standard_support: dt.date | None
    end_of_extended_support: dt.date | None
    default: bool = False  # what CreateCluster uses without a version


@dataclass(frozen=True)
class Insight:
    id: str
    name: str
    category: str  # UPGRADE_READINESS, MISCONFIGURATION
    status: str  # PASSING, WARNING, ERROR, UNKNOWN
    kubernetes_version: str
    description: str = ""
    recommendation: str = ""


@dataclass(frozen=True)
class FargateProfile:
    name: str
    status: str
    selectors: tuple[Mapping[str, str], ...] = ()  # {"namespace": ..., label: value, ...}
    subnets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Subnet:
    id: str
    availability_zone: str
    cidr: str
    available_ips: int


@dataclass(frozen=True)
class LaunchTemplateVersion:
    template_id: str
    template_name: str
    version: str
    image_id: str
    instance_type: str | None = None


@dataclass(frozen=True)
class AsgInstance:
    id: str
    image_id: str
    lifecycle_state: str
    health: str
    availability_zone: str = ""


@dataclass(frozen=True)
class AutoScalingGroup:
    name: str
    min_size: int
    max_size: int
    desired_capacity: int
    launch_template: LaunchTemplateRef | None
    instances: tuple[AsgInstance, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    suspended_processes: tuple[str, ...] = ()
    subnets: tuple[str, ...] = ()


@dataclass(frozen=True)
class TargetWeight:
    target_group_arn: str
    weight: int


@dataclass(frozen=True)
class ForwardRule:
    """A listener's default action or a rule: where it forwards, with which weights."""

    arn: str
    priority: str  # "default" for a listener's default action
    targets: tuple[TargetWeight, ...]
    conditions: tuple[Mapping[str, object], ...] = ()


@dataclass(frozen=True)
class TargetHealth:
    target_id: str
    port: int | None
    state: str  # initial, healthy, unhealthy, unused, draining, unavailable
    reason: str = ""


@dataclass(frozen=True)
class WeightedRecord:
    name: str
    type: str
    set_identifier: str
    weight: int
    ttl: int | None = None
    values: tuple[str, ...] = ()
    alias_target: Mapping[str, object] | None = None


@dataclass(frozen=True)
class Alarm:
    name: str
    state: str  # OK, ALARM, INSUFFICIENT_DATA
    reason: str = ""


@dataclass(frozen=True)
class MetricQuery:
    """A CloudWatch metric over a window: one statistic of one metric with its dimensions."""

    namespace: str
    metric_name: str
    dimensions: Mapping[str, str]
    statistic: str  # Average, Sum, Maximum, p99, ...
    period_seconds: int = 60
