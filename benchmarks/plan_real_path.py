"""`eksup plan` through the real adapters: Kubernetes over HTTP, AWS over HTTP, big clusters.

The world is built as in `plan_at_scale`, then served the way `eksup sandbox up` serves it: the
sandbox's Kubernetes API server (pods padded to a production pod's ~6 KB of JSON,
`production_pods`) and moto's server with eksup's EKS extension. `eksup plan` runs as its own
process with only a kubeconfig and AWS endpoint settings, exactly as against a real cluster;
its wall time and peak RSS (the child's rusage) are measured. `kubectl get pods -A -o json`
against the same server in the same run is the reference floor: what the server and a
Go client need to move and decode the same pods; `json.dumps` of the same list is what the
server's part alone costs.

Targets (issue 13) for 5,000 nodes / 150,000 pods on a 2-core machine: under TARGET_SECONDS
wall and TARGET_MIB peak for the eksup process. Smaller sizes print their figures beside the
same targets for reference.

Run: `.venv/bin/python -m benchmarks.plan_real_path [--size 1000x30000] [--size 5000x150000]`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from benchmarks.plan_at_scale import CLUSTER, build
from benchmarks.production_pods import production_pod
from upgrader.sandbox.apiserver.api import KubeApi
from upgrader.sandbox.apiserver.http import Request
from upgrader.sandbox.servers import SandboxServers
from upgrader.sandbox.world import Sandbox

TARGET_SECONDS = 30.0
TARGET_MIB = 1536
TARGET = "1.32"
DEFAULT_SIZES = ("1000x30000", "5000x150000")
MIB = 2**20
# What `kubectl get -o json` holds per 6 KB pod before it prints, with a margin: on 150,000
# pods it had reached 16.8 GiB, still reading, when it was stopped after 284 s (2026-12-06).
KUBECTL_JSON_KIB_PER_POD = 200


def _available_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    return 0


def _kubectl() -> str | None:
    bundled = Path(sysconfig.get_path("scripts")) / "kubectl"
    return str(bundled) if bundled.is_file() else shutil.which("kubectl")


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The caller's environment without anything that could point a client elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBE", "EKSUP_"))}
    env.update(extra)
    return env


def _run(
    command: list[str], env: dict[str, str], stdout_path: Path
) -> tuple[float, float, float, int]:
    """Run `command`: its wall seconds, CPU seconds and peak RSS in MiB (from the child's
    rusage), and exit code. CPU time is the figure a loaded machine distorts least."""
    started = time.perf_counter()
    with stdout_path.open("wb") as out:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.PIPE)
        assert child.stderr is not None
        errors = child.stderr.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if child.returncode not in (0, 2):  # 2: the plan has a blocking finding, still a plan
        sys.stderr.write(errors.decode(errors="replace")[-2000:])
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, child.returncode


def measure(nodes: int, pods: int, workdir: Path) -> None:
    with Sandbox() as world:
        started = time.perf_counter()
        build(world, nodes, pods)
        print(f"built {nodes} nodes / {pods} pods in {time.perf_counter() - started:.1f} s")
        directory = workdir / f"sandbox-{nodes}"
        with SandboxServers(
            world.kube(CLUSTER),
            world.clock,
            directory,
            moto=True,
            eks_cluster=CLUSTER,
            region=world.region,
            pod_json=production_pod,
        ) as servers:
            api = servers.kube.api
            started = time.perf_counter()
            _, state = api.feed.snapshot("pods")
            api.feed.sync("nodes")
            rendered = time.perf_counter() - started
            wires = [wire for _, wire in state.values()]
            started = time.perf_counter()
            size = len(json.dumps(wires, separators=(",", ":")))
            dumped = time.perf_counter() - started
            del wires
            print(
                f"served pods: {len(state)}, {size / len(state) / 1024:.1f} KB of JSON each; "
                f"server rendered them in {rendered:.1f} s (once, cached)"
            )
            print(f"json.dumps of the pod list ({size / MIB:.0f} MiB): {dumped:.1f} s")
            served = _serve_all(api)
            print(
                f"the sandbox server answering every page of it (500 a page): {served:.1f} s, "
                f"{served / dumped:.1f}x json.dumps (target: the same order, < 3x)"
                f"{_missed(served / dumped, 3.0, 0)}"
            )
            env = _clean_env({**servers.aws_env(), "KUBECONFIG": str(servers.kubeconfig_path)})
            kubectl = _kubectl()
            if kubectl is None:
                print("kubectl get pods -A: not measured (no kubectl binary)")
            else:
                output = "json"
                needed = len(state) * KUBECTL_JSON_KIB_PER_POD
                if needed > _available_kib():
                    # -o json holds every pod twice over before printing; -o name decodes the
                    # same pages chunk by chunk (see KUBECTL_JSON_KIB_PER_POD).
                    output = "name"
                    print(
                        f"kubectl -o json would need ~{needed / 2**20:.0f} GiB here, more than "
                        "this machine has free: -o name instead (same pages, decoded per chunk)"
                    )
                wall, cpu, _, code = _run(
                    [kubectl, "get", "pods", "-A", "-o", output], env, workdir / "kubectl.out"
                )
                print(
                    f"kubectl get pods -A -o {output} (reference floor): {wall:.1f} s wall, "
                    f"{cpu:.1f} s CPU in kubectl, exit {code}"
                )
            out = workdir / f"plan-{nodes}.json"
            peak_file = workdir / "eksup-peak-kb"
            command = [
                sys.executable,
                "-m",
                "benchmarks.measured_cli",
                str(peak_file),
                "plan",
                "--to",
                TARGET,
                "--cluster",
                CLUSTER,
                "--region",
                world.region,
                "--format",
                "json",
                "--out",
                str(out),
            ]
            wall, cpu, _, code = _run(command, env, workdir / "plan-stdout.json")
            # Not the child's ru_maxrss: that counts this process's size at fork (see
            # measured_cli); eksup's own high-water mark is what the target is about.
            rss = int(peak_file.read_text()) / 1024 if peak_file.exists() else float("nan")
            steps = len(json.loads(out.read_text()).get("steps", [])) if out.exists() else 0
            print(f"eksup plan: exit {code}, {steps} steps, {cpu:.1f} s CPU in the eksup process")
            print(
                f"eksup plan wall time: {wall:.1f} s (target < {TARGET_SECONDS:.0f} s at "
                f"150,000 pods){_missed(wall, TARGET_SECONDS, code)}"
            )
            print(
                f"eksup plan peak RSS: {rss:.0f} MiB (target < {TARGET_MIB} MiB at 150,000 "
                f"pods){_missed(rss, TARGET_MIB, code)}"
            )


def _serve_all(api: KubeApi) -> float:
    """Seconds the server's routes take to answer `GET /api/v1/pods` page by page, as kubectl
    asks (500 a page), without the sockets."""
    started = time.perf_counter()
    token = ""
    while True:
        query = "limit=500" + (f"&continue={token}" if token else "")
        response = api.handle(Request.parse("GET", f"/api/v1/pods?{query}", {}))
        token = _continue_of(response.body)
        if not token:
            return time.perf_counter() - started


def _continue_of(body: bytes) -> str:
    """The continue token, read from the head of the body (the metadata precede the items)."""
    head = body[: body.index(b',"items":')] + b"}"
    return str(json.loads(head).get("metadata", {}).get("continue", ""))


def _missed(figure: float, target: float, code: int) -> str:
    if code not in (0, 2):
        return "  ** TARGET MISSED (eksup plan failed) **"
    return "  ** TARGET MISSED **" if figure >= target else ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--size", action="append", help="NODESxPODS (repeatable); default: both issue sizes"
    )
    args = parser.parse_args(argv)
    sizes = args.size or list(DEFAULT_SIZES)
    for size in sizes:
        nodes, pods = (int(n) for n in size.lower().split("x"))
        print(f"-- {nodes:,} nodes / {pods:,} pods --", flush=True)
        with tempfile.TemporaryDirectory(prefix="eksup-bench-") as workdir:
            measure(nodes, pods, Path(workdir))
        print(
            f"(bench process peak RSS so far: "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)",
            flush=True,
        )


if __name__ == "__main__":
    main()
