"""Gates between rollout steps: look at the world, answer pass, fail or pause.

A gate only observes; counting failures against its `failure_limit` and waiting on a pause is
the runner's job. "No data" (an alarm in INSUFFICIENT_DATA, a target group with no targets or
targets still in their first health check) is never silently a pass: it follows the gate's
declared `no_data` policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from strategies.spec import AlarmGate as AlarmGateSpec
from strategies.spec import AlbIngressTraffic, AlbTraffic, NoData, RolloutSpec
from strategies.spec import HttpProbeGate as HttpProbeGateSpec
from strategies.spec import MetricGate as MetricGateSpec
from strategies.spec import PodReadinessGate as PodReadinessGateSpec
from strategies.spec import TargetHealthGate as TargetHealthGateSpec
from upgrader.core.aws import MetricQuery
from upgrader.core.errors import EksupError, UserError
from upgrader.core.kube import WorkloadKind
from upgrader.core.ports import Clock, Cluster, HttpProbe, LoadBalancers, Metrics


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    PAUSE = "pause"


@dataclass(frozen=True)
class GateResult:
    gate: str
    verdict: Verdict
    reason: str = ""
    culprits: tuple[str, ...] = ()  # the alarms in ALARM, the unhealthy targets


class Gate(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def failure_limit(self) -> int: ...

    @property
    def interval_seconds(self) -> float: ...

    def evaluate(self) -> GateResult: ...


def _no_data(gate: str, policy: NoData, reason: str) -> GateResult:
    verdict = {NoData.FAIL: Verdict.FAIL, NoData.PAUSE: Verdict.PAUSE, NoData.PASS: Verdict.PASS}
    return GateResult(gate, verdict[policy], f"{reason} (no_data: {policy.value})")


class CloudWatchAlarmGate:
    """Fails when any named alarm is in ALARM; INSUFFICIENT_DATA follows `no_data`.

    An alarm that does not exist fails the gate: a typo must not turn a safety net into a pass.
    """

    def __init__(self, metrics: Metrics, spec: AlarmGateSpec) -> None:
        self._metrics = metrics
        self._spec = spec
        self.name = f"cloudwatch-alarm {','.join(spec.alarms)}"
        self.failure_limit = spec.failure_limit
        self.interval_seconds = spec.interval_seconds

    def evaluate(self) -> GateResult:
        alarms = {a.name: a for a in self._metrics.describe_alarms(self._spec.alarms)}
        missing = tuple(n for n in self._spec.alarms if n not in alarms)
        if missing:
            return GateResult(
                self.name, Verdict.FAIL, f"alarm not found: {', '.join(missing)}", missing
            )
        firing = tuple(n for n in self._spec.alarms if alarms[n].state == "ALARM")
        if firing:
            reasons = "; ".join(f"{n}: {alarms[n].reason}" for n in firing if alarms[n].reason)
            text = f"in ALARM: {', '.join(firing)}" + (f" ({reasons})" if reasons else "")
            return GateResult(self.name, Verdict.FAIL, text, firing)
        silent = tuple(n for n in self._spec.alarms if alarms[n].state != "OK")
        if silent:
            result = _no_data(
                self.name, self._spec.no_data, f"INSUFFICIENT_DATA: {', '.join(silent)}"
            )
            return GateResult(result.gate, result.verdict, result.reason, silent)
        return GateResult(self.name, Verdict.PASS, "all alarms OK")


class AlbTargetHealthGate:
    """Passes when the target group has targets and every one is healthy.

    No targets, or targets still in `initial` (first health checks running), is no data.
    """

    def __init__(
        self, load_balancers: LoadBalancers, target_group: str, spec: TargetHealthGateSpec
    ) -> None:
        self._lbs = load_balancers
        self._target_group = target_group
        self._spec = spec
        self.name = f"alb-target-health {target_group.rsplit(':', 1)[-1]}"
        self.failure_limit = spec.failure_limit
        self.interval_seconds = spec.interval_seconds

    def evaluate(self) -> GateResult:
        targets = self._lbs.target_health(self._target_group)
        if not targets:
            return _no_data(self.name, self._spec.no_data, "no registered targets")
        bad = [t for t in targets if t.state not in ("healthy", "initial")]
        if bad:
            culprits = tuple(f"{t.target_id}:{t.port}" for t in bad)
            detail = ", ".join(
                f"{t.target_id}:{t.port} {t.state}" + (f" ({t.reason})" if t.reason else "")
                for t in bad
            )
            return GateResult(self.name, Verdict.FAIL, f"unhealthy targets: {detail}", culprits)
        starting = [t for t in targets if t.state == "initial"]
        if starting:
            return _no_data(
                self.name, self._spec.no_data, f"{len(starting)} target(s) still in initial"
            )
        return GateResult(self.name, Verdict.PASS, f"{len(targets)} target(s) healthy")


class CloudWatchMetricGate:
    """Fails when any datapoint of the last `window_seconds` breaches the threshold; a window
    without a single datapoint is no data (a metric nobody emits, a typo in a dimension)."""

    def __init__(self, metrics: Metrics, clock: Clock, spec: MetricGateSpec) -> None:
        self._metrics = metrics
        self._clock = clock
        self._spec = spec
        self._query = MetricQuery(
            namespace=spec.namespace,
            metric_name=spec.metric,
            dimensions=dict(spec.dimensions),
            statistic=spec.stat,
            period_seconds=spec.period_seconds,
        )
        self.name = f"cloudwatch-metric {spec.metric} {spec.stat}"
        self.failure_limit = spec.failure_limit
        self.interval_seconds = spec.interval_seconds

    def evaluate(self) -> GateResult:
        end = self._clock.now()
        values = self._metrics.metric_values(self._query, end - self._spec.window_seconds, end)
        window = f"the last {self._spec.window_seconds}s"
        if not values:
            return _no_data(self.name, self._spec.no_data, f"no datapoints in {window}")
        comparison, threshold = self._spec.comparison, self._spec.threshold
        breaching = [v for v in values if comparison.breaches(v, threshold)]
        if breaching:
            # The worst one: furthest past the threshold in the breaching direction.
            worst = max(breaching, key=lambda v: abs(v - threshold))
            return GateResult(
                self.name,
                Verdict.FAIL,
                f"{len(breaching)} of {len(values)} datapoint(s) in {window} breach "
                f"{comparison.value} {threshold:g} (worst {worst:g})",
                (self._spec.metric,),
            )
        return GateResult(
            self.name,
            Verdict.PASS,
            f"{len(values)} datapoint(s) in {window} within {comparison.value} {threshold:g}",
        )


class PodReadinessGate:
    """Every pod of a Deployment Ready and restarted at most `max_restarts` times since the
    gate first saw it (a pod created later counts from 0). Terminating pods are ignored; a
    Deployment without pods is no data."""

    def __init__(
        self, cluster: Cluster, namespace: str, deployment: str, spec: PodReadinessGateSpec
    ) -> None:
        self._cluster = cluster
        self._namespace = namespace
        self._deployment = deployment
        self._spec = spec
        self._baseline: dict[str, int] = {}  # pod uid -> its restarts when first seen
        self._evaluated = False
        self.name = f"pod-readiness {namespace}/{deployment}"
        self.failure_limit = spec.failure_limit
        self.interval_seconds = spec.interval_seconds

    def evaluate(self) -> GateResult:
        workload = self._cluster.get_workload(
            WorkloadKind.DEPLOYMENT, self._namespace, self._deployment
        )
        if workload.selector.is_empty:
            raise UserError(f"Deployment {self._namespace}/{self._deployment} has no selector")
        pods = [
            p
            for p in self._cluster.list_pods(self._namespace, label_selector=str(workload.selector))
            if p.deletion_timestamp is None and not p.is_finished
        ]
        first = not self._evaluated
        self._evaluated = True
        for pod in pods:
            # Restarts before the rollout are someone else's; a pod born since starts at 0.
            self._baseline.setdefault(pod.uid, pod.restart_count if first else 0)
        if not pods:
            return _no_data(self.name, self._spec.no_data, "no pods")
        restarting = [
            (p.name, p.restart_count - self._baseline[p.uid])
            for p in pods
            if p.restart_count - self._baseline[p.uid] > self._spec.max_restarts
        ]
        unready = [p.name for p in pods if not p.ready]
        if restarting or unready:
            problems = []
            if restarting:
                problems.append(
                    "restarted more than "
                    f"{self._spec.max_restarts}: "
                    + ", ".join(f"{name} ({count})" for name, count in restarting)
                )
            if unready:
                problems.append(f"not Ready: {', '.join(unready)}")
            culprits = tuple(dict.fromkeys([n for n, _ in restarting] + unready))
            return GateResult(self.name, Verdict.FAIL, "; ".join(problems), culprits)
        return GateResult(self.name, Verdict.PASS, f"{len(pods)} pod(s) Ready")


class HttpProbeGate:
    """One GET: the expected status passes, any other status fails, and so does no answer at
    all (refused, timed out): an unreachable candidate is down, never "no data"."""

    def __init__(self, probe: HttpProbe, spec: HttpProbeGateSpec) -> None:
        self._probe = probe
        self._spec = spec
        self.name = f"http-probe {spec.url}"
        self.failure_limit = spec.failure_limit
        self.interval_seconds = spec.interval_seconds

    def evaluate(self) -> GateResult:
        try:
            status = self._probe.get_status(self._spec.url, self._spec.timeout_seconds)
        except EksupError as error:
            return GateResult(self.name, Verdict.FAIL, str(error), (self._spec.url,))
        if status != self._spec.expected_status:
            return GateResult(
                self.name,
                Verdict.FAIL,
                f"GET {self._spec.url}: {status}, expected {self._spec.expected_status}",
                (self._spec.url,),
            )
        return GateResult(self.name, Verdict.PASS, f"GET {self._spec.url}: {status}")


def gates_for(
    spec: RolloutSpec,
    *,
    metrics: Metrics,
    load_balancers: LoadBalancers,
    clock: Clock | None = None,
    cluster: Cluster | None = None,
    http: HttpProbe | None = None,
) -> Sequence[Gate]:
    """The gates of a spec, on the ports they read; a gate whose port is missing is refused
    here, before anything moves."""
    gates: list[Gate] = []
    for gate in spec.gates:
        if isinstance(gate, AlarmGateSpec):
            gates.append(CloudWatchAlarmGate(metrics, gate))
        elif isinstance(gate, MetricGateSpec):
            if clock is None:
                raise UserError("a cloudwatch-metric gate needs a clock")
            gates.append(CloudWatchMetricGate(metrics, clock, gate))
        elif isinstance(gate, PodReadinessGateSpec):
            if cluster is None:
                raise UserError("a pod-readiness gate reads the cluster: give a cluster")
            deployment = gate.deployment or spec.app.candidate.deployment
            # The spec validator guarantees a candidate Deployment when none is given.
            assert deployment is not None
            gates.append(PodReadinessGate(cluster, spec.app.namespace, deployment, gate))
        elif isinstance(gate, HttpProbeGateSpec):
            if http is None:
                raise UserError("an http-probe gate needs an HTTP client")
            gates.append(HttpProbeGate(http, gate))
        else:
            group = gate.target_group
            if group is None:
                # The spec validator guarantees ALB traffic when the group is left out.
                assert isinstance(spec.traffic, AlbTraffic | AlbIngressTraffic)
                group = spec.traffic.candidate_target_group
            gates.append(AlbTargetHealthGate(load_balancers, group, gate))
    return gates
