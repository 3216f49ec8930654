"""A fleet dry run for a person: per stage what the real run would wait for, per cluster what
its dry run found (blockers one a line), where the real run would stop, and a summary."""

from __future__ import annotations

from upgrader.usecases.fleet.dry_run import Finding, FleetDryRun


def report_lines(result: FleetDryRun) -> list[str]:
    run = result.run
    out = [
        f"Fleet dry run of {run.run_id}: target {run.target_version}, {len(run.clusters)} "
        f"clusters in {len(run.stages)} stages; nothing was changed or written."
    ]
    failed_at: str | None = None
    for number, shown in enumerate(result.stages, 1):
        stage = shown.stage
        out.append(f"{number}. stage {stage.name}")
        out += [f"   before: {line}" for line in shown.before]
        for member in shown.members:
            out.append(f"   {member.name}: {member.finding.value}: {member.detail}")
            out += [f"     - {line}" for line in member.lines]
            out += [f"     ({note})" for note in member.notes]
        if shown.fails:
            out.append(
                f"   the real run would fail stage {stage.name} here (a cluster blocked here "
                f"fails there): {shown.fails}"
            )
            failed_at = failed_at or stage.name
        out += [f"   after: {line}" for line in shown.after]
    would = result.named(Finding.WOULD_RUN)
    parts = [f"{len(would)} would run"]
    for finding in (Finding.SKIPPED, Finding.BLOCKED, Finding.UNREACHABLE, Finding.REFUSED):
        names = result.named(finding)
        if names:
            parts.append(f"{len(names)} {finding.value} ({', '.join(names)})")
    line = "Summary: " + ", ".join(parts)
    if failed_at is not None:
        line += f"; the real run would stop at stage {failed_at}"
    out.append(line + ".")
    return out
