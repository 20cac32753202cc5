"""The drop-in promise: a program written for clarifai-grpc works with only the package name changed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clarifai_client.testing import LocalV2Server

ROOT = Path(__file__).resolve().parent.parent

# Usage as Clarifai's docs show it for the published package, pointed at a local server.
PUBLISHED_PROGRAM = '''
import sys
from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc
from clarifai_grpc.grpc.api.status import status_code_pb2

host, port, key, image_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
channel = ClarifaiChannel.get_insecure_grpc_channel(base=host, port=port)
stub = service_pb2_grpc.V2Stub(channel)
metadata = (("authorization", "Key " + key),)
with open(image_path, "rb") as f:
    file_bytes = f.read()
post_model_outputs_response = stub.PostModelOutputs(
    service_pb2.PostModelOutputsRequest(
        model_id="color-recognition",
        inputs=[resources_pb2.Input(data=resources_pb2.Data(image=resources_pb2.Image(base64=file_bytes)))],
    ),
    metadata=metadata,
)
if post_model_outputs_response.status.code != status_code_pb2.SUCCESS:
    raise Exception("Post model outputs failed, status: " + post_model_outputs_response.status.description)
output = post_model_outputs_response.outputs[0]
for color in output.data.colors:
    print("%s %s %.3f" % (color.raw_hex, color.w3c.name, color.value))
'''


@pytest.mark.parametrize("package", ["clarifai_grpc", "clarifai_client"])
def test_published_usage_runs_with_either_package(package: str, tmp_path: Path) -> None:
    program = tmp_path / "program.py"
    program.write_text(PUBLISHED_PROGRAM.replace("clarifai_grpc", package))
    with LocalV2Server() as server:
        done = subprocess.run(
            [sys.executable, str(program), "127.0.0.1", str(server.port), server.api_key,
             str(ROOT / "examples" / "sample.jpg")],
            capture_output=True, text=True, timeout=60,
        )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines and all(line.startswith("#") for line in lines)
    assert "SkyBlue" in done.stdout


def test_both_packages_print_the_same_result(tmp_path: Path) -> None:
    outputs = []
    with LocalV2Server() as server:
        for package in ("clarifai_grpc", "clarifai_client"):
            program = tmp_path / f"program_{package}.py"
            program.write_text(PUBLISHED_PROGRAM.replace("clarifai_grpc", package))
            done = subprocess.run(
                [sys.executable, str(program), "127.0.0.1", str(server.port), server.api_key,
                 str(ROOT / "examples" / "sample.jpg")],
                capture_output=True, text=True, timeout=60, check=True,
            )
            outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
