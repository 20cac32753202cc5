"""Check a call's `authorization` metadata and user_app_id the way the API does, in-band."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, Optional, Union

from clarifai_client.errors import ClarifaiConfigError
from clarifai_client.grpc.api import resources_pb2
from clarifai_client.grpc.api.status import status_code_pb2
from clarifai_client.testing._status import InBandError

__all__ = ["Caller", "Credentials", "Principal", "Scope"]

ME = "me"
_HEADER = re.compile(r"Key ([!-~]+)")
_ID = re.compile(r"[A-Za-z0-9_.-]+")
_TOKEN = re.compile(r"[!-~]+")


class Scope(enum.Enum):
    """What a method acts on, which decides what the credentials must name."""

    NONE = "none"  # NoAuth: nothing is checked
    TOKEN = "token"  # any accepted token; user_app_id is ignored (the built-in models)
    USER = "user"  # a user: the PAT's own user (user_app_id.user_id empty, "me" or its ID)
    APP = "app"  # an app: an API key's own app, or a PAT plus user_app_id.app_id


@dataclass(frozen=True)
class Principal:
    """Who a token belongs to: an API key's user and app, or a PAT's user (app_id None)."""

    kind: Literal["api_key", "pat"]
    user_id: str
    app_id: Optional[str]


@dataclass(frozen=True)
class Caller:
    """The outcome of authorising one call: the principal and the user/app the call acts on."""

    principal: Optional[Principal]
    user_id: str
    app_id: str


def _check_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value) or value == ME:
        raise ClarifaiConfigError(
            f"{what} must be a non-empty ID of letters, digits, '_', '-' or '.' (and not 'me'); got {value!r}"
        )
    return value


def _check_token(value: object, what: str) -> str:
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise ClarifaiConfigError(f"each {what} must be a non-empty str of printable ASCII, no spaces")
    return value


class Credentials:
    """The tokens a local server accepts: API keys (each with its user and app) and PATs (a user).

    Args:
        api_keys: ``{api_key: (user_id, app_id)}``.
        pats: ``{pat: user_id}``.

    Raises:
        ClarifaiConfigError: a token or ID is malformed, or a token is both an API key and a PAT.
    """

    def __init__(self, api_keys: Mapping[str, tuple[str, str]], pats: Mapping[str, str]) -> None:
        keys: dict[str, tuple[str, str]] = {}
        for token, owner in api_keys.items():
            if not isinstance(owner, tuple) or len(owner) != 2:
                raise ClarifaiConfigError(f"api_keys values must be (user_id, app_id) tuples; got {owner!r}")
            keys[_check_token(token, "API key")] = (
                _check_id(owner[0], "an API key's user_id"),
                _check_id(owner[1], "an API key's app_id"),
            )
        users: dict[str, str] = {}
        for token, user in pats.items():
            if token in keys:
                raise ClarifaiConfigError("a token cannot be both an API key and a PAT")
            users[_check_token(token, "PAT")] = _check_id(user, "a PAT's user_id")
        self.api_keys: Mapping[str, tuple[str, str]] = MappingProxyType(keys)
        self.pats: Mapping[str, str] = MappingProxyType(users)

    def authenticate(self, metadata: Iterable[tuple[str, Union[str, bytes]]]) -> Principal:
        """The principal of the call's ``authorization: Key <token>`` header.

        Raises:
            InBandError: CONN_INVALID_REQUEST (11102) for a missing or malformed header,
                CONN_KEY_INVALID (11008) for a token this server does not accept.
        """
        values = [value for key, value in metadata if key == "authorization"]
        header = values[0] if len(values) == 1 else None
        match = _HEADER.fullmatch(header) if isinstance(header, str) else None
        if match is None:
            problem = "missing" if not values else "malformed"
            raise InBandError(
                status_code_pb2.CONN_INVALID_REQUEST,
                f"Empty or malformed authorization header ({problem}). Send the metadata "
                "('authorization', 'Key <token>'): the word Key, one space, then the API key "
                "or PAT.",
            )
        token = match.group(1)
        owner = self.api_keys.get(token)
        if owner is not None:
            return Principal("api_key", owner[0], owner[1])
        user = self.pats.get(token)
        if user is not None:
            return Principal("pat", user, None)
        raise InBandError(
            status_code_pb2.CONN_KEY_INVALID,
            "The token in the authorization header is neither an API key nor a Personal Access "
            "Token that this server accepts.",
        )

    def authorize(
        self,
        method: str,
        metadata: Iterable[tuple[str, Union[str, bytes]]],
        user_app_id: Optional[resources_pb2.UserAppIDSet],
        scope: Scope,
        pat_only: bool,
    ) -> Caller:
        """Authenticate the call, then resolve the user/app it acts on for ``scope``.

        Raises:
            InBandError: as :meth:`authenticate`; CONN_INSUFFICIENT_SCOPES (11007) for an API key
                on a PAT-only method or a PAT naming another user; CONN_KEY_INVALID (11008) for a
                PAT without ``user_app_id.app_id`` on an app-scoped call, or an API key whose
                request names another user or app.
        """
        if scope is Scope.NONE:
            return Caller(None, "", "")
        principal = self.authenticate(metadata)
        if pat_only and principal.kind != "pat":
            raise InBandError(
                status_code_pb2.CONN_INSUFFICIENT_SCOPES,
                f"{method} accepts only a Personal Access Token (PAT); an API key is scoped to "
                "one app and cannot call it.",
            )
        if scope is Scope.TOKEN:
            if principal.kind == "pat" and not (user_app_id is not None and user_app_id.app_id):
                raise InBandError(
                    status_code_pb2.CONN_KEY_INVALID,
                    "An app ID must be provided: set user_app_id.app_id (and user_app_id.user_id) in "
                    f"the request when calling {method} with a Personal Access Token (for Clarifai's "
                    "public models: user_id 'clarifai', app_id 'main').",
                )
            return Caller(principal, principal.user_id, principal.app_id or "")
        asked_user = user_app_id.user_id if user_app_id is not None else ""
        asked_app = user_app_id.app_id if user_app_id is not None else ""
        if principal.kind == "api_key":
            assert principal.app_id is not None
            if asked_user not in ("", ME, principal.user_id) or asked_app not in (
                "",
                principal.app_id,
            ):
                raise InBandError(
                    status_code_pb2.CONN_KEY_INVALID,
                    f"This API key belongs to app {principal.app_id!r} of user "
                    f"{principal.user_id!r}; the request's user_app_id names app {asked_app!r} "
                    f"of user {asked_user!r}.",
                )
            return Caller(principal, principal.user_id, principal.app_id)
        if asked_user not in ("", ME, principal.user_id):
            raise InBandError(
                status_code_pb2.CONN_INSUFFICIENT_SCOPES,
                f"This Personal Access Token belongs to user {principal.user_id!r} and cannot act "
                f"as user {asked_user!r}.",
            )
        if scope is Scope.USER:
            return Caller(principal, principal.user_id, "")
        if not asked_app:
            raise InBandError(
                status_code_pb2.CONN_KEY_INVALID,
                "An app ID must be provided: set user_app_id.app_id (and user_app_id.user_id) in "
                f"the request when calling {method} with a Personal Access Token.",
            )
        return Caller(principal, principal.user_id, asked_app)
