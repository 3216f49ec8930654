"""Reading API JSON's fields the way every `wire` decoder does: an absent or null field reads
as empty, as the client's models read it as None (the API server's defaults apply)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

Json = Mapping[str, Any]
EMPTY: Json = {}


def mapping(value: Json | None, key: str) -> Json:
    found = value.get(key) if value else None
    return found if isinstance(found, Mapping) else EMPTY


def items(value: Json | None, key: str) -> list[Any]:
    found = value.get(key) if value else None
    return found if isinstance(found, list) else []


def strings(value: Any) -> dict[str, str]:
    return dict(value) if isinstance(value, Mapping) else {}


def epoch(stamp: str | None) -> float:
    """RFC 3339 ("2026-01-01T00:00:00Z", fractions or not) as epoch seconds; 0 if absent."""
    return _epoch(stamp) if stamp else 0.0


@functools.lru_cache(maxsize=4096)
def _epoch(stamp: str) -> float:
    # Pods created by one rollout share their stamps to the second: parsed once each.
    return datetime.fromisoformat(stamp).timestamp()
