from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from upgrader.core.kube import LabelSelector, Pod, PodDisruptionBudget, PodPhase
from upgrader.drain.schedule import Candidate, PdbIndex, next_evictions, waiting_on


def pod(name: str, app: str, namespace: str = "default") -> Pod:
    return Pod(namespace=namespace, name=name, uid=name, labels={"app": app})


def pdb(name: str, app: str, allowed: int, namespace: str = "default") -> PodDisruptionBudget:
    return PodDisruptionBudget(
        namespace=namespace,
        name=name,
        selector=LabelSelector({"app": app}),
        min_available=1,
        disruptions_allowed=allowed,
    )


def test_pdb_index_matches_by_namespace_and_selector() -> None:
    index = PdbIndex([pdb("web", "web", 1), pdb("web", "web", 1, namespace="other")])
    assert index.covering(pod("a", "web")) == ("default/web",)
    assert index.covering(pod("b", "db")) == ()
    assert index.budget("other/web") == 1


def test_spends_each_budget_exactly_and_longest_startup_first() -> None:
    candidates = [
        Candidate(pod("web-1", "web"), ("default/web",), 5),
        Candidate(pod("web-2", "web"), ("default/web",), 50),
        Candidate(pod("web-3", "web"), ("default/web",), 20),
        Candidate(pod("db-0", "db"), ("default/db",), 90),
        Candidate(pod("free", "x"), (), 1),
    ]
    chosen = next_evictions(candidates, {"default/web": 2, "default/db": 0})
    assert [c.pod.name for c in chosen] == ["web-2", "web-3", "free"]


def test_pods_under_two_pdbs_are_never_chosen() -> None:
    twice = Candidate(pod("a", "web"), ("default/one", "default/two"), 1)
    assert next_evictions([twice], {"default/one": 5, "default/two": 5}) == []


def test_unbudgeted_pods_are_rate_limited() -> None:
    candidates = [Candidate(pod(f"p{i}", "x"), (), 1) for i in range(10)]
    assert len(next_evictions(candidates, {}, unbudgeted_limit=3)) == 3


def test_waiting_on_names_the_pdb_holding_each_pod() -> None:
    candidates = [Candidate(pod("db-0", "db"), ("default/db",), 1)]
    assert waiting_on(candidates, {"default/db": 0}) == {"default/db": ["default/db-0"]}
    assert waiting_on(candidates, {"default/db": 1}) == {}


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.floats(0, 300)), max_size=40),
    st.lists(st.integers(0, 3), min_size=5, max_size=5),
)
def test_never_more_evictions_for_a_pdb_than_it_allows(
    pods: list[tuple[int, float]], allowed: list[int]
) -> None:
    budgets = {f"default/pdb-{i}": n for i, n in enumerate(allowed)}
    candidates = [
        Candidate(pod(f"p{n}", f"app-{g}"), (f"default/pdb-{g}",), s)
        for n, (g, s) in enumerate(pods)
    ]
    chosen = next_evictions(candidates, budgets)
    for key, budget in budgets.items():
        assert sum(1 for c in chosen if c.pdbs == (key,)) == min(
            budget, sum(1 for c in candidates if c.pdbs == (key,))
        )


def test_a_free_eviction_spends_no_budget_and_goes_first() -> None:
    """A pod the Eviction API lets go without a budget (eviction.go Create: not Ready under
    AlwaysAllow, or currentHealthy >= desiredHealthy > 0) is chosen even at 0 allowed, and does
    not take the one disruption a healthy pod needs."""
    candidates = [
        Candidate(pod("web-1", "web"), ("default/web",), 50),
        Candidate(pod("web-sick", "web"), ("default/web",), 5, free=True),
        Candidate(pod("db-sick", "db"), ("default/db",), 5, free=True),
    ]
    chosen = next_evictions(candidates, {"default/web": 1, "default/db": 0})
    assert [c.pod.name for c in chosen] == ["db-sick", "web-sick", "web-1"]
    assert waiting_on(candidates, {"default/web": 0, "default/db": 0}) == {
        "default/web": ["default/web-1"]
    }


def test_the_index_knows_which_evictions_are_free() -> None:
    sick = Pod("default", "sick", "sick", labels={"app": "web"}, phase=PodPhase.RUNNING)
    well = Pod("default", "well", "well", labels={"app": "web"}, phase=PodPhase.RUNNING, ready=True)
    disrupted = PodDisruptionBudget(
        "default",
        "web",
        LabelSelector({"app": "web"}),
        min_available=2,
        current_healthy=1,
        desired_healthy=2,
    )
    allowing = PodDisruptionBudget(
        "default",
        "web",
        LabelSelector({"app": "web"}),
        min_available=2,
        current_healthy=2,
        desired_healthy=2,
    )
    always = PodDisruptionBudget(
        "default",
        "web",
        LabelSelector({"app": "web"}),
        min_available=2,
        unhealthy_pod_eviction_policy="AlwaysAllow",
    )
    key = ("default/web",)
    assert not PdbIndex([disrupted]).free(sick, key)
    assert PdbIndex([allowing]).free(sick, key)
    assert PdbIndex([always]).free(sick, key)
    assert not PdbIndex([always]).free(well, key)
    pending = Pod("default", "new", "new", labels={"app": "web"})  # phase Pending
    assert PdbIndex([disrupted]).free(pending, key)
