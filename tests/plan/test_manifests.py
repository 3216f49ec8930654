from __future__ import annotations

from pathlib import Path

import pytest

from upgrader.core.errors import UserError
from upgrader.plan.manifests import scan_manifests
from upgrader.plan.snapshot import UsageSource


def _write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_a_single_document(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "app/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n",
    )
    scan = scan_manifests(tmp_path)
    assert scan.errors == ()
    assert scan.files == 1
    (usage,) = scan.usages
    assert (usage.group_version, usage.kind, usage.source) == (
        "apps/v1",
        "Deployment",
        UsageSource.MANIFEST,
    )
    assert usage.object == "app/deploy.yaml:1 Deployment shop/web"


def test_multi_document_files_and_lists(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "all.yml",
        "---\n"
        "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: web}\n"
        "---\n"
        "# just a comment\n"
        "---\n"
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - {apiVersion: batch/v1beta1, kind: CronJob, metadata: {name: nightly}}\n"
        "  - {apiVersion: v1, kind: Service, metadata: {name: web}}\n",
    )
    _write(tmp_path, "cm.json", '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}')
    scan = scan_manifests(tmp_path)
    assert [(u.group_version, u.kind) for u in scan.usages] == [
        ("policy/v1beta1", "PodDisruptionBudget"),
        ("batch/v1beta1", "CronJob"),
        ("v1", "Service"),
        ("v1", "ConfigMap"),
    ]
    assert scan.usages[0].object == "all.yml:2 PodDisruptionBudget web"


def test_a_broken_file_is_reported_and_the_scan_goes_on(tmp_path: Path) -> None:
    _write(tmp_path, "a-broken.yaml", "apiVersion: v1\nkind: [unclosed\n")
    _write(tmp_path, "b-good.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n")
    scan = scan_manifests(tmp_path)
    assert [u.kind for u in scan.usages] == ["Service"]
    (error,) = scan.errors
    assert error.startswith("a-broken.yaml:")
    assert "not valid YAML" in error


def test_documents_before_a_broken_one_still_count(tmp_path: Path) -> None:
    _write(tmp_path, "x.yaml", "apiVersion: v1\nkind: Service\n---\nkey: [oops\n")
    scan = scan_manifests(tmp_path)
    assert [u.kind for u in scan.usages] == ["Service"]
    assert len(scan.errors) == 1


def test_helm_templates_get_a_hint(tmp_path: Path) -> None:
    _write(tmp_path, "chart/templates/d.yaml", "apiVersion: v1\nkind: {{ .Values.kind }\n")
    (error,) = scan_manifests(tmp_path).errors
    assert "helm template" in error


def test_hidden_directories_and_other_files_are_skipped(tmp_path: Path) -> None:
    _write(tmp_path, ".git/x.yaml", "apiVersion: v1\nkind: Service\n")
    _write(tmp_path, "README.md", "apiVersion: v1")
    _write(tmp_path, "notes.yaml", "just: a mapping\n")
    scan = scan_manifests(tmp_path)
    assert (scan.usages, scan.errors, scan.files) == ((), (), 1)


def test_a_single_file_can_be_given(tmp_path: Path) -> None:
    _write(tmp_path, "one.yaml", "apiVersion: v1\nkind: Service\n")
    assert scan_manifests(tmp_path / "one.yaml").usages[0].object == "one.yaml:1 Service"


def test_undecodable_files_are_reported(tmp_path: Path) -> None:
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    (error,) = scan_manifests(tmp_path).errors
    assert error.startswith("bin.yaml:1: not UTF-8 text (byte 0xff at column 1)")


def test_a_missing_directory_is_the_users_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file or directory"):
        scan_manifests(tmp_path / "nope")
