"""The options several commands share: which cluster, where, as whom, or the sandbox."""

from __future__ import annotations

from typing import Annotated

import typer

ClusterOption = Annotated[
    str | None,
    typer.Option("--cluster", envvar="EKSUP_CLUSTER", help="EKS cluster name."),
]
RegionOption = Annotated[
    str | None, typer.Option("--region", envvar="AWS_REGION", help="AWS region.")
]
ProfileOption = Annotated[
    str | None, typer.Option("--profile", envvar="AWS_PROFILE", help="AWS profile.")
]
ContextOption = Annotated[
    str | None,
    typer.Option(
        "--context", envvar="EKSUP_CONTEXT", help="kubeconfig context (default: current)."
    ),
]
SandboxOption = Annotated[
    bool,
    typer.Option(
        "--sandbox",
        envvar="EKSUP_SANDBOX",
        help="Use the embedded sandbox (the demo cluster), not AWS.",
    ),
]
