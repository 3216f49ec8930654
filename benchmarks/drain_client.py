"""One drain of the blue group through the real Kubernetes adapter, as its own process.

`drain_real_path` starts it against the sandbox API server; it writes what it measured itself
(the CPU of this process around the drain, its threads included, so the interpreter's start-up
and imports are left out) as JSON. Usage:
`python -m benchmarks.drain_client KUBECONFIG CLOCK_URL poll|watch OUT_JSON`.
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from benchmarks.drain_makespan import BLUE, BLUE_TAINT
from upgrader.adapters.clock import ServedSandboxClock
from upgrader.adapters.kubernetes.client import KubernetesCluster
from upgrader.core.kube import NODEGROUP_LABEL
from upgrader.drain.drainer import Drain, DrainSettings


class _Rounds:
    """Counts the drain's rounds (it reports progress once a round)."""

    def __init__(self) -> None:
        self.rounds = 0

    def drain_progress(self, *_: Any, **__: Any) -> None:
        self.rounds += 1


def main() -> None:
    kubeconfig, clock_url, mode, out = sys.argv[1:5]
    clock = ServedSandboxClock(clock_url)
    kube = KubernetesCluster.from_kubeconfig(kubeconfig, clock=clock)
    settings = DrainSettings(taint=BLUE_TAINT, timeout_seconds=24 * 3600.0)
    rounds = _Rounds()
    drain = Drain(
        kube, clock, lambda: kube.list_nodes(f"{NODEGROUP_LABEL}={BLUE}"), settings, rounds
    )
    cpu = time.process_time()
    started = time.perf_counter()
    with kube.watching() if mode == "watch" else nullcontext():
        report = drain.run()
        informers = kube.informers
        follow = informers.requests if informers is not None else 0
    result = {
        "cpu": time.process_time() - cpu,
        "wall": time.perf_counter() - started,
        "virtual_seconds": report.seconds,
        "evicted": len(report.evicted),
        "refused": report.refused_evictions,
        "rounds": rounds.rounds,
        "informer_requests": follow,
    }
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
