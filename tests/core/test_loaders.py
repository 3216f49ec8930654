"""Every loader ends, in one line, whatever the bytes (issue 12, item 5).

Each loader is fed random and adversarial bytes; it must either load or raise `UserError`
(one line naming the file), never anything else, and must leave the file as it was. A hang is
turned into a failure by `_no_hang` (an alarm far above any honest run of these tests: it
guards against a hang, it does not time anything).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from strategies.spec import load_spec
from upgrader.cli import app
from upgrader.core import loaders
from upgrader.core.errors import UserError
from upgrader.core.run.journal import load_records, parse_records
from upgrader.plan.checks.config import load_config
from upgrader.plan.document import load_plan
from upgrader.plan.manifests import scan_manifests
from upgrader.plan.runbooks import load_runbook_file

# 9 levels of 9 aliases: ~390 bytes, 9**9 (387 million) strings once expanded.
ALIAS_BOMB = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)
)
RECURSIVE_ALIAS = "steps: &s [*s]\n"
DEEP_YAML_LIST = "[" * 20_000 + "]" * 20_000 + "\n"
DEEP_JSON = "[" * 100_000 + "]" * 100_000
NOT_UTF8 = b'{"v": 1, "run": "r", "seq": 1, "at": 0, "phase": "started", "detail": "caf\xe9"}\n'


class _HungError(Exception):
    pass


@contextmanager
def _no_hang(seconds: int = 120) -> Iterator[None]:
    def _raise(signum: int, frame: FrameType | None) -> None:
        raise _HungError(f"still loading after {seconds} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _load_journal(path: Path) -> object:
    return load_records(path, None)


def _load_manifests(path: Path) -> object:
    return scan_manifests(path)  # reports bad files in `errors`; raises for nothing else


def _load_runbook(path: Path) -> object:
    return load_runbook_file(path)


LOADERS: dict[str, tuple[str, Callable[[Path], object]]] = {
    "plan": ("plan.json", load_plan),
    "journal": ("plan.journal.jsonl", _load_journal),
    "config": (".eksup.yaml", load_config),
    "spec": ("canary.yaml", load_spec),
    "runbook": ("eks-upgrade.yaml", _load_runbook),
    "manifests": ("deploy.yaml", _load_manifests),
}


def _feed(directory: Path, loader: str, content: bytes) -> str | None:
    """Load `content` with `loader`: None when it loaded, else the one-line error. The file and
    its directory must be unchanged afterwards."""
    name, load = LOADERS[loader]
    path = directory / name
    path.write_bytes(content)
    before = sorted(p.name for p in directory.iterdir())
    message: str | None = None
    with _no_hang():
        try:
            result: Any = load(path)
        except UserError as error:
            message = str(error)
        else:
            if loader == "manifests" and result.errors:
                message = result.errors[0]
    assert path.read_bytes() == content
    assert sorted(p.name for p in directory.iterdir()) == before
    if message is not None:
        assert "\n" not in message
        assert name in message
    return message


ADVERSARIAL: list[tuple[str, bytes, str]] = [
    ("config", ALIAS_BOMB.encode(), "aliases (*a0) are not allowed"),
    ("spec", ALIAS_BOMB.encode(), "aliases (*a0) are not allowed"),
    ("runbook", ALIAS_BOMB.encode(), "aliases (*a0) are not allowed"),
    ("manifests", ALIAS_BOMB.encode(), "an alias bomb"),
    ("config", RECURSIVE_ALIAS.encode(), "aliases (*s) are not allowed"),
    ("spec", RECURSIVE_ALIAS.encode(), "aliases (*s) are not allowed"),
    ("manifests", RECURSIVE_ALIAS.encode(), ":1: not valid YAML: recursive alias *s"),
    ("manifests", DEEP_YAML_LIST.encode(), ":1: not valid YAML: nested deeper than 100 levels"),
    ("spec", DEEP_YAML_LIST.encode(), ":1: not valid YAML: nested deeper than 32 levels"),
    ("config", DEEP_YAML_LIST.encode(), ":1: not valid YAML: nested deeper than 32 levels"),
    ("plan", DEEP_JSON.encode(), ":1: nested deeper than 64 levels"),
    ("journal", (DEEP_JSON + "\n{}\n").encode(), ":1: not a journal record (nested too deeply)"),
    ("journal", NOT_UTF8 + NOT_UTF8, ":1: not UTF-8 text (byte 0xe9 at column 75)"),
    ("plan", b'{"schema_version": 1, "cluster": "caf\xe9"}', ":1: not UTF-8 text (byte 0xe9"),
    ("config", b"thresholds:\n  min_replicas: \xff\n", ":2: not UTF-8 text (byte 0xff"),
    ("spec", b"\xfe\xff", ":1: not UTF-8 text"),
    ("manifests", b"kind: \x80", ":1: not UTF-8 text (byte 0x80 at column 7)"),
    ("runbook", b"id: x\n\xc3", ":2: not UTF-8 text"),
]


@pytest.mark.parametrize(("loader", "content", "expected"), ADVERSARIAL)
def test_adversarial_files_are_one_line_each(
    tmp_path: Path, loader: str, content: bytes, expected: str
) -> None:
    message = _feed(tmp_path, loader, content)
    assert message is not None
    assert expected in message


def test_a_journal_line_with_a_wrong_type_is_one_line(tmp_path: Path) -> None:
    bad = b'{"v": 1, "run": "r", "seq": 1e999, "at": 0, "phase": "started"}\n'
    message = _feed(tmp_path, "journal", bad + bad)
    assert message is not None
    assert ":1: not a journal record" in message
    step = b'{"v": 1, "run": "r", "seq": 1, "at": 0, "phase": "started", "step": [1]}\n'
    message = _feed(tmp_path, "journal", step + step)
    assert message is not None
    assert "step is not a string" in message


def test_a_journal_mirror_nested_too_deep_is_one_line() -> None:
    text = DEEP_JSON + "\n" + DEEP_JSON + "\n"
    with pytest.raises(UserError, match=r"configmap x:1: not a journal record"):
        parse_records(text, "configmap x")


def test_oversized_files_are_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / ".eksup.yaml"
    big.write_bytes(b"#" * (loaders.CONFIG.max_bytes + 1))
    with pytest.raises(UserError, match=r"larger than 1 MiB"):
        load_config(big)


def test_manifests_may_use_plain_anchors(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: apps/v1, kind: Deployment, metadata: &m {name: web}}\n"
        "- {apiVersion: v1, kind: Service, metadata: *m}\n"
    )
    scan = scan_manifests(tmp_path)
    assert scan.errors == ()
    assert [u.object for u in scan.usages] == ["a.yaml:1 Deployment web", "a.yaml:1 Service web"]


_YAMLISH = st.text(alphabet="&*ab[]{}:,- \n\"'!|>#%@`\\\t0\u00e9", max_size=300)
_JSONISH = st.text(alphabet='{}[]":,0123456789.eE+-truefalsn \n\\v', max_size=300)


@settings(
    max_examples=100,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    deadline=None,  # the alarm in _feed is the hang guard; speed is `make bench`'s business
)
@given(
    loader=st.sampled_from(sorted(LOADERS)),
    content=st.one_of(
        st.binary(max_size=400),
        _YAMLISH.map(str.encode),
        _JSONISH.map(str.encode),
        st.sampled_from([c for _, c, _ in ADVERSARIAL]).flatmap(
            lambda c: st.binary(max_size=20).map(lambda extra: c[: len(c) // 2] + extra)
        ),
    ),
)
def test_random_bytes_load_or_fail_in_one_line(
    tmp_path_factory: pytest.TempPathFactory, loader: str, content: bytes
) -> None:
    _feed(tmp_path_factory.mktemp(loader), loader, content)


# --- the same through the CLI --------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str]:
    with _no_hang():
        result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.stderr


def test_plan_with_an_alias_bomb_config_in_cwd_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".eksup.yaml").write_text(ALIAS_BOMB)
    monkeypatch.chdir(tmp_path)
    code, stderr = _cli("plan", "--sandbox", "--to", "1.31", "--out", "plan.json")
    assert code == 1
    assert stderr.strip().count("\n") == 0
    assert ".eksup.yaml:2: not valid YAML: aliases (*a0) are not allowed here" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [".eksup.yaml"]


@pytest.mark.parametrize("content", [ALIAS_BOMB, RECURSIVE_ALIAS, DEEP_YAML_LIST])
def test_rollout_plan_with_a_hostile_spec_is_one_line(tmp_path: Path, content: str) -> None:
    spec = tmp_path / "canary.yaml"
    spec.write_text(content)
    code, stderr = _cli("rollout", "plan", str(spec))
    assert code == 1
    assert stderr.strip().count("\n") == 0
    assert "canary.yaml:1" in stderr or "canary.yaml:2" in stderr
    assert "not valid YAML" in stderr


def test_execute_with_a_deep_plan_is_one_line(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(DEEP_JSON)
    code, stderr = _cli("execute", str(plan), "--dry-run")
    assert code == 1
    assert "plan.json:1: nested deeper than 64 levels" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]


@pytest.mark.parametrize("loader", ["config", "spec", "manifests", "runbook"])
def test_a_bad_timestamp_is_one_line(tmp_path: Path, loader: str) -> None:
    message = _feed(tmp_path, loader, b"kind: 2024-13-45\n")
    assert message is not None
    assert "not valid YAML: month must be in 1..12" in message
