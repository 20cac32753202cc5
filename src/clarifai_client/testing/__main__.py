"""`python -m clarifai_client.testing`: serve a LocalV2Server until interrupted (Ctrl-C)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Optional

from clarifai_client.errors import ClarifaiConfigError
from clarifai_client.testing._models import COLOR_MODEL_ID, TEXT_MODEL_ID
from clarifai_client.testing._server import LocalV2Server

__all__ = ["main"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``--host`` / ``--port``, serve, print where and with which credentials; 0 on Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m clarifai_client.testing",
        description="Serve an in-memory Clarifai V2 API (plaintext gRPC) for local tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: 0, which picks a free one)")
    args = parser.parse_args(argv)
    try:
        server = LocalV2Server(host=args.host, port=args.port)
        server.start()
    except (OSError, ClarifaiConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    lines = [
        f"address: {server.address}",
        f"api_key: {server.api_key}",
        f"pat: {server.pat}",
        f"user_id: {server.user_id}",
        f"app_id: {server.app_id}",
        f"models: {COLOR_MODEL_ID}, {TEXT_MODEL_ID}",
        "Serving local test credentials (not secrets); press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop(grace=1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
