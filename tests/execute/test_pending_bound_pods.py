"""A pod bound to a blue node that never started (spec.nodeName set, phase Pending: an image
that cannot be pulled) during a blue/green replacement (issue 11, item 4).

Kubernetes' rules:
- the Eviction API deletes a Pending pod without asking its PodDisruptionBudget
  (kubernetes pkg/registry/core/pod/storage/eviction.go, `canIgnorePDB`: Succeeded, Failed,
  Pending or already deleting), so a budget at 0 because that very pod is not Ready does not
  hold it;
- `kubectl drain` lists it among the node's pods and evicts it like any managed pod
  (staging/src/k8s.io/kubectl/pkg/drain/filters.go: no filter looks at the Pending phase);
- the drain is done when the node's pods are gone, not when their replacements run: a
  workload that was not Ready before the drain is not expected to be Ready after it.
"""

from __future__ import annotations

from pathlib import Path

from tests.execute.worlds import CLUSTER, MIB, Runner, blue_green, build_world, hand_plan
from upgrader.core.kube import (
    NODEGROUP_LABEL,
    LabelSelector,
    PodDisruptionBudget,
    PodPhase,
    PodSpec,
    PodTemplate,
    Resources,
    Workload,
    WorkloadKind,
)
from upgrader.execute.engine import RunStatus
from upgrader.sandbox.world import Sandbox


def _broken(world: Sandbox) -> None:
    """A Deployment whose image cannot be pulled, and a budget that counts on it."""
    labels = {"app": "broken"}
    kube = world.kube(CLUSTER)
    kube.add_workload(
        Workload(
            WorkloadKind.DEPLOYMENT,
            "shop",
            "broken",
            LabelSelector(labels),
            PodTemplate(labels, spec=PodSpec(requests=Resources(100, 64 * MIB, 1))),
            replicas=1,
            labels=labels,
        ),
        startup_seconds=5,
        starts=False,
    )
    kube.add_pdb(PodDisruptionBudget("shop", "broken-pdb", LabelSelector(labels), min_available=1))
    world.settle(60)


def test_a_pending_bound_pod_is_evicted_without_its_budget_and_the_drain_finishes(
    tmp_path: Path,
) -> None:
    with Sandbox() as world:
        build_world(world, batch=0, autoscaler=False)
        _broken(world)
        kube = world.kube(CLUSTER)
        (pod,) = kube.list_pods(namespace="shop", label_selector="app=broken")
        assert pod.phase is PodPhase.PENDING
        assert pod.node_name is not None
        assert not pod.ready
        (pdb,) = [p for p in kube.list_pdbs("shop") if p.name == "broken-pdb"]
        assert pdb.disruptions_allowed == 0  # its one pod is not healthy
        plan = hand_plan([blue_green("general", "general-b", "1.28")], target="1.28")
        result = Runner(world, tmp_path).run(plan)
        assert result.status is RunStatus.SUCCEEDED, result.summary()
        assert not kube.list_nodes(label_selector=f"{NODEGROUP_LABEL}=general")
        (after,) = kube.list_pods(namespace="shop", label_selector="app=broken")
        assert after.uid != pod.uid  # evicted; its replacement is as stuck as it was
        assert after.phase is PodPhase.PENDING
        green = {n.name for n in kube.list_nodes(label_selector=f"{NODEGROUP_LABEL}=general-b")}
        assert after.node_name in green
        assert kube.stats.pdb_violations == ()
