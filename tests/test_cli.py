"""The command line: `predict IMAGE` on the local server, JSON output, one-line errors."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from clarifai_client.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "sample.jpg"
CREDENTIAL_VARS = ("CLARIFAI_PAT", "CLARIFAI_API_KEY", "CLARIFAI_USER_ID", "CLARIFAI_APP_ID", "CLARIFAI_GRPC_BASE")


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_predict_without_credentials_uses_local_color_model() -> None:
    code, out, err = run("predict", str(SAMPLE))
    assert code == 0, err
    assert "color-recognition on the local server" in out
    lines = [line for line in out.splitlines() if line.startswith("  #")]
    assert len(lines) >= 2
    assert "SkyBlue" in out  # the sample is mostly sky
    assert "using the local server" in err


def test_predict_json_is_machine_readable() -> None:
    code, out, _ = run("predict", str(SAMPLE), "--json")
    assert code == 0
    data = json.loads(out)
    colors = [r for r in data["results"] if r["kind"] == "color"]
    assert colors and abs(sum(c["value"] for c in colors) - 1.0) < 0.02
    assert data["model"] == "color-recognition" and data["req_id"]


def test_missing_file_is_one_clear_line_and_exit_1() -> None:
    code, out, err = run("predict", "does-not-exist.jpg")
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [err.strip()]
    assert "image file not found: does-not-exist.jpg" in err


def test_invalid_image_reports_the_in_band_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"this is not an image")
    code, _, err = run("predict", str(bad))
    assert code == 1
    assert "30002" in err and "req_id=" in err


def test_with_credentials_it_calls_the_configured_api_not_the_local_server(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("CLARIFAI_API_KEY", "cli-test-key-0f9e8d")
    monkeypatch.setenv("CLARIFAI_GRPC_BASE", f"127.0.0.1:{port}")
    code, _, err = run("predict", str(SAMPLE), "--timeout", "5")
    assert code == 1
    assert f"127.0.0.1:{port}" in err and "UNAVAILABLE" in err
    assert "cli-test-key-0f9e8d" not in err


def test_module_entry_point_runs() -> None:
    env = {k: v for k, v in __import__("os").environ.items() if k not in CREDENTIAL_VARS}
    done = subprocess.run([sys.executable, "-m", "clarifai_client", "predict", str(SAMPLE)],
                          capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "#" in done.stdout and "color-recognition" in done.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--timeout", "inf"], "--timeout must be a positive, finite number"),
        (["--timeout", "nan"], "--timeout must be a positive, finite number"),
        (["--timeout", "0"], "--timeout must be a positive, finite number"),
        (["--model-id", " "], "--model-id is empty"),
        (["--insecure"], "--insecure needs --base"),
        (["--base", "127.0.0.1:1"], "--base needs credentials"),
    ],
)
def test_bad_options_are_one_line_errors(argv: list[str], message: str) -> None:
    code, out, err = run("predict", str(SAMPLE), *argv)
    assert code == 1 and out == "" and message in err


def test_directory_is_named_as_a_directory(tmp_path: Path) -> None:
    code, _, err = run("predict", str(tmp_path))
    assert code == 1 and "is a directory" in err


def test_base_and_insecure_reach_a_server_started_separately(monkeypatch: pytest.MonkeyPatch) -> None:
    from clarifai_client.testing import LocalV2Server

    with LocalV2Server() as server:
        monkeypatch.setenv("CLARIFAI_API_KEY", server.api_key)
        code, out, err = run("predict", str(SAMPLE), "--base", server.address, "--insecure",
                             "--model-id", "color-recognition")
        assert code == 0, err
        assert f"color-recognition on {server.address}" in out and "SkyBlue" in out
        assert [c.method for c in server.calls] == ["PostModelOutputs"]
