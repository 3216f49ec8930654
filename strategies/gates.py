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
from strategies.spec import AlbTraffic, NoData, RolloutSpec
from strategies.spec import TargetHealthGate as TargetHealthGateSpec
from upgrader.ports import LoadBalancers, Metrics


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


def gates_for(
    spec: RolloutSpec, *, metrics: Metrics, load_balancers: LoadBalancers
) -> Sequence[Gate]:
    gates: list[Gate] = []
    for gate in spec.gates:
        if isinstance(gate, AlarmGateSpec):
            gates.append(CloudWatchAlarmGate(metrics, gate))
        else:
            group = gate.target_group
            if group is None:
                # The spec validator guarantees ALB traffic when the group is left out.
                assert isinstance(spec.traffic, AlbTraffic)
                group = spec.traffic.candidate_target_group
            gates.append(AlbTargetHealthGate(load_balancers, group, gate))
    return gates
