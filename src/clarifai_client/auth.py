"""Credentials for the Clarifai API: an app-scoped API key or a Personal Access Token (PAT)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Optional

from clarifai_client.errors import ClarifaiConfigError

if TYPE_CHECKING:
    from clarifai_client.grpc.api import resources_pb2

__all__ = ["Auth", "AuthKind", "MaskedStr"]

AuthKind = Literal["api_key", "pat"]

ENV_PAT = "CLARIFAI_PAT"
ENV_API_KEY = "CLARIFAI_API_KEY"
ENV_USER_ID = "CLARIFAI_USER_ID"
ENV_APP_ID = "CLARIFAI_APP_ID"

_QUOTES = "\"'`"


def _mask(token: str) -> str:
    """A form of the token that is safe to show: its length and at most its last 2 characters."""
    if len(token) < 12:
        return f"<{len(token)} chars>"
    return f"<{len(token)} chars, ends '…{token[-2:]}'>"


def clean_token(token: object, what: str, how: str) -> str:
    """Return the token without surrounding whitespace, or raise naming the problem (never the token)."""
    if token is None:
        raise ClarifaiConfigError(f"No {what} was given. {how}")
    if isinstance(token, bytes):
        raise ClarifaiConfigError(f"The {what} must be str, not bytes: decode it first (token.decode()).")
    if not isinstance(token, str):
        raise ClarifaiConfigError(f"The {what} must be a str, not {type(token).__name__}.")
    stripped = token.strip()
    if not stripped:
        raise ClarifaiConfigError(f"The {what} is empty. {how}")
    scheme = stripped.split(None, 1)[0]
    if scheme.lower() in ("key", "bearer", "authorization:") and len(stripped.split(None, 1)) == 2:
        raise ClarifaiConfigError(
            f"The {what} starts with {scheme!r}: pass only the token itself; the 'Key ' scheme "
            "is added for you."
        )
    if stripped[0] in _QUOTES or stripped[-1] in _QUOTES:
        raise ClarifaiConfigError(
            f"The {what} starts or ends with a quote character; it was probably read with its "
            "quotes from a .env or config file. Remove the quotes."
        )
    for ch in stripped:
        if ch.isspace():
            raise ClarifaiConfigError(
                f"The {what} contains whitespace inside it ({describe_char(ch)}); a token is one word. "
                "Check that you copied the whole token and nothing else."
            )
        if not ch.isprintable() or ord(ch) > 126:
            raise ClarifaiConfigError(
                f"The {what} contains a character that cannot be sent in a gRPC header "
                f"({describe_char(ch)}); tokens are printable ASCII. Check how the token was read."
            )
    return stripped


def describe_char(ch: str) -> str:
    """A readable name for a character in an error message: 'a newline', 'U+00E9', ..."""
    names = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab", " ": "a space"}
    return names.get(ch, f"U+{ord(ch):04X}")


def _clean_id(value: object, name: str, env: str) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ClarifaiConfigError(f"{name} must be a str, not {type(value).__name__}.")
    value = value.strip()
    if not value:
        return None
    if any(ch.isspace() or not ch.isprintable() for ch in value) or value[0] in _QUOTES:
        raise ClarifaiConfigError(
            f"{name} {value!r} is not a valid Clarifai ID (no spaces, quotes or control "
            f"characters). Check the argument or {env}."
        )
    return value


class MaskedStr(str):
    """A str whose repr() hides it: header values that hold a token look masked in tracebacks with
    locals, debuggers and reprs of metadata tuples, while gRPC sends the real text."""

    __slots__ = ()

    def __repr__(self) -> str:
        scheme, _, token = self.partition(" ")
        return repr(f"{scheme} {_mask(token)}") if token else repr(_mask(str(self)))


class Auth:
    """How calls authenticate: `authorization: Key <token>` metadata, plus a user/app for PATs.

    Build one with :meth:`from_api_key`, :meth:`from_pat` or :meth:`from_env`. The token is never
    shown by ``repr()``/``str()``; pass the object to ``ClarifaiChannel.get_*_channel(auth=...)`` so
    every call carries the metadata, or use :attr:`metadata` per call as Clarifai's docs show.
    """

    __slots__ = ("_app_id", "_kind", "_metadata", "_token", "_user_id")

    def __init__(
        self, token: str, kind: AuthKind, user_id: Optional[str] = None, app_id: Optional[str] = None
    ) -> None:
        if kind not in ("api_key", "pat"):
            raise ClarifaiConfigError(f"kind must be 'api_key' or 'pat', not {kind!r}")
        what = "API key" if kind == "api_key" else "Personal Access Token"
        self._token = clean_token(token, what, "Pass a non-empty token.")
        self._kind: AuthKind = kind
        self._user_id = _clean_id(user_id, "user_id", ENV_USER_ID)
        self._app_id = _clean_id(app_id, "app_id", ENV_APP_ID)
        self._metadata: tuple[tuple[str, str], ...] = (("authorization", MaskedStr("Key " + self._token)),)

    # -- factories -------------------------------------------------------------------------

    @classmethod
    def from_api_key(cls, api_key: str) -> Auth:
        """An app-scoped API key: calls reach only the key's own app; no user/app IDs needed."""
        return cls(
            clean_token(api_key, "API key", f"Pass the key, or set {ENV_API_KEY}."), "api_key"
        )

    @classmethod
    def from_pat(cls, pat: str, user_id: Optional[str] = None, app_id: Optional[str] = None) -> Auth:
        """A Personal Access Token with the user (``me`` works) and, for app-scoped calls, the app."""
        token = clean_token(pat, "Personal Access Token", f"Pass the PAT, or set {ENV_PAT}.")
        return cls(token, "pat", user_id=user_id, app_id=app_id)

    @classmethod
    def from_env(
        cls,
        *,
        pat: Optional[str] = None,
        api_key: Optional[str] = None,
        user_id: Optional[str] = None,
        app_id: Optional[str] = None,
        environ: Optional[Mapping[str, str]] = None,
    ) -> Auth:
        """Credentials from arguments first, then CLARIFAI_PAT / CLARIFAI_USER_ID / CLARIFAI_APP_ID,
        then CLARIFAI_API_KEY. Empty environment values count as unset.
        """
        env = os.environ if environ is None else environ

        def get(name: str) -> Optional[str]:
            value = env.get(name)
            return value if value and value.strip() else None

        user = user_id if user_id is not None else get(ENV_USER_ID)
        app = app_id if app_id is not None else get(ENV_APP_ID)
        if pat is not None:
            return cls.from_pat(pat, user_id=user, app_id=app)
        if api_key is not None:
            return cls.from_api_key(api_key)
        env_pat = get(ENV_PAT)
        if env_pat is not None:
            token = clean_token(
                env_pat, f"Personal Access Token in {ENV_PAT}", f"Set {ENV_PAT} to your PAT."
            )
            return cls.from_pat(token, user_id=user, app_id=app)
        env_key = get(ENV_API_KEY)
        if env_key is not None:
            return cls.from_api_key(
                clean_token(env_key, f"API key in {ENV_API_KEY}", f"Set {ENV_API_KEY} to your key.")
            )
        raise ClarifaiConfigError(
            "No Clarifai credentials found. Set CLARIFAI_PAT (with CLARIFAI_USER_ID, and "
            "CLARIFAI_APP_ID for app-scoped calls), or CLARIFAI_API_KEY for an app-scoped API key; "
            "or pass pat=/api_key= to Auth.from_env()."
        )

    @classmethod
    def env_is_set(cls, environ: Optional[Mapping[str, str]] = None) -> bool:
        """True when CLARIFAI_PAT or CLARIFAI_API_KEY holds a non-empty value."""
        env = os.environ if environ is None else environ
        return any((env.get(name) or "").strip() for name in (ENV_PAT, ENV_API_KEY))

    # -- properties ------------------------------------------------------------------------

    @property
    def kind(self) -> AuthKind:
        """``"api_key"`` or ``"pat"``."""
        return self._kind

    @property
    def is_pat(self) -> bool:
        return self._kind == "pat"

    @property
    def user_id(self) -> Optional[str]:
        return self._user_id

    @property
    def app_id(self) -> Optional[str]:
        return self._app_id

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """``(("authorization", "Key <token>"),)``: pass as ``metadata=`` on a call."""
        return self._metadata

    @property
    def user_app_id(self) -> Optional[resources_pb2.UserAppIDSet]:
        """The ``UserAppIDSet`` a PAT's requests carry (None for an API key, which implies its app)."""
        if self._kind != "pat":
            return None
        from clarifai_client.grpc.api import resources_pb2

        return resources_pb2.UserAppIDSet(user_id=self._user_id or "me", app_id=self._app_id or "")

    @property
    def masked(self) -> str:
        """The token in a masked form, safe for logs."""
        return _mask(self._token)

    def __repr__(self) -> str:
        parts = [f"kind={self._kind!r}", f"token={self.masked}"]
        if self._user_id is not None:
            parts.append(f"user_id={self._user_id!r}")
        if self._app_id is not None:
            parts.append(f"app_id={self._app_id!r}")
        return f"Auth({', '.join(parts)})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Auth):
            return NotImplemented
        return (self._token, self._kind, self._user_id, self._app_id) == (
            other._token, other._kind, other._user_id, other._app_id,
        )

    def __hash__(self) -> int:
        return hash((self._token, self._kind, self._user_id, self._app_id))

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError("Auth objects hold a secret and are not picklable; rebuild them from the environment.")
