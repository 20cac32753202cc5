"""clarifai_client: a typed, tested Python client for the Clarifai V2 gRPC API."""

from clarifai_client._conflict import check_no_published_protos as _check_no_published_protos

_check_no_published_protos()

from clarifai_client._version import __version__  # noqa: E402
from clarifai_client.auth import Auth  # noqa: E402
from clarifai_client.channel.clarifai_channel import (  # noqa: E402
    ClarifaiChannel,
    InsecureCredentialsWarning,
)
from clarifai_client.defaults import DEFAULTS, ChannelDefaults  # noqa: E402
from clarifai_client.errors import (  # noqa: E402
    ClarifaiConfigError,
    ClarifaiError,
    ClarifaiRpcError,
    ClarifaiStatusError,
    PatRequiredError,
    raise_for_status,
)
from clarifai_client.streams import aiter_responses, iter_responses  # noqa: E402

__all__ = [
    "DEFAULTS",
    "Auth",
    "ChannelDefaults",
    "ClarifaiChannel",
    "ClarifaiConfigError",
    "ClarifaiError",
    "ClarifaiRpcError",
    "ClarifaiStatusError",
    "InsecureCredentialsWarning",
    "PatRequiredError",
    "__version__",
    "aiter_responses",
    "iter_responses",
    "raise_for_status",
]
