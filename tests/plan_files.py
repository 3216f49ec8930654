"""Editing a plan file the way a person (or an attacker) would, for tests.

`reseal` recomputes the digest after an edit: what someone who knows eksup's format can do,
so tests of the checks behind the digest (identity, policy, fresh checks) reach them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from upgrader.execute.integrity import compute_digest
from upgrader.plan.document import Plan


def edit_plan(path: Path, change: Callable[[dict[str, Any]], None], *, reseal: bool) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    if reseal:
        document["digest"] = compute_digest(Plan.model_validate(document))
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
