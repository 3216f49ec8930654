"""`eksup demo`: the whole tool on the embedded sandbox, for a newcomer, in under a minute.

It builds the demo cluster (moto + FakeCluster on virtual time) and shows what it holds, read
back through the same ports the upgrader uses.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from upgrader.core.kube import Workload
from upgrader.execute.reporter import NullReporter
from upgrader.plan.document import Plan, Step
from upgrader.sandbox.demo_world import DEMO_CLUSTER, build_demo_world
from upgrader.sandbox.world import Sandbox


def run_demo(console: Console) -> None:
    from upgrader.demo.targets import sandbox_target
    from upgrader.render.terminal import plan_view
    from upgrader.usecases.plan import plan_target

    with Sandbox() as world:
        console.print("[bold]1. The demo cluster[/] (moto + a simulated cluster, virtual time)")
        build_demo_world(world)
        show_world(console, world)
        target_version = "1.31"
        console.print(f"\n[bold]2. eksup plan --sandbox --to {target_version}[/]")
        plan = plan_target(sandbox_target(world, DEMO_CLUSTER), target_version)
        console.print(plan_view(plan))
        console.print(
            "\n[bold]3. eksup execute plan.json --yes --force --delete-emptydir-data[/]\n"
            "   (--force: the bare pod default/debug-shell is deleted for good; "
            "--delete-emptydir-data: shop/search's scratch data goes)"
        )
        execute_demo_plan(console, world, plan)
        console.print("\n[bold]4. A canary release of shop/web behind an ALB[/]")
        show_canary(console, world)
    from upgrader.demo.fleet import run_fleet_demo

    run_fleet_demo(console, 5)


def show_canary(console: Console, world: Sandbox) -> None:
    from upgrader.demo.canary import run_demo_canary

    report = run_demo_canary(world)
    weights = Table(title="Traffic, as read back from ELBv2 after each step")
    for column in ("virtual time", "step", "stable %", "candidate %"):
        weights.add_column(column)
    for change in report.history:
        minutes = (change.at - report.started_at) / 60
        weights.add_row(
            f"+{minutes:.0f} min",
            "rollback" if change.step < 0 else str(change.step),
            str(change.weights.stable),
            str(change.weights.candidate),
        )
    console.print(weights)
    console.print(report.summary(), highlight=False)


def execute_demo_plan(console: Console, world: Sandbox, plan: Plan) -> None:
    """Execute as a person would: the run stops at the plan's approval gate (--yes does not
    pass one), the demo approves it through `eksup approve`'s own code, then resumes."""
    from upgrader.execute.engine import RunResult, execute
    from upgrader.execute.steps.base import ExecuteOptions, Ports
    from upgrader.execute.steps.gates import approval_text
    from upgrader.usecases.approve import Approver, approve

    kube = world.kube(DEMO_CLUSTER)
    ready_before = {w.key for w in kube.list_workloads() if _ready(w)}
    runs: list[RunResult] = []
    with tempfile.TemporaryDirectory() as scratch:
        journal = Path(scratch) / "plan.journal.jsonl"
        for resume in (False, True):
            runs.append(
                execute(
                    plan,
                    Ports(kube, world.aws, world.aws, world.clock),
                    journal_path=journal,
                    options=ExecuteOptions(
                        yes=True, force=True, delete_emptydir_data=True, resume=resume
                    ),
                    reporter=_StepLines(console),
                    confirm=lambda _question: True,
                )
            )
            gate = runs[-1].waiting_for
            if gate is None:
                break
            console.print(
                f"  [yellow]stopped[/] at {gate}, exit 4\n"
                f"[bold]   eksup approve plan.json --step {gate} --by demo[/]",
                highlight=False,
            )
            given = approve(
                plan,
                Path("plan.json"),
                kube,
                world.clock,
                Approver("demo", "sandbox", "approved by the demo script"),
                step_id=gate,
                warn=lambda message: console.print(message, markup=False),
                journal_path=journal,
            )
            console.print(
                f"  {gate} {approval_text(given.record)}; in the journal and "
                f"{given.written_to[-1]}",
                markup=False,
                highlight=False,
            )
            console.print("[bold]   eksup execute plan.json --resume --yes ...[/]")
    result = runs[-1]
    done = sum(1 for run in runs for s in run.steps if s.outcome == "done")
    seconds = sum(run.seconds for run in runs)
    stats = kube.stats
    nodes = kube.list_nodes()
    at_target = sum(1 for n in nodes if n.minor_version == plan.target_version)
    ready_after = {w.key for w in kube.list_workloads() if _ready(w)}
    summary = Table(title="Upgrade summary", show_header=False)
    summary.add_column("what")
    summary.add_column("value")
    for what, value in (
        ("result", result.status.value),
        ("steps", f"{done} of {len(plan.steps)}"),
        ("virtual time", f"{seconds / 60:.0f} min"),
        ("control plane", world.aws.describe_cluster(DEMO_CLUSTER).version),
        ("nodes at target", f"{at_target} of {len(nodes)}"),
        ("pods evicted (moved)", str(stats.evictions)),
        ("evictions refused by a PDB (429)", str(stats.evictions_refused)),
        ("lost pods", str(len(stats.lost_pods))),
        ("PDB violations", str(len(stats.pdb_violations))),
        (
            "workloads Ready before and after",
            f"{len(ready_before & ready_after)} of {len(ready_before)}",
        ),
    ):
        summary.add_row(what, value)
    console.print(summary)


def _ready(workload: Workload) -> bool:
    return workload.replicas is not None and workload.ready_replicas >= workload.replicas > 0


class _StepLines(NullReporter):
    """One line per step: what a newcomer needs to follow the run."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def step_finished(self, step: Step, detail: str, seconds: float) -> None:
        self.console.print(f"  [green]done[/] {step.id} ({seconds / 60:.1f} min): {detail}")

    def step_failed(self, step: Step, error: str) -> None:
        self.console.print(f"  [red]FAILED[/] {step.id}: {error}")


def show_world(console: Console, world: Sandbox) -> None:
    aws, kube = world.aws, world.kube(DEMO_CLUSTER)
    cluster = aws.describe_cluster(DEMO_CLUSTER)
    nodes = kube.list_nodes()
    pods = kube.list_pods()
    console.print(
        f"EKS cluster [bold]{cluster.name}[/] {cluster.version} ({cluster.platform_version}), "
        f"{cluster.status}; API server {kube.server_version()}; "
        f"{len(nodes)} nodes, {len(pods)} pods"
    )

    groups = Table(title="Managed node groups")
    for column in ("name", "version", "release", "instance types", "desired", "Ready nodes"):
        groups.add_column(column)
    for name in aws.list_nodegroups(DEMO_CLUSTER):
        group = aws.describe_nodegroup(DEMO_CLUSTER, name)
        ready = sum(1 for n in nodes if n.nodegroup == name and n.ready)
        groups.add_row(
            name,
            group.version,
            group.release_version,
            ", ".join(group.instance_types),
            str(group.scaling.desired_size),
            str(ready),
        )
    console.print(groups)

    addons = Table(title="Add-ons")
    addons.add_column("name")
    addons.add_column("version")
    addons.add_column("status")
    for name in aws.list_addons(DEMO_CLUSTER):
        addon = aws.describe_addon(DEMO_CLUSTER, name)
        addons.add_row(addon.name, addon.version, addon.status)
    console.print(addons)

    workloads = Table(title="Workloads")
    for column in ("kind", "namespace/name", "desired", "ready"):
        workloads.add_column(column)
    for workload in kube.list_workloads():
        if workload.owner is not None:
            continue  # ReplicaSets show through their Deployment
        workloads.add_row(
            workload.kind.value,
            f"{workload.namespace}/{workload.name}",
            "per node" if workload.replicas is None else str(workload.replicas),
            str(workload.ready_replicas),
        )
    bare = [p for p in pods if p.owner is None]
    for pod in bare:
        workloads.add_row("Pod (bare)", pod.key, "-", "1" if pod.ready else "0")
    console.print(workloads)

    budgets = Table(title="PodDisruptionBudgets")
    for column in ("namespace/name", "minAvailable", "maxUnavailable", "healthy", "allowed"):
        budgets.add_column(column)
    for pdb in kube.list_pdbs():
        budgets.add_row(
            pdb.key,
            "-" if pdb.min_available is None else str(pdb.min_available),
            "-" if pdb.max_unavailable is None else str(pdb.max_unavailable),
            f"{pdb.current_healthy}/{pdb.expected_pods}",
            str(pdb.disruptions_allowed),
        )
    console.print(budgets)

    phases = Counter(p.phase.value for p in pods)
    console.print("Pods by phase: " + ", ".join(f"{k} {v}" for k, v in sorted(phases.items())))
