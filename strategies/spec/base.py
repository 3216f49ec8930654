"""What every part of the rollout spec shares: frozen, strict models and the units of its fields."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Percent = Annotated[int, Field(ge=1, le=100)]
Seconds = Annotated[float, Field(ge=0)]


class Model(BaseModel):
    """Frozen (the runner derives steps from a spec, never edits it) and strict (a misspelt
    field is an error, not a silently ignored key)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
