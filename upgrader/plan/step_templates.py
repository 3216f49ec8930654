"""A runbook cut into its parts, and one plan step made from one runbook template.

Every step is an instance of a runbook template filled for this cluster (`runbooks.fill`),
so the plan `execute` runs and the Markdown a person follows cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from upgrader.core.errors import UserError
from upgrader.core.shell import comment, fill_command
from upgrader.plan.checks import NodeStrategy
from upgrader.plan.document import Step, StepKind
from upgrader.plan.runbooks import Command, Repeat, Runbook, RunbookStep, fill, shared_steps
from upgrader.plan.snapshot import ClusterSnapshot, NodeOwner, NodeOwnerKind
from upgrader.plan.step_params import GenericParams, StepParams
from upgrader.versions import KubeVersion, VersionCatalog

MANAGED_STEP_KINDS = {
    StepKind.NODEGROUP_BLUE_GREEN: NodeStrategy.BLUE_GREEN,
    StepKind.NODEGROUP_IN_PLACE: NodeStrategy.IN_PLACE,
}


UNIT_STEP_KINDS = {
    NodeOwnerKind.SELF_MANAGED: StepKind.SELF_MANAGED_GROUP,
    NodeOwnerKind.KARPENTER: StepKind.KARPENTER_DRIFT,
    NodeOwnerKind.FARGATE: StepKind.FARGATE_RESTART,
}


@dataclass(frozen=True)
class RunbookShape:
    """A runbook cut in three: once-steps before the hops, the repeated block, once-steps after."""

    before: list[RunbookStep]
    block: list[RunbookStep]
    after: list[RunbookStep]
    strategy: NodeStrategy


def runbook_shape(runbook: Runbook) -> RunbookShape:
    repeated = [i for i, s in enumerate(runbook.steps) if s.repeat is not Repeat.ONCE]
    if not repeated:
        raise UserError(f"runbook {runbook.id!r} has no per-hop steps: it cannot plan an upgrade")
    first, last = repeated[0], repeated[-1]
    block = runbook.steps[first : last + 1]
    if any(s.repeat is Repeat.ONCE for s in block):
        raise UserError(
            f"runbook {runbook.id!r}: a once-only step between per-hop steps is not supported"
        )
    kinds = {s.kind for s in block}
    managed = [MANAGED_STEP_KINDS[k] for k in kinds if k in MANAGED_STEP_KINDS]
    if len(managed) != 1:
        raise UserError(
            f"runbook {runbook.id!r} must have exactly one node group step "
            "(nodegroup-blue-green or nodegroup-in-place)"
        )
    extra = [t for k, t in shared_steps().items() if k not in kinds]
    return RunbookShape(
        runbook.steps[:first], [*block, *extra], runbook.steps[last + 1 :], managed[0]
    )


# -- filling a template --------------------------------------------------------------------------


def _lines(commands: Sequence[Command], values: dict[str, str]) -> list[str]:
    """Commands as a person types them; an instruction (`manual`) and a note become comments."""
    lines = []
    for template in commands:
        if template.tool == "manual":
            line = f"# {comment(fill(template.run, values))}"
        else:  # every value shell-quoted: names come from the cluster (upgrader.core.shell)
            line = fill_command(template.run, values)
        if template.note:
            line += f"  # {comment(fill(template.note, values))}"
        lines.append(line)
    return lines


def expand_lines(
    lines: list[str], marker: str, each: Sequence[Callable[[str], list[str]]]
) -> list[str]:
    """Lines naming `marker` repeated for each concrete object (one add-on, one workload), so
    the Markdown shows the exact commands; other lines, or no objects, stay as they are."""
    if not each:
        return lines
    out = []
    for line in lines:
        if marker in line:
            for make in each:
                out.extend(make(line))
        else:
            out.append(line)
    return out


@dataclass(frozen=True)
class PlanContext:
    """What every step of one plan shares."""

    snapshot: ClusterSnapshot
    catalog: VersionCatalog
    current: KubeVersion
    target: KubeVersion
    values: dict[str, str]  # the runbook placeholders common to every step
    taint: str
    drain_timeout_seconds: int
    max_unavailable: str | None  # in-place updates; None: each group's own setting
    # A group's budget bound depends only on the snapshot: computed once, reused at every hop.
    drain_bounds: dict[NodeOwner, float] = field(default_factory=dict)
    ami_family: str | None = None  # green groups move off AL2 to it (upgrader.plan.ami_move)


def build_step(
    template: RunbookStep,
    ctx: PlanContext,
    *,
    step_id: str,
    target: str,
    hop: KubeVersion | None = None,
    values: Mapping[str, str] | None = None,
    params: StepParams | None = None,
    **extra: object,
) -> Step:
    filled = {**ctx.values, **(values or {})}
    if hop is not None:
        filled["hop"] = str(hop)
    return Step.model_validate(
        {
            "id": step_id,
            "kind": template.kind,
            "target": target,
            "title": fill(template.title, filled),
            "description": fill(template.description, filled),
            "hop": str(hop) if hop is not None else None,
            "params": params or GenericParams(),
            "mutating": template.mutating,
            "approval": template.approval,
            "verifies": list(template.verifies),
            "preconditions": [fill(p, filled) for p in template.preconditions],
            "commands": _lines(template.actions, filled),
            "verification": _lines(template.verify, filled),
            "rollback": _lines(template.rollback, filled),
            **extra,
        }
    )
