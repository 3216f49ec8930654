"""`eksup plan` and `eksup schema`: read the cluster and write the plan; the plan's schema."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from upgrader.cli.numbers import SECONDS, WEEK, within
from upgrader.cli.options import (
    ClusterOption,
    ContextOption,
    ProfileOption,
    RegionOption,
    SandboxOption,
)
from upgrader.cli.output import reported_errors, stdout, write_text
from upgrader.core.defaults import DEFAULT_DRAIN_TIMEOUT_SECONDS
from upgrader.core.errors import UserError
from upgrader.core.exit_codes import ExitCode

if TYPE_CHECKING:
    from upgrader.plan.document import Plan


class OutputFormat(StrEnum):
    TABLE = "table"
    MARKDOWN = "markdown"
    JSON = "json"
    JUNIT = "junit"


class Strategy(StrEnum):
    BLUE_GREEN = "blue-green"
    IN_PLACE = "in-place"


def plan(
    to: Annotated[str, typer.Option("--to", help="Target Kubernetes version, e.g. 1.31.")],
    cluster: ClusterOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    context: ContextOption = None,
    sandbox: SandboxOption = False,
    node_strategy: Annotated[
        Strategy, typer.Option("--node-strategy", help="How node groups are replaced.")
    ] = Strategy.BLUE_GREEN,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="What to print on stdout.")
    ] = OutputFormat.TABLE,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the plan (JSON) to this file.")
    ] = None,
    manifests: Annotated[
        Path | None,
        typer.Option("--manifests", help="Scan these YAML manifests for removed APIs."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Config file (default: ./.eksup.yaml).")
    ] = None,
    drain_timeout: Annotated[
        int | None,
        typer.Option(
            "--drain-timeout",
            help="Seconds a drain may take (default: config, "
            f"{DEFAULT_DRAIN_TIMEOUT_SECONDS}); raised per node group to twice its PDB budget "
            "bound.",
            callback=within(0, above=True, high=WEEK, unit=SECONDS),
        ),
    ] = None,
    max_unavailable: Annotated[
        str | None,
        typer.Option(
            "--max-unavailable",
            help='In-place updates: nodes replaced at a time, "3" or "25%" (default: each '
            "group's own; set for the update and put back after).",
        ),
    ] = None,
    ami_type: Annotated[
        str | None,
        typer.Option(
            "--ami-type",
            help="al2023 or bottlerocket: green node groups leave Amazon Linux 2 (the way to "
            "1.33+); user data must follow (nodeadm, or TOML settings).",
        ),
    ] = None,
) -> None:
    """Read the cluster, run the pre-flight checks and write a reviewable upgrade plan.

    Reads only. Exit code 0: nothing blocks; 2: a blocking finding; 1: an error.
    """
    with reported_errors():
        made = make_plan_for(
            to,
            cluster=cluster,
            region=region,
            profile=profile,
            context=context,
            sandbox=sandbox,
            node_strategy=node_strategy.value,
            manifests=manifests,
            config_path=config,
            drain_timeout=drain_timeout,
            max_unavailable=max_unavailable,
            ami_type=ami_type,
        )
        if out is not None:
            write_text(out, made.to_json())
        emit_plan(made, output_format)
    raise typer.Exit(ExitCode.BLOCKED if made.blocking else ExitCode.OK)


def make_plan_for(
    to: str,
    *,
    cluster: str | None,
    region: str | None,
    profile: str | None,
    context: str | None,
    sandbox: bool,
    node_strategy: str,
    manifests: Path | None,
    config_path: Path | None,
    drain_timeout: int | None,
    max_unavailable: str | None = None,
    ami_type: str | None = None,
) -> Plan:
    """Discover, check and plan: the whole of `eksup plan` but the printing."""
    from upgrader.plan.ami_move import parse_family

    ami_family = parse_family(ami_type)
    if ami_family is not None and node_strategy != Strategy.BLUE_GREEN.value:
        raise UserError(
            "--ami-type needs --node-strategy blue-green: EKS cannot change a node group's "
            "AMI type in place"
        )
    from upgrader.cli.targets import open_target
    from upgrader.core.aws import UpdateConfig
    from upgrader.plan.checks.config import load_config
    from upgrader.usecases.plan import plan_target

    if max_unavailable is not None:
        try:
            UpdateConfig.parse(max_unavailable)
        except ValueError:
            raise UserError(
                f'--max-unavailable {max_unavailable}: give a count "1"-"100" or a percentage '
                '"1%"-"100%"'
            ) from None
    settings = load_config(config_path)
    with open_target(
        cluster, region=region, profile=profile, context=context, sandbox=sandbox
    ) as target:
        return plan_target(
            target,
            to,
            node_strategy=node_strategy,
            manifests=manifests,
            config=settings,
            drain_timeout=drain_timeout,
            max_unavailable=max_unavailable,
            ami_family=ami_family,
        )


def emit_plan(made: Plan, output_format: OutputFormat) -> None:
    from upgrader.render.plan import render_json, render_junit, render_markdown
    from upgrader.render.terminal import plan_view

    if output_format is OutputFormat.TABLE:
        stdout.print(plan_view(made))
    elif output_format is OutputFormat.MARKDOWN:
        sys.stdout.write(render_markdown(made))
    elif output_format is OutputFormat.JSON:
        sys.stdout.write(render_json(made))
    else:
        sys.stdout.write(render_junit(made))


def schema() -> None:
    """Print the JSON Schema of the plan document (`eksup plan --format json`)."""
    from upgrader.plan.document import plan_json_schema

    with reported_errors():
        sys.stdout.write(json.dumps(plan_json_schema(), indent=2) + "\n")
