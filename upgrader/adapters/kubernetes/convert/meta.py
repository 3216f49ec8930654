"""Object metadata and timestamps, as every conversion reads them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubernetes.client import (
        V1ObjectMeta,
    )


def epoch(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else 0.0


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def object_meta(metadata: V1ObjectMeta | None) -> V1ObjectMeta:
    from kubernetes.client import V1ObjectMeta  # models load on first use

    return metadata if metadata is not None else V1ObjectMeta()
