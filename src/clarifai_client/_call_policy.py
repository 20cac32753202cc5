"""What a factory channel adds to each call: metadata, deadline, local checks, retries, hints.

Shared by the sync and asyncio channel wrappers; pure logic, no I/O.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from typing import Any, Optional

import grpc

from clarifai_client._method_rules import MethodRule
from clarifai_client.auth import Auth, clean_token
from clarifai_client.defaults import REQUEST_ID_PREFIX_KEY, ChannelDefaults
from clarifai_client.errors import ClarifaiConfigError, ClarifaiRpcError, PatRequiredError

__all__ = ["THROTTLED", "CallPolicy"]

logger = logging.getLogger("clarifai_client")

THROTTLED = 11005
Metadata = Sequence[tuple[str, Any]]


class CallPolicy:
    """The per-channel, immutable settings every call is made with."""

    __slots__ = (
        "auth",
        "base_metadata",
        "default_timeout",
        "defaults",
        "root_certificates_hint",
        "target",
        "throttle_retries",
    )

    def __init__(self, auth: Optional[Auth], defaults: ChannelDefaults, target: str, secure: bool) -> None:
        self.auth = auth
        self.defaults = defaults
        self.target = target
        self.default_timeout = defaults.default_timeout
        self.throttle_retries = defaults.throttle_retries
        self.root_certificates_hint = secure
        identity = ((REQUEST_ID_PREFIX_KEY, defaults.request_id_prefix),)
        self.base_metadata: tuple[tuple[str, Any], ...] = (auth.metadata if auth else ()) + identity

    # -- metadata --------------------------------------------------------------------------

    def merge_metadata(self, metadata: Optional[Metadata]) -> tuple[tuple[str, Any], ...]:
        """Ours first, then the caller's; keys lower-cased; a caller's header of the same name wins."""
        if not metadata:
            return self.base_metadata
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
            key = key.lower()
            if key == "authorization":
                value = _checked_authorization(value)
            caller.append((key, value))
        names = {key for key, _ in caller}
        kept = tuple(item for item in self.base_metadata if item[0] not in names)
        if "authorization" in names:  # never two authorization headers: keep the caller's last one
            last = [item for item in caller if item[0] == "authorization"][-1]
            caller = [item for item in caller if item[0] != "authorization"] + [last]
        return kept + tuple(caller)

    # -- local checks before any I/O -------------------------------------------------------

    def check_request(self, rule: MethodRule, request: Any) -> None:
        """Fill a PAT's user_app_id into a request that has none; reject what would surely fail."""
        auth = self.auth
        if auth is None or not rule.name:
            return
        if rule.pat_only and not auth.is_pat:
            raise PatRequiredError(rule.name)
        if not auth.is_pat or not rule.has_user_app_id or request is None:
            return
        if not request.HasField("user_app_id"):
            request.user_app_id.CopyFrom(auth.user_app_id)
        if rule.app_scoped and not request.user_app_id.app_id:
            raise ClarifaiConfigError(
                f"{rule.name} works inside an app, and no app ID was given: a Personal Access "
                "Token needs one. Pass app_id to Auth.from_pat(..., app_id=...) (or set "
                "CLARIFAI_APP_ID), or set request.user_app_id.app_id."
            )

    # -- retries ---------------------------------------------------------------------------

    def throttle_delay(self, attempt: int, remaining: Optional[float]) -> Optional[float]:
        """Seconds to wait before repeat ``attempt`` (1-based), or None when out of attempts/time."""
        if attempt > self.throttle_retries:
            return None
        d = self.defaults
        bound = min(d.throttle_max_backoff, d.throttle_initial_backoff * (2 ** (attempt - 1)))
        delay = random.uniform(0, bound)
        if remaining is not None and delay >= remaining:
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
        d = self.defaults
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in lowered:
            if "sent" in lowered or "send" in lowered:
                hint = (
                    f"The request exceeded max_send_message_length ({d.max_send_message_length} "
                    "bytes); raise it with defaults=DEFAULTS.replace(max_send_message_length=N) "
                    "or options=[('grpc.max_send_message_length', N)], or send fewer inputs."
                )
            else:
                hint = (
                    "The response exceeded max_receive_message_length "
                    f"({d.max_receive_message_length} bytes); raise it with "
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
            if "certificate" in lowered or "ssl" in lowered or "handshake" in lowered or "tls" in lowered:
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


def _checked_authorization(value: Any) -> str:
    if isinstance(value, bytes):
        raise ClarifaiConfigError("The authorization metadata value must be str, not bytes.")
    if not isinstance(value, str):
        raise ClarifaiConfigError(
            f"The authorization metadata value must be a str 'Key <token>', not {type(value).__name__}"
        )
    scheme, _, token = value.strip().partition(" ")
    if scheme != "Key" or not token:
        raise ClarifaiConfigError(
            "The authorization metadata must be 'Key <token>' (the word Key, one space, the token)."
        )
    return "Key " + clean_token(token, "token in the authorization metadata", "Pass 'Key <token>'.")
