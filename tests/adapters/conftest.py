"""Fixtures for the adapter tests: fake AWS credentials, moto, and a recorded back-off."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.adapters.aws.retry import RetryPolicy

REGION = "us-east-1"


class SleepRecorder:
    """Stands in for time.sleep: remembers each back-off instead of waiting."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fake credentials, and no ~/.aws files, so nothing can reach a real account."""
    empty = tmp_path_factory.mktemp("aws")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def aws(aws_env: None, sleeps: SleepRecorder) -> Iterator[Boto3Aws]:
    with mock_aws():
        yield Boto3Aws(region=REGION, retry=RetryPolicy(sleep=sleeps))
