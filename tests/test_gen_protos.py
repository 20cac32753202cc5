"""scripts/gen_protos.py: pinned tools, whole-tree replacement, and a --check that fails both ways."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the generator's inputs and outputs, safe to damage."""
    work = tmp_path_factory.mktemp("gen")
    shutil.copytree(ROOT / "proto", work / "proto")
    shutil.copytree(ROOT / "scripts", work / "scripts")
    shutil.copytree(ROOT / "src" / "clarifai_client" / "grpc", work / "src" / "clarifai_client" / "grpc",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return work


def gen(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "scripts/gen_protos.py", *args], cwd=work,
                          capture_output=True, text=True, timeout=120)


def test_committed_tree_is_fresh(workspace: Path) -> None:
    done = gen(workspace, "--check")
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout


def test_check_fails_with_a_diff_when_a_proto_changes(workspace: Path) -> None:
    status = workspace / "proto" / "clarifai" / "api" / "status" / "status.proto"
    original = status.read_text()
    status.write_text(original.replace("string req_id = 7;", "string req_id = 7;\n  string extra_note = 99;"))
    try:
        done = gen(workspace, "--check")
        assert done.returncode == 1
        assert "stale" in done.stderr and "extra_note" in done.stderr
    finally:
        status.write_text(original)


def test_check_reports_orphans_and_regeneration_removes_them(workspace: Path) -> None:
    orphan = workspace / "src" / "clarifai_client" / "grpc" / "api" / "old_pb2.py"
    orphan.write_text("# left behind by an older generator\n")
    done = gen(workspace, "--check")
    assert done.returncode == 1 and "orphan" in done.stderr and "old_pb2.py" in done.stderr
    assert gen(workspace).returncode == 0
    assert not orphan.exists()
    assert gen(workspace, "--check").returncode == 0


def test_generated_tree_records_generator_versions() -> None:
    header = (ROOT / "src" / "clarifai_client" / "grpc" / "__init__.py").read_text()
    assert "grpcio-tools 1.72.1" in header and "mypy-protobuf 5.1.0" in header


def test_generated_imports_point_into_our_package() -> None:
    tree = ROOT / "src" / "clarifai_client" / "grpc"
    offenders = []
    for path in tree.rglob("*.py*"):
        if path.suffix not in (".py", ".pyi"):
            continue
        for line in path.read_text().splitlines():
            stripped = line.strip()
            module_name_string = "'clarifai.api." in stripped and "_pb2'" in stripped
            if stripped.startswith(("from clarifai.", "import clarifai.")) or module_name_string:
                offenders.append(f"{path.name}: {stripped[:80]}")
    assert not offenders
