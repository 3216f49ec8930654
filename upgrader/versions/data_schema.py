"""The schema of the version data file (upgrader/data/eks_versions.yaml): every fact with its
sources, validated strictly."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    model_validator,
)

from upgrader.versions.kube_version import KubeVersion, NodeKind, Severity, SupportStatus

# --- the data file's schema ---------------------------------------------------------------------


def _minor_from_data(value: object) -> KubeVersion:
    if isinstance(value, KubeVersion):
        return value
    if not isinstance(value, str):
        # The usual cause: an unquoted 1.30 in YAML, which is the float 1.3.
        raise ValueError(
            f'a Kubernetes version must be a quoted string such as "1.30", got {value!r}'
        )
    parsed = KubeVersion.try_parse(value)
    if parsed is None or str(parsed) != value:
        raise ValueError(f'expected a Kubernetes minor such as "1.30", got {value!r}')
    return parsed


def _target_from_data(value: object) -> KubeVersion | None:
    return None if value == "any" else _minor_from_data(value)


Minor = Annotated[KubeVersion, PlainValidator(_minor_from_data)]
SourceId = Annotated[str, StringConstraints(pattern=r"^S\d+[a-z]?$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
Text = Annotated[str, StringConstraints(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Sourced(_Model):
    """Provenance every fact carries: where it comes from and how far to trust it."""

    sources: tuple[SourceId, ...] = Field(min_length=1)
    verified: bool = True  # False: one secondary source only, or the sources disagree
    inferred: bool = False  # True: worked out from other facts, stated by no source
    notes: str = ""


class Source(_Model):
    title: Text
    commits: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    date: dt.date | None = None


class Lifecycle(Sourced):
    standard_support_months: int = Field(gt=0)
    extended_support_months: int = Field(gt=0)
    formula_exceptions: dict[Minor, Text] = {}


class VersionInfo(Sourced):
    """One Kubernetes minor on EKS. A date of None is unknown; each date starts the new state."""

    version: Minor
    upstream_release: dt.date
    eks_release: dt.date | None
    end_of_standard_support: dt.date | None
    end_of_extended_support: dt.date | None
    upstream_end_of_life: dt.date | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> VersionInfo:
        chain = [
            ("upstream_release", self.upstream_release),
            ("eks_release", self.eks_release),
            ("end_of_standard_support", self.end_of_standard_support),
            ("end_of_extended_support", self.end_of_extended_support),
        ]
        # A later date cannot be known while an earlier one is not, and each must come later.
        for (earlier_name, earlier), (later_name, later) in itertools.pairwise(chain):
            if later is not None and (earlier is None or later <= earlier):
                raise ValueError(
                    f"{later_name} ({later}) must come after {earlier_name} ({earlier})"
                )
        return self

    @property
    def available_on_eks(self) -> bool:
        return self.eks_release is not None

    def status_on(self, today: dt.date) -> SupportStatus:
        if self.eks_release is None:
            return SupportStatus.UNKNOWN
        if today < self.eks_release:
            return SupportStatus.NOT_YET_AVAILABLE
        if self.end_of_standard_support is None:
            return SupportStatus.UNKNOWN
        if today < self.end_of_standard_support:
            return SupportStatus.STANDARD
        if self.end_of_extended_support is None:
            return SupportStatus.UNKNOWN
        if today < self.end_of_extended_support:
            return SupportStatus.EXTENDED
        return SupportStatus.UNSUPPORTED


class ApiRemoval(Sourced):
    """A group/version + kind the API server stops serving in `removed_in`."""

    group_version: Annotated[
        str,
        StringConstraints(pattern=r"^([a-z0-9]([a-z0-9.-]*[a-z0-9])?/)?v\d+((alpha|beta)\d+)?$"),
    ]
    kind: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]*$")]
    removed_in: Minor
    deprecated_in: Minor | None = None
    replacement: str | None  # None: no replacement API exists (e.g. PodSecurityPolicy)
    replacement_available_in: Minor | None = None
    served: bool = True  # False: a client-side API, invisible in the cluster's objects

    @model_validator(mode="after")
    def _consistent(self) -> ApiRemoval:
        if self.deprecated_in is not None and self.deprecated_in > self.removed_in:
            raise ValueError(
                f"deprecated_in {self.deprecated_in} is after removed_in {self.removed_in}"
            )
        if self.replacement is None and self.replacement_available_in is not None:
            raise ValueError("replacement_available_in without a replacement")
        if (
            self.replacement_available_in is not None
            and self.replacement_available_in > self.removed_in
        ):
            raise ValueError(
                f"replacement_available_in {self.replacement_available_in} is after removed_in"
                f" {self.removed_in}: there would be a gap with no API"
            )
        return self

    @property
    def stability(self) -> Literal["alpha", "beta", "ga"]:
        version = self.group_version.rsplit("/", 1)[-1]
        if "alpha" in version:
            return "alpha"
        return "beta" if "beta" in version else "ga"


class Gotcha(Sourced):
    """Something known to break or change when upgrading to `target` (None: every upgrade)."""

    id: Slug
    target: Annotated[KubeVersion | None, PlainValidator(_target_from_data)]
    severity: Severity
    summary: Text
    detect: Text  # eksup's guidance on where to look; not a sourced fact

    @property
    def applies_to_every_upgrade(self) -> bool:
        return self.target is None


class NarrowerSkew(_Model):
    control_plane_below: Minor
    max_minors_older: int = Field(ge=0)


class SkewRule(Sourced):
    may_be_newer: bool
    max_minors_older: int = Field(ge=0)
    narrower: NarrowerSkew | None = None

    def max_minors_older_for(self, control_plane: KubeVersion) -> int:
        if self.narrower is not None and control_plane < self.narrower.control_plane_below:
            return self.narrower.max_minors_older
        return self.max_minors_older

    def allows(self, component: KubeVersion, control_plane: KubeVersion) -> bool:
        if component.major != control_plane.major:
            return False
        behind = control_plane - component
        if behind < 0:
            return self.may_be_newer
        return behind <= self.max_minors_older_for(control_plane)


class SkewRules(_Model):
    kubelet: SkewRule
    kube_proxy: SkewRule


class Rollback(_Model):
    max_minors: int = Field(ge=0)
    window_days: int = Field(ge=0)


class UpgradeRules(Sourced):
    # The hop logic below is written for one minor per upgrade; the data states the rule with
    # its source, and a different value must come with different code.
    control_plane_minors_per_upgrade: Literal[1]
    must_match_control_plane_before_upgrade: tuple[NodeKind, ...]
    may_trail_within_skew: tuple[NodeKind, ...]
    free_ips_required: int = Field(ge=0)
    rollback: Rollback

    @model_validator(mode="after")
    def _every_node_kind_once(self) -> UpgradeRules:
        listed = [*self.must_match_control_plane_before_upgrade, *self.may_trail_within_skew]
        if sorted(listed) != sorted(NodeKind):
            raise ValueError(
                "must_match_control_plane_before_upgrade and may_trail_within_skew must list"
                f" every node kind exactly once: {', '.join(NodeKind)}"
            )
        return self


class Al2Facts(Sourced):
    last_kubernetes_version: Minor
    ami_end_of_support: dt.date
    os_end_of_life: dt.date
    ami_types: tuple[str, ...] = Field(min_length=1)


class Al2023Facts(Sourced):
    default_for_new_managed_node_groups_from: Minor


class AmiTypes(Sourced):
    names: tuple[str, ...] = Field(min_length=1)


class SsmParameter(Sourced):
    """A public SSM parameter holding the recommended AMI id; `{version}` is the minor."""

    path: Annotated[str, StringConstraints(pattern=r"^/aws/service/[^{}]*\{version\}[^{}]*$")]
    first_version: Minor | None = None
    last_version: Minor | None = None

    def for_version(self, version: KubeVersion) -> str | None:
        if self.first_version is not None and version < self.first_version:
            return None
        if self.last_version is not None and version > self.last_version:
            return None
        return self.path.format(version=version)


class AmiFacts(_Model):
    al2: Al2Facts
    al2023: Al2023Facts
    ami_types: AmiTypes
    ssm_parameters: dict[str, SsmParameter]

    @model_validator(mode="after")
    def _consistent(self) -> AmiFacts:
        known = set(self.ami_types.names)
        if unknown := sorted((set(self.ssm_parameters) | set(self.al2.ami_types)) - known):
            raise ValueError(f"AMI types not in ami_types.names: {', '.join(unknown)}")
        for ami_type in self.al2.ami_types:
            parameter = self.ssm_parameters.get(ami_type)
            if parameter is None or parameter.last_version != self.al2.last_kubernetes_version:
                raise ValueError(
                    f"ssm_parameters.{ami_type}.last_version must be al2.last_kubernetes_version"
                    f" ({self.al2.last_kubernetes_version})"
                )
        return self


class AddonMinimum(Sourced):
    """The add-on must be at least `version` before the control plane reaches `kubernetes`
    (None: a standing requirement that `reason` describes)."""

    version: Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+$")]
    kubernetes: Minor | None
    reason: Text


class AddonRule(Sourced):
    one_minor_at_a_time: bool
    minor_matches_cluster: bool
    minimums: tuple[AddonMinimum, ...] = ()


class VersionData(_Model):
    """The whole data file, as validated."""

    schema_version: Literal[1]
    compiled: dt.date
    compiled_from: Text
    lifecycle: Lifecycle
    versions: tuple[VersionInfo, ...] = Field(min_length=1)
    api_removals: tuple[ApiRemoval, ...]
    skew: SkewRules
    upgrade_rules: UpgradeRules
    amis: AmiFacts
    addons: dict[Slug, AddonRule]
    gotchas: tuple[Gotcha, ...]
    sources: dict[SourceId, Source]
