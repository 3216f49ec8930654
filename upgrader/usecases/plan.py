"""The `eksup plan` use case: discover a target, run the checks, make the plan.

Shared by the CLI and `eksup demo`, so both show the same plan for the same cluster.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from upgrader.core.errors import UserError
from upgrader.execute.integrity import seal
from upgrader.plan.checks import CheckContext, NodeStrategy
from upgrader.plan.checks.config import Config
from upgrader.plan.discovery import describe_cluster, discover
from upgrader.plan.document import ActiveSuppression, Plan, PlannedFinding
from upgrader.plan.planner import plan_cluster
from upgrader.plan.version_facts import read_version_facts, resolve_target
from upgrader.usecases.identity import identity_of
from upgrader.usecases.targets import Target
from upgrader.versions import default_catalog


def plan_target(
    target: Target,
    to: str,
    *,
    node_strategy: str = NodeStrategy.BLUE_GREEN.value,
    manifests: Path | None = None,
    config: Config | None = None,
    drain_timeout: int | None = None,
    max_unavailable: str | None = None,
    ami_family: str | None = None,
) -> Plan:
    if manifests is not None and not manifests.is_dir():
        raise UserError(f"--manifests {manifests}: no such directory")
    facts = read_version_facts(target.control_plane, default_catalog())
    catalog = facts.catalog
    today = dt.datetime.fromtimestamp(target.clock.now(), tz=dt.UTC).date()
    cluster = describe_cluster(target.control_plane, target.cluster_name, target.region)
    to = resolve_target(to, cluster.version, facts, today)
    snapshot = discover(
        target.cluster_name,
        target.control_plane,
        target.compute,
        target.kube,
        target.clock,
        kube_endpoint=target.kube_endpoint,
        kube_context=target.kube_context,
        target_version=to,
        manifests_dir=manifests,
        region=target.region,
        catalog=catalog,
        cluster=cluster,
    )
    snapshot = replace(snapshot, version_facts_source=facts.source, version_facts=facts.notes)
    context = CheckContext(
        target=to,
        catalog=catalog,
        today=today,
        strategy=NodeStrategy(node_strategy),
        config=config or Config(),
        drain_timeout_seconds=drain_timeout,
        max_unavailable=max_unavailable,
        ami_family=ami_family,
    )
    made = plan_cluster(snapshot, context, region=target.region, now=target.clock.now())
    made = made.model_copy(
        update={
            "identity": identity_of(snapshot.cluster, target.region, target.kube_endpoint),
            "suppressions": active_suppressions(context.config, made.findings, context.today),
        }
    )
    return seal(made)


def active_suppressions(
    config: Config, findings: list[PlannedFinding], today: dt.date
) -> list[ActiveSuppression]:
    """The config's rules in force today, with how many findings each silenced: every output
    of the plan lists them, so a reviewer sees what a config hid."""
    found = []
    for rule in config.suppress:
        if not rule.active(today):
            continue
        count = sum(1 for f in findings if f.suppressed_by == str(rule))
        found.append(
            ActiveSuppression(
                rule=f"{rule.id} {rule.objects}",
                reason=rule.reason,
                expires=rule.expires.isoformat() if rule.expires else None,
                findings=count,
                silences_blocking=rule.may_silence_blocking,
            )
        )
    return found
