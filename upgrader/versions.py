"""What eksup knows about Kubernetes and EKS versions, and the rules that follow from it.

The facts (EKS calendar, API removals, skew and upgrade rules, AMI parameters, per-version
gotchas) change with every release and each one needs a source, so they live in a data file,
`upgrader/data/eks_versions.yaml`, that a reviewer can check line by line against its sources
(docs/versions.md says how). This module loads that file once, validates it strictly, and turns
it into a small typed API the planner and the checks decide with. It is pure: the only I/O is
reading the packaged file.

The file is a fallback and a source of rules, not the live truth: at run time
`eks:DescribeClusterVersions` wins for the calendar, and add-on versions always come from
`eks:DescribeAddonVersions`, never from here.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import itertools
import re
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Annotated, Any, Literal, overload

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    model_validator,
)

from upgrader.core.errors import PermanentError, UserError

__all__ = [
    "AddonMinimum",
    "AddonRule",
    "ApiRemoval",
    "Gotcha",
    "KubeVersion",
    "NodeKind",
    "Severity",
    "Source",
    "SupportStatus",
    "VersionCatalog",
    "VersionDataError",
    "VersionInfo",
    "default_catalog",
]

DATA_PACKAGE = "upgrader.data"
DATA_FILE = "eks_versions.yaml"

# Leading zeros are refused so that "1.030" cannot pass for 1.30; anything after the patch
# ("-eks-ae9a62a", "+build") is ignored, as kubelets and API servers report it.
_VERSION_RE = re.compile(r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:[-+][0-9A-Za-z.+-]*)?")


@dataclass(frozen=True, order=True)
class KubeVersion:
    """A Kubernetes minor version, e.g. 1.29: what EKS upgrades and skew rules are about.

    Patch and build are dropped on purpose: EKS upgrades, support dates and skew are per minor.
    """

    major: int
    minor: int

    def __post_init__(self) -> None:
        if self.major < 0 or self.minor < 0:
            raise ValueError(f"negative version component in {self.major}.{self.minor}")

    @classmethod
    def try_parse(cls, text: str) -> KubeVersion | None:
        """The minor of "1.29", "1.29.3" or "v1.29.3-eks-ae9a62a"; None when malformed."""
        match = _VERSION_RE.fullmatch(text.strip())
        if match is None:
            return None
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def parse(cls, text: str) -> KubeVersion:
        """Like `try_parse`; a malformed version is the user's error, with a one-line message."""
        version = cls.try_parse(text)
        if version is None:
            raise UserError(
                f"malformed Kubernetes version {text!r}: expected e.g. 1.29, 1.29.3"
                " or v1.29.3-eks-ae9a62a"
            )
        return version

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def __add__(self, minors: int) -> KubeVersion:
        return KubeVersion(self.major, self.minor + minors)

    @overload
    def __sub__(self, other: int) -> KubeVersion: ...
    @overload
    def __sub__(self, other: KubeVersion) -> int: ...
    def __sub__(self, other: int | KubeVersion) -> KubeVersion | int:
        """`v - 2` is two minors earlier; `a - b` is how many minors a is ahead of b."""
        if isinstance(other, int):
            return KubeVersion(self.major, self.minor - other)
        if other.major != self.major:
            raise ValueError(f"no minor distance between {self} and {other}: majors differ")
        return self.minor - other.minor


VersionLike = KubeVersion | str


def _version(value: VersionLike) -> KubeVersion:
    return value if isinstance(value, KubeVersion) else KubeVersion.parse(value)


class SupportStatus(StrEnum):
    """Where a version stands in EKS's calendar on a given day."""

    NOT_YET_AVAILABLE = "not-yet-available"
    STANDARD = "standard"
    EXTENDED = "extended"
    UNSUPPORTED = "unsupported"
    UNKNOWN = "unknown"


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


class NodeKind(StrEnum):
    """How a node is managed, which decides what AWS requires of it around an upgrade."""

    MANAGED_NODE_GROUP = "managed_node_group"
    FARGATE = "fargate"
    SELF_MANAGED = "self_managed"
    HYBRID = "hybrid"


class VersionDataError(PermanentError):
    """The packaged version data is malformed (a packaging bug): `file: field: message` lines."""


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


class _Sourced(_Model):
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


class Lifecycle(_Sourced):
    standard_support_months: int = Field(gt=0)
    extended_support_months: int = Field(gt=0)
    formula_exceptions: dict[Minor, Text] = {}


class VersionInfo(_Sourced):
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


class ApiRemoval(_Sourced):
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


class Gotcha(_Sourced):
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


class SkewRule(_Sourced):
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


class UpgradeRules(_Sourced):
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


class Al2Facts(_Sourced):
    last_kubernetes_version: Minor
    ami_end_of_support: dt.date
    os_end_of_life: dt.date
    ami_types: tuple[str, ...] = Field(min_length=1)


class Al2023Facts(_Sourced):
    default_for_new_managed_node_groups_from: Minor


class AmiTypes(_Sourced):
    names: tuple[str, ...] = Field(min_length=1)


class SsmParameter(_Sourced):
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


class AddonMinimum(_Sourced):
    """The add-on must be at least `version` before the control plane reaches `kubernetes`
    (None: a standing requirement that `reason` describes)."""

    version: Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+$")]
    kubernetes: Minor | None
    reason: Text


class AddonRule(_Sourced):
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


# --- loading ------------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; a repeated version or source id must fail."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, Hashable):
            continue  # construct_mapping below reports it in PyYAML's words
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


# What names a list item in an error path: a version's version, a gotcha's id, a removal's kind.
_LABEL_ORDER = ("version", "id", "kind")


def _describe_location(loc: tuple[int | str, ...], raw: object) -> str:
    """`versions[3](1.26).eks_release`: list items are named by their version or id."""
    out = ""
    node: object = raw
    for item in loc:
        if isinstance(item, int):
            child = node[item] if isinstance(node, list) and 0 <= item < len(node) else None
            label = None
            if isinstance(child, dict):
                label = next((child[key] for key in _LABEL_ORDER if key in child), None)
            out += f"[{item}]" + (f"({label})" if isinstance(label, str) else "")
        else:
            child = node.get(item) if isinstance(node, dict) else None
            out += ("." if out else "") + str(item)
        node = child
    return out or "(top level)"


def _walk(value: object, path: str) -> Iterator[tuple[str, object]]:
    yield path, value
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            label = next((getattr(item, k) for k in _LABEL_ORDER if hasattr(item, k)), None)
            yield from _walk(item, f"{path}[{index}]" + (f"({label})" if label else ""))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")


def _cross_check(data: VersionData) -> list[tuple[str, str]]:
    """Rules that span sections, which no single model can check. Returns (field, message)."""
    problems: list[tuple[str, str]] = []
    for path, node in _walk(data, ""):
        if isinstance(node, _Sourced):
            for source_id in node.sources:
                if source_id not in data.sources:
                    problems.append((f"{path}.sources", f"unknown source id {source_id!r}"))

    versions = [info.version for info in data.versions]
    for index, (earlier, later) in enumerate(itertools.pairwise(versions), start=1):
        if later != earlier + 1:
            problems.append(
                (
                    f"versions[{index}]({later})",
                    f"expected {earlier + 1}: one entry per minor, in order",
                )
            )
    known = set(versions)
    # hops() relies on availability being a prefix: nothing newer ships before something older.
    available = [info.available_on_eks for info in data.versions]
    if available != sorted(available, reverse=True):
        problems.append(("versions", "a version with eks_release set follows one without"))

    for version in data.lifecycle.formula_exceptions:
        if version not in known:
            problems.append(
                (f"lifecycle.formula_exceptions.{version}", "not a version in `versions`")
            )
    seen_ids: set[str] = set()
    for index, gotcha in enumerate(data.gotchas):
        where = f"gotchas[{index}]({gotcha.id})"
        if gotcha.id in seen_ids:
            problems.append((where, f"duplicate gotcha id {gotcha.id!r}"))
        seen_ids.add(gotcha.id)
        if gotcha.target is not None and gotcha.target not in known:
            problems.append((f"{where}.target", f"{gotcha.target} is not a version in `versions`"))
    return problems


def _add_months(day: dt.date, months: int) -> dt.date:
    """Calendar months, clamped to the month's last day (Jan 31 + 1 month = Feb 28/29)."""
    year, month_index = divmod(day.month - 1 + months, 12)
    year += day.year
    last_day = calendar.monthrange(year, month_index + 1)[1]
    return dt.date(year, month_index + 1, min(day.day, last_day))


# --- the API ------------------------------------------------------------------------------------


class VersionCatalog:
    """Typed questions over the validated version data. Immutable; build with `from_yaml`."""

    def __init__(self, data: VersionData) -> None:
        self._data = data
        self._by_version: Mapping[KubeVersion, VersionInfo] = {v.version: v for v in data.versions}

    @classmethod
    def from_yaml(cls, text: str, filename: str = "<string>") -> VersionCatalog:
        """Parse and validate; any defect raises VersionDataError naming file and field."""
        try:
            raw = yaml.load(
                text, Loader=_UniqueKeyLoader
            )  # a SafeLoader subclass: no arbitrary objects
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark
            where = f"line {mark.line + 1}" if mark is not None else "(YAML)"
            raise VersionDataError(f"{filename}: {where}: {e.problem}") from e
        except yaml.YAMLError as e:
            raise VersionDataError(f"{filename}: (YAML): {e}") from e
        if not isinstance(raw, dict):
            raise VersionDataError(f"{filename}: (top level): expected a mapping")
        try:
            data = VersionData.model_validate(raw)
        except ValidationError as e:
            lines = [
                f"{filename}: {_describe_location(err['loc'], raw)}: "
                + str(err["msg"]).removeprefix("Value error, ")
                for err in e.errors()
            ]
            raise VersionDataError("\n".join(lines)) from None
        if problems := _cross_check(data):
            raise VersionDataError("\n".join(f"{filename}: {f}: {m}" for f, m in problems))
        return cls(data)

    # -- the calendar

    @property
    def data(self) -> VersionData:
        return self._data

    @property
    def compiled(self) -> dt.date:
        """The day the data was compiled: anything after it may have changed."""
        return self._data.compiled

    def known_versions(self) -> list[str]:
        return [str(v.version) for v in self._data.versions]

    def is_known(self, version: VersionLike) -> bool:
        return _version(version) in self._by_version

    def get(self, version: VersionLike) -> VersionInfo:
        parsed = _version(version)
        info = self._by_version.get(parsed)
        if info is None:
            raise UserError(f"Kubernetes {parsed} is not in eksup's version data ({self._range()})")
        return info

    def support_status(self, version: VersionLike, today: dt.date) -> SupportStatus:
        """By the data's dates; a version the data does not know is UNKNOWN, not an error."""
        info = self._by_version.get(_version(version))
        return SupportStatus.UNKNOWN if info is None else info.status_on(today)

    def available_versions(self, today: dt.date) -> list[str]:
        """Versions a cluster can run on `today`: in standard or extended support."""
        live = {SupportStatus.STANDARD, SupportStatus.EXTENDED}
        return [str(v.version) for v in self._data.versions if v.status_on(today) in live]

    def with_support_dates(
        self, dates: Mapping[str, tuple[dt.date | None, dt.date | None, dt.date | None]]
    ) -> VersionCatalog:
        """A copy whose versions in `dates` take (EKS release, end of standard, end of
        extended) from there: AWS's own answer wins over the file for every decision."""
        replaced = []
        for info in self._data.versions:
            got = dates.get(str(info.version))
            if got is None:
                replaced.append(info)
                continue
            release, standard, extended = got
            replaced.append(
                info.model_copy(
                    update={
                        "eks_release": release,
                        "end_of_standard_support": standard,
                        "end_of_extended_support": extended,
                    }
                )
            )
        return VersionCatalog(self._data.model_copy(update={"versions": tuple(replaced)}))

    def projected_support_dates(self, eks_release: dt.date) -> tuple[dt.date, dt.date]:
        """(end of standard, end of extended) by AWS's 14 + 12 month rule, for a version whose
        dates AWS has not published yet. An inference: AWS has moved dates later before."""
        policy = self._data.lifecycle
        end_of_standard = _add_months(eks_release, policy.standard_support_months)
        return end_of_standard, _add_months(end_of_standard, policy.extended_support_months)

    # -- upgrade paths

    def hops(self, current: VersionLike, target: VersionLike) -> list[str]:
        """The control-plane versions to go through, one minor at a time, ending at target."""
        start, end = _version(current), _version(target)
        self.get(start)
        end_info = self.get(end)
        if end == start:
            raise UserError(f"the cluster is already on {end}: there is nothing to upgrade")
        if end < start:
            rollback = self._data.upgrade_rules.rollback
            raise UserError(
                f"{end} is older than the current {start}: EKS cannot downgrade (a rollback goes"
                f" back {rollback.max_minors} minor within {rollback.window_days} days of an"
                " upgrade), and eksup does not plan one"
            )
        if not end_info.available_on_eks:
            raise UserError(
                f"Kubernetes {end} is not available on EKS according to eksup's version data"
                f" (compiled {self.compiled}); if eks:DescribeClusterVersions lists it, update"
                f" upgrader/data/{DATA_FILE}"
            )
        return [str(start + step) for step in range(1, end - start + 1)]

    def removals_between(self, current: VersionLike, target: VersionLike) -> list[ApiRemoval]:
        """APIs no longer served somewhere in (current, target]: what must be migrated first."""
        start, end = self._span(current, target)
        return [r for r in self._data.api_removals if start < r.removed_in <= end]

    def gotchas_between(self, current: VersionLike, target: VersionLike) -> list[Gotcha]:
        """Gotchas of every version in (current, target], in version order, then the ones that
        apply to every upgrade. Empty when current == target."""
        start, end = self._span(current, target)
        if start == end:
            return []
        ordered = sorted(
            (g for g in self._data.gotchas if g.target is not None and start < g.target <= end),
            key=lambda g: g.target or start,
        )
        return ordered + [g for g in self._data.gotchas if g.applies_to_every_upgrade]

    # -- skew

    def max_kubelet_skew(self, control_plane: VersionLike) -> int:
        """How many minors a kubelet may trail this control plane (2 before 1.28, 3 from 1.28)."""
        return self._data.skew.kubelet.max_minors_older_for(_version(control_plane))

    def kubelet_skew_ok(self, kubelet: VersionLike, control_plane: VersionLike) -> bool:
        """True when the upstream skew policy supports this kubelet with this API server."""
        return self._data.skew.kubelet.allows(_version(kubelet), _version(control_plane))

    def kube_proxy_skew_ok(self, kube_proxy: VersionLike, control_plane: VersionLike) -> bool:
        return self._data.skew.kube_proxy.allows(_version(kube_proxy), _version(control_plane))

    def must_match_control_plane(self, kind: NodeKind) -> bool:
        """AWS refuses the next control-plane upgrade until these nodes are on its minor."""
        return kind in self._data.upgrade_rules.must_match_control_plane_before_upgrade

    def node_allows_control_plane_upgrade(
        self, kind: NodeKind, kubelet: VersionLike, control_plane: VersionLike
    ) -> bool:
        """Whether a node on `kubelet` lets the control plane go from `control_plane` to the next
        minor: managed node groups and Fargate must be on its minor; other nodes need only stay
        within the kubelet skew of the NEXT minor."""
        node, plane = _version(kubelet), _version(control_plane)
        if node > plane:
            return False
        if self.must_match_control_plane(kind):
            return node == plane
        return self.kubelet_skew_ok(node, plane + 1)

    # -- AMIs

    def ami_parameter(self, kubernetes_version: VersionLike, ami_type: str) -> str | None:
        """The public SSM parameter with the recommended AMI id, or None where AWS publishes
        none (CUSTOM, AL2 from 1.33, Windows 2022 before 1.24, Windows 2025 before 1.35)."""
        version = _version(kubernetes_version)
        amis = self._data.amis
        if ami_type not in amis.ami_types.names:
            raise UserError(
                f"unknown AMI type {ami_type!r}; expected one of {', '.join(amis.ami_types.names)}"
            )
        parameter = amis.ssm_parameters.get(ami_type)
        return None if parameter is None else parameter.for_version(version)

    def has_al2_amis(self, version: VersionLike) -> bool:
        """False from 1.33: an AL2 node group cannot reach it in place and must be replaced."""
        return _version(version) <= self._data.amis.al2.last_kubernetes_version

    def is_al2_ami_type(self, ami_type: str) -> bool:
        return ami_type in self._data.amis.al2.ami_types

    # -- add-ons (rules only; versions come from eks:DescribeAddonVersions)

    def addon_rule(self, name: str) -> AddonRule | None:
        return self._data.addons.get(name)

    def addon_upgrade_minors(self, name: str, current: str, target: str) -> list[str]:
        """The add-on minors to pass through from `current` to `target` (e.g. "v1.16.2-eksbuild.1"
        to "v1.18.0-eksbuild.1" gives ["1.17", "1.18"] for vpc-cni, one minor at a time, and
        ["1.18"] for an add-on without that rule). Pick each minor's build from
        DescribeAddonVersions."""
        start, end = _addon_minor(name, current), _addon_minor(name, target)
        if end < start:
            raise UserError(f"{name} {target} is older than the installed {current}")
        if end == start:
            return []
        rule = self.addon_rule(name)
        if rule is None or not rule.one_minor_at_a_time:
            return [str(end)]
        if start.major != end.major:
            raise UserError(f"{name}: cannot step one minor at a time from {current} to {target}")
        return [str(start + step) for step in range(1, end - start + 1)]

    def addon_minimums(self, name: str, target: VersionLike) -> list[AddonMinimum]:
        """Minimum add-on versions that apply once the control plane reaches `target`."""
        rule = self.addon_rule(name)
        if rule is None:
            return []
        end = _version(target)
        return [m for m in rule.minimums if m.kubernetes is None or m.kubernetes <= end]

    # -- provenance

    def source(self, source_id: str) -> Source:
        try:
            return self._data.sources[source_id]
        except KeyError:
            raise UserError(f"unknown source id {source_id!r}") from None

    # -- helpers

    def _range(self) -> str:
        first, last = self._data.versions[0].version, self._data.versions[-1].version
        return f"it knows {first} to {last}, compiled {self.compiled}"

    def _span(self, current: VersionLike, target: VersionLike) -> tuple[KubeVersion, KubeVersion]:
        start, end = _version(current), _version(target)
        self.get(start)
        self.get(end)
        if end < start:
            raise UserError(f"{end} is older than {start}: expected current <= target")
        return start, end


def _addon_minor(name: str, version: str) -> KubeVersion:
    parsed = KubeVersion.try_parse(version)
    if parsed is None:
        raise UserError(f"malformed {name} version {version!r}: expected e.g. v1.18.3-eksbuild.1")
    return parsed


@functools.cache
def default_catalog() -> VersionCatalog:
    """The catalog from the packaged data file, loaded and validated once per process."""
    text = resources.files(DATA_PACKAGE).joinpath(DATA_FILE).read_text(encoding="utf-8")
    return VersionCatalog.from_yaml(text, filename=f"{DATA_PACKAGE.replace('.', '/')}/{DATA_FILE}")
