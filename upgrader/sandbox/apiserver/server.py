"""The sandbox's Kubernetes API server: a FakeCluster served over HTTP on loopback.

The official Python client (so eksup's real `KubernetesCluster` adapter) and `kubectl` (get,
describe, cordon, uncordon, taint, drain, get pdb, get -w, rollout status) talk to it as to a
real cluster, which checks the FakeCluster against clients nobody here wrote. Plain HTTP, no
authentication; the routes live in `kube_server_api`, the JSON shapes in `kube_server_objects`,
the watches in `kube_server_watch`.

Time. The FakeCluster lives on a `VirtualClock`, which moves only when someone advances it. A
test that drives the world itself calls `advance(seconds)`. Clients that poll in real time
(`kubectl drain` retries a refused eviction every 5 s and waits for each pod to go) need time to
pass while they wait: `start_ticker(rate)` runs a thread that advances virtual time by `rate`
virtual seconds per real second (10: a 30 s grace period lasts 3 real seconds). Requests never
move the clock themselves, so what a client sees depends only on the ticker and `advance`.

Connections. HTTP/1.1 keep-alive with TCP_NODELAY: without it, Nagle's algorithm and delayed
ACKs cost about 40 ms per response (kubectl_wire.md §10). A watch holds its connection and
sends its events chunked, one JSON object per line, until its timeout, the client leaving, or
`stop`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from upgrader.core.kube import Pod
from upgrader.sandbox.apiserver.api import KubeApi
from upgrader.sandbox.apiserver.http import Request, Response
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

Json = dict[str, Any]
DEFAULT_TICK_SECONDS = 0.05  # real seconds between two ticker advances
# Where clients read the sandbox's virtual time (`ServedSandboxClock`): not a Kubernetes path.
CLOCK_PATH = "/eksup-sandbox/clock"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = dict(self.headers.items())
        request = Request.parse(self.command, self.path, headers, body)
        if request.method == "GET" and request.path == CLOCK_PATH:
            self._send(self.server.kube.clock_response())
            return
        response = self.server.kube.api.handle(request)
        self.server.kube.record(request, response)
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.code)
        self.send_header("Content-Type", response.content_type)
        if response.stream is None:
            self.send_header("Content-Length", str(len(response.body)))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if response.stream is None:
            self.wfile.write(response.body)
            return
        try:
            for chunk in response.stream:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away: the watch ends
        finally:
            close = getattr(response.stream, "close", None)
            if close is not None:
                close()

    def do_GET(self) -> None:  # http.server dispatches on these names
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: `KubeServer.requests` keeps the log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    kube: KubeServer


class KubeServer:
    """Serve `cluster` at `url` (127.0.0.1, any free port by default) until `stop`.

    Use as a context manager, or `start()`/`stop()`. `requests` lists (method, target, code) of
    every request served, for tests and for `eksup sandbox status`.
    """

    def __init__(
        self,
        cluster: FakeCluster,
        clock: VirtualClock,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        pod_json: Callable[[Pod], Json] | None = None,
    ) -> None:
        self.cluster = cluster
        self.clock = clock
        self.api = KubeApi(cluster, clock.now, **({"pod_json": pod_json} if pod_json else {}))
        self.requests: list[tuple[str, str, int]] = []
        self._log_lock = threading.Lock()
        self._server = _Server((host, port), _Handler)
        self._server.kube = self
        self._thread: threading.Thread | None = None
        self._ticker: threading.Thread | None = None
        self._ticking = threading.Event()
        self._rate = 0.0

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> KubeServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sandbox-kube-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_ticker()
        self.api.feed.close()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> KubeServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def record(self, request: Request, response: Response) -> None:
        query = "&".join(f"{k}={v}" for k, v in request.query.items())
        with self._log_lock:
            self.requests.append(
                (request.method, request.path + (f"?{query}" if query else ""), response.code)
            )

    # time -------------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move virtual time forward, firing every event due on the way."""
        self.clock.sleep(seconds)

    def start_ticker(self, rate: float, tick_seconds: float = DEFAULT_TICK_SECONDS) -> None:
        """Advance virtual time by `rate` virtual seconds per real second, in the background."""
        if rate <= 0:
            raise ValueError(f"the ticker's rate must be positive, got {rate}")
        self.stop_ticker()
        self._ticking.set()
        self._rate = rate

        def tick() -> None:
            last = time.monotonic()
            while self._ticking.is_set():
                time.sleep(tick_seconds)
                now = time.monotonic()
                # Time never moves on past a state its watchers were not sent (`sync_watched`):
                # a client's write since the last tick (an eviction and the budget it spent) is
                # recorded before the advance can undo it, and the advance's changes after it.
                self.api.feed.sync_watched()
                self.clock.sleep((now - last) * rate)
                self.api.feed.sync_watched()
                last = now

        self._ticker = threading.Thread(target=tick, name="sandbox-ticker", daemon=True)
        self._ticker.start()

    def stop_ticker(self) -> None:
        self._ticking.clear()
        self._rate = 0.0
        if self._ticker is not None:
            self._ticker.join(timeout=5)
            self._ticker = None

    @property
    def clock_url(self) -> str:
        return self.url + CLOCK_PATH

    def clock_response(self) -> Response:
        """Virtual now and how fast it runs, for clients that wait in real time."""
        body = json.dumps({"now": self.clock.now(), "rate": self._rate}).encode()
        return Response(200, body, "application/json")

    # clients ----------------------------------------------------------------------------------

    def kubeconfig(self, context: str = "sandbox") -> str:
        """A kubeconfig for this server: plain HTTP, no credentials."""
        return (
            "apiVersion: v1\n"
            "kind: Config\n"
            "clusters:\n"
            f"- name: {context}\n"
            "  cluster:\n"
            f"    server: {self.url}\n"
            "contexts:\n"
            f"- name: {context}\n"
            "  context:\n"
            f"    cluster: {context}\n"
            f"    user: {context}\n"
            f"current-context: {context}\n"
            "preferences: {}\n"
            "users:\n"
            f"- name: {context}\n"
            "  user: {}\n"
        )

    def write_kubeconfig(self, path: Path, context: str = "sandbox") -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.kubeconfig(context))
        return path
