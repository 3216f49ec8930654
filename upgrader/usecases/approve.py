"""`eksup approve`: a person lets a stopped run pass an approval gate, and the journal says who
and when.

An approval is one `approved` record (`upgrader.core.run.journal`) for one gate of one plan, written
only while a run waits at that gate: approving ahead of time would turn the gate into a
formality. It goes to the local journal (when this machine has one) and to the cluster's
ConfigMap mirror, which is how a run on another machine learns of it. Of the two journals the
one further along is trusted, so an approver with a stale local copy is not misled.

An approval is of one plan content: the record carries the plan's digest
(`upgrader.execute.integrity`), and a run refuses a plan whose digest is not the approved one. Who
approved is the AWS caller's ARN (STS GetCallerIdentity), recorded even when `--by` names
someone: a name typed on the command line proves nothing.

Approving does not run anything: `eksup execute plan.json --resume` continues, with its own
confirmation and lock. A live run holding the lock is refused, because its next journal write
would overwrite the ConfigMap without the approval.
"""

from __future__ import annotations

import getpass
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from upgrader.core import loaders
from upgrader.core.errors import EksupError, NotFoundError, RefusedError, UserError
from upgrader.core.ports import CallerIdentity, Clock, Cluster
from upgrader.core.run.journal import (
    JOURNAL_NAMESPACE,
    ConfigMapMirror,
    JournalState,
    Phase,
    Record,
    append_records,
    journal_path_for,
    merge_approvals,
    parse_records,
)
from upgrader.core.run.lock import LOCK_NAME, LOCK_NAMESPACE, describe
from upgrader.core.shell import command
from upgrader.execute.steps.base import ExecuteOptions
from upgrader.execute.steps.consent import resume_command, resumed
from upgrader.execute.steps.gates import approval_text, is_gate
from upgrader.plan.document import Plan


@dataclass(frozen=True)
class Approver:
    by: str
    host: str
    comment: str = ""
    caller_arn: str = ""  # who the AWS credentials are (STS), whatever `by` says


def approver(by: str | None, comment: str = "", caller_arn: str = "") -> Approver:
    """Who approves: `--by`, else the AWS caller's ARN (STS GetCallerIdentity), else the OS
    user ($LOGNAME, $USER, then the password database)."""
    if not by:
        by = caller_arn
    if not by:
        try:
            by = getpass.getuser()
        except (OSError, KeyError):
            by = "unknown"
    return Approver(by, socket.gethostname(), comment, caller_arn)


def caller_arn(caller: CallerIdentity | None, warn: Callable[[str], None]) -> str:
    """The AWS caller's ARN, or "" (said once) when STS cannot be asked."""
    if caller is None:
        return ""
    try:
        return caller.caller_arn()
    except EksupError as error:
        warn(f"cannot ask STS who approves ({error}); recording the OS user")
        return ""


@dataclass(frozen=True)
class ApprovalResult:
    record: Record
    written_to: tuple[str, ...]  # the local file and/or the ConfigMap
    resume: str = ""  # the complete command that continues the run

    @property
    def step_id(self) -> str:
        return self.record.step or ""

    def summary(self, plan_file: str) -> str:
        resume = self.resume or command("eksup", "execute", plan_file, "--resume")
        return (
            f"{self.step_id} {approval_text(self.record)}; recorded in "
            f"{' and '.join(self.written_to)}. Run `{resume}` to continue"
        )


def approve(
    plan: Plan,
    plan_file: Path,
    cluster: Cluster,
    clock: Clock,
    who: Approver,
    *,
    step_id: str | None = None,
    warn: Callable[[str], None],
    journal_path: Path | None = None,
    target_flags: tuple[str, ...] = (),
) -> ApprovalResult:
    """Record `who`'s approval of the gate the plan's run waits at (`step_id`, or the only one
    waiting). Raises RefusedError, changing nothing, when there is nothing to approve."""
    path = journal_path or journal_path_for(plan_file)
    mirror = ConfigMapMirror(cluster, plan.cluster, warn)
    local = _local(plan, path)
    remote = _remote(plan, mirror, warn, have_local=local is not None)
    if local is None and not remote:
        raise RefusedError(
            f"no run of {plan_file} has stopped at an approval gate yet (no journal in {path} "
            f"or ConfigMap {JOURNAL_NAMESPACE}/{mirror.name}): run "
            f"`{command('eksup', 'execute', str(plan_file), *target_flags)}`"
        )
    local_records = local or []
    if _last_seq(remote) > _last_seq(local_records):
        base = remote + merge_approvals(remote, local_records)
    else:
        base = local_records + merge_approvals(local_records, remote)
    gate = _gate_to_approve(plan, plan_file, JournalState(tuple(base)), step_id)
    _refuse_live_run(cluster, clock)
    record = Record(
        run=f"a-{uuid.uuid4().hex[:8]}",
        seq=_last_seq(base) + 1,
        at=clock.now(),
        phase=Phase.APPROVED,
        step=gate,
        outcome="approved",
        detail=f"approved by {who.by}" + (f": {who.comment}" if who.comment else ""),
        data={
            "by": who.by,
            "host": who.host,
            "comment": who.comment,
            "plan_fingerprint": plan.fingerprint,
            "plan_created": plan.created_at,
            "plan_digest": plan.digest,
            **({"caller_arn": who.caller_arn} if who.caller_arn else {}),
        },
    )
    written = []
    if local is not None:
        if base[: len(local)] == local:
            append_records(path, [*base[len(local) :], record])
        else:  # the ConfigMap was further along: the local file becomes its copy
            _replace(path, [*base, record])
        written.append(str(path))
    try:
        mirror.write([*base, record], strict=local is None)
    except EksupError as error:
        raise EksupError(
            f"the approval was not recorded: cannot write ConfigMap "
            f"{JOURNAL_NAMESPACE}/{mirror.name} and there is no local journal: {error}"
        ) from None
    if not mirror.failing:
        written.append(f"ConfigMap {JOURNAL_NAMESPACE}/{mirror.name}")
    options, _ = resumed(ExecuteOptions(), base)
    resume = resume_command(str(plan_file), options, target_flags)
    return ApprovalResult(record, tuple(written), resume)


def _local(plan: Plan, path: Path) -> list[Record] | None:
    if not path.exists():
        return None
    try:
        text = loaders.read_text(path, loaders.JOURNAL, "journal")
    except UserError as error:
        raise RefusedError(str(error)) from None
    records = parse_records(text, str(path))
    identity = JournalState(tuple(records)).plan_identity
    if identity is not None and identity != (plan.fingerprint, plan.created_at):
        raise RefusedError(
            f"{path} is the journal of another plan (made {identity[1]}), not of this one "
            f"(made {plan.created_at}); nothing was approved"
        )
    return records


def _remote(
    plan: Plan, mirror: ConfigMapMirror, warn: Callable[[str], None], *, have_local: bool
) -> list[Record]:
    try:
        records = mirror.read()
    except EksupError as error:
        warn(f"cannot read ConfigMap {mirror.name}: {error}")
        return []
    identity = JournalState(tuple(records)).plan_identity
    if identity is None or identity == (plan.fingerprint, plan.created_at):
        return records
    if not have_local:
        raise RefusedError(
            f"ConfigMap {JOURNAL_NAMESPACE}/{mirror.name} is the journal of another plan (made "
            f"{identity[1]}), not of this one (made {plan.created_at}); nothing was approved"
        )
    return []  # a previous plan's journal: history, not ours


def _gate_to_approve(plan: Plan, plan_file: Path, state: JournalState, step_id: str | None) -> str:
    gates = [s.id for s in plan.steps if is_gate(s)]
    listed = ", ".join(gates) or "none"
    if step_id is None:
        waiting = [s for s in state.waiting_steps if s in gates]
        if len(waiting) == 1:
            return waiting[0]
        if waiting:
            raise RefusedError(f"several steps wait for approval ({', '.join(waiting)}): --step")
        raise RefusedError(
            f"no step of {plan_file} is waiting for approval (approval gates: {listed})"
        )
    if step_id not in {s.id for s in plan.steps}:
        raise RefusedError(f"no step {step_id} in {plan_file} (approval gates: {listed})")
    if step_id not in gates:
        raise RefusedError(f"step {step_id} is not an approval gate (approval gates: {listed})")
    if state.waiting(step_id):
        return step_id
    given = state.approval(step_id, plan.fingerprint)
    if state.finished(step_id) is not None:
        why = "the run already passed it"
    elif given is not None:
        resume = command("eksup", "execute", str(plan_file), "--resume")
        why = f"it is already {approval_text(given)}; `{resume}`"
    else:
        why = "no run has reached it yet"
    raise RefusedError(f"step {step_id} is not waiting for approval: {why}")


def _refuse_live_run(cluster: Cluster, clock: Clock) -> None:
    try:
        lease = cluster.get_lease(LOCK_NAMESPACE, LOCK_NAME)
    except NotFoundError:
        return
    except EksupError:
        return  # the cluster cannot be read; the mirror read said so already
    now = clock.now()
    if not lease.expired(now):
        raise RefusedError(
            f"a run holds the lock ({describe(lease, now)}): approve once it has stopped at "
            "the gate"
        )


def _last_seq(records: list[Record]) -> int:
    return max((r.seq for r in records), default=0)


def _replace(path: Path, records: list[Record]) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    append_records(temporary, records)
    temporary.replace(path)
