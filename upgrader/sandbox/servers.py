"""The sandbox as servers on loopback: what `eksup sandbox up` starts for real tools to use.

`SandboxServers` starts the Kubernetes API server over a FakeCluster and, optionally, moto's
server with eksup's EKS extension, and writes into `directory`:
- `kubeconfig`: context `sandbox`, server http://127.0.0.1:PORT, no credentials;
- `aws.env` (with moto): `export` lines for AWS_ENDPOINT_URL, dummy keys and the region, which
  boto3 and the AWS CLI honour.
moto's state is process-wide, so a server started beside a `Sandbox` (whose in-process mock
built the demo world) serves that same world: the EKS cluster and its node groups there are the
FakeCluster's. With `eks_cluster`, that EKS cluster's endpoint becomes the Kubernetes server's
URL, as on AWS, so eksup's check that the kubeconfig points at the cluster passes for the right
reason.
Both servers share the FakeCluster's VirtualClock; with `ticker_rate`, virtual time runs by
itself at that many virtual seconds per real second (see `kube_server`).
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from upgrader.adapters.clock import SANDBOX_CLOCK_VARIABLE
from upgrader.core import shell
from upgrader.core.kube import Pod
from upgrader.sandbox.apiserver.server import KubeServer
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster


class SandboxServers:
    def __init__(
        self,
        cluster: FakeCluster,
        clock: VirtualClock,
        directory: Path,
        *,
        ticker_rate: float | None = None,
        moto: bool = False,
        region: str = "us-east-1",
        eks_cluster: str | None = None,
        pod_json: Callable[[Pod], dict[str, Any]] | None = None,
    ) -> None:
        self.clock = clock
        self.directory = directory
        self.region = region
        self.kube = KubeServer(cluster, clock, pod_json=pod_json)
        self._ticker_rate = ticker_rate
        self._with_moto = moto
        self._eks_cluster = eks_cluster
        self._moto: Any = None
        self.aws_endpoint_url: str | None = None

    @property
    def kubeconfig_path(self) -> Path:
        return self.directory / "kubeconfig"

    @property
    def aws_env_path(self) -> Path:
        return self.directory / "aws.env"

    def aws_env(self) -> dict[str, str]:
        """The environment that points boto3 and the AWS CLI at the sandbox's moto server."""
        if self.aws_endpoint_url is None:
            return {}
        return {
            "AWS_ENDPOINT_URL": self.aws_endpoint_url,
            "AWS_ACCESS_KEY_ID": "sandbox",
            "AWS_SECRET_ACCESS_KEY": "sandbox",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            # The sandbox lives on its own virtual date: eksup reads "now" from it.
            SANDBOX_CLOCK_VARIABLE: self.kube.clock_url,
        }

    def __enter__(self) -> SandboxServers:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._with_moto:
            self._start_moto()
        self.kube.start()
        if self._with_moto and self._eks_cluster is not None:
            self._point_eks_cluster_at_kube(self._eks_cluster)
        self.kube.write_kubeconfig(self.kubeconfig_path)
        if self._with_moto:
            settings = {**self.aws_env(), "KUBECONFIG": str(self.kubeconfig_path.resolve())}
            # Quoted: the directory is the user's, and may hold spaces or `$`.
            lines = [f"export {k}={shell.quote(v)}" for k, v in settings.items()]
            # A profile left in the user's shell must not send the sandbox's calls elsewhere.
            lines.append("unset AWS_PROFILE")
            self.aws_env_path.write_text("\n".join(lines) + "\n")
        if self._ticker_rate:
            self.kube.start_ticker(self._ticker_rate)
        return self

    def _start_moto(self) -> None:
        # Imported here: moto's server pulls in flask, which nothing else needs.
        from moto.server import ThreadedMotoServer

        from upgrader.sandbox.eks import extension as moto_eks

        moto_eks.install()  # before the server's first EKS request: it builds its routes then
        # Only the EKS-optimized AMIs the sandbox registers, not moto's thousands (world.py).
        os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
        moto_eks.settings.clock = self.clock
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.aws_endpoint_url = f"http://{host}:{port}"

    def _point_eks_cluster_at_kube(self, name: str) -> None:
        from upgrader.sandbox.eks.extension import eks_backend

        cluster = eks_backend(self.region).clusters.get(name)
        if cluster is None:
            raise ValueError(f"no EKS cluster {name!r} in the sandbox's moto ({self.region})")
        cluster.endpoint = self.kube.url

    def __exit__(self, *_: object) -> None:
        self.kube.stop()
        if self._moto is not None:
            from upgrader.sandbox.eks import extension as moto_eks

            # moto's state is process-wide: leave none behind for the next sandbox.
            reset = urllib.request.Request(
                f"{self.aws_endpoint_url}/moto-api/reset", method="POST", data=b""
            )
            with urllib.request.urlopen(reset, timeout=10):
                pass
            self._moto.stop()
            self._moto = None
            moto_eks.settings.reset()
