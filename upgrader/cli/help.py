"""Help text as kubectl and terraform users read it: a flag shows no value type.

Typer's rich help prints a type column for every option, so an on/off flag such as `--yes`
reads `--yes <bool>`, as if it took a value (it does not: `--yes true` is a usage error).
`hide_flag_types()` leaves the column empty for flags and untouched for options with a value.
It wraps one method of Typer's option class, in one place, and tolerates its absence, so a
Typer that renames it only brings the type back.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperOption

_ORIGINAL = getattr(TyperOption, "display_type_rich", None)


def _display_type_rich(self: TyperOption, ctx: Any) -> str | None:
    if self.is_flag and self.metavar is None:
        return None
    assert _ORIGINAL is not None
    result: str | None = _ORIGINAL(self, ctx)
    return result


def hide_flag_types() -> None:
    if _ORIGINAL is not None:
        TyperOption.display_type_rich = _display_type_rich  # type: ignore[method-assign]
