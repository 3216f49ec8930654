"""eksup's own errors: adapters translate SDK errors into these, once, with `raise ... from e`.

Temporary errors carry the delay after which a retry makes sense; permanent ones do not. The CLI
turns a `UserError` into a one-line message and an exit code, never a traceback.
"""

from __future__ import annotations


class EksupError(Exception):
    """Base of every error eksup raises on purpose; `exit_code` is what the CLI exits with."""

    exit_code = 1


class UserError(EksupError):
    """Bad input or an impossible request: a one-line message and what to do about it."""


class RefusedError(EksupError):
    """A safety rule refused the action before anything changed."""

    exit_code = 3


class TemporaryError(EksupError):
    """Worth retrying after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(EksupError):
    """Retrying will not help."""


class NotFoundError(PermanentError):
    """The object does not exist (HTTP 404, ResourceNotFoundException)."""


class ConflictError(TemporaryError):
    """Optimistic concurrency lost, or the object already exists (HTTP 409)."""


class PermissionDeniedError(PermanentError):
    """The caller lacks a permission; `action` names it, e.g. "eks:ListInsights"."""

    def __init__(self, message: str, action: str) -> None:
        super().__init__(message)
        self.action = action


class ThrottledError(TemporaryError):
    """The API asked us to slow down (HTTP 429 from AWS, Throttling)."""


class ServiceUnavailableError(TemporaryError):
    """A 5xx or a connection failure."""


class EvictionBlockedError(TemporaryError):
    """The Eviction API refused with 429: a PodDisruptionBudget has no disruption left."""

    def __init__(self, message: str, pdbs: tuple[str, ...], retry_after: float | None) -> None:
        super().__init__(message, retry_after)
        self.pdbs = pdbs


class MultiplePdbsError(PermanentError):
    """The Eviction API refused with 500: the pod matches more than one PodDisruptionBudget."""

    def __init__(self, message: str, pdbs: tuple[str, ...]) -> None:
        super().__init__(message)
        self.pdbs = pdbs


class EvictionDeniedError(PermanentError):
    """The Eviction API refused with 403 for a reason other than the namespace: an admission
    webhook (or a policy engine) denied this pod's eviction. Retrying will not change it."""


class NamespaceTerminatingError(TemporaryError):
    """The Eviction API refused with 403: the pod's namespace is being deleted."""


class AwsApiError(PermanentError):
    """An AWS call failed for a reason eksup does not model; `code` is AWS's error code."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code
