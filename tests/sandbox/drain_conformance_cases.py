"""The eviction/drain conformance table: cases as data, each citing the Kubernetes rule it checks.

Every case is one node (`case-<id>`) in its own namespace, holding the case's pods; the node is
drained alone. A group's pods are "pinned" to their node by default (nodeSelector case=<id>), so
their replacements cannot start anywhere once the node is cordoned: a budget spent stays spent,
and each case has one answer that does not depend on timing. `api` is what the Eviction API
answers when each pod the drain filters let through is asked once, in name order, with no time
passing; `final` is where the pod is after the drain ("goes": gone or terminating), or None to
read it from `api` (ok -> goes, else stays); `why` names the rule that keeps a pod.

Sources (kubernetes/kubernetes):
- EVICTION: pkg/registry/core/pod/storage/eviction.go (`EvictionREST.Create`, `canIgnorePDB`,
  `checkAndDecrement`, `getPodDisruptionBudgets`)
- CONTROLLER: pkg/controller/disruption/disruption.go (`getExpectedPodCount`,
  `countHealthyPods`, `updatePdbStatus`)
- INTSTR: staging/src/k8s.io/apimachinery/pkg/util/intstr/intstr.go
  (`GetScaledValueFromIntOrPercent`, rounding up)
- FILTERS: staging/src/k8s.io/kubectl/pkg/drain/filters.go (`makeFilters` and each filter)
- CMD: staging/src/k8s.io/kubectl/pkg/cmd/drain/drain_test.go, `TestDrain` (case descriptions
  quoted)
- DOC_PDB: https://kubernetes.io/docs/tasks/run-application/configure-pdb/ (percentages,
  unhealthy pod eviction policy, selectors)
"""

from __future__ import annotations

from dataclasses import dataclass

EVICTION = "pkg/registry/core/pod/storage/eviction.go"
CONTROLLER = "pkg/controller/disruption/disruption.go"
INTSTR = "apimachinery/pkg/util/intstr/intstr.go GetScaledValueFromIntOrPercent"
FILTERS = "kubectl/pkg/drain/filters.go"
CMD = "kubectl/pkg/cmd/drain/drain_test.go TestDrain"
DOC_PDB = "kubernetes.io/docs/tasks/run-application/configure-pdb/"

NULL = "null"  # a PDB selector that is null (selects nothing); {} selects every pod


@dataclass(frozen=True)
class Group:
    name: str
    kind: str = "deploy"  # deploy, sts, job, ds, ds-gone, bare, mirror
    count: int = 1
    not_ready: int = 0  # the first pods by name fail their readiness probe
    finished: str = ""  # "Succeeded" / "Failed": every pod of the group has finished
    terminating: bool = False  # every pod of the group is already being deleted
    never_starts: bool = False  # bound to the node, Pending: its containers never start
    empty_dir: bool = False
    pinned: bool = True
    api: tuple[str, ...] = ()  # ok / 429 / 500, per pod in name order; () = not asked
    final: str | None = None  # goes / stays / refused; None: from `api`
    why: str = ""  # budget, two-pdbs, daemonset, mirror, node-refused, bare, emptydir, ds-gone


@dataclass(frozen=True)
class Budget:
    name: str
    selector: str | dict[str, str] = ""  # "" = {app: <first group>}; {} = all; NULL = none
    min_available: int | str | None = None
    max_unavailable: int | str | None = None
    policy: str = "IfHealthyBudget"
    namespace: str = ""  # "" = the case's


@dataclass(frozen=True)
class Case:
    id: str
    cite: str
    groups: tuple[Group, ...]
    budgets: tuple[Budget, ...] = ()
    flags: tuple[str, ...] = ()  # --force, --delete-emptydir-data, --disable-eviction
    kubectl: bool = True  # False: not expressible through kubectl (the reason in `cite`)

    @property
    def node(self) -> str:
        return f"case-{self.id}"

    @property
    def namespace(self) -> str:
        return f"c{self.id}"


def _web(count: int = 2, **fields: object) -> Group:
    return Group("web", "deploy", count, **fields)  # type: ignore[arg-type]


CASES: tuple[Case, ...] = (
    # -- budgets: minAvailable / maxUnavailable, integers and percentages ----------------------
    Case("01", f"{EVICTION} Create: no PDB, the pod is deleted", (_web(api=("ok", "ok")),)),
    Case(
        "02",
        f"{EVICTION} checkAndDecrement: one disruption allowed, then 429",
        (_web(api=("ok", "429"), why="budget"),),
        (Budget("pdb", max_unavailable=1),),
    ),
    Case(
        "03",
        f"{CONTROLLER} getExpectedPodCount: maxUnavailable 0 allows nothing",
        (_web(api=("429", "429"), why="budget"),),
        (Budget("pdb", max_unavailable=0),),
    ),
    Case(
        "04",
        f"{CONTROLLER}: minAvailable = replicas allows nothing",
        (_web(api=("429", "429"), why="budget"),),
        (Budget("pdb", min_available=2),),
    ),
    Case(
        "05",
        f"{CONTROLLER}: minAvailable 1 of 2 allows one",
        (_web(api=("ok", "429"), why="budget"),),
        (Budget("pdb", min_available=1),),
    ),
    Case(
        "06",
        f"{INTSTR}: maxUnavailable 50% of 3 rounds up to 2",
        (_web(3, api=("ok", "ok", "429"), why="budget"),),
        (Budget("pdb", max_unavailable="50%"),),
    ),
    Case(
        "07",
        f"{INTSTR}: maxUnavailable 10% of 2 rounds up to 1",
        (_web(api=("ok", "429"), why="budget"),),
        (Budget("pdb", max_unavailable="10%"),),
    ),
    Case(
        "08",
        f"{INTSTR}: minAvailable 50% of 2 is 1",
        (_web(api=("ok", "429"), why="budget"),),
        (Budget("pdb", min_available="50%"),),
    ),
    Case(
        "09",
        f"{INTSTR}: minAvailable 51% of 2 rounds up to 2",
        (_web(api=("429", "429"), why="budget"),),
        (Budget("pdb", min_available="51%"),),
    ),
    Case(
        "10",
        f"{DOC_PDB}: minAvailable 100% prevents every voluntary eviction",
        (_web(api=("429", "429"), why="budget"),),
        (Budget("pdb", min_available="100%"),),
    ),
    Case(
        "11",
        f"{DOC_PDB}: maxUnavailable 0% prevents every voluntary eviction",
        (_web(api=("429", "429"), why="budget"),),
        (Budget("pdb", max_unavailable="0%"),),
    ),
    Case(
        "12",
        f"{CONTROLLER}: minAvailable above the pod count allows nothing",
        (_web(api=("429", "429"), why="budget"),),
        (Budget("pdb", min_available=3),),
    ),
    Case(
        "13",
        f"{CONTROLLER}: minAvailable 0 allows every pod",
        (_web(api=("ok", "ok")),),
        (Budget("pdb", min_available=0),),
    ),
    Case(
        "14",
        f"{INTSTR}: maxUnavailable 100% allows every pod",
        (_web(api=("ok", "ok")),),
        (Budget("pdb", max_unavailable="100%"),),
    ),
    Case(
        "15",
        f"{EVICTION} Create + {CONTROLLER}: an unpinned budget comes back once the "
        "replacement is Ready, and the drain ends with both pods moved",
        (_web(pinned=False, api=("ok", "429"), final="goes"),),
        (Budget("pdb", max_unavailable=1),),
    ),
    # -- unhealthy pods: IfHealthyBudget (default) and AlwaysAllow ----------------------------
    Case(
        "16",
        f"{EVICTION} Create: IfHealthyBudget lets a not-Ready pod go while currentHealthy >= "
        "desiredHealthy > 0 (2 >= 2)",
        (_web(3, not_ready=1, api=("ok", "429", "429"), why="budget"),),
        (Budget("pdb", min_available=2),),
    ),
    Case(
        "17",
        f"{EVICTION} Create: IfHealthyBudget keeps a not-Ready pod while the app is disrupted "
        "(currentHealthy 2 < desiredHealthy 3)",
        (_web(3, not_ready=1, api=("429", "429", "429"), why="budget"),),
        (Budget("pdb", min_available=3),),
    ),
    Case(
        "18",
        f"{EVICTION} Create: AlwaysAllow lets a not-Ready pod go whatever the budget",
        (_web(3, not_ready=1, api=("ok", "429", "429"), why="budget"),),
        (Budget("pdb", min_available=3, policy="AlwaysAllow"),),
    ),
    Case(
        "19",
        f"{EVICTION} Create: AlwaysAllow, every pod not Ready, maxUnavailable 0",
        (_web(2, not_ready=2, api=("ok", "ok")),),
        (Budget("pdb", max_unavailable=0, policy="AlwaysAllow"),),
    ),
    Case(
        "20",
        f"{EVICTION} Create: IfHealthyBudget with desiredHealthy 2 and none healthy: 429",
        (_web(2, not_ready=2, api=("429", "429"), why="budget"),),
        (Budget("pdb", max_unavailable=0),),
    ),
    Case(
        "21",
        f"{CONTROLLER} getExpectedScale: a Job has no scale subresource, so a maxUnavailable "
        "PDB over its pods fails safe to 0 allowed",
        (Group("batch", "job", api=("429",), why="budget"),),
        (Budget("pdb", max_unavailable=1, selector={"app": "batch"}),),
    ),
    # -- selectors ---------------------------------------------------------------------------
    Case(
        "22",
        f"{EVICTION} getPodDisruptionBudgets + {DOC_PDB}: an empty selector {{}} selects every "
        "pod of the namespace",
        (_web(api=("429", "429"), why="budget"),),
        (Budget("all", selector={}, max_unavailable=0),),
    ),
    Case(
        "23",
        f"{DOC_PDB}: a null selector selects no pod",
        (_web(api=("ok", "ok")),),
        (Budget("none", selector=NULL, max_unavailable=0),),
    ),
    Case(
        "24",
        f"{EVICTION} Create: {{}} beside the app's own PDB makes two budgets: 500",
        (_web(1, api=("500",), why="two-pdbs"),),
        (Budget("pdb", max_unavailable=1), Budget("all", selector={}, max_unavailable=1)),
    ),
    Case(
        "25",
        f"{EVICTION} Create: two PDBs by label: 500",
        (_web(1, api=("500",), why="two-pdbs"),),
        (Budget("a", max_unavailable=1), Budget("b", max_unavailable=1)),
    ),
    Case(
        "26",
        f"{EVICTION} getPodDisruptionBudgets: a PDB of another namespace does not count",
        (_web(api=("ok", "ok")),),
        (Budget("elsewhere", max_unavailable=0, namespace="default"),),
    ),
    Case(
        "27",
        f"{EVICTION} getPodDisruptionBudgets: a selector that matches other labels",
        (_web(api=("ok", "ok")),),
        (Budget("other", selector={"app": "other"}, max_unavailable=0),),
    ),
    Case(
        "28",
        f"{CONTROLLER} + {EVICTION}: a StatefulSet under maxUnavailable 1",
        (Group("db", "sts", 2, api=("ok", "429"), why="budget"),),
        (Budget("pdb", max_unavailable=1, selector={"app": "db"}),),
    ),
    # -- which pods a drain takes (kubectl's filters) ----------------------------------------
    Case("29", f'{CMD} "RS-managed pod"', (_web(1, api=("ok",)),)),
    Case(
        "30",
        f'{CMD} "DS-managed pod with --ignore-daemonsets" (eksup: DaemonSet pods always stay)',
        (Group("agent", "ds", final="stays", why="daemonset"),),
    ),
    Case(
        "31",
        f'{CMD} "DS-managed pod with emptyDir with --ignore-daemonsets"',
        (Group("agent", "ds", empty_dir=True, final="stays", why="daemonset"),),
    ),
    Case(
        "32",
        f"{FILTERS} daemonSetFilter: a finished DaemonSet pod can be removed",
        (Group("agent", "ds", finished="Succeeded", api=("ok",)),),
    ),
    Case(
        "33",
        f'{CMD} "orphaned DS-managed pod": its DaemonSet is gone, the drain refuses',
        (Group("orphan", "ds-gone", final="refused", why="ds-gone"),),
    ),
    Case(
        "34",
        f'{CMD} "orphaned DS-managed pod with --force"',
        (Group("orphan", "ds-gone", api=("ok",)),),
        flags=("--force",),
    ),
    Case(
        "35",
        f"{FILTERS} mirrorPodFilter: a mirror pod is skipped (the kubelet owns it)",
        (Group("static", "mirror", final="stays", why="mirror"),),
    ),
    Case(
        "36",
        f'{CMD} "naked pod": no controller, refused',
        (Group("naked", "bare", final="refused", why="bare"),),
    ),
    Case(
        "37",
        f'{CMD} "naked pod with --force"',
        (Group("naked", "bare", api=("ok",)),),
        flags=("--force",),
    ),
    Case(
        "38",
        f'{CMD} "pod with EmptyDir": refused even with --force',
        (_web(1, empty_dir=True, final="refused", why="emptydir"),),
        flags=("--force",),
    ),
    Case(
        "39",
        f'{CMD} "pod with EmptyDir and --delete-emptydir-data"',
        (_web(1, empty_dir=True, api=("ok",)),),
        flags=("--delete-emptydir-data",),
    ),
    Case(
        "40",
        f"{FILTERS} localStorageFilter before unreplicatedFilter: a bare pod with emptyDir is "
        "refused for its emptyDir",
        (Group("naked", "bare", empty_dir=True, final="refused", why="emptydir"),),
    ),
    Case(
        "41",
        f'{CMD} "terminated pod with emptyDir": a finished pod goes',
        (_web(1, empty_dir=True, finished="Failed", api=("ok",)),),
    ),
    Case(
        "42",
        f"{FILTERS} unreplicatedFilter: a finished bare pod goes without --force",
        (Group("naked", "bare", finished="Succeeded", api=("ok",)),),
    ),
    Case(
        "43",
        f'{CMD} "Job-managed terminated pod" (with local storage)',
        (Group("batch", "job", empty_dir=True, finished="Succeeded", api=("ok",)),),
    ),
    Case(
        "44",
        f'{CMD} "Job-managed pod with local storage" (--delete-emptydir-data)',
        (Group("batch", "job", empty_dir=True, api=("ok",)),),
        flags=("--force", "--delete-emptydir-data"),
    ),
    Case(
        "45",
        f"{FILTERS} filterPods: one refused pod keeps every pod of its node",
        (
            Group("naked", "bare", final="refused", why="bare"),
            _web(1, final="stays", why="node-refused"),
        ),
    ),
    # -- terminating pods --------------------------------------------------------------------
    Case(
        "46",
        f"{EVICTION} canIgnorePDB: a terminating pod is deleted again without the budget",
        (_web(1, terminating=True, api=("ok",)),),
        (Budget("pdb", max_unavailable=0),),
    ),
    Case(
        "47",
        f"{FILTERS} skipDeletedFilter runs first, then unreplicatedFilter: a terminating "
        "naked pod is refused",
        (Group("naked", "bare", terminating=True, final="refused", why="bare"),),
    ),
    Case(
        "48",
        f"{FILTERS}: a terminating pod with emptyDir is refused without --delete-emptydir-data",
        (_web(1, empty_dir=True, terminating=True, final="refused", why="emptydir"),),
    ),
    # -- --disable-eviction ------------------------------------------------------------------
    Case(
        "49",
        "kubectl/pkg/drain/drain.go Helper.DeletePod (DisableEviction): DELETE, so a budget "
        "of 0 is not asked",
        (_web(final="goes"),),
        (Budget("pdb", max_unavailable=0),),
        flags=("--disable-eviction",),
    ),
    # -- pods bound to the node that never started -----------------------------------------
    Case(
        "50",
        f"{EVICTION} canIgnorePDB: a Pending pod bound to the node (its image never pulled) is "
        "deleted without the budget, even at maxUnavailable 0",
        (_web(1, never_starts=True, api=("ok",)),),
        (Budget("pdb", max_unavailable=0),),
    ),
)
