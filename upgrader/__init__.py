"""eksup: plan and execute Amazon EKS upgrades and application rollouts, safely."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("eksup")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
