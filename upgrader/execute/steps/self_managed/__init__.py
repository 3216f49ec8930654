"""Rolling a self-managed node group (an Auto Scaling group) onto the hop's AMI by surge.

The flow: a new launch template version with the hop's AMI, the group pointed at it; the
group's AZRebalance and ReplaceUnhealthy processes suspended (they would start or stop
instances behind the roll's back); the desired capacity raised by the number of old
instances, so as many new ones join; once those are Ready in the cluster, Launch suspended too
(nothing replaces what the roll takes away); the old nodes tainted, cordoned and drained within
every PodDisruptionBudget; the old instances terminated with the desired capacity decremented,
which brings the group back to its size; the processes eksup suspended resumed.

Each change is remembered in the journal before it is made: the new template version (created
once), the surge (the group is never raised twice, even if a crash comes between the call and
its record: the memo is written first and a resumed run reads the surge from it), and the
processes eksup suspended (only those: a process someone else suspended stays suspended), so a
resumed run restores them even if the crash came mid-roll. A group whose instances all run the
hop's AMI is done.

A group whose MaxSize cannot take the whole surge (desired + old instances) rolls in waves of
`room = MaxSize - desired`: per wave, the desired capacity raised by k = min(room, old left),
the k new instances awaited Ready, Launch suspended, the k oldest old nodes (their instance ids
journaled for the wave before any is touched) tainted, cordoned, drained and terminated with
decrement, Launch resumed (if eksup suspended it); the processes restored after the last wave.
Every memo is per wave (`wave-<n>`, `wave-<n>-terminating`, `wave-<n>-done`), so a resumed run
finishes the wave it crashed in and skips the finished ones. New instances of a wave that never
get Ready are terminated (only the not-Ready ones), the old nodes left alone, the processes
restored; the template goes back only if no wave had finished. A group at its MaxSize (no room
at all) is refused before any change.

The package: `roll` (the step), `waves`, and `group` (each operation on the group).
"""

from __future__ import annotations

from upgrader.execute.steps.self_managed.group import instance_id
from upgrader.execute.steps.self_managed.roll import run_self_managed

__all__ = ["instance_id", "run_self_managed"]
