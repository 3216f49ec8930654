"""`eksup sandbox up|status|down`: the demo cluster served on loopback by a background process.

`up` starts `eksup sandbox serve` detached, waits until both servers answer, and says how to
use them; `status` asks both; `down` stops the process. The process serves the demo cluster
twice over one state: its Kubernetes API (for kubectl and the kubernetes client) and moto with
eksup's EKS extension (for boto3 and the AWS CLI), whose cluster `demo` has the Kubernetes
server as its endpoint. The state directory (default `.eksup/sandbox`) holds the `kubeconfig`,
`aws.env` (AWS_ENDPOINT_URL, dummy keys, region), the pid and the log, so any shell can find
the running sandbox. Virtual time runs at `rate` virtual seconds per real second, so clients
that wait in real time (`kubectl drain`, `eksup execute`'s polls) see pods go, replacements
become Ready and EKS updates finish.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from upgrader.adapters.clock import SANDBOX_CLOCK_VARIABLE
from upgrader.core import shell
from upgrader.core.errors import RefusedError, UserError

DEFAULT_DIRECTORY = Path(".eksup/sandbox")
# Written last by a served fleet (`sandbox up --fleet`, upgrader.demo.served_fleet): its clusters.
FLEET_MARK = "fleet"
# Where `--sandbox` looks for a served sandbox (and `sandbox up|down|status` by default).
DIRECTORY_VARIABLE = "EKSUP_SANDBOX_DIR"
STARTUP_SECONDS = 60.0
# After both servers answer, `up` watches the process this long before saying "up": a server
# that crashes right after binding (a ticker failing) must be reported, not announced.
SETTLE_SECONDS = 1.0


def sandbox_directory() -> Path:
    return Path(os.environ.get(DIRECTORY_VARIABLE) or DEFAULT_DIRECTORY)


@dataclass(frozen=True)
class ServedSandbox:
    """A running `eksup sandbox serve`: what a client needs to reach it."""

    directory: Path
    kube_url: str
    aws_url: str
    region: str
    clock_url: str

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig"


def running_sandbox(directory: Path) -> ServedSandbox | None:
    """The sandbox served from `directory` when its process lives and its files are whole."""
    if _running_pid(directory) is None:
        return None
    settings = aws_env(directory)
    url = server_url(directory)
    if url is None or "AWS_ENDPOINT_URL" not in settings:
        return None
    return ServedSandbox(
        directory,
        url,
        settings["AWS_ENDPOINT_URL"],
        settings.get("AWS_REGION", "us-east-1"),
        settings.get(SANDBOX_CLOCK_VARIABLE, url + "/eksup-sandbox/clock"),
    )


def _pid_path(directory: Path) -> Path:
    return directory / "pid"


def _pid_file(directory: Path) -> tuple[int, str] | None:
    """(pid, token) from the pid file; None when there is none or it is not ours."""
    try:
        raw = json.loads(_pid_path(directory).read_text())
        pid, token = int(raw["pid"]), str(raw["token"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (pid, token) if pid > 0 and token else None


def _command_line(pid: int) -> str | None:
    """The process's command line, or None when it cannot be read (no such process)."""
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        pass
    try:  # no /proc (macOS): ps has the same answer
        shown = subprocess.run(
            ["ps", "-o", "args=", "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return shown.stdout.strip() or None


def _running_pid(directory: Path) -> int | None:
    """The sandbox's pid when its process provably runs: the random token `up` wrote in the pid
    file is on that process's command line. A stale pid file (the sandbox died, the pid was
    reused by an unrelated program) names a process that lacks the token, so nothing here ever
    signals or reports a stranger."""
    found = _pid_file(directory)
    if found is None:
        return None
    pid, token = found
    command = _command_line(pid)
    if command is None or f"--token {token}" not in command:
        return None
    return pid


def server_url(directory: Path) -> str | None:
    try:
        text = (directory / "kubeconfig").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if "server:" in line:
            return line.split("server:", 1)[1].strip().strip("'\"")
    return None


def aws_env(directory: Path) -> dict[str, str]:
    """The settings in `aws.env` (`export NAME=value` lines), {} when there is none."""
    try:
        text = (directory / "aws.env").read_text()
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        name, sep, value = line.removeprefix("export ").partition("=")
        if sep:
            try:  # values are shell-quoted (a path with a space); the words, unquoted
                found[name.strip()] = " ".join(shlex.split(value))
            except ValueError:
                found[name.strip()] = value.strip()
    return found


def aws_answers(url: str) -> bool:
    """Whether an HTTP server answers at `url` (moto's answers 404 to a bare GET /)."""
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def api_version(url: str) -> str | None:
    try:
        with urllib.request.urlopen(f"{url}/version", timeout=2) as response:
            return str(json.load(response).get("gitVersion", ""))
    except (urllib.error.URLError, OSError, ValueError):
        return None


def served_fleet(directory: Path) -> list[str]:
    """The clusters of the fleet served from `directory`, [] when it serves the demo cluster."""
    try:
        return (directory / FLEET_MARK).read_text().split()
    except OSError:
        return []


def up(directory: Path, rate: float, *, fleet: bool = False) -> str:
    """Start the sandbox (the demo cluster, or with `fleet` the sandbox fleet) in the
    background; returns what to tell the user."""
    if (pid := _running_pid(directory)) is not None:
        raise RefusedError(
            f"a sandbox already runs (pid {pid}) in {directory}; `eksup sandbox down`"
        )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kubeconfig").unlink(missing_ok=True)
    (directory / "aws.env").unlink(missing_ok=True)
    (directory / FLEET_MARK).unlink(missing_ok=True)
    log = (directory / "server.log").open("w")
    token = secrets.token_hex(16)
    command = [sys.executable, "-m", "upgrader.cli", "sandbox", "serve"]
    command += ["--dir", str(directory), "--rate", str(rate), "--token", token]
    command += ["--fleet"] if fleet else []
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    _pid_path(directory).write_text(json.dumps({"pid": process.pid, "token": token}) + "\n")
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        url = server_url(directory)
        aws_url = aws_env(directory).get("AWS_ENDPOINT_URL")
        ready = not fleet or bool(served_fleet(directory))
        if ready and url and aws_url and api_version(url) and aws_answers(aws_url):
            if _settled(process, url, aws_url):
                return _usage(directory, process.pid, url, aws_url)
            break
        if process.poll() is not None:
            break
        time.sleep(0.2)
    with contextlib.suppress(OSError):
        process.kill()
    _pid_path(directory).unlink(missing_ok=True)
    raise UserError(
        f"the sandbox did not start{_last_words(directory)}; see {directory / 'server.log'}"
    )


def _settled(process: subprocess.Popen[bytes], url: str, aws_url: str) -> bool:
    """The server still runs, and answers, a moment after it first answered."""
    end = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < end:
        if process.poll() is not None:
            return False
        time.sleep(0.1)
    return process.poll() is None and bool(api_version(url)) and aws_answers(aws_url)


def _last_words(directory: Path) -> str:
    """The server log's last line (its error), for the one-line failure."""
    try:
        lines = (directory / "server.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f" ({lines[-1].strip()[:200]})" if lines else ""


def _usage(directory: Path, pid: int, url: str, aws_url: str) -> str:
    settings = aws_env(directory)
    exports = "\n".join(f"  export {k}={shell.quote(v)}" for k, v in settings.items())
    if clusters := served_fleet(directory):
        return (
            f"sandbox fleet up (pid {pid}): clusters {', '.join(clusters)} (one Kubernetes API "
            f"each, a context per cluster), AWS (moto) at {aws_url}\n"
            f"{exports}\n"
            f"(or: source {(directory / 'aws.env').resolve()})\n"
            "then: eksup fleet example > fleet.yaml; eksup fleet plan fleet.yaml --out run.json; "
            "eksup fleet run run.json"
        )
    return (
        f"sandbox up (pid {pid}): Kubernetes API at {url}, AWS (moto) at {aws_url}\n"
        f"{exports}\n"
        f"(or: source {(directory / 'aws.env').resolve()})\n"
        f"then: eksup plan --cluster demo --to 1.31 --out plan.json; kubectl get nodes -w"
    )


def status(directory: Path) -> str:
    pid = _running_pid(directory)
    if pid is None:
        return f"no sandbox runs in {directory}"
    url = server_url(directory)
    answer = api_version(url) if url else None
    kube_state = f"answering (API server {answer})" if answer else "not answering"
    aws_url = aws_env(directory).get("AWS_ENDPOINT_URL")
    aws_state = "answering" if aws_url and aws_answers(aws_url) else "not answering"
    return (
        f"sandbox pid {pid}:\n"
        f"  Kubernetes API at {url}, {kube_state}\n"
        f"  AWS (moto) at {aws_url}, {aws_state}"
    )


def down(directory: Path) -> str:
    pid = _running_pid(directory)
    if pid is None:
        # Stale (or hand-written) pid file: its pid is not provably our sandbox; never signal
        # it (it may since belong to anything), only forget it.
        stale = _pid_path(directory).exists()
        _pid_path(directory).unlink(missing_ok=True)
        note = " (removed a stale pid file; no process was signalled)" if stale else ""
        return f"no sandbox runs in {directory}{note}"
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if _running_pid(directory) is None:
            break
        time.sleep(0.1)
    _pid_path(directory).unlink(missing_ok=True)
    return f"sandbox (pid {pid}) stopped"


def serve(directory: Path, rate: float) -> None:
    """Build the demo cluster and serve it until SIGTERM (what `up` runs in the background)."""
    from upgrader.sandbox.demo_world import DEMO_CLUSTER
    from upgrader.sandbox.mixed_world import build_chosen_world
    from upgrader.sandbox.rollout_world import build_rollout_world
    from upgrader.sandbox.servers import SandboxServers
    from upgrader.sandbox.world import Sandbox

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Sandbox() as world:
        build_chosen_world(world)  # EKSUP_SANDBOX_WORLD: demo (default) or mixed
        # What the example rollout specs name, so `rollout run|status --sandbox` work here.
        build_rollout_world(world)
        servers = SandboxServers(
            world.kube(DEMO_CLUSTER),
            world.clock,
            directory,
            ticker_rate=rate,
            moto=True,
            region=world.region,
            eks_cluster=DEMO_CLUSTER,
        )
        with servers:
            print(f"serving {servers.kube.url} and {servers.aws_endpoint_url}", flush=True)
            stop.wait()
