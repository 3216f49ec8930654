"""What `execute` refuses before any change (exit 3), and the journal a run continues.

The engine (`upgrader.execute.engine`) calls these before it takes the lock: a plan with a step
kind this eksup cannot run or a NOT READY verdict; a journal of another plan, or of a run that
changed something, without `--resume`; a cluster no longer in the state the plan was made from
(fingerprint). Approvals given on another machine are merged in here, from the ConfigMap.
"""

from __future__ import annotations

from pathlib import Path

from upgrader.core.errors import EksupError, RefusedError
from upgrader.core.run.journal import (
    ConfigMapMirror,
    JournalState,
    Record,
    append_records,
    load_records,
    merge_approvals,
)
from upgrader.execute.integrity import check_mirror
from upgrader.execute.steps import HANDLERS
from upgrader.execute.steps.base import ExecuteOptions, Ports
from upgrader.execute.steps.consent import resume_command, resumed
from upgrader.plan.discovery import discover
from upgrader.plan.document import Plan
from upgrader.plan.fingerprint import diff_facts, fingerprint, fingerprint_facts


def refuse_unrunnable(plan: Plan) -> None:
    """Refuse a plan this eksup cannot run whole: an unknown step kind, or a NOT READY verdict."""
    unsupported = sorted({s.kind.value for s in plan.steps if s.kind not in HANDLERS})
    if unsupported:
        raise RefusedError(
            f"this eksup cannot execute step kinds {', '.join(unsupported)} (plan "
            f"{plan.cluster} {plan.current_version} -> {plan.target_version}); nothing was changed"
        )
    if plan.blocking:
        raise RefusedError("the plan's verdict is NOT READY: fix its blocking findings and re-plan")


def earlier_records(
    plan: Plan, path: Path, mirror: ConfigMapMirror, options: ExecuteOptions, plan_file: str
) -> list[Record]:
    """The journal a run continues. Without --resume only a journal of runs that changed
    nothing (refused, stopped at a gate) may be continued: anything else is refused. Approvals
    given on another machine reach this one only through the ConfigMap: they are merged in
    (and into the local file, which is the journal)."""
    records, source = load_records(path, mirror)
    if not records:
        return []
    state = JournalState(tuple(records))
    identity = state.plan_identity
    if identity is not None and identity != (plan.fingerprint, plan.created_at):
        if source == str(path):
            raise RefusedError(
                f"{path} is the journal of another plan (made {identity[1]}); move it away or "
                "execute the plan it belongs to"
            )
        return []  # a previous plan's journal in the ConfigMap: history, not ours
    if not options.resume and state.changed_anything:
        where = state.interrupted_step
        raise RefusedError(
            f"{source} shows this plan was already executed (runs {', '.join(state.runs)}"
            + (f", stopped at {where}" if where else "")
            + f"): continue with `{_resume(plan_file, options, records)}`, or remove the journal "
            "to start over"
        )
    if source == str(path):
        records += _remote_approvals(records, path, mirror, options)
    return records


def _mirrored(mirror: ConfigMapMirror) -> list[Record] | None:
    try:
        return mirror.read()
    except EksupError as error:
        mirror.on_error(
            f"cannot read ConfigMap {mirror.name} for approvals given elsewhere: {error}"
        )
        return None


def _resume(plan_file: str, options: ExecuteOptions, records: list[Record]) -> str:
    return resume_command(plan_file, resumed(options, records)[0], options.target_flags)


def _remote_approvals(
    local: list[Record], path: Path, mirror: ConfigMapMirror, options: ExecuteOptions
) -> list[Record]:
    remote = _mirrored(mirror)
    if remote is None:
        return []
    # A forged or edited local line (a step "done" that no run did) is refused here.
    check_mirror(local, remote, str(path))
    found = merge_approvals(local, remote)
    if found and not options.dry_run:
        append_records(path, found)
    return found


def check_fingerprint(plan: Plan, ports: Ports) -> None:
    """Refuse a plan made from a state the cluster is no longer in, naming every change from
    the facts the plan recorded next to its hash."""
    snapshot = discover(
        plan.cluster,
        ports.control_plane,
        ports.compute,
        ports.cluster,
        ports.clock,
        target_version=plan.target_version,
        region=plan.region or None,
    )
    if fingerprint(snapshot) == plan.fingerprint:
        return
    facts = fingerprint_facts(snapshot)
    # A hand-made plan (or one edited after the fact) may have a hash without facts.
    changes = diff_facts(plan.fingerprint_facts or {}, facts) or ["the hash differs"]
    raise RefusedError(
        f"cluster {plan.cluster} changed since the plan was made (fingerprint differs; "
        + "; ".join(changes)
        + "): re-plan with `eksup plan`, or pass --replan"
    )
