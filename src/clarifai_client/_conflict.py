"""Refuse to load next to another copy of the Clarifai protos in the default descriptor pool."""

from __future__ import annotations

import sys

from google.protobuf import descriptor_pool

__all__ = ["check_no_published_protos"]

# File names under which the published clarifai-grpc package (and anything vendoring it)
# registers the same clarifai.* symbols that this package registers. All of them: importing any
# single module of clarifai_grpc (e.g. only its extensions) is enough to break ours.
_PUBLISHED_FILES = (
    "proto/clarifai/api/status/status_code.proto",
    "proto/clarifai/api/status/status.proto",
    "proto/clarifai/api/resources.proto",
    "proto/clarifai/api/service.proto",
    "proto/clarifai/api/utils/extensions.proto",
    "proto/clarifai/api/utils/matrix.proto",
    "proto/clarifai/api/utils/time.proto",
    "proto/clarifai/auth/scope/scope.proto",
    "proto/clarifai/auth/types/types.proto",
    "proto/clarifai/auth/util/extension.proto",
)


def check_no_published_protos(doing: str = "be imported") -> None:
    """Raise ImportError if clarifai-grpc's protos are already in this process's default pool.

    Run when this package is imported and again by every channel factory (our generated modules
    load lazily, so clarifai_grpc may arrive in between).
    """
    pool = descriptor_pool.Default()
    for name in _PUBLISHED_FILES:
        try:
            pool.FindFileByName(name)
        except KeyError:
            continue
        loaded = sorted(m for m in sys.modules if m == "clarifai_grpc" or m.startswith("clarifai_grpc."))
        origin = "clarifai_grpc" if loaded else "another package carrying the published Clarifai protos"
        raise ImportError(
            f"clarifai_client cannot {doing}: {origin} is already loaded in this process and "
            "registered the same protobuf symbols (clarifai.api.*) in the default descriptor pool. "
            "The two packages cannot share one process. Fix: import only one of them (replace "
            "'clarifai_grpc' with 'clarifai_client' in your imports), or run the other in a "
            "subprocess."
        )
