"""Version facts from AWS first: `DescribeClusterVersions`, with the data file as the fallback.

EKS itself says which versions it offers today, their support dates and which one is the
default. `eksup plan` asks it; the packaged `upgrader/data/eks_versions.yaml` (which also holds
what AWS does not say: API removals, skew rules, gotchas) is the fallback, and the plan says which
source it used. Where AWS answers, its dates replace the file's for every decision, and each
disagreement, or a version AWS offers that the file does not know, is reported so the file gets
updated.

`--to` is resolved here too: `MAJOR.MINOR`, `next` (one minor up) or `latest` (the newest version
EKS offers today, by the facts in use).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from upgrader.core.aws import EksVersionFacts
from upgrader.core.errors import EksupError, UserError
from upgrader.core.ports import ControlPlane
from upgrader.versions import DATA_FILE, KubeVersion, SupportStatus, VersionCatalog

FROM_AWS = "aws"
FROM_FILE = "file"
_MINOR_ONLY = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)")
_LIVE = (SupportStatus.STANDARD, SupportStatus.EXTENDED)


@dataclass(frozen=True)
class VersionFacts:
    """The catalog every decision of one plan uses, and how it came to be."""

    catalog: VersionCatalog
    source: str  # FROM_AWS or FROM_FILE
    aws: tuple[EksVersionFacts, ...] = ()
    notes: tuple[str, ...] = ()  # disagreements, or why AWS was not used

    @property
    def summary(self) -> str:
        if self.source == FROM_AWS:
            return "version facts: eks:DescribeClusterVersions"
        return f"version facts: {DATA_FILE} (compiled {self.catalog.compiled})"


def read_version_facts(control_plane: ControlPlane, catalog: VersionCatalog) -> VersionFacts:
    """Ask EKS; on any refusal or failure fall back to the file, saying why."""
    try:
        aws = tuple(control_plane.describe_cluster_versions())
    except EksupError as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        return VersionFacts(
            catalog,
            FROM_FILE,
            notes=(
                f"eks:DescribeClusterVersions could not be read ({reason}); "
                f"eksup's {DATA_FILE} (compiled {catalog.compiled}) was used instead",
            ),
        )
    if not aws:
        return VersionFacts(
            catalog, FROM_FILE, notes=("eks:DescribeClusterVersions listed no versions",)
        )
    merged, notes = _merge(catalog, aws)
    return VersionFacts(merged, FROM_AWS, aws, tuple(notes))


def _merge(
    catalog: VersionCatalog, aws: Sequence[EksVersionFacts]
) -> tuple[VersionCatalog, list[str]]:
    notes: list[str] = []
    dates: dict[str, tuple[dt.date | None, dt.date | None, dt.date | None]] = {}
    for fact in sorted(aws, key=lambda f: KubeVersion.try_parse(f.version) or KubeVersion(0, 0)):
        if not catalog.is_known(fact.version):
            notes.append(
                f"EKS offers Kubernetes {fact.version}, which eksup's {DATA_FILE} (compiled "
                f"{catalog.compiled}) does not know: update the file (docs/versions.md)"
            )
            continue
        info = catalog.get(fact.version)
        theirs = (fact.release, fact.end_of_standard_support, fact.end_of_extended_support)
        ours = (info.eks_release, info.end_of_standard_support, info.end_of_extended_support)
        names = ("EKS release", "end of standard support", "end of extended support")
        for name, mine, aws_day in zip(names, ours, theirs, strict=True):
            if aws_day is not None and mine != aws_day:
                notes.append(
                    f"{fact.version} {name}: AWS says {aws_day}, eksup's {DATA_FILE} says "
                    f"{mine}; AWS's date is used"
                )
        dates[fact.version] = tuple(  # type: ignore[assignment]
            a if a is not None else m for a, m in zip(theirs, ours, strict=True)
        )
    return catalog.with_support_dates(dates), notes


def resolve_target(to: str, current: str, facts: VersionFacts, today: dt.date) -> str:
    """The MAJOR.MINOR that `--to` names; a patch or a `v` prefix is refused with a hint."""
    text = to.strip()
    if text in ("next", "latest"):
        start = KubeVersion.try_parse(current)
        if start is None:
            raise UserError(f"the cluster reports version {current!r}, which eksup cannot read")
        if text == "next":
            return str(start + 1)
        live = [
            KubeVersion.parse(v)
            for v in facts.catalog.known_versions()
            if facts.catalog.support_status(v, today) in _LIVE
        ]
        newest = max(live, default=start)
        return str(max(newest, start))
    if _MINOR_ONLY.fullmatch(text):
        return text
    parsed = KubeVersion.try_parse(text)
    hint = f"--to {parsed}" if parsed is not None else "--to 1.31"
    raise UserError(
        f"--to {to!r}: give a Kubernetes minor as MAJOR.MINOR, `next` or `latest` (EKS upgrades "
        f"whole minors; the patch comes with the platform version), e.g. {hint}"
    )
