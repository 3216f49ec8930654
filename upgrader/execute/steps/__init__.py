"""The steps `execute` runs, one module per kind of work; `HANDLERS` maps plan step kinds to
them. A kind missing here is refused before a run starts, never skipped silently."""

from __future__ import annotations

from upgrader.execute.steps.addons import run_addons
from upgrader.execute.steps.autoscaler import run_pause, run_resume
from upgrader.execute.steps.base import StepHandler
from upgrader.execute.steps.control_plane import run_control_plane
from upgrader.execute.steps.fargate import run_fargate
from upgrader.execute.steps.gates import run_approval, run_manual, run_preflight, run_verify
from upgrader.execute.steps.karpenter import run_karpenter
from upgrader.execute.steps.nodegroup_blue_green import run_blue_green
from upgrader.execute.steps.nodegroup_in_place import run_in_place
from upgrader.execute.steps.self_managed import run_self_managed
from upgrader.plan.document import StepKind

HANDLERS: dict[StepKind, StepHandler] = {
    StepKind.PREFLIGHT: run_preflight,
    StepKind.APPROVAL: run_approval,
    StepKind.MANUAL: run_manual,
    StepKind.PAUSE_AUTOSCALER: run_pause,
    StepKind.CONTROL_PLANE: run_control_plane,
    StepKind.ADDONS: run_addons,
    StepKind.NODEGROUP_BLUE_GREEN: run_blue_green,
    StepKind.NODEGROUP_IN_PLACE: run_in_place,
    StepKind.SELF_MANAGED_GROUP: run_self_managed,
    StepKind.FARGATE_RESTART: run_fargate,
    StepKind.KARPENTER_DRIFT: run_karpenter,
    StepKind.RESUME_AUTOSCALER: run_resume,
    StepKind.VERIFY: run_verify,
}

__all__ = ["HANDLERS"]
