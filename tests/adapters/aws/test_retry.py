"""Back-off and error translation for every AWS call, driven through botocore's Stubber."""

from __future__ import annotations

import random
from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from tests.adapters.conftest import REGION, SleepRecorder
from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.adapters.aws.retry import (
    AwsConfigError,
    AwsCredentialsError,
    AwsEndpointUnreachableError,
    RetryPolicy,
)
from upgrader.core.errors import (
    AwsApiError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ServiceUnavailableError,
    ThrottledError,
)

CLUSTER = {
    "cluster": {
        "name": "prod",
        "arn": "arn:aws:eks:us-east-1:123456789012:cluster/prod",
        "version": "1.29",
        "status": "ACTIVE",
    }
}


class WidestWindow:
    """Jitter that always picks the top of the window, so back-off is deterministic."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.fixture
def stubbed(aws_env: None, sleeps: SleepRecorder) -> Iterator[tuple[Boto3Aws, Stubber]]:
    aws = Boto3Aws(region=REGION, retry=RetryPolicy(sleep=sleeps, jitter=WidestWindow()))
    with Stubber(aws.clients.eks) as stubber:
        yield aws, stubber
        stubber.assert_no_pending_responses()


def test_botocore_retries_are_off(stubbed: tuple[Boto3Aws, Stubber]) -> None:
    aws, _ = stubbed
    retries = aws.clients.eks.meta.config.retries
    assert retries is not None
    assert retries["total_max_attempts"] == 1


def test_throttling_twice_then_success(
    stubbed: tuple[Boto3Aws, Stubber], sleeps: SleepRecorder
) -> None:
    aws, stubber = stubbed
    stubber.add_client_error("describe_cluster", "ThrottlingException", http_status_code=429)
    stubber.add_client_error("describe_cluster", "TooManyRequestsException", http_status_code=429)
    stubber.add_response("describe_cluster", CLUSTER, {"name": "prod"})

    assert aws.describe_cluster("prod").version == "1.29"
    assert sleeps.sleeps == [0.5, 1.0]


def test_server_error_is_retried(stubbed: tuple[Boto3Aws, Stubber], sleeps: SleepRecorder) -> None:
    aws, stubber = stubbed
    stubber.add_client_error("describe_cluster", "ServerException", http_status_code=500)
    stubber.add_client_error("describe_cluster", "", http_status_code=503)
    stubber.add_response("describe_cluster", CLUSTER)

    assert aws.describe_cluster("prod").name == "prod"
    assert len(sleeps.sleeps) == 2


def test_throttling_exhausted(stubbed: tuple[Boto3Aws, Stubber], sleeps: SleepRecorder) -> None:
    aws, stubber = stubbed
    policy = aws.clients.retry
    for _ in range(policy.max_attempts):
        stubber.add_client_error("describe_cluster", "Throttling", http_status_code=400)

    with pytest.raises(ThrottledError) as caught:
        aws.describe_cluster("prod")

    assert "eks:DescribeCluster" in str(caught.value)
    assert caught.value.retry_after == policy.max_wait_seconds
    # Windows double from 0.5 s and stop growing at the cap; the total stays within budget.
    assert sleeps.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 20.0]
    assert sleeps.sleeps == sorted(sleeps.sleeps)
    assert max(sleeps.sleeps) <= policy.max_wait_seconds
    assert sum(sleeps.sleeps) <= policy.max_elapsed_seconds


def test_server_errors_exhausted_by_the_sleep_budget(aws_env: None, sleeps: SleepRecorder) -> None:
    # 0.5 + 1 + 2 would pass 3 s of back-off: the third failure is final.
    aws = Boto3Aws(
        region=REGION,
        retry=RetryPolicy(sleep=sleeps, jitter=WidestWindow(), max_elapsed_seconds=3.0),
    )
    with Stubber(aws.clients.eks) as stubber:
        for _ in range(3):
            stubber.add_client_error("describe_cluster", "InternalFailure", http_status_code=500)
        with pytest.raises(ServiceUnavailableError, match="on all 3 attempts"):
            aws.describe_cluster("prod")
    assert sleeps.sleeps == [0.5, 1.0]


def test_jittered_sleeps_stay_in_their_windows(aws_env: None, sleeps: SleepRecorder) -> None:
    policy = RetryPolicy(sleep=sleeps, jitter=random.Random(7))
    aws = Boto3Aws(region=REGION, retry=policy)
    with Stubber(aws.clients.eks) as stubber:
        for _ in range(policy.max_attempts):
            stubber.add_client_error("describe_cluster", "RequestLimitExceeded")
        with pytest.raises(ThrottledError):
            aws.describe_cluster("prod")

    assert len(sleeps.sleeps) == policy.max_attempts - 1
    for attempt, slept in enumerate(sleeps.sleeps, start=1):
        window = min(policy.max_wait_seconds, policy.initial_wait_seconds * 2 ** (attempt - 1))
        assert 0 <= slept <= window
    assert len(set(sleeps.sleeps)) == len(sleeps.sleeps)  # jittered, not a fixed ladder


def test_access_denied_names_the_action_and_is_not_retried(
    stubbed: tuple[Boto3Aws, Stubber], sleeps: SleepRecorder
) -> None:
    aws, stubber = stubbed
    stubber.add_client_error(
        "list_insights", "AccessDeniedException", "not authorized", http_status_code=403
    )

    with pytest.raises(PermissionDeniedError) as caught:
        aws.list_insights("prod")

    assert caught.value.action == "eks:ListInsights"
    assert "eks:ListInsights" in str(caught.value)
    assert sleeps.sleeps == []


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ResourceNotFoundException", 404, NotFoundError),
        ("ResourceInUseException", 409, ConflictError),
        ("InvalidParameterException", 400, AwsApiError),
        ("ExpiredTokenException", 403, AwsCredentialsError),
    ],
)
def test_client_errors_translate_once(
    stubbed: tuple[Boto3Aws, Stubber],
    sleeps: SleepRecorder,
    code: str,
    status: int,
    expected: type[Exception],
) -> None:
    aws, stubber = stubbed
    stubber.add_client_error("describe_cluster", code, "boom", http_status_code=status)

    with pytest.raises(expected) as caught:
        aws.describe_cluster("prod")

    assert isinstance(caught.value.__cause__, Exception)  # raised `from` the ClientError
    if isinstance(caught.value, AwsApiError):
        assert caught.value.code == code
    assert sleeps.sleeps == []


def test_missing_credentials_are_a_user_error(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, sleeps: SleepRecorder
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    aws = Boto3Aws(region=REGION, retry=RetryPolicy(sleep=sleeps))

    with pytest.raises(AwsCredentialsError, match="no usable AWS credentials") as caught:
        aws.describe_cluster("prod")

    assert "\n" not in str(caught.value)
    assert sleeps.sleeps == []


def test_unreachable_endpoint_is_named(aws_env: None, sleeps: SleepRecorder) -> None:
    # Port 9 (discard) is closed on a test machine: the connection is refused at once.
    endpoint = "http://127.0.0.1:9"
    policy = RetryPolicy(sleep=sleeps, max_attempts=3)
    aws = Boto3Aws(region=REGION, endpoint_url=endpoint, retry=policy)

    with pytest.raises(AwsEndpointUnreachableError) as caught:
        aws.describe_cluster("prod")

    assert endpoint in str(caught.value)
    assert "after 3 attempts" in str(caught.value)  # ours only: botocore did not retry inside
    assert len(sleeps.sleeps) == 2


def test_missing_region_and_profile_are_config_errors(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    with pytest.raises(AwsConfigError, match="region"):
        Boto3Aws().describe_cluster("prod")
    with pytest.raises(AwsConfigError, match="nope"):
        Boto3Aws(region=REGION, profile="nope").describe_cluster("prod")


def test_an_explicit_session_is_used(aws_env: None) -> None:
    session = boto3.Session(region_name="eu-west-1")
    aws = Boto3Aws(session=session)
    assert aws.clients.eks.meta.region_name == "eu-west-1"
    assert aws.clients.eks is aws.clients.eks  # built once
