"""The rollout spec as one document: the app, its strategy, traffic and gates, the deadlines,
the rules that join them, and `load_spec`, which reads and validates a spec file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from strategies.spec.base import Model
from strategies.spec.gates import Gate, PodReadinessGate, TargetHealthGate
from strategies.spec.strategy import COMPUTE_STRATEGIES, Strategy
from strategies.spec.traffic import AlbIngressTraffic, AlbTraffic, NoTraffic, Traffic
from upgrader.core import loaders
from upgrader.core.yaml_lines import validate_file

# app ------------------------------------------------------------------------------------------


class Side(Model):
    """One version of the app: its Deployment (scaled down when it is retired), if eksup may
    touch it. Without one, eksup moves traffic only and leaves the compute alone."""

    deployment: str | None = None


class App(Model):
    name: str = Field(min_length=1)
    namespace: str = Field(default="default", min_length=1)
    stable: Side = Side()
    candidate: Side = Side()


# the document ---------------------------------------------------------------------------------


class Deadlines(Model):
    # The whole rollout, pauses included. Two hours fits a 4-step canary with 5-min pauses
    # and slow gates; a rollout past it rolls back rather than hang half-shifted.
    total_seconds: Annotated[float, Field(gt=0)] = 7200.0
    # How long a step may wait on pausing or re-checked gates after its pause.
    step_seconds: Annotated[float, Field(gt=0)] = 1800.0
    # How long a weight change may take to read back (Route 53 INSYNC is usually < 60 s).
    converge_seconds: Annotated[float, Field(gt=0)] = 300.0


class RolloutSpec(Model):
    app: App
    strategy: Strategy
    # Left out: no traffic switch (rolling and recreate only).
    traffic: Traffic = NoTraffic()
    gates: tuple[Gate, ...] = ()
    deadlines: Deadlines = Deadlines()

    @model_validator(mode="after")
    def _gates_fit_traffic(self) -> RolloutSpec:
        for gate in self.gates:
            if (
                isinstance(gate, TargetHealthGate)
                and gate.target_group is None
                and not isinstance(self.traffic, AlbTraffic | AlbIngressTraffic)
            ):
                raise ValueError(
                    "an alb-target-health gate without target_group needs alb-elbv2 or alb-ingress "
                    "traffic"
                )
            if (
                isinstance(gate, PodReadinessGate)
                and gate.deployment is None
                and self.app.candidate.deployment is None
            ):
                raise ValueError(
                    "a pod-readiness gate without deployment needs app.candidate.deployment"
                )
        return self

    @model_validator(mode="after")
    def _compute_needs_deployments(self) -> RolloutSpec:
        if isinstance(self.strategy, COMPUTE_STRATEGIES):
            if self.app.stable.deployment is None or self.app.candidate.deployment is None:
                raise ValueError(
                    f"the {self.strategy.kind} strategy moves pods between two Deployments: "
                    "give app.stable.deployment and app.candidate.deployment"
                )
            if self.app.stable.deployment == self.app.candidate.deployment:
                raise ValueError("stable and candidate Deployments must differ")
        return self


def load_spec(path: Path) -> RolloutSpec:
    """Read and validate a rollout spec; a problem raises UserError `file:line: field: msg`."""
    return validate_file(path, RolloutSpec, loaders.SPEC, "rollout spec")
