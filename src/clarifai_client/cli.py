"""The `clarifai-client` command line: `predict IMAGE` against the API or the local server."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Optional, TextIO

import grpc

from clarifai_client._version import __version__
from clarifai_client.auth import Auth
from clarifai_client.channel.clarifai_channel import ClarifaiChannel
from clarifai_client.errors import ClarifaiError, raise_for_status

__all__ = ["main"]

DEFAULT_MODEL = "general-image-recognition"
LOCAL_MODEL = "color-recognition"
MAX_IMAGE_BYTES = 20 * 1024 * 1024


class CliError(Exception):
    """A failure reported as one line on stderr with exit code 1."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clarifai-client",
        description="Call the Clarifai V2 API. Without CLARIFAI_PAT / CLARIFAI_API_KEY in the "
        "environment, commands run against a local in-process server.",
    )
    parser.add_argument("--version", action="version", version=f"clarifai-client {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="predict on one image (file path or http(s) URL)")
    predict.add_argument("image", help="an image file (JPEG, PNG, ...) or an http(s):// URL")
    predict.add_argument("--model-id", help=f"model to call (default: {DEFAULT_MODEL}; locally {LOCAL_MODEL})")
    predict.add_argument("--model-version-id", default="", help="a specific model version")
    predict.add_argument("--user-id", default="clarifai", help="owner of the model (default: clarifai)")
    predict.add_argument("--app-id", default="main", help="app of the model (default: main)")
    predict.add_argument("--local", action="store_true", help="use the local server even if credentials are set")
    predict.add_argument("--base", help="API host or host:port (default: CLARIFAI_GRPC_BASE, else api.clarifai.com)")
    predict.add_argument("--insecure", action="store_true",
                         help="plaintext gRPC to --base (e.g. a server from `python -m clarifai_client.testing`)")
    predict.add_argument("--top", type=int, default=10, help="rows to show (default: 10)")
    predict.add_argument("--timeout", type=float, default=60.0, help="deadline in seconds (default: 60)")
    predict.add_argument("--json", action="store_true", help="print machine-readable JSON")
    return parser


def _read_image(image: str) -> tuple[Optional[bytes], Optional[str]]:
    """Return (bytes, None) for a file or (None, url) for an http(s) URL, checked before any I/O."""
    if image.lower().startswith(("http://", "https://")):
        return None, image
    path = Path(image)
    if path.is_dir():
        raise CliError(f"{image} is a directory; give the path of one image file")
    if not path.is_file():
        raise CliError(f"image file not found: {image} (give a path to a JPEG/PNG file or an http(s):// URL)")
    size = path.stat().st_size
    if size == 0:
        raise CliError(f"image file is empty: {image}")
    if size > MAX_IMAGE_BYTES:
        raise CliError(f"image file is {size / 1e6:.1f} MB; the API accepts images under 20 MB")
    return path.read_bytes(), None


@contextlib.contextmanager
def _channel(local: bool, base: Optional[str], insecure: bool) -> Iterator[tuple[grpc.Channel, Auth, str]]:
    """Yield (channel, auth, where) for the real API, or for a local server started here."""
    if not local:
        auth = Auth.from_env()
        factory = ClarifaiChannel.get_insecure_grpc_channel if insecure else ClarifaiChannel.get_grpc_channel
        with factory(base, auth=auth) as channel:
            yield channel, auth, base or os.environ.get("CLARIFAI_GRPC_BASE") or "the Clarifai API"
        return
    try:
        from clarifai_client.testing import LocalV2Server
    except ImportError as err:
        raise CliError(
            f"the local server needs the 'local' extra: pip install 'clarifai-client[local]' ({err})"
        ) from err
    with LocalV2Server() as server:
        auth = Auth.from_api_key(server.api_key)
        with ClarifaiChannel.get_insecure_grpc_channel(server.address, auth=auth) as channel:
            yield channel, auth, f"the local server at {server.address}"


def _predict(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from clarifai_client.grpc.api import resources_pb2, service_pb2, service_pb2_grpc

    if args.top < 1:
        raise CliError("--top must be at least 1")
    if not 0 < args.timeout < float("inf"):
        raise CliError("--timeout must be a positive, finite number of seconds")
    if args.model_id is not None and not args.model_id.strip():
        raise CliError("--model-id is empty; leave it out for the default model")
    if args.insecure and not (args.base or os.environ.get("CLARIFAI_GRPC_BASE")):
        raise CliError("--insecure needs --base host:port (or CLARIFAI_GRPC_BASE)")
    data, url = _read_image(args.image)
    local = args.local or not Auth.env_is_set()
    if local and args.base:
        raise CliError(
            "--base needs credentials (set CLARIFAI_PAT or CLARIFAI_API_KEY); without them the "
            "command uses its own local server" + (" (--local was given)" if args.local else "")
        )
    model_id = args.model_id or (LOCAL_MODEL if local else DEFAULT_MODEL)
    if local and not args.local and not args.json:
        print(
            "note: no CLARIFAI_PAT or CLARIFAI_API_KEY set; using the local server "
            f"({LOCAL_MODEL}). Set credentials to call the Clarifai API.",
            file=err,
        )
    image = resources_pb2.Image(base64=data) if data is not None else resources_pb2.Image(url=url or "")
    with _channel(local, args.base, args.insecure) as (channel, auth, where):
        request = service_pb2.PostModelOutputsRequest(
            model_id=model_id,
            version_id=args.model_version_id,
            inputs=[resources_pb2.Input(data=resources_pb2.Data(image=image))],
        )
        if auth.is_pat and not local:
            request.user_app_id.CopyFrom(resources_pb2.UserAppIDSet(user_id=args.user_id, app_id=args.app_id))
        stub = service_pb2_grpc.V2Stub(channel)
        response = raise_for_status(stub.PostModelOutputs(request, timeout=args.timeout), "PostModelOutputs")
    rows = _rows(response)
    if args.json:
        json.dump({"model": model_id, "where": where, "req_id": response.status.req_id, "results": rows},
                  out, indent=2)
        out.write("\n")
    else:
        _print_table(rows, args.top, model_id, where, out)
    return 0


def _rows(response: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for output in response.outputs:
        for concept in output.data.concepts:
            rows.append({"kind": "concept", "name": concept.name or concept.id, "id": concept.id,
                         "value": round(concept.value, 4)})
        for color in output.data.colors:
            rows.append({"kind": "color", "hex": color.raw_hex, "w3c_name": color.w3c.name,
                         "w3c_hex": color.w3c.hex, "value": round(color.value, 4)})
        if output.data.text.raw:
            rows.append({"kind": "text", "text": output.data.text.raw})
    return rows


def _print_table(rows: list[dict[str, Any]], top: int, model_id: str, where: str, out: TextIO) -> None:
    print(f"{model_id} on {where}:", file=out)
    if not rows:
        print("  (the model returned no concepts, colors or text)", file=out)
        return
    for row in rows[:top]:
        if row["kind"] == "color":
            print(f"  {row['hex']:<9} {row['w3c_name']:<22} {row['value']:>7.1%}", file=out)
        elif row["kind"] == "concept":
            print(f"  {row['name']:<32} {row['value']:>7.1%}", file=out)
        else:
            print(f"  {row['text']}", file=out)
    if len(rows) > top:
        print(f"  ... {len(rows) - top} more (use --top)", file=out)


def main(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        return _predict(args, out, err)
    except (CliError, ClarifaiError) as error:
        print(f"error: {error}", file=err)
    except grpc.RpcError as error:
        code = error.code().name if hasattr(error, "code") and error.code() else "UNKNOWN"
        details = error.details() if hasattr(error, "details") else str(error)
        print(f"error: gRPC {code}: {details}", file=err)
    except OSError as error:
        print(f"error: {error}", file=err)
    return 1
