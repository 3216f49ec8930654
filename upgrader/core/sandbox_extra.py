"""Whether this install has the sandbox: `eksup[sandbox]` adds moto and flask, plain `eksup` not.

Production installs stay small (moto pulls a web framework and mocks of every AWS service), so
the sandbox is an extra. Without it, `eksup demo`, `eksup sandbox ...` and `--sandbox` stop with
one line that says how to get it, instead of an ImportError's traceback. This module imports
nothing heavy: `upgrader.sandbox` calls it before importing moto.
"""

from __future__ import annotations

from importlib.util import find_spec

from upgrader.core.errors import UserError
from upgrader.core.exit_codes import ExitCode

# What `ThreadedMotoServer` and the embedded sandbox import; the `sandbox` extra installs both.
SANDBOX_MODULES = ("moto", "flask")
INSTALL_HINT = (
    "the sandbox is not installed: pip install 'eksup[sandbox]' "
    "(or pipx install 'eksup[sandbox]', uv tool install 'eksup[sandbox]')"
)


class SandboxNotInstalledError(UserError):
    """The command needs the `sandbox` extra, which this install lacks: exit 1, like any
    eksup error it can name (exit 2 stays for click's usage errors and blocking findings)."""

    exit_code = ExitCode.FAILED


def missing_modules() -> list[str]:
    return [name for name in SANDBOX_MODULES if _missing(name)]


def require_sandbox() -> None:
    missing = missing_modules()
    if missing:
        raise SandboxNotInstalledError(f"{INSTALL_HINT}; missing: {', '.join(missing)}")


def _missing(name: str) -> bool:
    try:
        return find_spec(name) is None
    except (ImportError, ValueError):  # a broken or half-imported package counts as missing
        return True
