"""Which cluster a plan is for, recorded at plan time and proved again before every run.

`execute` talks to two worlds: AWS (the EKS API, in an account and a region) and a Kubernetes
API server (wherever the kubeconfig context points). Nothing ties them together but the
person's shell, so a plan made for cluster X, executed with the context switched to cluster Y,
would upgrade X's control plane while draining Y's nodes. The plan therefore records the
cluster's identity as AWS reported it (ARN: account, region and name; API endpoint) and where
the kube context pointed; `prove` re-reads both on every start, resume and dry run and refuses
(exit 3, before any change) on any difference, naming it.

The endpoint is the link between the two worlds: EKS gives each cluster its own API server
URL, and the kubeconfig context must point at that URL (`aws eks update-kubeconfig` writes
exactly it). A cluster deleted and re-created under the same name gets a new endpoint.
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit

from upgrader.core.aws import EksCluster
from upgrader.core.errors import EksupError, NotFoundError, RefusedError
from upgrader.core.shell import command
from upgrader.plan.document import ClusterIdentity, Plan
from upgrader.usecases.targets import Target


def identity_of(cluster: EksCluster, region: str, kube_endpoint: str | None) -> ClusterIdentity:
    parts = cluster.arn.split(":")
    account = parts[4] if len(parts) > 4 else ""
    arn_region = parts[3] if len(parts) > 3 else ""
    return ClusterIdentity(
        arn=cluster.arn,
        endpoint=cluster.endpoint,
        account=account,
        region=arn_region or region,
        kube_endpoint=kube_endpoint,
        ca_sha256=ca_digest(cluster.certificate_authority),
    )


def ca_digest(data: str | None) -> str:
    """sha256 of a base64 PEM CA, blind to line breaks and padding differences; "" for none."""
    if not data:
        return ""
    try:
        pem = base64.b64decode("".join(data.split()), validate=False)
    except ValueError:
        pem = data.encode("utf-8")
    return hashlib.sha256(b"".join(pem.split())).hexdigest()


def endpoint_key(url: str) -> str:
    """Scheme-less host[:port], lower case: `https://ABC.gr7.eks.amazonaws.com/` and
    `https://abc.gr7.eks.amazonaws.com` are the same server."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    return (parts.netloc or parts.path).lower().rstrip("/")


def prove(plan: Plan, target: Target, *, plan_file: str) -> None:
    """Refuse (RefusedError) unless `target` reaches the very cluster `plan` was made for."""
    recorded = plan.identity
    if recorded is None:
        raise RefusedError(
            f"{plan_file} does not record which cluster it was made for (an older eksup): "
            "re-run `eksup plan`"
        )
    if recorded.region != plan.region:
        raise RefusedError(
            f"{plan_file} says region {plan.region} but was made for a cluster in "
            f"{recorded.region} ({recorded.arn}): the plan was edited; re-run `eksup plan`"
        )
    if target.region != plan.region:
        raise RefusedError(
            f"the AWS region is {target.region or '(none)'}, but the plan is for "
            f"{plan.region}: nothing was changed"
        )
    try:
        live = target.control_plane.describe_cluster(plan.cluster)
    except NotFoundError:
        raise RefusedError(
            f"there is no cluster {plan.cluster} in region {target.region} of the account these "
            f"credentials reach; the plan is for {recorded.arn}: nothing was changed"
        ) from None
    except EksupError as error:
        raise RefusedError(
            f"cannot prove which cluster this is (DescribeCluster {plan.cluster}: {error}): "
            "nothing was changed"
        ) from None
    if live.arn != recorded.arn:
        raise RefusedError(
            f"cluster {plan.cluster} here is {live.arn}, but the plan is for {recorded.arn} "
            f"({_which(live.arn, recorded.arn)}): nothing was changed"
        )
    if endpoint_key(live.endpoint) != endpoint_key(recorded.endpoint):
        raise RefusedError(
            f"cluster {plan.cluster} now serves its API at {live.endpoint}, not "
            f"{recorded.endpoint} as when planned: it was re-created; re-run `eksup plan`"
        )
    live_ca = ca_digest(live.certificate_authority)
    if recorded.ca_sha256 and live_ca and live_ca != recorded.ca_sha256:
        raise RefusedError(
            f"cluster {plan.cluster} now has another certificate authority than when planned: "
            "it was re-created or its CA rotated; re-run `eksup plan`"
        )
    context = target.kube_context or "(current context)"
    if target.kube_endpoint is None:
        raise RefusedError(
            f"cannot tell which API server kube context {context} points at: pass --context "
            f"naming the context of {plan.cluster}"
        )
    if endpoint_key(target.kube_endpoint) != endpoint_key(live.endpoint):
        raise RefusedError(
            f"kube context {context} points at {target.kube_endpoint}, not at cluster "
            f"{plan.cluster} ({live.endpoint}): nothing was changed; pass --context for "
            f"{plan.cluster} (`{command('aws', 'eks', 'update-kubeconfig', '--name', plan.cluster)}"
            "` writes one)"
        )
    # The same URL could still be served by another server (a hijacked name, a proxy): the CA
    # the context trusts must be the cluster's own, when the context names one.
    if target.kube_ca is not None and live_ca and ca_digest(target.kube_ca) != live_ca:
        raise RefusedError(
            f"kube context {context} trusts another certificate authority than cluster "
            f"{plan.cluster}'s (DescribeCluster certificateAuthority): nothing was changed"
        )


def _which(live: str, planned: str) -> str:
    """ "account 111 instead of 222" / "region a instead of b" from two ARNs."""
    a, b = live.split(":"), planned.split(":")
    if len(a) < 6 or len(b) < 6:
        return "a different cluster"
    changes = []
    if a[4] != b[4]:
        changes.append(f"account {a[4]} instead of {b[4]}")
    if a[3] != b[3]:
        changes.append(f"region {a[3]} instead of {b[3]}")
    return ", ".join(changes) or "a different cluster"
