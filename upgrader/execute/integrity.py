"""The plan and its journal as integrity-checked documents.

A plan file is reviewed, approved and then executed, possibly hours apart and on another
machine; anyone with write access to it in between could delete its approval step, flip its
verdict, point it at another region, or append a "done" line to its journal. So:

- the plan carries a digest of its content (`digest`, sha256 over canonical JSON of every
  other field); a plan whose content no longer matches is refused, and `eksup approve` records
  the digest it approved, so a plan edited after approval is refused even when re-sealed;
- which gates a run must pass comes from policy, not from the steps in the file: the runbook the
  plan names (its approval and pre-flight steps) plus `.eksup.yaml`'s `policy.required_gates`.
  A plan missing one, or with one made harmless (`approval: false`), is refused;
- the verdict in the file is never trusted to let a run go: the engine re-runs the blocking
  checks on fresh state (`upgrader.usecases.fresh_checks`);
- the journal must agree with its ConfigMap mirror (which a run writes after every record):
  a "finished" line the mirror does not have, or a record that differs from the mirror's copy,
  is refused.

The digest is not a signature: whoever can write the file can re-seal it. What it buys is that
an edit is never silent (approvals bind to it) and that every check below runs on the content
that was reviewed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from upgrader.core.errors import RefusedError
from upgrader.core.run.journal import JournalState, Phase, Record
from upgrader.execute.steps.gates import is_gate
from upgrader.plan.checks import NodeStrategy
from upgrader.plan.checks.config import Config
from upgrader.plan.document import Plan, StepKind
from upgrader.plan.planner import RUNBOOK_FOR_STRATEGY
from upgrader.plan.runbooks import Repeat, RunbookStep, get_runbook

ALGORITHM = "sha256"


def compute_digest(plan: Plan) -> str:
    """ "sha256:<hex>" over every field but `digest`, in canonical JSON."""
    content = plan.model_dump(mode="json", exclude={"digest"})
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{ALGORITHM}:{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def seal(plan: Plan) -> Plan:
    """The plan with its digest set: the last thing `eksup plan` does."""
    return plan.model_copy(update={"digest": compute_digest(plan)})


def verify_digest(plan: Plan, source: str) -> None:
    """Refuse a plan with no digest or one its content does not match."""
    if not plan.digest:
        raise RefusedError(
            f"{source} has no digest (made by an older eksup, or stripped): re-run `eksup plan`"
        )
    actual = compute_digest(plan)
    if actual != plan.digest:
        raise RefusedError(
            f"{source} was edited after `eksup plan` wrote it (its content does not match its "
            f"digest {plan.digest[:19]}...): review the change and re-run `eksup plan`"
        )


# -- policy: the gates a run must pass -----------------------------------------------------------

_GATE_KINDS = (StepKind.APPROVAL, StepKind.PREFLIGHT)


def required_gates(plan: Plan, config: Config) -> list[str]:
    """Step ids that must be gates (or pre-flight steps) in `plan`: the runbook's approval and
    pre-flight steps that apply once, and the config's `policy.required_gates`."""
    try:
        expected = RUNBOOK_FOR_STRATEGY[NodeStrategy(plan.node_strategy)]
    except ValueError:
        raise RefusedError(f"the plan's node strategy {plan.node_strategy!r} is unknown") from None
    if plan.runbook != expected:
        raise RefusedError(
            f"the plan names runbook {plan.runbook!r}, but a {plan.node_strategy} upgrade is "
            f"made from {expected!r}: re-run `eksup plan`"
        )
    runbook = get_runbook(expected)
    ids = [t.id for t in runbook.steps if _is_required(t)]
    ids += [g for g in config.policy.required_gates if g not in ids]
    return ids


def _is_required(template: RunbookStep) -> bool:
    # A `when:` step applies only to some clusters; a repeated one is checked per instance.
    return (
        template.repeat is Repeat.ONCE
        and template.when is None
        and (template.approval or template.kind in _GATE_KINDS)
    )


def check_policy(plan: Plan, config: Config) -> None:
    """Refuse a plan that lacks a gate policy requires, or whose gate was made harmless."""
    if not plan.steps:
        return  # nothing to do, nothing to guard
    have = {s.id: s for s in plan.steps}
    missing = [g for g in required_gates(plan, config) if g not in have]
    if missing:
        raise RefusedError(
            f"the plan lacks required gate {', '.join(missing)} (runbook {plan.runbook}"
            f"{' and .eksup.yaml policy' if config.policy.required_gates else ''}): it was "
            "edited or made by another tool; re-run `eksup plan`"
        )
    runbook = get_runbook(plan.runbook)
    templates = {t.id: t for t in runbook.steps}
    for gate in required_gates(plan, config):
        step, template = have[gate], templates.get(gate)
        if template is not None and step.kind is not template.kind:
            raise RefusedError(
                f"step {gate} must be a {template.kind.value} step (runbook {runbook.id}), but "
                f"the plan makes it {step.kind.value}: re-run `eksup plan`"
            )
        if (template is None or template.approval) and not is_gate(step):
            raise RefusedError(
                f"step {gate} must wait for an approval, but the plan says it need not: "
                "re-run `eksup plan`"
            )
    for template in runbook.steps:
        if not template.approval:
            continue
        for step in plan.steps:
            own = step.id == template.id or step.id.startswith(f"{template.id}-")
            if own and step.kind is template.kind and not is_gate(step):
                raise RefusedError(
                    f"step {step.id} must wait for an approval (runbook {runbook.id}), but the "
                    "plan says it need not: re-run `eksup plan`"
                )
    first_change = next((i for i, s in enumerate(plan.steps) if s.mutating), len(plan.steps))
    for gate in required_gates(plan, config):
        if [s.id for s in plan.steps].index(gate) > first_change:
            raise RefusedError(
                f"gate {gate} comes after step {plan.steps[first_change].id}, which changes the "
                "cluster: re-run `eksup plan`"
            )


# -- approvals and the journal -------------------------------------------------------------------


def check_approvals(plan: Plan, records: Sequence[Record]) -> None:
    """Refuse when a gate of this plan was approved for other content (edited since)."""
    for record in records:
        if record.phase is not Phase.APPROVED:
            continue
        if record.data.get("plan_fingerprint") != plan.fingerprint:
            continue  # another plan's approval: ignored by the gates anyway
        approved = record.data.get("plan_digest", "")
        if approved != plan.digest:
            raise RefusedError(
                f"the plan was edited after step {record.step} was approved (approved digest "
                f"{approved[:19] or 'none'}..., now {plan.digest[:19]}...): re-plan and have "
                "it approved again"
            )


def check_run_digest(plan: Plan, records: Sequence[Record], source: str) -> None:
    """Refuse a journal whose runs executed other content of this plan."""
    for record in records:
        if record.phase is Phase.RUN_STARTED:
            ran = record.data.get("plan_digest")
            if ran is not None and ran != plan.digest:
                raise RefusedError(
                    f"{source}: run {record.run} executed other content of this plan (digest "
                    f"{ran[:19]}..., now {plan.digest[:19]}...): the plan was edited since"
                )


_TRUSTED = (Phase.FINISHED, Phase.SKIPPED, Phase.APPROVED, Phase.RUN_FINISHED, Phase.ACTION)


def check_mirror(local: Sequence[Record], remote: Sequence[Record], source: str) -> None:
    """The local journal against the ConfigMap copy every run writes: when the copy is of the
    same plan, a record the resume would trust (a step done, an approval) must be in it, and
    identical. A copy that fell behind because the cluster could not be written (the run
    warned then) is refused too: removing the local file resumes from the copy, and every
    step checks fresh state first, so nothing is repeated that is done."""
    theirs = JournalState(tuple(remote))
    if not remote or theirs.plan_identity != JournalState(tuple(local)).plan_identity:
        return
    copy = {(r.run, r.seq): r for r in remote}
    # A journal too big for a ConfigMap is mirrored without its oldest records
    # (journal._mirror_text): what is older than the copy cannot be checked against it.
    floor = min(r.seq for r in remote)
    for record in local:
        if record.seq < floor:
            continue
        mirrored = copy.get((record.run, record.seq))
        if mirrored is not None:
            if mirrored != record:
                raise RefusedError(
                    f"{source}: record {record.seq} ({record.phase.value} "
                    f"{record.step or ''}) differs from the cluster's copy: the journal was "
                    "edited; restore it or remove it and resume from the ConfigMap"
                )
            continue
        if record.phase in _TRUSTED:
            raise RefusedError(
                f"{source}: record {record.seq} says {record.phase.value} "
                f"{record.step or ''}, but the cluster's copy of the journal does not: the "
                "journal was edited; remove it to resume from the ConfigMap"
            )
