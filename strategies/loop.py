"""The one step loop: any strategy's typed steps, run over the app's `TrafficRouter`.

A strategy (`strategies/<name>.py`) is a list of typed steps; this loop runs them whatever the
strategy: weights set and read back, routes turned on and read back, Deployments scaled and
waited for, pauses, gates, the retired side scaled down. Nothing here asks which strategy it
runs: a router that cannot do a step says so, and the way back is what the steps changed
(weights back on stable, the route removed, stable's pods restored).

Order of safety, on every path:
1. A change counts only once it is read back from the service (convergence).
2. An abort (failed gate, passed deadline, a change that would not converge, a human's abort)
   puts all traffic back on stable first and reads it back; only then, after the router's
   drain delay (stickiness, DNS TTL), is the candidate scaled down. Pods go back the same
   way: stable restored and Ready before the candidate goes to 0.
3. A side is never scaled down while the live weights still send it traffic; if traffic cannot
   be confirmed on stable, nothing is scaled down and the report says a human is needed.
4. Traffic is never sent to a stable Deployment that has no Ready pods: a rollback scales it
   back up and waits for it first.

The loop takes ports and plain values only (`TrafficRouter`, `Gate`, `Clock`, `Cluster`), so
the same code runs on AWS, on moto and on the sandbox. Its state lives in the app's journal
(`strategies.run.journal`, the run engine's journal): every completed step, so a killed run
resumes, and the promote/abort requests other machines add there, which a waiting run takes
and answers.
"""

from __future__ import annotations

from collections.abc import Callable

from strategies.gates.kinds import GateResult, gates_for
from strategies.run.actions import (
    CHECK_EVERY_SECONDS,
    LockLostError,
    Log,
    PromoteRequestedError,
    Report,
    RouteStuckError,
    StepActions,
    nothing,
    scale_down_delay,
)
from strategies.run.journal import Actor, Phase, RolloutJournal, RolloutState, spec_digest
from strategies.run.outcome import AbortError, RunState
from strategies.run.report import (
    ExperimentReport,
    RolloutReport,
    RolloutStatus,
    RouteEvent,
    WeightChange,
)
from strategies.spec import RolloutSpec
from strategies.steps import (
    ALL_CANDIDATE,
    ALL_STABLE,
    Scale,
    SetRoute,
    Weights,
)
from strategies.traffic.factory import router_for
from upgrader.core.errors import EksupError, PermanentError, RefusedError, UserError
from upgrader.core.ports import Clock, Cluster, Dns, HttpProbe, LoadBalancers, Metrics

__all__ = ["CHECK_EVERY_SECONDS", "StepLoop", "build_runner", "end_route"]

# The journal's memo of stable's replicas before a rolling or recreate rollout: its batches.
ORIGINAL_REPLICAS = "original-replicas"


class StepLoop(StepActions):
    """Runs one rollout of any strategy: `run`, and for a rollout that moves weights,
    `promote`, `abort` and `rollback`."""

    def run(self, *, promote_by: Actor | None = None) -> Report:
        """Run (or resume) the rollout; with `promote_by`, skip its remaining steps."""
        try:
            return self._run(promote_by)
        except LockLostError as stop:
            raise stop.error from None

    def _run(self, promote_by: Actor | None) -> Report:
        state = self._new_state()
        self._begin(state)
        self._listening = True
        report: Report
        try:
            try:
                if promote_by is not None:
                    raise PromoteRequestedError(promote_by)
                self._checkpoint()
                for step in self.plan:
                    if self._pending(step, state.steps_done):
                        self._do(state, step)
            except PromoteRequestedError as promote:
                self._promote_now(state, promote.by)
                self._retire(state, "stable", scale_down_delay(self.spec))
        except RouteStuckError as stuck:
            # Shadow's end: the mirror would not go; trying again on the way back is no use.
            report = self._route_report(state, RolloutStatus.FAILED, stuck.reason, None, on=True)
        except AbortError as abort:
            report = self._roll_back(state, abort)
        except KeyboardInterrupt:
            self._journal(state.steps_done, Phase.PAUSED, self._last(state), reason="interrupted")
            raise
        else:
            report = self._succeeded(state)
        self._journal(
            state.steps_done, Phase(report.status.value), self._last(state), report.reason
        )
        return report

    def promote(self, by: Actor) -> Report:
        """All traffic to the candidate now, for a rollout in progress that no run drives."""
        current = self._recorded()
        if current is None or not current.resumable:
            status = "none recorded" if current is None else current.phase.value
            raise UserError(
                f"no rollout of {self._app} in progress to promote ({status}); "
                "start one with `eksup rollout run`"
            )
        return self.run(promote_by=by)

    def abort(self, by: Actor, *, record: bool = True, retire: bool = False) -> RolloutReport:
        """All traffic back on stable now, read back; the candidate is left running, or with
        `retire` scaled down after the drain delay (ending a rollout whose run died).

        `record=False` when a run holding the lock will record the outcome itself."""
        try:
            return self._abort(by, record, retire)
        except LockLostError as stop:
            raise stop.error from None

    def _abort(self, by: Actor, record: bool, retire: bool = False) -> RolloutReport:
        state = self._new_state()
        self._refuse_if_stable_cannot_serve()
        current = self._recorded()
        state.steps_done = current.step if current is not None else 0
        try:
            self._converge(state, -1, ALL_STABLE)
        except (AbortError, EksupError) as error:
            if record:
                self._journal(state.steps_done, Phase.FAILED, None, f"abort: {error}")
            raise PermanentError(f"traffic not confirmed on stable: {error}") from None
        reason = f"aborted by {by.who}"
        if retire:
            self._retire(state, "candidate")
        if record and self.journal is not None:
            self._journal(state.steps_done, Phase.ROLLED_BACK, state.history[-1].weights, reason)
            self.journal.record_action("aborted", by)
        if not state.scaled_down:
            state.notes.append("the candidate was left running")
        return self._weights_report(state, RolloutStatus.ROLLED_BACK, reason, None)

    def rollback(self, by: Actor) -> RolloutReport:
        """Undo a finished rollout: stable back up to its recorded size and Ready, then all
        traffic to it in one change, read back; the candidate retired after the drain delay."""
        try:
            return self._rollback(by)
        except LockLostError as stop:
            raise stop.error from None

    def _rollback(self, by: Actor) -> RolloutReport:
        current = self._recorded()
        if current is None:
            raise UserError(f"nothing to roll back: no rollout of {self._app} is recorded")
        if current.phase is not Phase.SUCCEEDED:
            hint = "; stop it with `eksup rollout abort`" if current.resumable else ""
            raise UserError(
                f"nothing to roll back: the last rollout of {self._app} is "
                f"{current.phase.value}, not succeeded{hint}"
            )
        state = self._new_state()
        state.steps_done = current.step
        if state.history[0].weights.only_stable:
            raise UserError(f"nothing to roll back: all traffic of {self._app} is on stable")
        self._restore_stable(state, current)
        reason = f"rolled back by {by.who}"
        try:
            self._converge(state, -1, ALL_STABLE)
        except (AbortError, EksupError) as error:
            state.notes.append(f"traffic NOT confirmed back on stable ({error})")
            report = self._weights_report(state, RolloutStatus.FAILED, reason, None)
        else:
            self._retire(state, "candidate")
            report = self._weights_report(state, RolloutStatus.ROLLED_BACK, reason, None)
        self._journal(state.steps_done, Phase(report.status.value), report.final_weights, reason)
        if self.journal is not None:
            self.journal.record_action("rolled-back", by)
        return report

    def end_route(self) -> str:
        """`rollout abort` of A/B and shadow: the route removed now and read back gone."""
        if self.route is None:
            raise UserError(f"the {self.spec.strategy.kind} strategy turns no route on")
        state = RunState.starting(self.clock, self.spec.deadlines.total_seconds)
        try:
            self._converge_route(state, self.route, on=False)
        except AbortError:
            reading = self.router.read_route(self.route)
            raise UserError(
                f"route not confirmed off: {self.router.name} reads {reading.detail}"
            ) from None
        detail = state.events[-1].detail
        return f"{self.spec.app.name}: {self.spec.strategy.kind} route off ({detail})"

    def _new_state(self) -> RunState:
        """Reading first also proves the spec matches the service (records exist, the rule
        forwards only to the two groups, the Deployments exist) before anything changes."""
        state = RunState.starting(self.clock, self.spec.deadlines.total_seconds)
        now = state.started_at
        if self.route is not None:
            found = self.router.read_route(self.route)
            state.events.append(RouteEvent(now, "found", found.detail))
        elif self.moves_pods:
            pods = self._need_pods()
            resumed = self.pods_to_resume()
            if resumed is not None:
                # Sized from the count journaled at the start, not from the half-done sides.
                state.original, state.steps_done = resumed
                live = Weights(
                    pods.get("stable").replicas or 0, pods.get("candidate").replicas or 0
                )
            else:
                plan = pods.plan()
                if plan.refusal is not None:
                    raise UserError(plan.refusal)
                state.original = plan.original
                live = Weights(plan.original, 0)
            self._replan(state.original)
            self.router.set_weights(live)
            state.history.append(WeightChange(now, 0, self.router.read_weights()))
        else:
            state.history.append(WeightChange(now, 0, self.router.read_weights()))
        return state

    def _begin(self, state: RunState) -> None:
        if self.journal is None:
            return
        current = self.journal.read()
        by = Actor(self.who, self.clock.now())
        resumes = current is not None and current.resumable
        if self.moves_pods:
            # Pod strategies resume only when the count they sized their batches by was
            # journaled (`_new_state` read it); else they start over, and `_new_state` refused
            # a half-done one (the candidate already has replicas).
            resumes = resumes and self.pods_to_resume() is not None
        if current is not None and resumes:
            state.steps_done = current.step
            if state.steps_done:
                state.notes.append(f"resumed after step {state.steps_done}")
            self.journal.resume(self.steps_total, by)
        else:
            self.journal.start(self.steps_total, by, spec_digest(self.spec))
            if self.moves_pods:
                self.journal.remember(ORIGINAL_REPLICAS, str(state.original))

    def pods_to_resume(self) -> tuple[int, int] | None:
        """(stable's replicas before the rollout, the steps done) of an unfinished rolling or
        recreate rollout this journal can continue; None when it cannot."""
        if self.journal is None:
            return None
        current = self.journal.read()
        if current is None or not current.resumable or current.step == 0:
            return None
        original = self.journal.recall(ORIGINAL_REPLICAS)
        if original is None or not original.isdigit():
            return None
        return int(original), current.step

    def _promote_now(self, state: RunState, by: Actor) -> None:
        """Skip the remaining steps: all traffic on the candidate, read back. A human's abort
        still counts while this converges and while stable waits to be retired."""
        self._promoting = True
        if self.journal is not None:
            self.journal.record_action("promoted", by)
        total = len(self.steps)
        done = state.steps_done
        try:
            self._converge(state, total, ALL_CANDIDATE)
        except EksupError as error:
            raise AbortError(f"promote ({ALL_CANDIDATE}): {error}") from None
        state.notes.append(f"promoted by {by.who} after step {done} of {total} had passed")
        state.steps_done = total
        self._journal(total, Phase.RUNNING, state.history[-1].weights)

    def _roll_back(self, state: RunState, abort: AbortError) -> Report:
        """The way back is what the steps changed: the route removed, the weights back on
        stable (then the candidate retired), stable's pods restored (then the candidate to 0)."""
        self._listening = False  # already on the way back: no request changes that
        if self.route is not None:
            off = self._route_off(state)
            status = RolloutStatus.ROLLED_BACK if off else RolloutStatus.FAILED
            return self._route_report(state, status, abort.reason, abort.result, on=not off)
        if self.moves_pods:
            return self._restore_pods(state, abort)
        status = RolloutStatus.ROLLED_BACK
        try:
            self._converge(state, -1, ALL_STABLE)
        except (AbortError, EksupError) as error:
            status = RolloutStatus.FAILED
            state.notes.append(
                f"traffic NOT confirmed back on stable ({error}); the candidate was left "
                "running: set the weights by hand, then scale it down"
            )
        else:
            self._retire(state, "candidate")
        return self._weights_report(state, status, abort.reason, abort.result)

    def _restore_pods(self, state: RunState, abort: AbortError) -> RolloutReport:
        pods = self._need_pods()
        status = RolloutStatus.ROLLED_BACK
        give_up = self.clock.now() + self.spec.deadlines.step_seconds
        try:
            self._scale(state, Scale(-1, "stable", state.original))
            pods.wait_ready("stable", state.original, give_up)
        except (AbortError, EksupError) as error:
            status = RolloutStatus.FAILED
            state.notes.append(
                f"stable NOT confirmed back at {state.original} Ready pods ({error}); the "
                "candidate was left running: scale it down by hand once stable serves"
            )
        else:
            try:
                self._scale(state, Scale(-1, "candidate", 0))
            except EksupError as error:
                state.notes.append(f"candidate {pods.name('candidate')} not scaled down: {error}")
        if self.empties_a_side:
            pods.watch_downtime(state)
        return self._weights_report(state, status, abort.reason, abort.result)

    def _succeeded(self, state: RunState) -> Report:
        if self.route is None:
            return self._weights_report(state, RolloutStatus.SUCCEEDED, "", None)
        if any(isinstance(s, SetRoute) and not s.on for s in self.plan):
            return self._route_report(state, RolloutStatus.SUCCEEDED, "", None, on=False)
        state.notes.append(
            f"the A/B route stays on ({self.router.describe_route(self.route, True)}); "
            "`eksup rollout abort SPEC` removes it"
        )
        return self._route_report(state, RolloutStatus.SUCCEEDED, "", None, on=True)

    def _refuse_if_stable_cannot_serve(self) -> None:
        if self.pods is None or self.spec.app.stable.deployment is None:
            return
        name = f"{self.spec.app.namespace}/{self.spec.app.stable.deployment}"
        try:
            workload = self.pods.get("stable")
        except UserError:
            raise RefusedError(
                f"stable Deployment {name} not found: no traffic was moved"
            ) from None
        if workload.ready_replicas == 0:
            raise RefusedError(
                f"stable Deployment {name} has no Ready pods: sending it all "
                "traffic would fail every request; no traffic was moved. After a finished "
                "rollout use `eksup rollout rollback`, which scales it back up first"
            )

    def _restore_stable(self, state: RunState, current: RolloutState) -> None:
        """Scale stable back to its size before the rollout and wait until it is Ready."""
        if self.pods is None or self.spec.app.stable.deployment is None:
            return
        pods = self.pods
        name = f"stable Deployment {self.spec.app.namespace}/{self.spec.app.stable.deployment}"
        try:
            workload = pods.get("stable")
        except UserError:
            raise UserError(f"{name} not found: nothing was changed") from None
        want = current.stable_replicas
        if want is None:
            want = workload.replicas or 0
        if want == 0:
            raise UserError(
                f"{name} has 0 replicas and no count was recorded before the rollout: scale it "
                "up by hand, then run rollback again; nothing was changed"
            )
        if (workload.replicas or 0) < want:
            self.log(f"scale {name} from {workload.replicas} to {want} replicas")
            self.pods.cluster.scale_workload(workload.kind, workload.namespace, workload.name, want)
            state.notes.append(f"{name} scaled back to {want} replicas")
        give_up = self.clock.now() + self.spec.deadlines.step_seconds
        try:
            pods.wait_ready("stable", want, give_up, sleep=self._sleep)
        except AbortError:
            workload = pods.get("stable")
            raise PermanentError(
                f"{name}: {workload.ready_replicas}/{want} pods Ready after "
                f"{self.spec.deadlines.step_seconds:g}s; traffic left on the candidate"
            ) from None

    def _weights_report(
        self, state: RunState, status: RolloutStatus, reason: str, failed: GateResult | None
    ) -> RolloutReport:
        if self.empties_a_side and state.zero_ready_since is not None:
            state.downtime += self.clock.now() - state.zero_ready_since
            state.zero_ready_since = None
            state.notes.append("no pod was Ready when the rollout ended")
        return state.report(
            self.spec.app.name,
            status,
            reason,
            failed,
            steps_total=self.steps_total if self.moves_pods else len(self.steps),
            finished_at=self.clock.now(),
            downtime=self.empties_a_side,
        )

    def _route_report(
        self,
        state: RunState,
        status: RolloutStatus,
        reason: str,
        failed: GateResult | None,
        *,
        on: bool,
    ) -> ExperimentReport:
        return ExperimentReport(
            app=self.spec.app.name,
            strategy=self.spec.strategy.kind,
            status=status,
            history=tuple(state.events),
            route_on=on,
            reason=reason,
            failed_gate=failed.gate if failed is not None else None,
            culprits=failed.culprits if failed is not None else (),
            gate_results=tuple(state.tally.results),
            notes=tuple(state.notes),
            started_at=state.started_at,
            finished_at=self.clock.now(),
        )


def build_runner(
    spec: RolloutSpec,
    *,
    load_balancers: LoadBalancers,
    metrics: Metrics,
    clock: Clock,
    dns: Dns | None = None,
    cluster: Cluster | None = None,
    journal: bool = False,
    keepalive: Callable[[], None] | None = None,
    who: str = "eksup",
    log: Log = nothing,
    http: HttpProbe | None = None,
    run_id: str = "r-local",
) -> StepLoop:
    """Wire the loop from a spec and the ports, any strategy; refuses impossible
    strategy/router pairs.

    `journal=True` (needs `cluster`) records each completed step in the app's journal (its
    ConfigMap only: the use cases add the local file) under `run_id`, and
    resumes an unfinished rollout of the same app from its last completed step (rolling and
    recreate refuse to start over a half-done rollout instead)."""
    router = router_for(spec, load_balancers=load_balancers, dns=dns, clock=clock, cluster=cluster)
    gates = gates_for(
        spec,
        metrics=metrics,
        load_balancers=load_balancers,
        clock=clock,
        cluster=cluster,
        http=http,
    )
    state = None
    if journal:
        if cluster is None:
            raise UserError("a rollout journal lives in the cluster: give a cluster")
        state = RolloutJournal(
            cluster, clock, spec.app.namespace, spec.app.name, run_id=run_id, who=who
        )
    return StepLoop(
        spec,
        router=router,
        gates=gates,
        clock=clock,
        cluster=cluster,
        journal=state,
        keepalive=keepalive,
        who=who,
        log=log,
    )


def end_route(
    spec: RolloutSpec, *, load_balancers: LoadBalancers, cluster: Cluster | None, clock: Clock
) -> str:
    """`rollout abort` for A/B and shadow: remove the route now and read it back gone."""
    router = router_for(spec, load_balancers=load_balancers, clock=clock, cluster=cluster)
    return StepLoop(spec, router=router, gates=(), clock=clock, cluster=cluster).end_route()
