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
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from upgrader.adapters.system_clock import SANDBOX_CLOCK_VARIABLE
from upgrader.errors import RefusedError, UserError

DEFAULT_DIRECTORY = Path(".eksup/sandbox")
# Where `--sandbox` looks for a served sandbox (and `sandbox up|down|status` by default).
DIRECTORY_VARIABLE = "EKSUP_SANDBOX_DIR"
STARTUP_SECONDS = 60.0


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


def _running_pid(directory: Path) -> int | None:
    try:
        pid = int(_pid_path(directory).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except OSError:
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


def up(directory: Path, rate: float) -> str:
    """Start the sandbox in the background; returns what to tell the user."""
    if (pid := _running_pid(directory)) is not None:
        raise RefusedError(
            f"a sandbox already runs (pid {pid}) in {directory}; `eksup sandbox down`"
        )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kubeconfig").unlink(missing_ok=True)
    (directory / "aws.env").unlink(missing_ok=True)
    log = (directory / "server.log").open("w")
    command = [sys.executable, "-m", "upgrader.cli", "sandbox", "serve"]
    command += ["--dir", str(directory), "--rate", str(rate)]
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    _pid_path(directory).write_text(f"{process.pid}\n")
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        url = server_url(directory)
        aws_url = aws_env(directory).get("AWS_ENDPOINT_URL")
        if url and aws_url and api_version(url) and aws_answers(aws_url):
            return _usage(directory, process.pid, url, aws_url)
        if process.poll() is not None:
            break
        time.sleep(0.2)
    with contextlib.suppress(OSError):
        process.kill()
    _pid_path(directory).unlink(missing_ok=True)
    raise UserError(f"the sandbox did not start; see {directory / 'server.log'}")


def _usage(directory: Path, pid: int, url: str, aws_url: str) -> str:
    exports = "\n".join(f"  export {k}={v}" for k, v in aws_env(directory).items())
    return (
        f"sandbox up (pid {pid}): Kubernetes API at {url}, AWS (moto) at {aws_url}\n"
        f"  export KUBECONFIG={(directory / 'kubeconfig').resolve()}\n"
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
        _pid_path(directory).unlink(missing_ok=True)
        return f"no sandbox runs in {directory}"
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
    from upgrader.sandbox.sandbox_servers import SandboxServers
    from upgrader.sandbox.world import Sandbox

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Sandbox() as world:
        build_chosen_world(world)  # EKSUP_SANDBOX_WORLD: demo (default) or mixed
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
