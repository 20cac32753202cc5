"""What a factory channel adds to each call: metadata, deadline, local checks, retries, hints.

Shared by the sync and asyncio channel wrappers; pure logic, no I/O.
"""

from __future__ import annotations

import logging
import random
import re
import warnings
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, Optional

import grpc

from clarifai_client._method_rules import MethodRule
from clarifai_client.auth import Auth, MaskedStr, clean_token, describe_char
from clarifai_client.defaults import REQUEST_ID_PREFIX_KEY, ChannelDefaults
from clarifai_client.errors import (
    ClarifaiConfigError,
    ClarifaiRpcError,
    InsecureCredentialsWarning,
    PatRequiredError,
)

__all__ = ["THROTTLED", "CallPolicy", "Prefilled", "checked_timeout", "wrap_serializer"]

logger = logging.getLogger("clarifai_client")

THROTTLED = 11005
Metadata = Sequence[tuple[str, Any]]

# A throttled call is repeated only if at least this much of its deadline is left after the wait;
# otherwise the throttled response is returned (a repeat with no time left could only time out).
MIN_REPEAT_TIME = 0.05

_KEY_RE = re.compile(r"^[0-9a-z_.-]+$")
_RESERVED_KEYS = frozenset({"te", "content-type", "host", "connection"})


class CallPolicy:
    """The per-channel, immutable settings every call is made with."""

    __slots__ = (
        "_metadata_cache",
        "_user_app_prefix",
        "auth",
        "base_metadata",
        "default_timeout",
        "defaults",
        "max_receive_message_length",
        "max_send_message_length",
        "plaintext_remote",
        "root_certificates_hint",
        "target",
        "throttle_retries",
    )

    def __init__(
        self,
        auth: Optional[Auth],
        defaults: ChannelDefaults,
        target: str,
        secure: bool,
        *,
        plaintext_remote: bool = False,
        max_send_message_length: Optional[int] = None,
        max_receive_message_length: Optional[int] = None,
    ) -> None:
        self.auth = auth
        self.defaults = defaults
        self.target = target
        self.default_timeout = defaults.default_timeout
        self.throttle_retries = defaults.throttle_retries
        self.root_certificates_hint = secure
        # True for a plaintext channel to a host that is not this machine: a credential in the
        # caller's own metadata then travels readable by anyone on the path, so we warn.
        self.plaintext_remote = plaintext_remote
        # The limits in effect (options= may override the defaults), for the hints of errors.
        self.max_send_message_length = (
            defaults.max_send_message_length if max_send_message_length is None else max_send_message_length
        )
        self.max_receive_message_length = (
            defaults.max_receive_message_length
            if max_receive_message_length is None
            else max_receive_message_length
        )
        identity = ((REQUEST_ID_PREFIX_KEY, defaults.request_id_prefix),)
        self.base_metadata: tuple[tuple[str, Any], ...] = (auth.metadata if auth else ()) + identity
        # Field 1 (user_app_id) of a request, already encoded: prepended to the bytes of a PAT's
        # request that has none, so the caller's message itself is never changed.
        self._user_app_prefix = b""
        if auth is not None and auth.is_pat:
            encoded = auth.user_app_id.SerializeToString()  # type: ignore[union-attr]
            self._user_app_prefix = b"\x0a" + _varint(len(encoded)) + encoded
        self._metadata_cache: dict[Any, tuple[tuple[tuple[str, Any], ...], bool]] = {}

    def serializer(self, request_serializer: Any) -> Any:
        """The request serializer for a multicallable: wrapped for :class:`Prefilled` requests only
        when this channel has a PAT (the only case that produces them)."""
        return wrap_serializer(request_serializer) if self._user_app_prefix else request_serializer

    # -- one entry point for every call kind -------------------------------------------------

    def prepare(self, rule: MethodRule, request: Any, metadata: Any, stream: bool = False) -> tuple[Any, Any]:
        """The request (or request iterator) and metadata to send, checked before any I/O.

        With ``auth=``: PAT-only methods are refused for an API key, and a PAT's ``user_app_id``
        goes into requests that have none (on the wire only; see :class:`Prefilled`). When the call
        brings its own ``authorization`` metadata, that token decides and none of this applies.
        """
        md, caller_auth = self.metadata_for(metadata)
        auth = self.auth
        if auth is None or caller_auth or not rule.name:
            return request, md
        if rule.pat_only and not auth.is_pat:
            raise PatRequiredError(rule.name)
        if not auth.is_pat or not rule.has_user_app_id or request is None:
            return request, md
        if stream:
            return self._prefilled_stream(request), md
        if request.HasField("user_app_id"):
            if rule.app_scoped and not request.user_app_id.app_id:
                raise self._no_app(rule)
            return request, md
        if rule.app_scoped and not auth.app_id:
            raise self._no_app(rule)
        return Prefilled(request, self._user_app_prefix), md

    @staticmethod
    def _no_app(rule: MethodRule) -> ClarifaiConfigError:
        return ClarifaiConfigError(
            f"{rule.name} works inside an app, and no app ID was given: a Personal Access "
            "Token needs one. Pass app_id to Auth.from_pat(..., app_id=...) (or set "
            "CLARIFAI_APP_ID), or set request.user_app_id.app_id."
        )

    def _prefilled_stream(self, requests: Any) -> Any:
        """Each message of a client stream (sync or async iterable), prefilled where it has no user_app_id."""
        prefix = self._user_app_prefix

        def one(request: Any) -> Any:
            return request if request.HasField("user_app_id") else Prefilled(request, prefix)

        if hasattr(requests, "__aiter__"):

            async def filled_async() -> AsyncIterator[Any]:
                async for request in requests:
                    yield one(request)

            return filled_async()
        return (one(request) for request in requests)

    def metadata_for(self, metadata: Any) -> tuple[tuple[tuple[str, Any], ...], bool]:
        """:meth:`merge_metadata`, remembered for repeated metadata tuples; and whether the caller
        sent its own ``authorization``."""
        if not metadata:
            return self.base_metadata, False
        cache = self._metadata_cache
        key = metadata if type(metadata) is tuple else None
        if key is not None:
            try:
                hit = cache.get(key)
            except TypeError:  # unhashable values inside the tuple
                key, hit = None, None
            if hit is not None:
                return hit
        merged = self.merge_metadata(metadata)  # validates the pairs first
        result = (merged, any(k == "authorization" for k, _ in _pairs(metadata)))
        if key is not None:
            if len(cache) >= 64:
                cache.clear()
            cache[key] = result
        return result

    # -- metadata --------------------------------------------------------------------------

    def merge_metadata(self, metadata: Optional[Metadata]) -> tuple[tuple[str, Any], ...]:
        """Ours first, then the caller's; keys lower-cased; a caller's header of the same name wins.

        Every caller pair is checked here, before any I/O, so a bad one is a
        :class:`ClarifaiConfigError` that names the key (never the value, which may be a secret)
        instead of gRPC's bare "Invalid metadata".
        """
        if not metadata:
            return self.base_metadata
        if isinstance(metadata, Mapping):
            metadata = list(metadata.items())
        elif isinstance(metadata, (str, bytes)) or not isinstance(metadata, Iterable):
            raise ClarifaiConfigError(
                "metadata must be a sequence of (key, value) pairs, e.g. "
                f"(('x-request-id', 'abc'),), not {type(metadata).__name__}"
            )
        caller: list[tuple[str, Any]] = []
        for item in metadata:
            try:
                key, value = item
            except (TypeError, ValueError) as err:
                raise ClarifaiConfigError(
                    "metadata must be a sequence of (key, value) pairs, e.g. "
                    "(('authorization', 'Key <token>'),)"
                ) from err
            if not isinstance(key, str):
                raise ClarifaiConfigError(f"metadata keys must be str, not {type(key).__name__}")
            key = _checked_key(key)
            if key == "authorization":
                value = _checked_authorization(value)
                if self.plaintext_remote:
                    warnings.warn(
                        f"An insecure (plaintext) channel to {self.target} carries the "
                        "authorization metadata of this call: anyone on the network path can read "
                        "the token. Use get_grpc_channel (TLS) unless this host is trusted.",
                        InsecureCredentialsWarning,
                        stacklevel=4,
                    )
            else:
                value = _checked_value(key, value)
            caller.append((key, value))
        names = {key for key, _ in caller}
        kept = tuple(item for item in self.base_metadata if item[0] not in names)
        if "authorization" in names:  # never two authorization headers: keep the caller's last one
            last = [item for item in caller if item[0] == "authorization"][-1]
            caller = [item for item in caller if item[0] != "authorization"] + [last]
        return kept + tuple(caller)

    # -- retries ---------------------------------------------------------------------------

    def throttle_delay(self, attempt: int, remaining: Optional[float]) -> Optional[float]:
        """Seconds to wait before repeat ``attempt`` (1-based), or None when out of attempts/time."""
        if attempt > self.throttle_retries:
            return None
        d = self.defaults
        bound = min(d.throttle_max_backoff, d.throttle_initial_backoff * (2 ** (attempt - 1)))
        delay = random.uniform(0, bound)
        if remaining is not None and delay + MIN_REPEAT_TIME > remaining:
            return None
        return delay

    def log_throttle(self, method: str, attempt: int, delay: float) -> None:
        logger.info(
            "%s was throttled (CONN_THROTTLED); retry %d/%d in %.3f s",
            method, attempt, self.throttle_retries, delay,
        )

    # -- errors ----------------------------------------------------------------------------

    def translate(self, err: grpc.RpcError, method: str, timeout: Optional[float]) -> ClarifaiRpcError:
        """Wrap a transport error with a hint that says how to fix it."""
        code = err.code() if hasattr(err, "code") else None
        details = (err.details() if hasattr(err, "details") else "") or ""
        hint = ""
        lowered = details.lower()
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in lowered:
            if "sent" in lowered or "send" in lowered:
                hint = (
                    f"The request exceeded max_send_message_length ({self.max_send_message_length} "
                    "bytes); raise it with defaults=DEFAULTS.replace(max_send_message_length=N) "
                    "or options=[('grpc.max_send_message_length', N)], or send fewer inputs."
                )
            else:
                hint = (
                    "The response exceeded max_receive_message_length "
                    f"({self.max_receive_message_length} bytes); raise it with "
                    "defaults=DEFAULTS.replace(max_receive_message_length=N) or "
                    "options=[('grpc.max_receive_message_length', N)], or page the results."
                )
        elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
            if timeout is not None:
                hint = (
                    f"The call did not finish within its deadline of {timeout:g} s. Pass a larger "
                    "timeout= to the call, or set the channel's default_timeout."
                )
        elif code == grpc.StatusCode.UNAVAILABLE:
            if "wrong_version_number" in lowered or "wrong version number" in lowered:
                hint = (
                    f"{self.target} answered the TLS handshake with plaintext: it is probably a "
                    "plaintext (insecure) server. Use get_insecure_grpc_channel for it."
                )
            elif "certificate" in lowered or "ssl" in lowered or "handshake" in lowered or "tls" in lowered:
                hint = (
                    f"TLS certificate verification of {self.target} failed. If the server uses "
                    "a private CA, pass root_certificates_path='ca.pem' to the channel factory or "
                    "set CLARIFAI_ROOT_CERTIFICATES_PATH."
                )
            else:
                hint = f"Could not reach {self.target}: check the base/port and that the server is up."
        elif code == grpc.StatusCode.UNIMPLEMENTED:
            hint = f"The server at {self.target} does not implement {method}."
        return ClarifaiRpcError(err, method, hint)


# gRPC cannot represent deadlines much further out (1e10 s fails at once as DEADLINE_EXCEEDED).
MAX_TIMEOUT = 1e9


def checked_timeout(timeout: Any) -> Optional[float]:
    """A call's ``timeout=``: None, or a positive finite number of seconds; anything else is refused."""
    if timeout is None:
        return None
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout < MAX_TIMEOUT:
        # 0 or less: a deadline that has already passed. gRPC (and so the published client) fails
        # such a call with DEADLINE_EXCEEDED, which code computing "time left" relies on.
        return timeout
    raise ClarifaiConfigError(
        "timeout must be a finite number of seconds below 1e9 (or None for the channel's default), "
        f"not {timeout!r}"
    )


class Prefilled:
    """A request to send with the PAT's user_app_id (field 1) put in front of its own bytes.

    Protobuf merges fields in any order, so the server reads one message with user_app_id set,
    while the caller's message object stays exactly as the caller built it.
    """

    __slots__ = ("message", "prefix")

    def __init__(self, message: Any, prefix: bytes) -> None:
        self.message = message
        self.prefix = prefix


def wrap_serializer(serializer: Any) -> Any:
    """A request serializer that also understands :class:`Prefilled` requests."""
    if serializer is None:
        return None

    def serialize(request: Any) -> bytes:
        if request.__class__ is Prefilled:
            return bytes(request.prefix + serializer(request.message))
        return bytes(serializer(request))

    return serialize


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _pairs(metadata: Any) -> list[tuple[Any, Any]]:
    items = metadata.items() if isinstance(metadata, Mapping) else metadata
    return [(str(k).lower(), v) for k, v in items]


def _checked_key(key: str) -> str:
    if not key:
        raise ClarifaiConfigError("a metadata key is empty; keys are header names such as 'x-request-id'.")
    lowered = key.lower()
    if not _KEY_RE.match(lowered):
        bad = next(ch for ch in lowered if not _KEY_RE.match(ch))
        raise ClarifaiConfigError(
            f"a metadata key ({len(key)} characters) is not a valid gRPC header name: it contains "
            f"{describe_char(bad)}. Use only letters, digits and '-', '_', '.' (e.g. 'x-request-id')."
        )
    if lowered in _RESERVED_KEYS or lowered.startswith("grpc-"):
        raise ClarifaiConfigError(
            f"metadata key {lowered!r} is reserved by the gRPC transport and cannot be set by a call."
        )
    return lowered


def _checked_value(key: str, value: Any) -> Any:
    """Check a metadata value the way gRPC would, but say which key is wrong (never the value)."""
    if key.endswith("-bin"):
        if not isinstance(value, bytes):
            raise ClarifaiConfigError(
                f"metadata key {key!r} ends in '-bin', so its value must be bytes, not "
                f"{type(value).__name__}; drop the '-bin' suffix to send text."
            )
        return value
    if isinstance(value, bytes):
        try:
            text = value.decode("ascii")
        except UnicodeDecodeError:
            raise ClarifaiConfigError(
                f"metadata value of {key!r} holds non-ASCII bytes; send binary values under a key "
                "ending in '-bin', or decode the value first."
            ) from None
    elif isinstance(value, str):
        text = value
    else:
        raise ClarifaiConfigError(
            f"metadata value of {key!r} must be a str, not {type(value).__name__}; convert it "
            "with str(value)."
        )
    for ch in text:
        if not " " <= ch <= "~":
            raise ClarifaiConfigError(
                f"metadata value of {key!r} contains {describe_char(ch)}, which gRPC cannot send in a "
                "header: values are printable ASCII on one line. Strip or encode the value "
                "(or use a key ending in '-bin' for binary data)."
            )
    return value


def _checked_authorization(value: Any) -> str:
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            raise ClarifaiConfigError(
                "The authorization metadata value holds non-ASCII bytes; pass 'Key <token>' as a str."
            ) from None
    if not isinstance(value, str):
        raise ClarifaiConfigError(
            f"The authorization metadata value must be a str 'Key <token>', not {type(value).__name__}"
        )
    scheme, _, token = value.strip().partition(" ")
    if scheme != "Key" or not token:
        raise ClarifaiConfigError(
            "The authorization metadata must be 'Key <token>' (the word Key, one space, the token)."
        )
    return MaskedStr("Key " + clean_token(token, "token in the authorization metadata", "Pass 'Key <token>'."))
