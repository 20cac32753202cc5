"""Named, overridable channel defaults: message limits, retries, deadlines and client identity."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from clarifai_client._version import __version__
from clarifai_client.errors import ClarifaiConfigError

__all__ = ["ChannelDefaults", "DEFAULTS"]

GIB = 1024 * 1024 * 1024
SERVICE_NAME = "clarifai.api.V2"
REQUEST_ID_PREFIX_KEY = "x-clarifai-request-id-prefix"


@dataclass(frozen=True)
class ChannelDefaults:
    """Everything a factory channel does unless the caller says otherwise.

    Pass a modified copy as ``defaults=``: ``DEFAULTS.replace(default_timeout=30)``.

    Attributes:
        max_send_message_length: largest request in bytes (1 GiB, as the published client).
        max_receive_message_length: largest response in bytes (1 GiB; large batch responses of
            predictions used to fail at 128 MiB).
        retry_max_attempts, retry_initial_backoff, retry_max_backoff, retry_backoff_multiplier,
        retry_status_codes: gRPC's transparent retry policy for service ``clarifai.api.V2``
            (5 attempts from 10 ms, doubling up to 5 s, on UNAVAILABLE only: a call that never
            reached the server is safe to repeat). gRPC never retries past a call's deadline.
        default_timeout: deadline in seconds for unary-unary calls made without ``timeout=``
            (120 s; ``None`` waits forever). Streaming calls are never given a default deadline.
        throttle_retries: how many times a unary call answered in-band with CONN_THROTTLED
            (11005) is repeated (3). A throttled request was not processed, so repeating it is
            safe; Clarifai asks clients to back off, which this does with full-jitter
            exponential backoff, never past the call's deadline. 0 turns it off.
        throttle_initial_backoff, throttle_max_backoff: the backoff range in seconds (0.5 s
            doubling up to 8 s, each wait drawn uniformly from [0, bound]).
        user_agent: sent as the primary user agent of the channel.
        request_id_prefix: sent as ``x-clarifai-request-id-prefix`` metadata on every call.
    """

    max_send_message_length: int = GIB
    max_receive_message_length: int = GIB
    retry_max_attempts: int = 5
    retry_initial_backoff: float = 0.01
    retry_max_backoff: float = 5.0
    retry_backoff_multiplier: float = 2.0
    retry_status_codes: tuple[str, ...] = ("UNAVAILABLE",)
    default_timeout: Optional[float] = 120.0
    throttle_retries: int = 3
    throttle_initial_backoff: float = 0.5
    throttle_max_backoff: float = 8.0
    user_agent: str = f"clarifai-client/{__version__}"
    request_id_prefix: str = f"clarifai-client-{__version__}"
    extra_options: tuple[tuple[str, Any], ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("max_send_message_length", "max_receive_message_length"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0 and value != -1:
                raise ClarifaiConfigError(f"{name} must be a positive number of bytes (or -1 for no limit), not {value!r}")
        if self.default_timeout is not None and not (
            isinstance(self.default_timeout, (int, float)) and self.default_timeout > 0
        ):
            raise ClarifaiConfigError(
                f"default_timeout must be a positive number of seconds or None, not {self.default_timeout!r}"
            )
        if not isinstance(self.throttle_retries, int) or self.throttle_retries < 0:
            raise ClarifaiConfigError(f"throttle_retries must be an int >= 0, not {self.throttle_retries!r}")
        if not isinstance(self.retry_max_attempts, int) or self.retry_max_attempts < 1:
            raise ClarifaiConfigError(f"retry_max_attempts must be an int >= 1, not {self.retry_max_attempts!r}")

    def replace(self, **changes: Any) -> ChannelDefaults:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def service_config(self) -> str:
        """The gRPC service config (JSON) that carries the transparent retry policy."""
        method_config: dict[str, Any] = {"name": [{"service": SERVICE_NAME}]}
        if self.retry_max_attempts > 1:
            method_config["retryPolicy"] = {
                "maxAttempts": self.retry_max_attempts,
                "initialBackoff": f"{self.retry_initial_backoff}s",
                "maxBackoff": f"{self.retry_max_backoff}s",
                "backoffMultiplier": self.retry_backoff_multiplier,
                "retryableStatusCodes": list(self.retry_status_codes),
            }
        return json.dumps({"methodConfig": [method_config]}, sort_keys=True)

    def grpc_options(self) -> list[tuple[str, Any]]:
        """The channel arguments these defaults stand for, before the caller's ``options=``."""
        return [
            ("grpc.max_send_message_length", self.max_send_message_length),
            ("grpc.max_receive_message_length", self.max_receive_message_length),
            ("grpc.service_config", self.service_config()),
            ("grpc.enable_retries", 1),
            ("grpc.primary_user_agent", self.user_agent),
            *self.extra_options,
        ]


DEFAULTS = ChannelDefaults()
