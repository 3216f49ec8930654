"""`--cluster` and `--region` from the kube context, as `aws eks update-kubeconfig` names it.

`aws eks update-kubeconfig` names the context after the cluster's ARN,
`arn:aws:eks:eu-west-1:111122223333:cluster/prod`, so the kube context already says which EKS
cluster and region a person means. When `--cluster` is left out it is taken from there (the
`--context` given, else the kubeconfig's current context); when both are given and disagree the
command is refused: talking to one cluster's API server while reading another's EKS record is
how a wrong cluster gets upgraded. A context that is not an EKS ARN (an alias) says nothing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from upgrader.core.errors import UserError

# Partitions: aws, aws-cn, aws-us-gov, ...
_EKS_ARN = re.compile(
    r"^arn:aws[a-z-]*:eks:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):cluster/(?P<name>[\w.-]+)$"
)


@dataclass(frozen=True)
class EksContext:
    cluster: str
    region: str
    account: str


def parse_eks_context(context: str) -> EksContext | None:
    match = _EKS_ARN.match(context)
    if match is None:
        return None
    return EksContext(match["name"], match["region"], match["account"])


def current_context(environ: dict[str, str] | None = None) -> str | None:
    """The kubeconfig's current-context, read as kubectl does (the first file of KUBECONFIG
    that sets it, else ~/.kube/config); None when there is none or it cannot be read."""
    env = os.environ if environ is None else environ
    paths = [p for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    if not paths:
        paths = [str(Path(env.get("HOME", str(Path.home()))) / ".kube" / "config")]
    for path in paths:
        try:
            document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            continue
        if isinstance(document, dict) and document.get("current-context"):
            return str(document["current-context"])
    return None


def infer_cluster(
    cluster: str | None,
    region: str | None,
    context: str | None,
    *,
    environ: dict[str, str] | None = None,
) -> tuple[str | None, str | None]:
    """(cluster, region) with what the kube context adds; refuses a contradiction."""
    name = context if context is not None else current_context(environ)
    eks = parse_eks_context(name) if name else None
    if eks is None:
        return cluster, region
    source = f"--context {name}" if context is not None else f"the current kube context {name}"
    if cluster is not None and cluster != eks.cluster:
        raise UserError(
            f"--cluster {cluster} but {source} is cluster {eks.cluster}: eksup would read one "
            "cluster's EKS record and another's Kubernetes API; give the matching --context "
            "(or --cluster)"
        )
    if region is not None and region != eks.region:
        raise UserError(
            f"--region (or AWS_REGION) {region} but {source} is in {eks.region}: give the "
            "matching --region"
        )
    return eks.cluster, eks.region
