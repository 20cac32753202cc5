"""clarifai_client: a typed, tested Python client for the Clarifai V2 gRPC API."""

from clarifai_client._conflict import check_no_published_protos as _check_no_published_protos

_check_no_published_protos()

from clarifai_client._version import __version__  # noqa: E402
from clarifai_client.auth import Auth  # noqa: E402
from clarifai_client.errors import (  # noqa: E402
    ClarifaiConfigError,
    ClarifaiError,
    ClarifaiRpcError,
    ClarifaiStatusError,
    PatRequiredError,
    raise_for_status,
)

__all__ = [
    "Auth",
    "ClarifaiConfigError",
    "ClarifaiError",
    "ClarifaiRpcError",
    "ClarifaiStatusError",
    "PatRequiredError",
    "__version__",
    "raise_for_status",
]
