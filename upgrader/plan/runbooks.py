"""Runbooks: the YAML templates that plans are made from and on-call engineers read.

A runbook lists step templates (preconditions, actions, verifications, rollback, manual
approval) with `{placeholders}`. The planner instantiates the same templates for one cluster
and target, so a plan and the Markdown runbook an engineer follows by hand cannot drift apart.
A runbook is validated when loaded: a bad field is refused as `file:line: field: message`.
"""

from __future__ import annotations

import string
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from upgrader.core import loaders
from upgrader.core.errors import UserError
from upgrader.core.yaml_lines import load_with_lines, validate_file
from upgrader.plan.document import StepKind


class Repeat(StrEnum):
    ONCE = "once"
    PER_HOP = "per-hop"
    PER_NODEGROUP = "per-nodegroup"
    PER_HOP_NODEGROUP = "per-hop-nodegroup"


class _Template(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Command(_Template):
    """One thing a person (or eksup) does: a shell command, or a plain instruction."""

    tool: Literal["aws", "kubectl", "eksup", "shell", "manual"]
    run: str = Field(description="The command line, or the instruction for `manual`.")
    note: str = ""


class RunbookStep(_Template):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: StepKind
    title: str
    repeat: Repeat = Repeat.ONCE
    when: str | None = Field(
        default=None, description="A condition the planner evaluates, e.g. 'autoscaler-present'."
    )
    description: str
    preconditions: list[str] = Field(default_factory=list)
    actions: list[Command] = Field(default_factory=list)
    verify: list[Command] = Field(default_factory=list)
    rollback: list[Command] = Field(default_factory=list)
    approval: bool = Field(default=False, description="A human must approve before it runs.")
    mutating: bool = Field(default=True, description="False for steps that only read.")
    verifies: list[str] = Field(
        default_factory=list, description="Check ids re-run before the step starts."
    )


class Runbook(_Template):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    summary: str
    purpose: Literal["upgrade", "rollout", "rollback", "triage"]
    parameters: dict[str, str] = Field(description="Placeholder name -> what it means.")
    steps: list[RunbookStep] = Field(min_length=1)


def _texts(step: RunbookStep) -> list[str]:
    commands = [*step.actions, *step.verify, *step.rollback]
    return [
        step.title,
        step.description,
        *step.preconditions,
        *(c.run for c in commands),
        *(c.note for c in commands),
    ]


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def fill(text: str, values: dict[str, str]) -> str:
    """Substitute known placeholders; unknown ones stay visible as `<name>` for a human."""
    return string.Formatter().vformat(text, (), _Visible(values))


class _Visible(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return f"<{key}>"


RUNBOOK_DIR = Path(__file__).resolve().parents[2] / "runbooks"


def runbook_dir() -> Path:
    """The copy shipped inside the wheel, or `runbooks/` beside the package in a checkout."""
    # The wheel's copy first: installed, the checkout path is site-packages/runbooks, which
    # another distribution may own.
    shipped = Path(__file__).resolve().parent.parent / "runbooks"
    return shipped if shipped.is_dir() else RUNBOOK_DIR


class SharedSteps(_Template):
    """Step templates for runbooks that lack a step of their kind (`runbooks/shared/`)."""

    steps: list[RunbookStep] = Field(min_length=1)


SHARED_STEPS = Path("shared") / "node-owner-steps.yaml"


@cache
def shared_steps() -> dict[StepKind, RunbookStep]:
    """The node-owner steps (self-managed, Karpenter, Fargate) every upgrade runbook gets."""
    path = runbook_dir() / SHARED_STEPS
    return {step.kind: step for step in validate_file(path, SharedSteps).steps}


def load_runbook_file(path: Path) -> Runbook:
    runbook = validate_file(path, Runbook, loaders.RUNBOOK, "runbook")
    _, lines = load_with_lines(path, loaders.RUNBOOK, "runbook")
    if runbook.id != path.stem:
        raise UserError(
            f"{path}:{lines.get(('id',), 1)}: id: {runbook.id!r} must match the file name "
            f"{path.stem!r}"
        )
    seen: set[str] = set()
    for position, step in enumerate(runbook.steps):
        where = f"{path}:{lines.get(('steps', position), 1)}: steps.{position}"
        if step.id in seen:
            raise UserError(f"{where}.id: duplicate step id {step.id!r}")
        seen.add(step.id)
        undeclared = sorted(name for text in _texts(step) for name in placeholders(text))
        undeclared = [name for name in undeclared if name not in runbook.parameters]
        if undeclared:
            raise UserError(
                f"{where}: uses {{{undeclared[0]}}}, which `parameters` does not declare"
            )
    return runbook


@cache
def all_runbooks() -> dict[str, Runbook]:
    return {p.stem: load_runbook_file(p) for p in sorted(runbook_dir().glob("*.yaml"))}


def get_runbook(runbook_id: str) -> Runbook:
    runbooks = all_runbooks()
    try:
        return runbooks[runbook_id]
    except KeyError:
        known = ", ".join(runbooks) or "(none found)"
        raise UserError(f"no runbook {runbook_id!r}; `eksup runbook list` shows: {known}") from None
