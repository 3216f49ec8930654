"""Karpenter node pools: Karpenter replaces its own nodes by drift; eksup points and watches.

eksup never drains a Karpenter node itself: Karpenter's disruption controller does, within the
NodePool's disruption budgets and every PodDisruptionBudget, and it would fight anyone else.
The step only makes the pool's EC2NodeClass select the AMI of the hop and then waits until
every node of the pool runs the hop's kubelet:

- an `alias` term (`al2023@latest` or pinned, `al2023@v20241011`) is resolved by Karpenter at
  the control plane's minor, so the control-plane update already drifted the nodes: nothing
  is patched (pinning the release is the user's choice, and the release exists for every
  supported minor);
- `id`, `name` or `tags` terms select a fixed image: they are replaced by one `id` term with
  the EKS-optimized AMI of the hop, read from its public SSM parameter (the same AMI a
  managed or self-managed group gets), for the class's `amiFamily` and the nodes'
  architecture. Karpenter requires `amiFamily` without an alias, so it is there to read.

The terms before the patch are journaled first, so the rollback (restore them) is known even
after a crash; a resumed run finds the terms already set and does not patch again. The wait
has a deadline; when it passes, the failure names the NodeClaims still on the old version,
the pods still on their nodes and the PDBs that allow no disruption.
"""

from __future__ import annotations

import json

from upgrader.core.errors import NotFoundError, UserError
from upgrader.core.kube import (
    KARPENTER_NODEPOOL_LABEL,
    AmiSelectorTerm,
    Node,
    NodeClaim,
    NodeClass,
    NodePool,
    Pod,
)
from upgrader.execute.steps.base import (
    PreconditionError,
    StepContext,
    StepFailedError,
    StepResult,
    WaitTimeoutError,
)
from upgrader.execute.steps.karpenter_placement import check_drift_placement, read_node_pools
from upgrader.plan.step_params import KarpenterParams
from upgrader.versions import default_catalog

# EC2NodeClass spec.amiFamily -> the EKS AMI type of each node architecture.
_AMI_TYPES = {
    "AL2023": {"amd64": "AL2023_x86_64_STANDARD", "arm64": "AL2023_ARM_64_STANDARD"},
    "AL2": {"amd64": "AL2_x86_64", "arm64": "AL2_ARM_64"},
    "Bottlerocket": {"amd64": "BOTTLEROCKET_x86_64", "arm64": "BOTTLEROCKET_ARM_64"},
}
PREVIOUS_TERMS = "previous_ami_selector_terms"
_REPORT_LIMIT = 5


def run_karpenter(ctx: StepContext) -> StepResult:
    p = ctx.step.params_of(KarpenterParams)
    cluster = ctx.ports.cluster
    pools = read_node_pools(ctx)
    pool = _node_pool(pools, p.nodegroup)
    if not _nodes(ctx, pool.name):
        return StepResult(f"node pool {pool.name} has no nodes", already_done=True)
    if _at_version(ctx, pool.name, p.version):
        return StepResult(f"every node of pool {pool.name} runs {p.version}", already_done=True)
    # The NodePools as they are now, before the patch that starts the drift.
    check_drift_placement(ctx, pool, pools)
    name = pool.node_class or p.node_class or ""  # the live nodeClassRef wins over the plan's
    try:
        node_class = cluster.get_node_class(name)
    except NotFoundError:
        raise PreconditionError(
            f"EC2NodeClass {name} of node pool {pool.name} not found; nothing was changed"
        ) from None
    detail = _point_at_hop(ctx, p, pool, node_class)
    _wait(ctx, pool, p.version)
    return StepResult(detail)


def _node_pool(listed: list[NodePool], name: str) -> NodePool:
    pools = {pool.name: pool for pool in listed}
    if name not in pools:
        raise PreconditionError(
            f"NodePool {name} not found (karpenter.sh/v1): eksup drives Karpenter v1 only; "
            "upgrade Karpenter or replace the pool's nodes by hand. Nothing was changed"
        )
    return pools[name]


def _nodes(ctx: StepContext, pool: str) -> list[Node]:
    return ctx.ports.cluster.list_nodes(f"{KARPENTER_NODEPOOL_LABEL}={pool}")


def _at_version(ctx: StepContext, pool: str, version: str) -> bool:
    nodes = _nodes(ctx, pool)
    claims = ctx.ports.cluster.list_node_claims(pool)
    return all(n.minor_version == version for n in nodes) and not any(
        c.drifted or c.deleting for c in claims
    )


def _point_at_hop(ctx: StepContext, p: KarpenterParams, pool: NodePool, node: NodeClass) -> str:
    """Patch the node class to the hop's AMI unless an alias follows the control plane."""
    if node.alias:
        return (
            f"EC2NodeClass {node.name} selects alias {node.alias}, which Karpenter resolves at "
            f"the control plane's version: not patched; pool {pool.name} drifted to {p.version}"
        )
    ami_id = _hop_ami(ctx, p, pool, node)
    wanted = (AmiSelectorTerm(id=ami_id),)
    if node.ami_selector_terms == wanted:
        return (
            f"EC2NodeClass {node.name} already selects {ami_id} (not patched again); "
            f"pool {pool.name} drifted to {p.version}"
        )
    if ctx.recall(PREVIOUS_TERMS) is None and not ctx.dry_run:
        ctx.remember(PREVIOUS_TERMS, json.dumps([t.to_json() for t in node.ami_selector_terms]))
    previous = ", ".join(json.dumps(t.to_json()) for t in node.ami_selector_terms) or "none"
    ctx.intend(
        f"patch EC2NodeClass {node.name} amiSelectorTerms to id {ami_id} (the {p.version} AMI; "
        f"was {previous}): Karpenter drifts node pool {pool.name}"
    )
    ctx.ports.cluster.patch_node_class_ami_selector(node.name, wanted)
    return f"EC2NodeClass {node.name} now selects {ami_id}; pool {pool.name} drifted to {p.version}"


def _hop_ami(ctx: StepContext, p: KarpenterParams, pool: NodePool, node: NodeClass) -> str:
    parameter = p.ami_parameter or _parameter(ctx, p, pool, node)
    try:
        return ctx.ports.compute.get_parameter(parameter)
    except NotFoundError:
        raise PreconditionError(
            f"SSM parameter {parameter} (the {p.version} AMI for EC2NodeClass {node.name}) "
            "not found; nothing was changed"
        ) from None


def _parameter(ctx: StepContext, p: KarpenterParams, pool: NodePool, node: NodeClass) -> str:
    types = _AMI_TYPES.get(node.ami_family)
    if types is None:
        raise PreconditionError(
            f"EC2NodeClass {node.name} pins its AMI (no alias) with amiFamily "
            f"{node.ami_family or '(none)'}: eksup knows the EKS AMIs of "
            f"{', '.join(_AMI_TYPES)} only; point its amiSelectorTerms at a {p.version} AMI "
            "by hand. Nothing was changed"
        )
    arches = sorted({n.labels.get("kubernetes.io/arch", "amd64") for n in _nodes(ctx, pool.name)})
    if len(arches) != 1 or arches[0] not in types:
        raise PreconditionError(
            f"node pool {pool.name} runs {', '.join(arches)} nodes: one AMI id cannot serve "
            f"them; give EC2NodeClass {node.name} an alias or one id per architecture by hand. "
            "Nothing was changed"
        )
    try:
        parameter = default_catalog().ami_parameter(p.version, types[arches[0]])
    except UserError as error:
        raise PreconditionError(f"{error}; nothing was changed") from None
    if parameter is None:
        raise PreconditionError(
            f"AWS publishes no {types[arches[0]]} AMI for {p.version}; change EC2NodeClass "
            f"{node.name}'s amiFamily first. Nothing was changed"
        )
    return parameter


def _wait(ctx: StepContext, pool: NodePool, version: str) -> None:
    seen: list[tuple[list[Node], list[NodeClaim]]] = []

    def done() -> bool:
        nodes = _nodes(ctx, pool.name)
        claims = ctx.ports.cluster.list_node_claims(pool.name)
        seen.append((nodes, claims))
        return all(n.minor_version == version for n in nodes) and not any(
            c.drifted or c.deleting for c in claims
        )

    def reason() -> str:
        head = f"Karpenter to move node pool {pool.name} to {version}"
        if not seen:
            return head
        nodes, claims = seen[-1]
        moved = sum(1 for n in nodes if n.minor_version == version)
        drifting = sum(1 for c in claims if c.drifted or c.deleting)
        return f"{head}: {moved}/{len(nodes)} nodes, {drifting} NodeClaims drifted or draining"

    timeout = ctx.options.timeouts.nodegroup_update
    try:
        # A dry run reads once and reports the wait: Karpenter moves nothing for a recorded patch.
        ctx.waiter.until(done, reason=reason, timeout=timeout, poll=15.0, max_poll=60.0)
    except WaitTimeoutError as error:
        raise StepFailedError(f"{error}. {_stuck(ctx, pool, version)}") from None


def _stuck(ctx: StepContext, pool: NodePool, version: str) -> str:
    """What holds the drift up: old NodeClaims, the pods on their nodes, closed PDBs."""
    cluster = ctx.ports.cluster
    old = {n.name for n in _nodes(ctx, pool.name) if n.minor_version != version}
    claims = [c for c in cluster.list_node_claims(pool.name) if c.node_name in old]
    pods: list[Pod] = []
    for name in sorted(old):
        pods += [p for p in cluster.list_pods(node_name=name) if not p.is_finished]
    closed = [
        b.key
        for b in cluster.list_pdbs()
        if b.disruptions_allowed == 0
        and any(p.namespace == b.namespace and b.selector.matches(p.labels) for p in pods)
    ]
    described = [f"{c.name} (node {c.node_name}{', drifted' if c.drifted else ''})" for c in claims]
    parts = ["stuck NodeClaims: " + _names(described)]
    if pods:
        parts.append("pods still on them: " + _names([p.key for p in pods]))
    if closed:
        parts.append("PDBs allowing no disruption: " + _names(closed))
    parts.append(
        f"check the NodePool's disruption budgets (kubectl get nodepool {pool.name} -o "
        "yaml) and Karpenter's logs, then re-run with --resume (nothing is patched again)"
    )
    return "; ".join(parts)


def _names(items: list[str]) -> str:
    if not items:
        return "none"
    more = len(items) - _REPORT_LIMIT
    return ", ".join(items[:_REPORT_LIMIT]) + (f" and {more} more" if more > 0 else "")
