"""`Dns` in a dry run: Route 53 reads pass through, weight changes recorded and overlaid."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace

from upgrader.core.aws import WeightedRecord
from upgrader.core.ports import Dns
from upgrader.core.run.dry_run import DRY_RUN_UPDATE_PREFIX, Recorder


class DryRunDns:
    """`Dns`: reads through; an UPSERT is recorded, its weights read back, its change INSYNC."""

    def __init__(self, inner: Dns, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder
        self._weights: dict[tuple[str, str, str, str], int] = {}  # zone, name, type, set id
        self._ids = itertools.count(1)

    def weighted_records(self, zone_id: str, name: str, record_type: str) -> list[WeightedRecord]:
        return [
            replace(r, weight=self._weights.get(_key(zone_id, r), r.weight))
            for r in self.inner.weighted_records(zone_id, name, record_type)
        ]

    def upsert_weighted_records(self, zone_id: str, records: Sequence[WeightedRecord]) -> str:
        self.recorder.record(
            "route53",
            "ChangeResourceRecordSets",
            zone=zone_id,
            upsert=",".join(f"{r.name}/{r.type}/{r.set_identifier}={r.weight}" for r in records),
        )
        for r in records:
            self._weights[_key(zone_id, r)] = r.weight
        return f"{DRY_RUN_UPDATE_PREFIX}{next(self._ids)}"

    def change_status(self, change_id: str) -> str:
        if change_id.startswith(DRY_RUN_UPDATE_PREFIX):
            return "INSYNC"
        return self.inner.change_status(change_id)


def _key(zone_id: str, record: WeightedRecord) -> tuple[str, str, str, str]:
    # Route 53 answers names fully qualified ("web.example.com."), as written or not.
    return (zone_id, record.name.rstrip(".").lower(), record.type, record.set_identifier)
