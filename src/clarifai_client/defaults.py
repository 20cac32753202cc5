"""Named, overridable channel defaults: message limits, retries, deadlines and client identity."""

from __future__ import annotations

import json
from typing import Any, Optional

import grpc

from clarifai_client._version import __version__
from clarifai_client.errors import ClarifaiConfigError

__all__ = ["DEFAULTS", "ChannelDefaults"]

GIB = 1024 * 1024 * 1024
_MAX_INT32 = 2**31 - 1
SERVICE_NAME = "clarifai.api.V2"
REQUEST_ID_PREFIX_KEY = "x-clarifai-request-id-prefix"


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

    __slots__ = (
        "default_timeout",
        "extra_options",
        "max_receive_message_length",
        "max_send_message_length",
        "request_id_prefix",
        "retry_backoff_multiplier",
        "retry_initial_backoff",
        "retry_max_attempts",
        "retry_max_backoff",
        "retry_status_codes",
        "throttle_initial_backoff",
        "throttle_max_backoff",
        "throttle_retries",
        "user_agent",
    )

    # A plain class rather than a dataclass: it is built at import time, and a frozen dataclass
    # of this size costs several milliseconds of every process's start-up (benchmarks/ (d)).
    def __init__(
        self,
        *,
        max_send_message_length: int = GIB,
        max_receive_message_length: int = GIB,
        retry_max_attempts: int = 5,
        retry_initial_backoff: float = 0.01,
        retry_max_backoff: float = 5.0,
        retry_backoff_multiplier: float = 2.0,
        retry_status_codes: tuple[str, ...] = ("UNAVAILABLE",),
        default_timeout: Optional[float] = 120.0,
        throttle_retries: int = 3,
        throttle_initial_backoff: float = 0.5,
        throttle_max_backoff: float = 8.0,
        user_agent: str = f"clarifai-client/{__version__}",
        request_id_prefix: str = f"clarifai-client-{__version__}",
        extra_options: tuple[tuple[str, Any], ...] = (),
    ) -> None:
        values = locals()
        for name in self.__slots__:
            object.__setattr__(self, name, values[name])
        self._validate()

    max_send_message_length: int
    max_receive_message_length: int
    retry_max_attempts: int
    retry_initial_backoff: float
    retry_max_backoff: float
    retry_backoff_multiplier: float
    retry_status_codes: tuple[str, ...]
    default_timeout: Optional[float]
    throttle_retries: int
    throttle_initial_backoff: float
    throttle_max_backoff: float
    user_agent: str
    request_id_prefix: str
    extra_options: tuple[tuple[str, Any], ...]

    def _as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"ChannelDefaults is immutable; use .replace({name}=...) for a changed copy")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("ChannelDefaults is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChannelDefaults):
            return NotImplemented
        return self._as_dict() == other._as_dict()

    def __hash__(self) -> int:
        return hash(tuple(self._as_dict().items()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self._as_dict().items())
        return f"ChannelDefaults({fields})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._as_dict(),))

    def _validate(self) -> None:
        for name in ("max_send_message_length", "max_receive_message_length"):
            value = getattr(self, name)
            if not _is_int(value) or (value <= 0 and value != -1) or value > _MAX_INT32:
                raise ClarifaiConfigError(
                    f"{name} must be a positive number of bytes up to {_MAX_INT32} (2 GiB - 1; gRPC's "
                    f"limit), or -1 for no limit, not {value!r}"
                )
        if self.default_timeout is not None and not (
            _is_number(self.default_timeout) and 0 < self.default_timeout < 1e9
        ):
            raise ClarifaiConfigError(
                "default_timeout must be a positive, finite number of seconds, or None for no deadline, "
                f"not {self.default_timeout!r}"
            )
        if not _is_int(self.throttle_retries) or self.throttle_retries < 0:
            raise ClarifaiConfigError(f"throttle_retries must be an int >= 0, not {self.throttle_retries!r}")
        if not _is_int(self.retry_max_attempts) or self.retry_max_attempts < 1:
            raise ClarifaiConfigError(
                f"retry_max_attempts must be an int >= 1 (1 turns retries off; gRPC caps it at 5), "
                f"not {self.retry_max_attempts!r}"
            )
        # Checked here, because gRPC only rejects a bad service config when the first call is made
        # (as INVALID_ARGUMENT "errors validating service config").
        for name in ("retry_initial_backoff", "retry_max_backoff", "retry_backoff_multiplier"):
            value = getattr(self, name)
            if not _is_number(value) or not value > 0 or value == float("inf"):
                raise ClarifaiConfigError(f"{name} must be a positive number, not {value!r}")
        for name in ("retry_initial_backoff", "retry_max_backoff"):
            if getattr(self, name) < 0.001:
                raise ClarifaiConfigError(
                    f"{name} must be at least 0.001 s (gRPC counts backoff in whole milliseconds and "
                    f"rejects 0), not {getattr(self, name)!r}"
                )
        if self.retry_initial_backoff > self.retry_max_backoff:
            raise ClarifaiConfigError(
                f"retry_initial_backoff ({self.retry_initial_backoff}) must not exceed "
                f"retry_max_backoff ({self.retry_max_backoff})"
            )
        codes = self.retry_status_codes
        if isinstance(codes, str) or not isinstance(codes, (tuple, list)) or not codes:
            raise ClarifaiConfigError(
                f"retry_status_codes must be a non-empty tuple of gRPC status names such as "
                f"('UNAVAILABLE',), not {codes!r}"
            )
        for code in codes:
            if code not in _STATUS_NAMES:
                raise ClarifaiConfigError(
                    f"retry_status_codes: {code!r} is not a gRPC status name; use names of "
                    "grpc.StatusCode other than OK, e.g. 'UNAVAILABLE'"
                )
        for name in ("throttle_initial_backoff", "throttle_max_backoff"):
            value = getattr(self, name)
            if not _is_number(value) or value < 0 or value == float("inf"):
                raise ClarifaiConfigError(f"{name} must be a number of seconds >= 0, not {value!r}")
        options = self.extra_options
        if not isinstance(options, (tuple, list)) or not all(
            isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) for item in options
        ):
            raise ClarifaiConfigError(
                "extra_options must be a tuple of (name, value) pairs, e.g. "
                "(('grpc.keepalive_time_ms', 30000),)"
            )
        for name in ("user_agent", "request_id_prefix"):
            value = getattr(self, name)
            if not isinstance(value, str) or any(not " " <= ch <= "~" for ch in value):
                raise ClarifaiConfigError(
                    f"{name} must be a str of printable ASCII on one line (it is sent as a header), "
                    f"not {value!r}"
                )

    def replace(self, **changes: Any) -> ChannelDefaults:
        """A copy with some fields changed."""
        unknown = sorted(set(changes) - set(self.__slots__))
        if unknown:
            raise ClarifaiConfigError(
                f"ChannelDefaults has no field {unknown[0]!r}; fields: {', '.join(sorted(self.__slots__))}"
            )
        return ChannelDefaults(**{**self._as_dict(), **changes})

    def service_config(self) -> str:
        """The gRPC service config (JSON) that carries the transparent retry policy."""
        method_config: dict[str, Any] = {"name": [{"service": SERVICE_NAME}]}
        if self.retry_max_attempts > 1:
            method_config["retryPolicy"] = {
                "maxAttempts": self.retry_max_attempts,
                "initialBackoff": _duration(self.retry_initial_backoff),
                "maxBackoff": _duration(self.retry_max_backoff),
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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value  # not NaN


def _duration(seconds: float) -> str:
    """A protobuf JSON duration: '0.01s', '5.0s', never '1e-05s' (which gRPC rejects)."""
    text = str(float(seconds))
    if "e" in text or "E" in text:
        text = f"{max(seconds, 1e-9):.9f}".rstrip("0").rstrip(".")
    return f"{text}s"


_STATUS_NAMES = frozenset(code.name for code in grpc.StatusCode if code is not grpc.StatusCode.OK)

def _rebuild(values: dict[str, Any]) -> ChannelDefaults:
    return ChannelDefaults(**values)


DEFAULTS = ChannelDefaults()
