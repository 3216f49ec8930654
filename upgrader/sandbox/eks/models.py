"""EKS resources whose state follows the clock, as AWS's does and moto's does not.

moto's clusters and node groups are ACTIVE at once and change version the moment they are
asked to. Here a change is an `Update` with a start and an end on `settings.clock`; a resource's
status and version are derived, on read, from its updates. No thread moves anything: reading
after the virtual clock has advanced shows the later state, and a sandbox hook may end an update
itself (`Update.finish`). The cluster subclasses moto's model, so moto's handlers keep working
on it; node groups and add-ons are our own classes whose attribute names are the API's, which
is what moto's serializer looks for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.eks import models as moto_models
from moto.moto_api._internal import mock_random

from upgrader.sandbox.eks.state import NodegroupFacts, settings
from upgrader.sandbox.eks.versions import platform_version

IN_PROGRESS = "InProgress"
SUCCESSFUL = "Successful"
FAILED = "Failed"
CANCELLED = "Cancelled"


def now() -> float:
    return settings.clock.now()


def timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def new_id() -> str:
    # moto's random source, so that a seeded moto (its /moto-api/seed) replays the same ids.
    return str(mock_random.uuid4())


@dataclass
class Update:
    """One EKS update (DescribeUpdate's shape) and the attribute values it sets on success."""

    type: str  # VersionUpdate, VersionRollback, ConfigUpdate, AddonUpdate
    params: Sequence[tuple[str, str]]
    created: float
    completes: float | None  # None: stays InProgress until `finish` (a sandbox hook owns it)
    effects: Mapping[str, str] = field(default_factory=dict)
    token: str | None = None  # the request's clientRequestToken: a retry gets this update back
    id: str = field(default_factory=new_id)
    outcome: str | None = None
    errors: Sequence[Mapping[str, Any]] = ()
    # What a version update left behind, for a rollback to restore (AWS keeps this history).
    from_values: Mapping[str, str] = field(default_factory=dict)
    # "standard" or "extended": EKS made this update itself when that support ended.
    automatic: str = ""
    finished_at: float | None = None

    def status(self, at: float) -> str:
        if self.outcome is not None:
            return self.outcome
        if self.completes is not None and at >= self.completes:
            return SUCCESSFUL
        return IN_PROGRESS

    def finish(self, status: str, errors: Sequence[Mapping[str, Any]] = ()) -> None:
        if status not in (SUCCESSFUL, FAILED, CANCELLED):
            raise ValueError(f"an update ends Successful, Failed or Cancelled, not {status}")
        if self.status(now()) != IN_PROGRESS:
            raise ValueError(f"update {self.id} already ended {self.status(now())}")
        self.outcome = status
        self.errors = tuple(errors)
        self.finished_at = now()

    def ended_at(self, at: float) -> float | None:
        """When the update ended, if it has by `at`."""
        if self.outcome is not None:
            return self.finished_at
        if self.completes is not None and at >= self.completes:
            return self.completes
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status(now()),
            "type": self.type,
            "params": [{"type": kind, "value": value} for kind, value in self.params],
            "createdAt": timestamp(self.created),
            "errors": list(self.errors),
        }


def replayed(updates: Mapping[str, Update], token: str | None) -> Update | None:
    """The update a request with this clientRequestToken already started (AWS answers a retry
    with it rather than starting, or refusing, a second one)."""
    if not token:
        return None
    return next((u for u in updates.values() if u.token == token), None)


def same_request(resource: Any, token: str | None) -> bool:
    """Whether a create retried with this clientRequestToken made `resource`: AWS then answers
    with the resource instead of "already exists"."""
    return bool(token) and getattr(resource, "client_request_token", None) == token


def running(updates: Mapping[str, Update]) -> Update | None:
    at = now()
    return next((u for u in updates.values() if u.status(at) == IN_PROGRESS), None)


def applied(updates: Mapping[str, Update], key: str, default: str) -> str:
    """The value the latest successful update set for `key`, else `default`."""
    at = now()
    value = default
    for update in updates.values():
        if key in update.effects and update.status(at) == SUCCESSFUL:
            value = update.effects[key]
    return value


class Cluster(moto_models.Cluster):
    """moto's cluster; status, version and platformVersion follow its version updates."""

    nodegroups: dict[str, Nodegroup]  # type: ignore[assignment]  # ours, not moto's
    upgradePolicy: dict[str, str]  # noqa: N815 (the API's name, read by moto's serializer)

    def __init__(self, created: float, **kwargs: Any) -> None:
        self.updates: dict[str, Update] = {}
        self.addons: dict[str, Addon] = {}
        self.insights: dict[str, Insight] = {}
        super().__init__(**kwargs)
        self.created_at = timestamp(created)
        # CreateCluster answers CREATING; the control plane is ACTIVE some minutes later.
        self.ready_at = created + settings.cluster_create_seconds

    # moto's __init__ assigns status, version and platformVersion: the setters keep those as
    # the values at rest, which the getters show while no update says otherwise.
    @property
    def status(self) -> str:
        if self._status == "ACTIVE" and now() < self.ready_at:
            return "CREATING"
        return "UPDATING" if running(self.updates) else self._status

    @status.setter
    def status(self, value: str) -> None:
        self._status = value

    @property
    def version(self) -> str:
        return applied(self.updates, "version", self._version)

    @version.setter
    def version(self, value: str) -> None:
        self._version = value

    @property
    def platformVersion(self) -> str:  # noqa: N802 (moto's attribute name, read by the serializer)
        """The latest platform version of the current minor: EKS moves clusters to it itself."""
        return platform_version(self.version, now())

    @platformVersion.setter
    def platformVersion(self, value: str) -> None:  # noqa: N802
        self._platform_version = value


class Nodegroup:
    """A managed node group: CREATING until `ready_at`, UPDATING while an update runs, DELETING
    from delete until `gone_at`, DEGRADED while `health["issues"]` is not empty.

    Not moto's class: its __init__ builds the whole EC2 backend (about 1.5 s) to resolve a
    launch template even when there is none. Attribute names are the API's in snake_case,
    which is what moto's serializer and moto's update_nodegroup_config read and write."""

    def __init__(
        self,
        *,
        cluster_name: str,
        nodegroup_name: str,
        nodegroup_arn: str,
        node_role: str,
        subnets: Sequence[str],
        scaling_config: dict[str, int],
        version: str,
        release_version: str,
        ami_type: str,
        created: float,
        ready_at: float,
        capacity_type: str | None = None,
        instance_types: Sequence[str] | None = None,
        disk_size: int | None = None,
        remote_access: dict[str, Any] | None = None,
        labels: dict[str, str] | None = None,
        taints: list[dict[str, str]] | None = None,
        tags: dict[str, str] | None = None,
        launch_template: dict[str, str] | None = None,
        update_config: dict[str, int] | None = None,
        node_repair_config: dict[str, Any] | None = None,
        client_request_token: str | None = None,
    ) -> None:
        self.updates: dict[str, Update] = {}
        self.cluster_name = cluster_name
        self.nodegroup_name = nodegroup_name
        self.nodegroup_arn = nodegroup_arn
        self.node_role = node_role
        self.subnets = list(subnets)
        self.scaling_config = scaling_config
        self.ami_type = ami_type
        self.capacity_type = capacity_type or "ON_DEMAND"
        # With a launch template, instance type and disk come from the template, as on AWS.
        default_types = None if launch_template else ["t3.medium"]
        self.instance_types = list(instance_types) if instance_types else default_types
        self.disk_size = disk_size or (None if launch_template else 20)
        self.remote_access = remote_access
        self.labels = labels or {}
        self.taints = taints or []
        self.tags = tags or {}
        self.update_config = update_config
        self.node_repair_config = node_repair_config
        self.client_request_token = client_request_token
        self.resources: dict[str, Any] = {
            "autoScalingGroups": [{"name": f"eks-{nodegroup_name}-{nodegroup_arn[-36:]}"}]
        }
        self.health: dict[str, Any] = {"issues": []}
        self.created_at = self.modified_at = timestamp(created)
        self.ready_at = ready_at
        self.gone_at: float | None = None
        self._version = version
        self._release_version = release_version
        self._launch_template = launch_template

    @property
    def status(self) -> str:
        if self.gone_at is not None:
            return "DELETING"
        if now() < self.ready_at:
            return "CREATING"
        if running(self.updates):
            return "UPDATING"
        return "DEGRADED" if self.health.get("issues") else "ACTIVE"

    @property
    def version(self) -> str:
        return applied(self.updates, "version", self._version)

    @property
    def release_version(self) -> str:
        return applied(self.updates, "releaseVersion", self._release_version)

    @property
    def launch_template(self) -> dict[str, str] | None:
        version = applied(self.updates, "launchTemplateVersion", "")
        base = self._launch_template
        return {**base, "version": version} if base is not None and version else base

    def facts(self, delay: float, **changes: str) -> NodegroupFacts:
        """What the sandbox needs; `changes` overrides version/release_version for an update."""
        scaling = self.scaling_config
        update_config = self.update_config or {}
        return NodegroupFacts(
            cluster=self.cluster_name,
            name=self.nodegroup_name,
            version=changes.get("version", self.version),
            release_version=changes.get("release_version", self.release_version),
            ami_type=self.ami_type,
            capacity_type=self.capacity_type,
            instance_types=tuple(self.instance_types or ()),
            desired_size=int(scaling["desiredSize"]),
            min_size=int(scaling["minSize"]),
            max_size=int(scaling["maxSize"]),
            labels=dict(self.labels),
            taints=tuple(dict(t) for t in self.taints),
            max_unavailable=update_config.get("maxUnavailable"),
            max_unavailable_percentage=update_config.get("maxUnavailablePercentage"),
            delay=delay,
        )


class Addon:
    """An EKS add-on: CREATING until `ready_at`, UPDATING while an update runs, DELETING until
    `gone_at`; its version follows its successful updates."""

    def __init__(
        self,
        *,
        cluster: str,
        name: str,
        version: str,
        arn: str,
        created: float,
        ready_at: float,
        service_account_role_arn: str | None = None,
        configuration_values: str | None = None,
        tags: Mapping[str, str] | None = None,
        client_request_token: str | None = None,
    ) -> None:
        self.cluster = cluster
        self.client_request_token = client_request_token
        self.name = name
        self.initial_version = version
        self.arn = arn
        self.created = self.modified = created
        self.ready_at = ready_at
        self.gone_at: float | None = None
        self.service_account_role_arn = service_account_role_arn
        self.configuration_values = configuration_values
        self.tags = dict(tags or {})
        self.health: dict[str, Any] = {"issues": []}
        self.updates: dict[str, Update] = {}

    @property
    def status(self) -> str:
        if self.gone_at is not None:
            return "DELETING"
        if now() < self.ready_at:
            return "CREATING"
        if running(self.updates):
            return "UPDATING"
        return "DEGRADED" if self.health.get("issues") else "ACTIVE"

    @property
    def version(self) -> str:
        return applied(self.updates, "addonVersion", self.initial_version)

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "addonName": self.name,
            "clusterName": self.cluster,
            "status": self.status,
            "addonVersion": self.version,
            "health": self.health,
            "addonArn": self.arn,
            "createdAt": timestamp(self.created),
            "modifiedAt": timestamp(self.modified),
            "tags": self.tags,
            "publisher": "eks",
            "owner": "aws",
        }
        if self.service_account_role_arn:
            described["serviceAccountRoleArn"] = self.service_account_role_arn
        if self.configuration_values:
            described["configurationValues"] = self.configuration_values
        return described


@dataclass
class Insight:
    """A cluster insight; the sandbox or a test states its findings (AWS computes them)."""

    name: str
    category: str
    kubernetes_version: str
    status: str  # PASSING, WARNING, ERROR, UNKNOWN
    reason: str
    description: str
    recommendation: str
    refreshed: float
    transitioned: float
    additional_info: Mapping[str, str] = field(default_factory=dict)
    resources: Sequence[Mapping[str, Any]] = ()
    id: str = field(default_factory=new_id)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "kubernetesVersion": self.kubernetes_version,
            "lastRefreshTime": timestamp(self.refreshed),
            "lastTransitionTime": timestamp(self.transitioned),
            "description": self.description,
            "insightStatus": {"status": self.status, "reason": self.reason},
        }

    def describe(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "recommendation": self.recommendation,
            "additionalInfo": dict(self.additional_info),
            "resources": [dict(r) for r in self.resources],
        }
