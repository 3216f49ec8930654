"""The typed questions the planner and the checks ask of the version data."""

from __future__ import annotations

import calendar
import datetime as dt
import functools
from collections.abc import Mapping
from importlib import resources

import yaml
from pydantic import (
    ValidationError,
)

from upgrader.core.errors import UserError
from upgrader.versions.data_schema import (
    AddonMinimum,
    AddonRule,
    ApiRemoval,
    Gotcha,
    Source,
    VersionData,
    VersionInfo,
)
from upgrader.versions.kube_version import (
    KubeVersion,
    NodeKind,
    SupportStatus,
    VersionLike,
    as_version,
)
from upgrader.versions.loading import (
    UniqueKeyLoader,
    VersionDataError,
    cross_check,
    describe_location,
)

DATA_PACKAGE = "upgrader.data"
DATA_FILE = "eks_versions.yaml"


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
                text, Loader=UniqueKeyLoader
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
                f"{filename}: {describe_location(err['loc'], raw)}: "
                + str(err["msg"]).removeprefix("Value error, ")
                for err in e.errors()
            ]
            raise VersionDataError("\n".join(lines)) from None
        if problems := cross_check(data):
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
        return as_version(version) in self._by_version

    def get(self, version: VersionLike) -> VersionInfo:
        parsed = as_version(version)
        info = self._by_version.get(parsed)
        if info is None:
            raise UserError(f"Kubernetes {parsed} is not in eksup's version data ({self._range()})")
        return info

    def support_status(self, version: VersionLike, today: dt.date) -> SupportStatus:
        """By the data's dates; a version the data does not know is UNKNOWN, not an error."""
        info = self._by_version.get(as_version(version))
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
        start, end = as_version(current), as_version(target)
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
        return self._data.skew.kubelet.max_minors_older_for(as_version(control_plane))

    def kubelet_skew_ok(self, kubelet: VersionLike, control_plane: VersionLike) -> bool:
        """True when the upstream skew policy supports this kubelet with this API server."""
        return self._data.skew.kubelet.allows(as_version(kubelet), as_version(control_plane))

    def kube_proxy_skew_ok(self, kube_proxy: VersionLike, control_plane: VersionLike) -> bool:
        return self._data.skew.kube_proxy.allows(as_version(kube_proxy), as_version(control_plane))

    def must_match_control_plane(self, kind: NodeKind) -> bool:
        """AWS refuses the next control-plane upgrade until these nodes are on its minor."""
        return kind in self._data.upgrade_rules.must_match_control_plane_before_upgrade

    def node_allows_control_plane_upgrade(
        self, kind: NodeKind, kubelet: VersionLike, control_plane: VersionLike
    ) -> bool:
        """Whether a node on `kubelet` lets the control plane go from `control_plane` to the next
        minor: managed node groups and Fargate must be on its minor; other nodes need only stay
        within the kubelet skew of the NEXT minor."""
        node, plane = as_version(kubelet), as_version(control_plane)
        if node > plane:
            return False
        if self.must_match_control_plane(kind):
            return node == plane
        return self.kubelet_skew_ok(node, plane + 1)

    # -- AMIs

    def ami_parameter(self, kubernetes_version: VersionLike, ami_type: str) -> str | None:
        """The public SSM parameter with the recommended AMI id, or None where AWS publishes
        none (CUSTOM, AL2 from 1.33, Windows 2022 before 1.24, Windows 2025 before 1.35)."""
        version = as_version(kubernetes_version)
        amis = self._data.amis
        if ami_type not in amis.ami_types.names:
            raise UserError(
                f"unknown AMI type {ami_type!r}; expected one of {', '.join(amis.ami_types.names)}"
            )
        parameter = amis.ssm_parameters.get(ami_type)
        return None if parameter is None else parameter.for_version(version)

    def has_al2_amis(self, version: VersionLike) -> bool:
        """False from 1.33: an AL2 node group cannot reach it in place and must be replaced."""
        return as_version(version) <= self._data.amis.al2.last_kubernetes_version

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
        end = as_version(target)
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
        start, end = as_version(current), as_version(target)
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
