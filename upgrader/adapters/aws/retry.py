"""One place for AWS back-off and AWS error translation.

Every boto3 call eksup makes goes through `AwsCall`: it retries what is worth retrying
(throttling, 5xx, dropped connections) with jittered exponential back-off bounded by attempts and
by total time, sleeping through an injectable function so tests and the sandbox use virtual time,
and then turns what is left into `upgrader.core.errors` types exactly once, naming the IAM action
(`eks:ListInsights`) so a permission error says what to grant.

botocore has a retry layer of its own; `botocore_config` switches it off so that back-off lives
only here: two stacked layers multiply attempts and hide the real delay from the virtual clock.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    CredentialRetrievalError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSLError,
    SSOError,
    TokenRetrievalError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from upgrader.core.errors import (
    AwsApiError,
    ConflictError,
    EksupError,
    NotFoundError,
    PermissionDeniedError,
    ServiceUnavailableError,
    ThrottledError,
    UserError,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "EC2ThrottledException",
        "BandwidthLimitExceeded",
        # Route 53: a change to the same zone is still being applied; it clears like throttling.
        "PriorRequestNotComplete",
    }
)
# Codes AWS sends with a 5xx, and a few sent with 400 that still mean "try again".
TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServerException",
        "ServiceException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "NotFoundException",
        "NoSuchEntity",
        "ParameterNotFound",
        "ParameterVersionNotFound",
        "NoSuchHostedZone",
        "NoSuchChange",
        "ListenerNotFound",
        "RuleNotFound",
        "TargetGroupNotFound",
        "LoadBalancerNotFound",
        "ResourceNotFound",
    }
)
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "Client.UnauthorizedOperation",
        "UnauthorizedException",
    }
)
CONFLICT_CODES = frozenset(
    {
        "ResourceInUseException",
        "ResourceInUse",
        "ScalingActivityInProgress",
        "ConcurrentModification",
        "ConflictException",
    }
)
# The caller's identity itself is unusable: no retry or permission grant helps, a new login does.
CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "RequestExpired",
    }
)


class AwsCredentialsError(UserError):
    """No usable AWS credentials: none found, partial, expired, or rejected by AWS."""


class AwsConfigError(UserError):
    """The AWS setup is incomplete: no region, or a profile that does not exist."""


class AwsEndpointUnreachableError(ServiceUnavailableError):
    """The AWS endpoint could not be reached at all (DNS, network, proxy, wrong endpoint_url)."""


def botocore_config(connect_timeout: float = 10.0, read_timeout: float = 60.0) -> Config:
    """Client settings for every eksup boto3 client.

    `total_max_attempts=1` turns botocore's retries off: `AwsCall` is the only retry layer.
    Timeouts are explicit so an unreachable endpoint fails within one connect timeout per
    attempt instead of botocore's 60 s default.
    """
    return Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        user_agent_extra="eksup",
    )


class Jitter(Protocol):
    """Where the random part of a back-off comes from; `random.Random` is one."""

    def uniform(self, a: float, b: float) -> float: ...


@dataclass(frozen=True)
class RetryPolicy:
    """How long eksup keeps trying one AWS request.

    Full-jitter exponential back-off: the n-th wait is uniform in
    [0, min(max_wait_seconds, initial_wait_seconds * 2**(n-1))].
    """

    # 8 attempts with a 20 s cap sleep ~40 s on average: enough to ride out an EKS
    # control-plane throttle burst, short enough that a stuck run says so within a minute or two.
    max_attempts: int = 8
    # Seconds of back-off sleep allowed per request, and of wall time since the first attempt.
    max_elapsed_seconds: float = 90.0
    # Seconds: the first window; AWS's own SDKs start near 0.5-1 s.
    initial_wait_seconds: float = 0.5
    # Seconds: the widest window; longer single waits make progress reports look hung.
    max_wait_seconds: float = 20.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Jitter = field(default_factory=random.Random)


class _FullJitter(wait_random_exponential):
    """tenacity's full-jitter wait, drawing from the policy's `jitter` so tests can pin it."""

    def __init__(self, policy: RetryPolicy) -> None:
        super().__init__(multiplier=policy.initial_wait_seconds, max=policy.max_wait_seconds)
        self._jitter = policy.jitter

    def __call__(self, retry_state: RetryCallState) -> float:
        window = wait_exponential.__call__(self, retry_state)
        return self._jitter.uniform(self.min, window)


class _SleepBudgetSpent(stop_base):
    """Stop before a sleep would take total back-off past the budget.

    `stop_after_delay` measures wall time, which does not move when the sleep is virtual; this
    bound counts the sleeps themselves, so the limit holds under both clocks.
    """

    def __init__(self, budget: float) -> None:
        self._budget = budget

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.idle_for + retry_state.upcoming_sleep > self._budget


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _http_status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_transient(error: BaseException) -> bool:
    """Worth another attempt: throttling, a server-side failure or a dropped connection."""
    if isinstance(error, ClientError):
        code = error_code(error)
        return code in THROTTLING_CODES or code in TRANSIENT_CODES or _http_status(error) >= 500
    if isinstance(error, SSLError):
        return False  # a certificate problem does not fix itself
    return isinstance(error, BotoConnectionError | ReadTimeoutError | ConnectionClosedError)


def translate_client_error(
    error: ClientError, iam_prefix: str, attempts: int = 1, retry_after: float | None = None
) -> EksupError:
    """The `upgrader.core.errors` value for a ClientError that retries did not (or could not)
    fix."""
    code = error_code(error)
    message = str(error.response.get("Error", {}).get("Message", "")) or code
    action = f"{iam_prefix}:{error.operation_name}"
    if code in THROTTLING_CODES:
        return ThrottledError(
            f"AWS throttled {action} on all {attempts} attempts: {message}", retry_after
        )
    if code in TRANSIENT_CODES or _http_status(error) >= 500:
        return ServiceUnavailableError(
            f"AWS failed {action} ({code or _http_status(error)}) on all {attempts} attempts: "
            f"{message}",
            retry_after,
        )
    if code in CREDENTIAL_CODES:
        return AwsCredentialsError(
            f"AWS rejected the credentials ({code}): {message}. Refresh them (for example "
            "`aws sso login`) or choose another profile with --profile / AWS_PROFILE."
        )
    if code in ACCESS_DENIED_CODES:
        return PermissionDeniedError(f"not allowed to call {action}: {message}", action=action)
    if (
        code in NOT_FOUND_CODES
        or code.endswith((".NotFound", "NotFoundException", "NotFound"))
        # Auto Scaling reports a missing group as a ValidationError.
        or (code == "ValidationError" and "not found" in message.lower())
    ):
        return NotFoundError(f"{action}: {message}")
    if code in CONFLICT_CODES:
        return ConflictError(f"{action}: {message}")
    return AwsApiError(f"{action} failed ({code}): {message}", code=code)


def translate_botocore_error(error: BotoCoreError, attempts: int = 1) -> EksupError:
    """The `upgrader.core.errors` value for a client-side botocore failure."""
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return AwsCredentialsError(
            f"no usable AWS credentials ({error}). Set AWS_PROFILE or pass --profile, "
            "run `aws sso login` / `aws configure`, or export AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY."
        )
    if isinstance(error, CredentialRetrievalError | TokenRetrievalError | SSOError):
        return AwsCredentialsError(
            f"could not load AWS credentials: {error}. If you use SSO, run `aws sso login`."
        )
    if isinstance(error, NoRegionError):
        return AwsConfigError("no AWS region: pass --region or set AWS_REGION.")
    if isinstance(error, ProfileNotFound):
        return AwsConfigError(f"{error}: check --profile / AWS_PROFILE and ~/.aws/config.")
    if isinstance(error, SSLError):
        return ServiceUnavailableError(f"TLS to the AWS endpoint failed: {error}")
    if isinstance(error, BotoConnectionError | ReadTimeoutError | ConnectionClosedError):
        endpoint = getattr(error, "kwargs", {}).get("endpoint_url", "the AWS endpoint")
        return AwsEndpointUnreachableError(
            f"cannot reach {endpoint} after {attempts} attempts ({type(error).__name__}); "
            "check the network, proxy settings and the region or endpoint URL."
        )
    return AwsApiError(f"AWS client error: {error}", code=type(error).__name__)


class AwsCall:
    """Runs one logical AWS request (one call, or one whole paginated listing) with retries.

    A listing is retried as a unit: listings are idempotent reads and restarting one is simpler
    and safer than resuming from a page token that may have expired.
    """

    def __init__(self, iam_prefix: str, policy: RetryPolicy) -> None:
        self.iam_prefix = iam_prefix
        self.policy = policy

    def __call__(self, request: Callable[[], T]) -> T:
        policy = self.policy
        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            wait=_FullJitter(policy),
            stop=(
                stop_after_attempt(policy.max_attempts)
                | stop_after_delay(policy.max_elapsed_seconds)
                | _SleepBudgetSpent(policy.max_elapsed_seconds)
            ),
            sleep=policy.sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(request)
        except ClientError as e:
            attempts = int(retrying.statistics.get("attempt_number", 1))
            raise translate_client_error(
                e, self.iam_prefix, attempts, retry_after=policy.max_wait_seconds
            ) from e
        except BotoCoreError as e:
            attempts = int(retrying.statistics.get("attempt_number", 1))
            raise translate_botocore_error(e, attempts) from e

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        log.debug(
            "%s: attempt %d failed (%s); retrying in %.2fs",
            self.iam_prefix,
            state.attempt_number,
            error,
            state.upcoming_sleep,
        )
