"""Packaging facts: version, public surface, typed marker and the published module tree."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from pathlib import Path

import clarifai_client

# The published package's own test proto (not reachable from the V2 service) is left out.
NOT_PART_OF_THE_API = {
    "clarifai_grpc.grpc.api.utils.test_proto_pb2",
    "clarifai_grpc.grpc.api.utils.test_proto_pb2_grpc",
}


def test_version_matches_packaging_metadata() -> None:
    assert clarifai_client.__version__ == importlib.metadata.version("clarifai-client")


def test_all_names_exist() -> None:
    assert clarifai_client.__all__
    for name in clarifai_client.__all__:
        assert hasattr(clarifai_client, name), name


def test_py_typed_marker_ships() -> None:
    assert (Path(clarifai_client.__file__).parent / "py.typed").is_file()


def _published_grpc_modules() -> list[str]:
    files = importlib.metadata.files("clarifai-grpc") or []
    modules = []
    for file in files:
        parts = Path(str(file)).with_suffix("").parts
        if str(file).endswith(".py") and parts[:2] == ("clarifai_grpc", "grpc") and parts[-1] != "__init__":
            modules.append(".".join(parts))
    return sorted(modules)


def test_every_published_generated_module_has_our_counterpart() -> None:
    published = _published_grpc_modules()
    assert len(published) > 20
    missing = []
    for name in published:
        if name in NOT_PART_OF_THE_API:
            continue
        ours = "clarifai_client" + name[len("clarifai_grpc"):]
        if importlib.util.find_spec(ours) is None:
            missing.append(ours)
    assert not missing


def test_generated_classes_have_importable_module_names() -> None:
    from clarifai_client.grpc.api import resources_pb2, service_pb2
    from clarifai_client.grpc.api.status import status_pb2

    for cls in (service_pb2.PostModelOutputsRequest, resources_pb2.Input, status_pb2.Status):
        module = importlib.import_module(cls.__module__)
        assert getattr(module, cls.__name__) is cls


def test_channel_module_path_matches_published() -> None:
    module = importlib.import_module("clarifai_client.channel.clarifai_channel")
    assert module.ClarifaiChannel is clarifai_client.ClarifaiChannel


def test_console_script_points_at_the_cli() -> None:
    found = importlib.metadata.entry_points()
    scripts = found.select(group="console_scripts") if hasattr(found, "select") else found["console_scripts"]
    ours = [ep for ep in scripts if ep.name == "clarifai-client"]
    assert [ep.value for ep in ours] == ["clarifai_client.__main__:main"]
    assert callable(ours[0].load())
