"""Fleet plans and fleet status for people: a terminal table, a Markdown runbook, JSON."""

from __future__ import annotations

import datetime as dt
import json
import shlex

from rich.console import Group as RichGroup
from rich.table import Table

from upgrader.fleet.run_doc import ClusterVerdict, FleetRun, RunStage
from upgrader.fleet.spec import ExecuteSettings
from upgrader.fleet.state import ClusterStatus, FleetState
from upgrader.fleet.windows import describe, is_open, next_open


def _limits(stage: RunStage) -> str:
    parts = [
        f"maxConcurrency {stage.max_concurrency}",
        f"maxAllowedFailures {stage.allowed_failures}",
    ]
    if stage.after_wait_seconds:
        parts.append(f"soak {stage.after_wait_seconds / 3600:g}h after")
    if stage.before_gates:
        parts.append("approval before: " + ", ".join(stage.before_gates))
    if stage.after_gates:
        parts.append("approval after: " + ", ".join(stage.after_gates))
    return "; ".join(parts)


def plan_table(run: FleetRun) -> RichGroup:
    tables = []
    for number, stage in enumerate(run.stages, 1):
        table = Table(
            "cluster",
            "group",
            "account/region",
            "from",
            "verdict",
            "steps",
            "reason",
            title=f"{number}. stage {stage.name} ({_limits(stage)})",
        )
        for name in stage.members:
            c = run.cluster(name)
            steps = str(len(c.plan.steps)) if c.plan else "-"
            reason = c.reason
            if c.upstream:
                reason = f"after {c.upstream}. {reason}".strip()
            if c.window:
                reason = f"window {describe(c.window)}. {reason}".strip()
            table.add_row(
                name,
                c.group,
                f"{c.account}/{c.region}",
                c.current_version or "?",
                c.verdict.value,
                steps,
                reason,
            )
        tables.append(table)
    return RichGroup(
        f"Fleet run {run.run_id}: target {run.target_version}, {len(run.clusters)} clusters, "
        f"{len(run.stages)} stages",
        *tables,
        *[
            f"AMI release {a.release_version} for {a.ami_type} on {a.kubernetes_version}, every "
            f"region" + (f" ({a.note})" if a.note else "")
            for a in run.ami_choices
        ],
        *run.notes,
    )


def plan_markdown(run: FleetRun, run_file: str = "run.json") -> str:
    run_file = shlex.quote(run_file)
    out = [
        f"# Fleet runbook: {run.run_id}",
        "",
        f"Target Kubernetes {run.target_version}; {len(run.clusters)} clusters in "
        f"{len(run.stages)} stages, made {run.created_at} from {run.spec_file}. Stages run in "
        "order, groups of a stage in parallel; fail-fast unless maxAllowedFailures says "
        "otherwise. Cluster approval gates: "
        + (
            "approved by the fleet run (clusterApproval: fleet)."
            if run.cluster_approval == "fleet"
            else "each cluster waits for its own approval."
        ),
        "",
        f"Run it: `eksup fleet run {run_file} --engine local` or "
        f"`eksup fleet run {run_file} --engine argo --out workflow.yaml`.",
        "",
    ]
    for number, stage in enumerate(run.stages, 1):
        out += [f"## {number}. Stage {stage.name}", "", _limits(stage), ""]
        for gate in stage.before_gates:
            out.append(f"- [ ] Approve `{gate}`: `eksup fleet approve {run_file} --gate {gate}`")
        out += ["", "| cluster | group | account | region | from | verdict | reason |"]
        out.append("|---|---|---|---|---|---|---|")
        for name in stage.members:
            c = run.cluster(name)
            out.append(
                f"| {name} | {c.group} | {c.account} | {c.region} | {c.current_version or '?'} | "
                f"{c.verdict.value} | {c.reason.replace('|', '/')} |"
            )
        out.append("")
        for gate in stage.after_gates:
            out.append(f"- [ ] Approve `{gate}`: `eksup fleet approve {run_file} --gate {gate}`")
        if stage.after_wait_seconds:
            out.append(f"- Soak {stage.after_wait_seconds / 3600:g}h before the next stage.")
        out.append("")
    if run.addon_choices:
        out += ["## Versions chosen for the whole fleet", ""]
        out += [
            f"- {a.addon} on {a.kubernetes_version}: {a.version}"
            + (f" ({a.note})" if a.note else "")
            for a in run.addon_choices
        ]
        out.append("")
    if run.ami_choices:
        out += ["", "AMI releases of managed node groups, the same in every region:", ""]
        out += [
            f"- {a.ami_type} on {a.kubernetes_version}: {a.release_version}"
            + (f" ({a.note})" if a.note else "")
            for a in run.ami_choices
        ]
        out.append("")
    out += [f"- {note}" for note in run.notes]
    out += ["", "## Each cluster's plan", ""]
    for c in run.clusters:
        if c.plan is None:
            continue
        out.append(f"### {c.name} ({c.current_version} -> {run.target_version}, {c.verdict.value})")
        out.append("")
        if c.execute is not None:
            out += [f"Executed with {execute_flags(c.execute)}.", ""]
        out += [f"1. `{s.id}`: {s.title or s.description}" for s in c.plan.steps]
        out.append("")
    return "\n".join(out)


def execute_flags(settings: ExecuteSettings) -> str:
    """fleet.yaml's execute settings as the `eksup execute` flags they stand for."""
    flags = ["--resume", "--yes"]
    flags += ["--force"] if settings.force else []
    flags += ["--delete-emptydir-data"] if settings.delete_emptydir_data else []
    flags += ["--surge"] if settings.surge else []
    for flag, value in (
        ("--pod-selector", settings.pod_selector),
        ("--grace-period", settings.grace_period),
        ("--max-grace-period", settings.max_grace_period),
        ("--skip-wait-for-delete-timeout", settings.skip_wait_for_delete_timeout or None),
    ):
        if value is not None:
            flags += [flag, shlex.quote(str(value))]
    planned = (
        f" (drain timeout {settings.drain_timeout}s, planned)"
        if settings.drain_timeout is not None
        else ""
    )
    return "`eksup execute PLAN " + " ".join(flags) + "`" + planned


def _when(at: float | None) -> str:
    if at is None:
        return ""
    return dt.datetime.fromtimestamp(at, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def cluster_reason(run: FleetRun, state: FleetState, name: str, now: float) -> str:
    """Why a cluster is where it is: every pending, skipped or failed one says why."""
    c, current = run.cluster(name), state.cluster(name)
    if current.status is ClusterStatus.SOAKING:
        return f"{current.reason}"
    if current.status is not ClusterStatus.PENDING:
        return current.reason
    stage = run.stage(c.stage)
    if state.stage_outcomes.get(stage.name) == "failed":
        return f"not started: stage {stage.name} failed (fail-fast)"
    index = [s.name for s in run.stages].index(stage.name)
    for earlier in run.stages[:index]:
        outcome = state.stage_outcomes.get(earlier.name, "")
        if not outcome.startswith("completed"):
            return f"waits for stage {earlier.name} ({outcome or 'not finished'})"
    for gate in stage.before_gates:
        if gate not in state.approved:
            return f"waits for approval {gate}"
    group = next(g for g in stage.groups if g.name == c.group)
    for gate in group.before_gates:
        if gate not in state.approved:
            return f"waits for approval {gate}"
    if c.window is not None and not is_open(c.window, now):
        return f"maintenance window closed; opens {_when(next_open(c.window, now))}"
    if state.stop_requested:
        return f"not started: run stopped by {state.stop_requested}"
    return "not started yet"


def status_rows(run: FleetRun, state: FleetState, now: float) -> list[dict[str, str]]:
    rows = []
    for stage in run.stages:
        for name in stage.members:
            current = state.cluster(name)
            rows.append(
                {
                    "stage": stage.name,
                    "group": run.cluster(name).group,
                    "cluster": name,
                    "status": current.status.value,
                    "attempts": str(current.attempts),
                    "reason": cluster_reason(run, state, name, now),
                }
            )
    return rows


def status_table(run: FleetRun, state: FleetState, now: float, source: str) -> RichGroup:
    rows = status_rows(run, state, now)
    tables = []
    for stage in run.stages:
        outcome = state.stage_outcomes.get(stage.name, "")
        soak = state.stage_soak_until.get(stage.name)
        title = f"stage {stage.name}: {outcome or 'not finished'}"
        if soak:
            title += f"; soak until {_when(soak)}"
        table = Table("cluster", "group", "status", "tries", "reason", title=title)
        for row in rows:
            if row["stage"] == stage.name:
                table.add_row(
                    row["cluster"], row["group"], row["status"], row["attempts"], row["reason"]
                )
        tables.append(table)
    lines = [
        f"Fleet run {run.run_id} ({source}): {state.status}"
        + (f": {state.reason}" if state.reason else "")
    ]
    if state.waiting_gates:
        lines.append("Waiting for approval: " + ", ".join(state.waiting_gates))
    return RichGroup(*lines, *tables)


def status_json(run: FleetRun, state: FleetState, now: float, source: str) -> str:
    return (
        json.dumps(
            {
                "run_id": run.run_id,
                "source": source,
                "status": state.status,
                "reason": state.reason,
                "waiting_gates": state.waiting_gates,
                "approved": state.approved,
                "stages": {s.name: state.stage_outcomes.get(s.name, "") for s in run.stages},
                "clusters": status_rows(run, state, now),
            },
            indent=2,
        )
        + "\n"
    )


def verdict_counts(run: FleetRun) -> dict[str, int]:
    return {v.value: sum(1 for c in run.clusters if c.verdict is v) for v in ClusterVerdict}
