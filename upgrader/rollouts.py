"""The `eksup rollout` use cases: wire a rollout spec to the real AWS (and Kubernetes) ports.

The strategies, providers, gates and the runner live in `strategies/`; this module only builds
their ports from the command line's identity options and renders what they return.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from strategies.compute import describe_compute
from strategies.providers import provider_for, refusal
from strategies.runner import RolloutReport, build_runner
from strategies.spec import COMPUTE_STRATEGIES, RolloutSpec, load_spec
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
    if isinstance(spec.strategy, COMPUTE_STRATEGIES):
        gates = ", ".join(gate.kind for gate in spec.gates) or "none"
        return Text(f"{describe_compute(spec)}\ngates: {gates}")
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


def run_rollout(
    spec_file: Path, *, region: str | None, profile: str | None, context: str | None
) -> RolloutReport:
    from upgrader.adapters.boto3_aws import Boto3Aws
    from upgrader.adapters.http_probe import UrllibHttpProbe
    from upgrader.adapters.kubernetes_client import KubernetesCluster
    from upgrader.adapters.system_clock import SystemClock

    spec = _checked_spec(spec_file)
    aws = Boto3Aws(region=region, profile=profile)
    clock = SystemClock()
    names_deployments = spec.app.stable.deployment or spec.app.candidate.deployment
    cluster = (
        KubernetesCluster.from_kubeconfig(context=context, clock=clock)
        if names_deployments
        else None
    )
    runner = build_runner(
        spec,
        load_balancers=aws,
        dns=aws,
        metrics=aws,
        clock=clock,
        cluster=cluster,
        journal=cluster is not None,
        http=UrllibHttpProbe(),
    )
    return runner.run()


def abort_rollout(spec_file: Path, *, region: str | None, profile: str | None) -> str:
    from upgrader.adapters.boto3_aws import Boto3Aws
    from upgrader.adapters.system_clock import SystemClock

    spec = _checked_spec(spec_file)
    aws = Boto3Aws(region=region, profile=profile)
    provider = provider_for(spec, load_balancers=aws, dns=aws, clock=SystemClock())
    provider.apply(ALL_STABLE)
    live = provider.read()
    if live != ALL_STABLE:
        raise UserError(f"traffic not confirmed on stable: {provider.name} reads {live}")
    return f"{spec.app.name}: all traffic on stable ({provider.name} reads {live})"
