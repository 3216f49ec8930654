"""The `eksup` command line: parse, wire, call, render.

One module per command group (`plan`, `execute`, `status`, `approve`, `rollback`, `demo`,
`iam_policy`, `runbook`, `rollout`, `sandbox`, and the fleet's: `fleet` and `fleet_control`,
sharing `fleet_options`),
put together in `app`. What they share: `output` (consoles, errors, asking, writing) and
`options`. The names below are the package's surface: the entry point (`upgrader.cli:main`),
the app tests invoke, and what the fleet's commands read through `from upgrader import cli`.
"""

from __future__ import annotations

from upgrader.cli.app import app, main
from upgrader.cli.output import confirm, reported_errors, stderr, stdout, write_text

_confirm = confirm  # the fleet's commands ask through `cli._confirm`

__all__ = ["app", "confirm", "main", "reported_errors", "stderr", "stdout", "write_text"]
