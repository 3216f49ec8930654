"""Which holder of an app's lease is known dead: an expired lease, or a process gone here."""

from __future__ import annotations

from strategies.run.liveness import process_gone


def test_a_holder_on_this_machine_whose_process_is_gone_is_dead() -> None:
    here = lambda: "build-7"  # noqa: E731
    assert process_gone("ci@build-7 pid 4242", hostname=here, alive=lambda _: False)
    assert not process_gone("ci@build-7 pid 4242", hostname=here, alive=lambda _: True)


def test_a_holder_elsewhere_or_unreadable_is_never_declared_dead() -> None:
    here = lambda: "build-7"  # noqa: E731
    # Another machine's process cannot be checked from here: its lease decides.
    assert not process_gone("ci@build-8 pid 4242", hostname=here, alive=lambda _: False)
    assert not process_gone("a name we did not write", hostname=here, alive=lambda _: False)
