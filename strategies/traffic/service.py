"""Traffic through one Kubernetes Service: a selector switch, or a replica-ratio canary.

blue-green: the Service's selector goes from the stable pods to the candidate pods in one patch
and back in one. The endpoints follow within seconds, but anything that tracks pod IPs itself
lags: an ALB with `ip` targets keeps sending to the old pods until the AWS Load Balancer
Controller has deregistered them, so requests in that window can fail (`warnings_for` says so).

canary: the Service selects both Deployments' pods (a shared label) and kube-proxy spreads
connections over the ready endpoints, so the candidate's share is its share of ready pods.
eksup scales the two Deployments within a fixed total; one pod is 100/total percent, so the
split is approximate, and long-lived connections stay where they are until they close.
"""

from __future__ import annotations

from strategies.registry import steps_for
from strategies.spec import App, Canary, RolloutSpec, ServiceTraffic
from strategies.steps import TOTAL, Weights
from strategies.traffic.base import INSYNC_POLL_SECONDS, NotConvergedError, _check_limit
from upgrader.core.errors import UserError
from upgrader.core.kube import Workload, WorkloadKind
from upgrader.core.ports import Clock, Cluster

SERVICE_MAX_WEIGHT = TOTAL  # weights are percentages of the traffic; nothing finer exists


def _selector_text(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


# blue/green: a selector switch ----------------------------------------------------------------


class ServiceSelectorProvider:
    """All traffic on one side: the Service selects either the stable or the candidate pods."""

    name = "service"
    max_weight = SERVICE_MAX_WEIGHT

    def __init__(self, cluster: Cluster, namespace: str, traffic: ServiceTraffic) -> None:
        if traffic.stable_selector is None or traffic.candidate_selector is None:
            raise UserError(
                "a Service selector switch needs stable_selector and candidate_selector"
            )
        self._cluster = cluster
        self._namespace = namespace
        self._traffic = traffic
        self._stable = dict(traffic.stable_selector)
        self._candidate = dict(traffic.candidate_selector)

    @property
    def drain_seconds(self) -> float:
        return self._traffic.drain_seconds

    def apply(self, weights: Weights) -> None:
        selector = self._selector_for(weights)
        # An empty endpoint list answers every request with a connection error: refuse it.
        ready = [
            pod
            for pod in self._cluster.list_pods(
                self._namespace, label_selector=_selector_text(selector)
            )
            if pod.ready and not pod.is_terminating
        ]
        if not ready:
            raise UserError(
                f"no ready pod in {self._namespace} matches {_selector_text(selector)}; "
                f"switching Service {self._traffic.service} to it would drop every request"
            )
        self._cluster.patch_service_selector(self._namespace, self._traffic.service, selector)

    def read(self) -> Weights:
        service = self._cluster.get_service(self._namespace, self._traffic.service)
        selector = dict(service.selector)
        if selector == self._stable:
            return Weights(TOTAL, 0)
        if selector == self._candidate:
            return Weights(0, TOTAL)
        raise UserError(
            f"Service {self._namespace}/{self._traffic.service} selects "
            f"{_selector_text(selector) or 'nothing'}, which is neither stable_selector "
            f"{_selector_text(self._stable)} nor candidate_selector "
            f"{_selector_text(self._candidate)}"
        )

    def describe_change(self, weights: Weights) -> str:
        selector = self._selector_for(weights)
        return (
            f"kubectl patch service -n {self._namespace} {self._traffic.service}: selector "
            f"{_selector_text(selector)} (every new connection goes to "
            f"{'the stable' if selector == self._stable else 'the candidate'} pods at once)"
        )

    def _selector_for(self, weights: Weights) -> dict[str, str]:
        _check_limit(weights, self.max_weight, "Service")
        if weights.only_stable:
            return self._stable
        if weights.only_candidate:
            return self._candidate
        raise UserError(
            f"a Service selector switch moves all traffic at once; it cannot split {weights}"
        )


# canary: a replica ratio ----------------------------------------------------------------------


def replica_split(weights: Weights, total: int) -> tuple[int, int]:
    """(stable, candidate) replicas out of `total` closest to `weights`; a side the weights
    give traffic to gets at least one pod, so a 1% step still reaches the candidate."""
    exact = total * weights.candidate_percent / 100.0
    candidate = int(exact + 0.5)  # half up: round() would send 2.5 pods to 2
    if weights.candidate > 0:
        candidate = max(candidate, 1)
    if weights.stable > 0:
        candidate = min(candidate, total - 1)
    return total - candidate, candidate


def split_error(weights: Weights, total: int) -> float:
    """How many points of candidate % the replica split misses `weights` by."""
    _, candidate = replica_split(weights, total)
    return abs(100.0 * candidate / total - weights.candidate_percent)


class ReplicaRatioProvider:
    """The candidate's share of the ready pods behind one Service, set by scaling.

    Convergence, explicitly: a step is reached when both Deployments want, and have ready,
    exactly the replicas of `replica_split`; a step whose split misses it by more than
    `tolerance_percent` points is refused before anything moves. Otherwise `read` reports the
    ready-pod ratio, rounded to whole percents.
    """

    name = "service"
    max_weight = SERVICE_MAX_WEIGHT

    def __init__(
        self,
        cluster: Cluster,
        clock: Clock,
        app: App,
        traffic: ServiceTraffic,
        converge_seconds: float = 300.0,
    ) -> None:
        if app.stable.deployment is None or app.candidate.deployment is None:
            raise UserError("a replica-ratio canary scales both sides: name both Deployments")
        self._cluster = cluster
        self._clock = clock
        self._namespace = app.namespace
        self._deployments = (app.stable.deployment, app.candidate.deployment)
        self._traffic = traffic
        self._converge_seconds = converge_seconds
        self._total = traffic.replicas
        self._target: Weights | None = None

    @property
    def drain_seconds(self) -> float:
        return self._traffic.drain_seconds

    def total(self) -> int:
        """Pods across both sides: the spec's `replicas`, else what both want now (once)."""
        if self._total is None:
            wanted = sum(w.replicas or 0 for w in self._workloads())
            if wanted < 2:
                raise UserError(
                    f"{' and '.join(self._deployments)} want {wanted} pod(s) in all; a "
                    "replica-ratio canary needs at least 2: set traffic.replicas"
                )
            self._total = wanted
        return self._total

    def apply(self, weights: Weights) -> None:
        _check_limit(weights, self.max_weight, "Service")
        total = self.total()
        miss = split_error(weights, total)
        if miss > self._traffic.tolerance_percent:
            raise UserError(self._too_coarse(weights, total, miss))
        stable, candidate = replica_split(weights, total)
        self._target = weights
        current = {w.name: w.replicas or 0 for w in self._workloads()}
        plan = dict(zip(self._deployments, (stable, candidate), strict=True))
        # Grow first and wait for it, then shrink: the app never has fewer ready pods than
        # `total`, and a candidate that cannot start never takes stable pods with it.
        growing = [name for name in self._deployments if plan[name] > current[name]]
        for name in growing:
            self._scale(name, plan[name])
        for name in growing:
            self._wait_ready(name, plan[name])
        for name in self._deployments:
            if plan[name] < current[name]:
                self._scale(name, plan[name])

    def read(self) -> Weights:
        stable, candidate = self._workloads()
        self._check_selects_both(stable, candidate)
        ready = stable.ready_replicas + candidate.ready_replicas
        if ready == 0:
            return Weights(0, 0)  # no endpoint at all: no side gets traffic
        if self._target is not None:
            want = replica_split(self._target, self.total())
            if (
                (stable.replicas, candidate.replicas)
                == want
                == (
                    stable.ready_replicas,
                    candidate.ready_replicas,
                )
            ):
                return self._target
        percent = int(100.0 * candidate.ready_replicas / ready + 0.5)
        return Weights(TOTAL - percent, percent)

    def describe_change(self, weights: Weights) -> str:
        total = self.total()
        stable, candidate = replica_split(weights, total)
        share = 100.0 * candidate / total
        return (
            f"kubectl scale deployment -n {self._namespace} {self._deployments[1]} "
            f"--replicas={candidate} and {self._deployments[0]} --replicas={stable} (growing "
            f"side first): candidate ~{share:g}% of {total} ready pods behind Service "
            f"{self._traffic.service}, approximate (asked {weights.candidate_percent:g}%)"
        )

    # ---------------------------------------------------------------- helpers

    def _workloads(self) -> tuple[Workload, Workload]:
        stable, candidate = (
            self._cluster.get_workload(WorkloadKind.DEPLOYMENT, self._namespace, name)
            for name in self._deployments
        )
        return stable, candidate

    def _scale(self, name: str, replicas: int) -> None:
        self._cluster.scale_workload(WorkloadKind.DEPLOYMENT, self._namespace, name, replicas)

    def _wait_ready(self, name: str, replicas: int) -> None:
        deadline = self._clock.now() + self._converge_seconds
        while True:
            workload = self._cluster.get_workload(WorkloadKind.DEPLOYMENT, self._namespace, name)
            if workload.ready_replicas >= replicas:
                return
            if self._clock.now() + INSYNC_POLL_SECONDS > deadline:
                raise NotConvergedError(
                    f"Deployment {self._namespace}/{name} has {workload.ready_replicas} of "
                    f"{replicas} pods ready after {self._converge_seconds:g}s"
                )
            self._clock.sleep(INSYNC_POLL_SECONDS)

    def _check_selects_both(self, stable: Workload, candidate: Workload) -> None:
        service = self._cluster.get_service(self._namespace, self._traffic.service)
        selector = dict(service.selector)
        missed = [
            w.name
            for w in (stable, candidate)
            if not selector or any(w.template.labels.get(k) != v for k, v in selector.items())
        ]
        if missed:
            raise UserError(
                f"Service {self._namespace}/{self._traffic.service} (selector "
                f"{_selector_text(selector) or 'none'}) does not select the pods of "
                f"{', '.join(missed)}; a replica-ratio canary needs a selector both sides "
                "share, such as app=<name>"
            )

    def _too_coarse(self, weights: Weights, total: int, miss: float) -> str:
        _, candidate = replica_split(weights, total)
        return (
            f"with {total} pods the closest split to {weights.candidate_percent:g}% is "
            f"{candidate}/{total} ({100.0 * candidate / total:g}%), {miss:g} points off, more "
            f"than tolerance_percent {self._traffic.tolerance_percent:g}; raise "
            "traffic.replicas or traffic.tolerance_percent"
        )


# what `provider_for` and `rollout plan` need ----------------------------------------------------


def service_refusal(spec: RolloutSpec) -> str | None:
    """Why this strategy cannot run through a Service, or None."""
    from strategies.spec import AbTest, BlueGreen, Shadow

    traffic, strategy = spec.traffic, spec.strategy
    assert isinstance(traffic, ServiceTraffic)
    if isinstance(strategy, Shadow):
        from strategies.traffic.base import MIRROR_ADVICE

        return f"a Service sends each connection to one pod; it cannot mirror; {MIRROR_ADVICE}"
    if isinstance(strategy, AbTest):
        return (
            "a Service balances connections over pods and never sees HTTP headers, so it "
            "cannot route by them; use a header condition on an ALB rule or a Gateway API "
            "HTTPRoute header match"
        )
    if isinstance(strategy, BlueGreen):
        if traffic.stable_selector is None:
            return (
                "blue-green on a Service switches its selector: give traffic.stable_selector "
                "and traffic.candidate_selector"
            )
        return None
    assert isinstance(strategy, Canary)
    if traffic.stable_selector is not None:
        return (
            "a canary on a Service splits by replica ratio behind a selector both sides share; "
            "stable_selector and candidate_selector are for blue-green: remove them"
        )
    if spec.app.stable.deployment is None or spec.app.candidate.deployment is None:
        return (
            "a canary on a Service scales both sides: name app.stable.deployment and "
            "app.candidate.deployment"
        )
    if traffic.replicas is not None:
        for step in steps_for(strategy):
            miss = split_error(step.weights, traffic.replicas)
            if miss > traffic.tolerance_percent:
                _, candidate = replica_split(step.weights, traffic.replicas)
                return (
                    f"step {step.number} ({step.weights.candidate}%) can only be "
                    f"{candidate}/{traffic.replicas} pods ({miss:g} points off, tolerance "
                    f"{traffic.tolerance_percent:g}); raise traffic.replicas or "
                    "traffic.tolerance_percent"
                )
    return None


def service_provider(
    spec: RolloutSpec, *, cluster: Cluster, clock: Clock
) -> ServiceSelectorProvider | ReplicaRatioProvider:
    traffic = spec.traffic
    assert isinstance(traffic, ServiceTraffic)
    if traffic.stable_selector is not None:
        return ServiceSelectorProvider(cluster, spec.app.namespace, traffic)
    return ReplicaRatioProvider(cluster, clock, spec.app, traffic, spec.deadlines.converge_seconds)


def warnings_for(spec: RolloutSpec) -> list[str]:
    """What `rollout plan` should say about this traffic provider before anything runs."""
    traffic = spec.traffic
    if not isinstance(traffic, ServiceTraffic):
        return []
    if traffic.stable_selector is not None:
        return [
            f"a selector swap on Service {traffic.service} behind an ALB (target type ip) "
            "risks dropped requests: the ALB keeps sending to the old pods until the AWS Load "
            "Balancer Controller deregisters them; with an ALB in front, prefer provider "
            "alb-ingress (weighted target groups)"
        ]
    return [
        f"the canary split on Service {traffic.service} is approximate: it follows the ready-pod "
        "ratio (one pod is 100/replicas %) and open keep-alive connections stay on their pod; "
        "pause any HorizontalPodAutoscaler of the two Deployments during the rollout"
    ]
