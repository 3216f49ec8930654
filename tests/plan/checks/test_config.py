from __future__ import annotations

from pathlib import Path

import pytest

from upgrader.core.errors import UserError
from upgrader.plan.checks.config import CONFIG_FILE, Config, load_config


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / CONFIG_FILE
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load_config(cwd=tmp_path)
    assert config == Config()
    assert config.thresholds.cluster_subnet_min_free_ips == 5
    assert config.thresholds.drain_timeout_seconds == 900


def test_an_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_config(_config(tmp_path, "\n# nothing yet\n")) == Config()


def test_thresholds_and_suppressions_load(tmp_path: Path) -> None:
    _config(
        tmp_path,
        "thresholds:\n"
        "  cluster_subnet_min_free_ips: 16\n"
        "  drain_timeout_seconds: 1800\n"
        "suppress:\n"
        "  - id: single-replica\n"
        "    objects: 'batch/*'\n"
        "    reason: nightly jobs\n"
        "  - id: bare-pods\n",
    )
    config = load_config(cwd=tmp_path)
    assert config.thresholds.cluster_subnet_min_free_ips == 16
    assert config.thresholds.drain_timeout_seconds == 1800
    assert [(s.id, s.objects) for s in config.suppress] == [
        ("single-replica", "batch/*"),
        ("bare-pods", "*"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thresholds:\n  drain_timeout: 10\n", ":2: thresholds.drain_timeout: Extra inputs"),
        (
            "thresholds:\n  drain_timeout_seconds: soon\n",
            ":2: thresholds.drain_timeout_seconds: Input should be a valid integer",
        ),
        (
            "thresholds:\n  cluster_subnet_min_free_ips: -1\n",
            ":2: thresholds.cluster_subnet_min_free_ips: Input should be greater than or equal",
        ),
        ("suppress:\n  - id: singel-replica\n", ":2: suppress.0.id: Value error, unknown check id"),
        ("suppress:\n  - objects: 'a/*'\n", ":2: suppress.0.id: Field required"),
        ("thresholds: [1, 2\n", ":2: not valid YAML"),
    ],
)
def test_a_bad_file_is_one_line_naming_file_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _config(tmp_path, text)
    with pytest.raises(UserError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert expected in message
    assert "\n" not in message


def test_an_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")


def test_config_is_frozen() -> None:
    config = Config()
    with pytest.raises(ValueError, match="frozen"):
        config.thresholds.min_replicas = 5  # type: ignore[misc]
