"""The artifact people install is a working tool: build the sdist and the wheel, install the wheel
into a fresh venv outside the checkout, and run it from there.

The venv gets its dependencies from the lock's wheels that `make` downloaded (EKSUP_WHEELHOUSE),
with `--no-index`: the test never reaches the network, and the versions are the lock's. The venv
is a plain one (no `--system-site-packages`), so nothing of the checkout or of the test venv can
stand in for a file the wheel forgot. It is installed twice: plain `eksup` first (the sandbox
commands must say how to get the extra, in one line), then `eksup[sandbox]`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_TARGET = "1.30"  # lead: sandbox target


def _wheelhouse() -> Path:
    wheelhouse = os.environ.get("EKSUP_WHEELHOUSE", "")
    if wheelhouse and Path(wheelhouse).is_dir():
        return Path(wheelhouse)
    if os.environ.get("CI"):
        pytest.fail("EKSUP_WHEELHOUSE is not set to a folder: CI runs this test via `make test`")
    pytest.skip("needs the lock's wheels that `make` downloads: run `make test`")


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _clean_env(home: Path) -> dict[str, str]:
    # Not the user's shell: no PYTHONPATH back into the checkout, no AWS_* or KUBECONFIG.
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}


def _pip_install(venv: Path, requirement: str, wheelhouse: Path, cwd: Path) -> None:
    # uv (the lock's, in the test venv) installs into the fresh venv, which needs no pip: the
    # same wheels as pip would take, in a third of the time.
    done = _run(
        [
            str(Path(sys.executable).with_name("uv")),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            "--offline",
            "--no-index",
            "--find-links",
            str(wheelhouse),
            requirement,
        ],
        cwd,
        dict(os.environ),
    )
    assert done.returncode == 0, done.stderr


def test_the_wheel_installed_in_a_fresh_venv_plans_on_the_sandbox(tmp_path: Path) -> None:
    wheelhouse = _wheelhouse()
    dist = tmp_path / "dist"
    # Without an option, `build` makes the sdist and then the wheel from that sdist: both proven.
    # --no-isolation: the backend (hatchling) comes from the lock, not from the network.
    built = _run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)],
        tmp_path,
        dict(os.environ),
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("eksup-*.whl")
    assert len(list(dist.glob("eksup-*.tar.gz"))) == 1

    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in sorted((ROOT / "runbooks").glob("*.yaml")):
        assert f"upgrader/runbooks/{shipped.name}" in names
    # Every data file beside the code (upgrader/data, upgrader/sandbox/data, ...).
    for package in ("upgrader", "strategies"):
        for data in sorted((ROOT / package).rglob("*")):
            if data.is_file() and data.suffix not in {".py", ".pyc"}:
                assert data.relative_to(ROOT).as_posix() in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = _clean_env(outside)
    eksup = str(venv / "bin" / "eksup")

    _pip_install(venv, str(wheel), wheelhouse, outside)
    where = _run(
        [str(venv / "bin" / "python"), "-c", "import upgrader; print(upgrader.__file__)"],
        outside,
        env,
    )
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr
    assert _run([str(venv / "bin" / "python"), "-c", "import moto"], outside, env).returncode
    no_extra = _run([eksup, "plan", "--sandbox", "--to", SANDBOX_TARGET], outside, env)
    assert no_extra.returncode == 1, no_extra.stdout + no_extra.stderr
    assert no_extra.stderr.count("\n") == 1
    assert "pip install 'eksup[sandbox]'" in no_extra.stderr

    _pip_install(venv, f"{wheel}[sandbox]", wheelhouse, outside)
    version = _run([eksup, "--version"], outside, env)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("eksup ")

    runbooks = _run([eksup, "runbook", "list"], outside, env)
    assert runbooks.returncode == 0, runbooks.stderr
    for shipped in sorted((ROOT / "runbooks").glob("*.yaml")):
        assert shipped.stem in runbooks.stdout

    planned = _run(
        [eksup, "plan", "--sandbox", "--to", SANDBOX_TARGET, "--format", "json"], outside, env
    )
    assert planned.returncode == 0, planned.stdout + planned.stderr
    document = json.loads(planned.stdout)
    # The steps come from the shipped runbook: the failure this test was written for.
    assert document["runbook"] == "eks-upgrade-blue-green"
    assert document["target_version"] == SANDBOX_TARGET
    assert "control-plane" in {step["kind"] for step in document["steps"]}
