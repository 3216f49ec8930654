"""A rollout's dry run: the one step loop, run on ports that change nothing.

`eksup rollout run --dry-run` wires the loop exactly as a run does, on the run engine's dry-run
wrappers of the ports (`upgrader.execute.dry_run`: each change an `IntendedCall`, recorded, and
overlaid on later reads) and on the two wrappers here:

- `DryRunRouter` wraps the app's traffic router, itself built on those wrapped ports, so each
  change it would make is recorded as the API call it is (elbv2 ModifyRule, a Route 53 UPSERT,
  an Ingress annotation, an HTTPRoute replace). What the router then reads back is what it was
  told to set: the service would show it once it converged, and a dry run cannot wait for a
  service (or a controller, such as the Load Balancer Controller) to act on a change it never
  made. A real run proves convergence by reading back; a dry run says what it would write.
- `read_once` evaluates each gate once, before the run, and the loop sees that verdict at every
  gate step. A gate that fails now makes the dry run take the way back (recorded too) and exit
  2: a run would roll back. A readiness gate of a candidate that has no pods yet is not counted
  (the run starts them first), nor is a gate that asks to wait (nothing would change by waiting).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass

from strategies.gates.decide import evaluate
from strategies.gates.kinds import Gate, GateResult, Verdict
from strategies.spec import RolloutSpec
from strategies.steps import RouteKind, Weights
from strategies.traffic.base import NotConvergedError, RouteReading, TrafficRouter
from upgrader.core.errors import EksupError
from upgrader.core.kube import WorkloadKind
from upgrader.core.ports import Cluster


class DryRunRouter:
    """`TrafficRouter`: reads through until a change is made, then reads what was set."""

    def __init__(self, inner: TrafficRouter) -> None:
        self.inner = inner
        self._weights: Weights | None = None
        self._routes: dict[RouteKind, bool] = {}

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def max_weight(self) -> int:
        return self.inner.max_weight

    @property
    def drain_seconds(self) -> float:
        return self.inner.drain_seconds

    def set_weights(self, weights: Weights) -> None:
        # Recorded by the wrapped ports; the router's own wait for the service to show it
        # can only time out (see the module's docstring).
        with suppress(NotConvergedError):
            self.inner.set_weights(weights)
        self._weights = weights

    def read_weights(self) -> Weights:
        return self._weights if self._weights is not None else self.inner.read_weights()

    def describe_weights(self, weights: Weights) -> str:
        return self.inner.describe_weights(weights)

    def set_header_route(self, on: bool) -> None:
        with suppress(NotConvergedError):
            self.inner.set_header_route(on)
        self._routes["header"] = on

    def set_mirror_route(self, on: bool) -> None:
        with suppress(NotConvergedError):
            self.inner.set_mirror_route(on)
        self._routes["mirror"] = on

    def read_route(self, kind: RouteKind) -> RouteReading:
        on = self._routes.get(kind)
        if on is None:
            return self.inner.read_route(kind)
        return RouteReading(on, not on, f"{'on' if on else 'off'}, as this dry run leaves it")

    def describe_route(self, kind: RouteKind, on: bool) -> str:
        return self.inner.describe_route(kind, on)


@dataclass(frozen=True)
class GateReading:
    """A gate as read before the dry run, and whether its verdict says what a run would do."""

    result: GateResult
    counted: bool
    why_not: str = ""

    @property
    def fails(self) -> bool:
        return self.counted and self.result.verdict is Verdict.FAIL


class _ReadOnce:
    """`Gate`: the verdict read before the run, at every gate step of the dry run."""

    def __init__(self, gate: Gate, reading: GateReading) -> None:
        self.gate = gate
        self.reading = reading

    @property
    def name(self) -> str:
        return self.gate.name

    @property
    def failure_limit(self) -> int:
        return self.gate.failure_limit

    @property
    def interval_seconds(self) -> float:
        return self.gate.interval_seconds

    def evaluate(self) -> GateResult:
        if self.reading.fails:
            return self.reading.result
        return GateResult(self.name, Verdict.PASS, f"as read before the dry run: {self._said}")

    @property
    def _said(self) -> str:
        verdict = self.reading.result
        return f"{verdict.verdict.value} ({verdict.reason})"


def read_once(
    gates: Sequence[Gate], spec: RolloutSpec, cluster: Cluster
) -> tuple[tuple[Gate, ...], tuple[GateReading, ...]]:
    """Each gate evaluated now; the gates the dry run's loop sees, and what was read."""
    empty = _candidate_without_pods(spec, cluster)
    readings: list[GateReading] = []
    for gate in gates:
        result = evaluate(gate)
        if empty is not None and gate.name == f"pod-readiness {empty}":
            why = "the candidate has no pods yet; a run starts them before it reads this gate"
            readings.append(GateReading(result, counted=False, why_not=why))
        elif result.verdict is Verdict.PAUSE:
            readings.append(GateReading(result, counted=False, why_not="it asks a run to wait"))
        else:
            readings.append(GateReading(result, counted=True))
    once = tuple(_ReadOnce(g, r) for g, r in zip(gates, readings, strict=True))
    return once, tuple(readings)


def _candidate_without_pods(spec: RolloutSpec, cluster: Cluster) -> str | None:
    """`namespace/name` of the candidate Deployment when it has no replicas now."""
    name = spec.app.candidate.deployment
    if name is None:
        return None
    try:
        found = cluster.get_workload(WorkloadKind.DEPLOYMENT, spec.app.namespace, name)
    except EksupError:
        return None
    return None if found.replicas else f"{spec.app.namespace}/{name}"
