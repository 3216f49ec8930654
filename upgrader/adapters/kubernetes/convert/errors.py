"""What the API server's error messages name."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


_PDB_IN_MESSAGE = re.compile(r"disruption budget ([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)")


def pdb_names(*messages: str) -> tuple[str, ...]:
    """PDB names the Eviction API quotes ("The disruption budget web-pdb needs ..."), in order."""
    names: list[str] = []
    for message in messages:
        for name in _PDB_IN_MESSAGE.findall(message):
            if name not in names:
                names.append(name)
    return tuple(names)
