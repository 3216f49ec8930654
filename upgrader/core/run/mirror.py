"""The journal's copy in the cluster: a ConfigMap that any machine can read and add to.

A run writes its journal there after every record, so `eksup status`, `--resume` and a
rollout's `status` work from another machine. Other machines write there too: `eksup approve`
adds an approval, `eksup rollout promote` and `abort` add a request for the run in progress.
Each write is therefore a merge, never a replace: read the ConfigMap and its resourceVersion,
add our records to the ones found (`records.merge_records`), and write back only if nobody
wrote in between (compare-and-swap on the resourceVersion; on a conflict, read again and
merge again). A concurrent writer's records are kept, whichever of the two wrote first.

The one replace is deliberate: the copy of another plan's journal (a new rollout, or a new
plan run on the same cluster) gives way to the new one's.

Residual race: the first two writers of a ConfigMap that does not exist yet both create it, and
the adapter turns the later create into a replace. The earlier writer's records come back with
its next write (a run writes after every record); a request is written only to a ConfigMap a
run already created.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from upgrader.core.errors import ConflictError, EksupError, NotFoundError, UserError
from upgrader.core.kube import ConfigMap
from upgrader.core.ports import Cluster
from upgrader.core.run.records import Phase, Record, merge_records, parse_records

JOURNAL_NAMESPACE = "kube-system"
JOURNAL_KEY = "journal.jsonl"
# A ConfigMap holds at most 1 MiB; past this the mirror keeps only what resuming needs.
_MIRROR_LIMIT = 900_000
# Another writer got in between this many times in a row: give up (the error says so). Two
# machines write one journal at human speed; five lost races in a row means something is wrong.
WRITE_ATTEMPTS = 5


def mirror_name(cluster: str) -> str:
    return f"eksup-journal-{cluster}"


class ConfigMapMirror:
    """Merges the journal into a ConfigMap after each record. A mirror failure is reported and
    the run goes on: the local file is the journal, the ConfigMap only a copy of it.

    `namespace`/`name` place another journal's copy (a rollout's, beside its app)."""

    def __init__(
        self,
        cluster: Cluster,
        cluster_name: str,
        on_error: Callable[[str], None],
        *,
        namespace: str = JOURNAL_NAMESPACE,
        name: str | None = None,
    ) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.name = name if name is not None else mirror_name(cluster_name)
        self.on_error = on_error
        self._failing = False
        # The resourceVersion of our last write and what it held: when the ConfigMap still has
        # that version, nobody else wrote, and its text need not be parsed again.
        self._written: tuple[str, list[Record]] | None = None

    def write(self, records: Iterable[Record], *, strict: bool = False) -> list[Record]:
        """Merge `records` into the copy; returns what the copy holds now (ours and everyone
        else's). `strict`: raise instead of reporting, for a caller with no other copy."""
        ours = list(records)
        try:
            merged = self._merge_write(ours)
        except EksupError as error:
            if strict:
                raise
            if not self._failing:  # once per outage, not once per record
                self.on_error(f"cannot mirror the journal to ConfigMap {self.name}: {error}")
            self._failing = True
            return ours
        self._failing = False
        return merged

    @property
    def failing(self) -> bool:
        """The last write did not reach the cluster."""
        return self._failing

    def read(self) -> list[Record]:
        try:
            found = self.cluster.get_config_map(self.namespace, self.name)
        except NotFoundError:
            return []
        text = found.data.get(JOURNAL_KEY)
        return parse_records(text, f"configmap {self.name}") if text is not None else []

    def _merge_write(self, ours: list[Record]) -> list[Record]:
        for _ in range(WRITE_ATTEMPTS):
            theirs, version = self._read_versioned()
            merged = merge_records(ours, theirs)
            data = {JOURNAL_KEY: _mirror_text(merged)}
            try:
                stored = self.cluster.apply_config_map(
                    ConfigMap(self.namespace, self.name, data, version)
                )
            except ConflictError:
                continue  # another writer got in between: read its records and merge again
            self._written = (stored.resource_version, merged)
            return merged
        raise ConflictError(
            f"ConfigMap {self.namespace}/{self.name} changed under each of {WRITE_ATTEMPTS} "
            "writes in a row"
        )

    def _read_versioned(self) -> tuple[list[Record], str]:
        """The copy's records and its resourceVersion ("" when it does not exist)."""
        try:
            found = self.cluster.get_config_map(self.namespace, self.name)
        except NotFoundError:
            return [], ""
        version = found.resource_version
        if self._written is not None and version and version == self._written[0]:
            return self._written[1], version
        text = found.data.get(JOURNAL_KEY)
        if text is None:
            return [], version
        try:
            return parse_records(text, f"configmap {self.name}"), version
        except UserError as error:
            # Not a journal (edited by hand): ours replaces it, and the user hears of it.
            self.on_error(f"ConfigMap {self.name} held no readable journal ({error}); replaced")
            return [], version


def _mirror_text(records: list[Record]) -> str:
    text = "".join(r.to_json() + "\n" for r in records)
    if len(text) <= _MIRROR_LIMIT:
        return text
    # Too big for a ConfigMap: keep what resuming reads (run markers, memos, step ends and
    # actions), drop the rest (starts of steps that ended).
    lines = [r.to_json() + "\n" for r in records if r.phase not in (Phase.STARTED, Phase.PROGRESS)]
    # Still too big: the newest whole records (a cut line would make the copy unreadable).
    size = sum(len(line) for line in lines)
    first = 0
    while size > _MIRROR_LIMIT:
        size -= len(lines[first])
        first += 1
    return "".join(lines[first:])
