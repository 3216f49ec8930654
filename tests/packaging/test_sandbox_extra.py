"""Plain `eksup` (no `sandbox` extra) plans real clusters without moto, and the sandbox commands
say in one line how to get the extra. moto and flask are hidden from a child interpreter
(`sys.modules[name] = None` makes both `import` and `find_spec` fail, as when not installed)."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import strategies
import upgrader

ROOT = Path(__file__).resolve().parents[2]
HIDE = "import sys\nfor name in ('moto', 'flask', 'werkzeug'):\n    sys.modules[name] = None\n"


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EKSUP_"))}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", HIDE + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# Demo worlds: they build on the sandbox, live in the demo layer (upgrader.demo) below the CLI,
# and are imported only by its sandbox commands; without the extra, importing them is the
# one-line hint, nothing else. (`upgrader.demo.targets` imports the sandbox lazily.)
SANDBOX_WORLDS = frozenset(
    {
        "upgrader.demo.tour",
        "upgrader.demo.canary",
        "upgrader.demo.fleet",
        "upgrader.demo.fleet_world",
        "upgrader.demo.served_fleet",
        "upgrader.demo.rollout_ports",
    }
)


def _modules_outside_the_sandbox() -> list[str]:
    names = []
    for package in (upgrader, strategies):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if module.name.endswith(".__main__"):
                continue  # `python -m` entry points run the CLI when imported
            if module.name in SANDBOX_WORLDS:
                continue
            if module.name != "upgrader.sandbox" and not module.name.startswith(
                "upgrader.sandbox."
            ):
                names.append(module.name)
    return sorted(names)


def test_nothing_outside_the_sandbox_imports_moto_when_imported() -> None:
    modules = _modules_outside_the_sandbox()
    assert "upgrader.adapters.aws.adapter" in modules  # what `eksup plan --cluster` runs on
    done = _python(
        "import importlib, json\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in "
        "('moto', 'flask', 'werkzeug') and sys.modules[n] is not None)))\n"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


@pytest.mark.parametrize("name", sorted(SANDBOX_WORLDS))
def test_a_demo_world_without_the_extra_is_the_one_line_hint(name: str) -> None:
    done = _python(
        "import importlib\n"
        "from upgrader.core.sandbox_extra import SandboxNotInstalledError\n"
        "try:\n"
        f"    importlib.import_module({name!r})\n"
        "except SandboxNotInstalledError as error:\n"
        "    print(error)\n"
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'eksup[sandbox]'" in done.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["demo"],
        ["plan", "--sandbox", "--to", "1.30"],  # lead: sandbox target
        ["sandbox", "up"],
        ["sandbox", "status"],
    ],
    ids=" ".join,
)
def test_sandbox_commands_without_the_extra_say_how_to_get_it(argv: list[str]) -> None:
    done = _python(f"from upgrader.cli import main\nmain({argv!r})\n")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("eksup: error: the sandbox is not installed: ")
    assert "pip install 'eksup[sandbox]'" in line
    assert "Traceback" not in done.stderr
