"""The sandbox fleet served on loopback (`eksup sandbox up --fleet`): a shell that sourced its
`aws.env` and exported its `KUBECONFIG` runs `eksup fleet plan|run|status|approve|...` step by
step, on the real adapters, as against AWS.

One moto server (with eksup's EKS extension) holds both accounts and both regions; each cluster
gets its own Kubernetes API server, and its EKS endpoint is that server's URL, so eksup's check
that a kube context points at the planned cluster passes for the right reason. The kubeconfig
has one context per cluster, named after it (`context:` in `eksup fleet example`). Every server
shares the world's virtual clock; one ticker moves it at `rate` virtual seconds per real second.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from upgrader.core import shell
from upgrader.demo.fleet_world import MEMBERS, build_fleet_world
from upgrader.sandbox.apiserver.server import KubeServer
from upgrader.sandbox.daemon import FLEET_MARK, ServedSandbox
from upgrader.sandbox.servers import SandboxServers
from upgrader.sandbox.world import Sandbox
from upgrader.usecases.fleet.targets import Address
from upgrader.usecases.targets import Target


def fleet_kubeconfig(urls: dict[str, str]) -> str:
    """One context per cluster, named after it; plain HTTP, no credentials."""
    lines = ["apiVersion: v1", "kind: Config", "clusters:"]
    for name, url in urls.items():
        lines += [f"- name: {name}", "  cluster:", f"    server: {url}"]
    lines.append("contexts:")
    for name in urls:
        lines += [f"- name: {name}", "  context:", f"    cluster: {name}", f"    user: {name}"]
    lines.append(f"current-context: {next(iter(urls))}")
    lines += ["preferences: {}", "users:"]
    for name in urls:
        lines += [f"- name: {name}", "  user: {}"]
    return "\n".join(lines) + "\n"


class FleetServers:
    """Serves an entered `Sandbox` holding the sandbox fleet (`build_fleet_world`)."""

    def __init__(self, world: Sandbox, directory: Path, rate: float | None) -> None:
        self.world, self.directory = world, directory
        first = MEMBERS[0]
        self.main = SandboxServers(
            world.kube(first.name),
            world.clock,
            directory,
            ticker_rate=rate,
            moto=True,
            region=first.region,
            eks_cluster=first.name,
        )
        self.others = {m.name: KubeServer(world.kube(m.name), world.clock) for m in MEMBERS[1:]}

    def __enter__(self) -> FleetServers:
        from upgrader.sandbox.eks.extension import eks_backend

        self.main.__enter__()
        urls = {MEMBERS[0].name: self.main.kube.url}
        for member in MEMBERS[1:]:
            server = self.others[member.name].start()
            eks_backend(member.region, member.account).clusters[member.name].endpoint = server.url
            urls[member.name] = server.url
        kubeconfig = self.directory / "kubeconfig"
        kubeconfig.write_text(fleet_kubeconfig(urls))
        # fleet.yaml names each cluster's context: a shell that sourced aws.env finds them.
        with (self.directory / "aws.env").open("a") as env:
            env.write(f"export KUBECONFIG={shell.quote(str(kubeconfig.resolve()))}\n")
        # Last: `sandbox up --fleet` reports the fleet up once this file exists.
        (self.directory / FLEET_MARK).write_text(" ".join(urls) + "\n")
        return self

    def __exit__(self, *_: object) -> None:
        (self.directory / FLEET_MARK).unlink(missing_ok=True)
        for server in self.others.values():
            server.stop()
        self.main.__exit__()


def serve_fleet(directory: Path, rate: float) -> None:
    """Build the sandbox fleet and serve it until SIGTERM (`eksup sandbox serve --fleet`)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Sandbox() as world:
        build_fleet_world(world)
        with FleetServers(world, directory, rate) as servers:
            print(
                f"serving the fleet: {', '.join(m.name for m in MEMBERS)}; AWS (moto) at "
                f"{servers.main.aws_endpoint_url}",
                flush=True,
            )
            stop.wait()


def served_fleet_opener(
    served: ServedSandbox,
) -> Callable[[Address], AbstractContextManager[Target]]:
    """`--sandbox` while `sandbox up --fleet` runs: the real adapters, aimed at its servers by
    its files alone (the user's shell plays no part), each cluster by its own context."""
    from upgrader.adapters.aws.adapter import Boto3Aws
    from upgrader.adapters.aws.assume import assumed_session
    from upgrader.adapters.aws.sessions import new_session
    from upgrader.adapters.clock import ServedSandboxClock
    from upgrader.adapters.kubernetes.client import KubernetesCluster

    @contextmanager
    def open_member(cluster: Address) -> Iterator[Target]:
        base = new_session(
            aws_access_key_id="sandbox", aws_secret_access_key="sandbox", region_name=cluster.region
        )
        session = (
            assumed_session(
                cluster.role_arn, cluster.region, base=base, endpoint_url=served.aws_url
            )
            if cluster.role_arn
            else base
        )
        aws = Boto3Aws(session=session, region=cluster.region, endpoint_url=served.aws_url)
        clock = ServedSandboxClock(served.clock_url)
        kube = KubernetesCluster.from_kubeconfig(
            str(served.kubeconfig), cluster.context or cluster.name, clock=clock
        )
        yield Target(
            cluster_name=cluster.name,
            region=cluster.region,
            control_plane=aws,
            compute=aws,
            kube=kube,
            clock=clock,
            kube_context=cluster.context or cluster.name,
            kube_endpoint=kube.server,
            kube_server_dry_run=kube.server_dry_run(),
        )

    return open_member
