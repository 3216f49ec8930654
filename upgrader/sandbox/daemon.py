"""`eksup sandbox up|status|down`: the demo cluster served on loopback by a background process.

`up` starts `eksup sandbox serve` detached, waits until its kubeconfig is written and the API
answers, and says how to use it; `status` asks the server; `down` stops the process. The state
directory (default `.eksup/sandbox`) holds the kubeconfig, the pid and the server's log, so any
shell can find the running sandbox. Virtual time runs at `rate` virtual seconds per real second,
so `kubectl drain` (which waits in real time) sees pods go and replacements become Ready.
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
from pathlib import Path

from upgrader.errors import RefusedError, UserError

DEFAULT_DIRECTORY = Path(".eksup/sandbox")
STARTUP_SECONDS = 60.0


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
        if url and api_version(url):
            return (
                f"sandbox up (pid {process.pid}): Kubernetes API at {url}\n"
                f"  export KUBECONFIG={(directory / 'kubeconfig').resolve()}\n"
                f"  kubectl get nodes -w"
            )
        if process.poll() is not None:
            break
        time.sleep(0.2)
    with contextlib.suppress(OSError):
        process.kill()
    _pid_path(directory).unlink(missing_ok=True)
    raise UserError(f"the sandbox did not start; see {directory / 'server.log'}")


def status(directory: Path) -> str:
    pid = _running_pid(directory)
    url = server_url(directory)
    if pid is None:
        return f"no sandbox runs in {directory}"
    answer = api_version(url) if url else None
    state = f"answering (API server {answer})" if answer else "not answering"
    return f"sandbox pid {pid}: Kubernetes API at {url}, {state}"


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
    from upgrader.sandbox.demo_world import DEMO_CLUSTER, build_demo_world
    from upgrader.sandbox.sandbox_servers import SandboxServers
    from upgrader.sandbox.world import Sandbox

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Sandbox() as world:
        build_demo_world(world)
        servers = SandboxServers(world.kube(DEMO_CLUSTER), world.clock, directory, ticker_rate=rate)
        with servers:
            print(f"serving {servers.kube.url}", flush=True)
            stop.wait()
