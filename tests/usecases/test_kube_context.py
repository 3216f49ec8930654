"""--cluster and --region from an EKS ARN kube context (`aws eks update-kubeconfig` names it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from upgrader.core.errors import UserError
from upgrader.usecases.kube_context import current_context, infer_cluster, parse_eks_context

ARN = "arn:aws:eks:eu-west-1:111122223333:cluster/prod-1"


def test_an_eks_arn_names_cluster_region_and_account() -> None:
    found = parse_eks_context(ARN)
    assert found is not None
    assert (found.cluster, found.region, found.account) == ("prod-1", "eu-west-1", "111122223333")
    assert parse_eks_context("arn:aws-cn:eks:cn-north-1:111122223333:cluster/c") is not None
    assert parse_eks_context("prod") is None  # an alias says nothing


def test_the_context_fills_in_cluster_and_region() -> None:
    assert infer_cluster(None, None, ARN, environ={}) == ("prod-1", "eu-west-1")
    assert infer_cluster("prod-1", "eu-west-1", ARN, environ={}) == ("prod-1", "eu-west-1")
    assert infer_cluster("prod", None, "my-alias", environ={}) == ("prod", None)


def test_a_contradiction_is_refused_in_one_line() -> None:
    with pytest.raises(UserError, match=r"--cluster staging but --context .* is cluster prod-1"):
        infer_cluster("staging", None, ARN, environ={})
    with pytest.raises(UserError, match="is in eu-west-1"):
        infer_cluster(None, "us-east-1", ARN, environ={})


def test_the_current_context_is_read_from_kubeconfig(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.write_text("apiVersion: v1\nkind: Config\n")
    second.write_text(f"apiVersion: v1\nkind: Config\ncurrent-context: {ARN}\n")
    env = {"KUBECONFIG": f"{first}:{second}"}
    assert current_context(env) == ARN
    assert infer_cluster(None, None, None, environ=env) == ("prod-1", "eu-west-1")
    assert current_context({"HOME": str(tmp_path)}) is None
