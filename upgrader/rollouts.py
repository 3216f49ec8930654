"""The `eksup rollout` use cases: wire a rollout spec to the real AWS (and Kubernetes) ports.

The strategies, providers, gates and the runner live in `strategies/`; this module only builds
their ports from the command line's identity options and renders what they return.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from strategies.experiment import (
    ExperimentReport,
    build_rollout,
    end_experiment,
    is_experiment,
    plan_lines,
)
from strategies.providers import provider_for, refusal
from strategies.runner import RolloutReport
from strategies.spec import RolloutSpec, load_spec
from strategies.steps import ALL_STABLE, steps_for
from upgrader.errors import UserError


def _checked_spec(spec_file: Path) -> RolloutSpec:
    spec = load_spec(spec_file)
    refused = refusal(spec)
    if refused:
        raise UserError(f"{spec_file}: {refused}")
    return spec


def describe_rollout(spec_file: Path) -> RenderableType:
    spec = _checked_spec(spec_file)
    if is_experiment(spec):
        return _describe_experiment(spec)
    steps = Table(title=f"{spec.app.namespace}/{spec.app.name}: {spec.strategy.kind}")
    for column in ("step", "stable %", "candidate %", "pause"):
        steps.add_column(column)
    for step in steps_for(spec.strategy):
        steps.add_row(
            str(step.number),
            str(step.weights.stable),
            str(step.weights.candidate),
            f"{step.pause_seconds:.0f}s",
        )
    gates = ", ".join(gate.kind for gate in spec.gates) or "none"
    return Group(
        Text(f"traffic: {spec.traffic.provider}; gates: {gates}"),
        steps,
    )


def _describe_experiment(spec: RolloutSpec) -> RenderableType:
    """A/B and shadow move no weights: the plan says what is routed or mirrored, and when."""
    table = Table(title=f"{spec.app.namespace}/{spec.app.name}: {spec.strategy.kind}")
    table.add_column("phase")
    table.add_column("what")
    for phase, what in plan_lines(spec):
        table.add_row(phase, Text(what))
    gates = ", ".join(gate.kind for gate in spec.gates) or "none"
    return Group(Text(f"traffic: {spec.traffic.provider}; gates: {gates}"), table)


def run_rollout(
    spec_file: Path, *, region: str | None, profile: str | None, context: str | None
) -> RolloutReport | ExperimentReport:
    from upgrader.adapters.boto3_aws import Boto3Aws
    from upgrader.adapters.kubernetes_client import KubernetesCluster
    from upgrader.adapters.system_clock import SystemClock

    spec = _checked_spec(spec_file)
    aws = Boto3Aws(region=region, profile=profile)
    clock = SystemClock()
    names_deployments = spec.app.stable.deployment or spec.app.candidate.deployment
    cluster = (
        KubernetesCluster.from_kubeconfig(context=context, clock=clock)
        if names_deployments or spec.traffic.provider == "gateway-api"
        else None
    )
    # A/B, shadow and HTTPRoute weights; anything else is what build_runner builds.
    runner = build_rollout(
        spec,
        load_balancers=aws,
        dns=aws,
        metrics=aws,
        clock=clock,
        cluster=cluster,
        journal=cluster is not None,
    )
    return runner.run()


def abort_rollout(
    spec_file: Path, *, region: str | None, profile: str | None, context: str | None = None
) -> str:
    from upgrader.adapters.boto3_aws import Boto3Aws
    from upgrader.adapters.kubernetes_client import KubernetesCluster
    from upgrader.adapters.system_clock import SystemClock

    spec = _checked_spec(spec_file)
    aws = Boto3Aws(region=region, profile=profile)
    clock = SystemClock()
    # An HTTPRoute lives in the cluster.
    cluster = (
        KubernetesCluster.from_kubeconfig(context=context, clock=clock)
        if spec.traffic.provider == "gateway-api"
        else None
    )
    if is_experiment(spec):
        # A/B and shadow: remove the route (the header rule, the mirror) and read it back.
        return end_experiment(spec, load_balancers=aws, cluster=cluster, clock=clock)
    provider = provider_for(spec, load_balancers=aws, dns=aws, clock=clock, cluster=cluster)
    provider.apply(ALL_STABLE)
    live = provider.read()
    if live != ALL_STABLE:
        raise UserError(f"traffic not confirmed on stable: {provider.name} reads {live}")
    return f"{spec.app.name}: all traffic on stable ({provider.name} reads {live})"
