"""boto3 Sessions that share one botocore data loader for the whole process.

Each new botocore Session builds its own loader, and each loader parses the service models it
is asked for again: EC2's model alone is ~2.5 MB of JSON (~0.3 s). A fleet plan opens a Session
per cluster and the sandbox one per account, so sharing the loader parses each model once per
process. The loader caches parsed models only; credentials, profile and region stay per Session.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
import botocore.loaders
import botocore.session

_lock = threading.Lock()
_loader: botocore.loaders.Loader | None = None


class _SearchPaths(list[str]):
    """boto3 appends its own data folder to the loader's search paths on every Session it
    makes; with one shared loader, a path already there is not added again."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


def _shared_loader(core: botocore.session.Session) -> botocore.loaders.Loader:
    global _loader  # noqa: PLW0603  # one loader per process is the point
    with _lock:
        if _loader is None:
            # AWS_DATA_PATH (or `data_path` in the config) adds model folders, as botocore's
            # own create_loader honours it.
            data_path = str(core.get_config_variable("data_path") or "")
            extra = _SearchPaths(
                os.path.expanduser(os.path.expandvars(path))
                for path in data_path.split(os.pathsep)
                if path
            )
            _loader = botocore.loaders.Loader(extra_search_paths=extra)
        return _loader


def new_session(**arguments: Any) -> boto3.Session:
    """`boto3.Session(**arguments)` on a botocore Session that uses the shared loader."""
    core = botocore.session.Session()
    core.register_component("data_loader", _shared_loader(core))
    return boto3.Session(botocore_session=core, **arguments)
