"""ClarifaiChannel: the channel factories, with the published client's signatures and our extras."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional, Union, cast

import grpc
import grpc.aio

from clarifai_client._call_policy import CallPolicy
from clarifai_client._conflict import check_no_published_protos
from clarifai_client._sync_channel import PolicyChannel
from clarifai_client._target import Target, parse_target
from clarifai_client.auth import Auth
from clarifai_client.defaults import DEFAULTS, ChannelDefaults
from clarifai_client.errors import ClarifaiConfigError, InsecureCredentialsWarning

__all__ = ["ClarifaiChannel", "InsecureCredentialsWarning"]

ENV_ROOT_CERTIFICATES = "CLARIFAI_ROOT_CERTIFICATES_PATH"


class _Unset:
    def __repr__(self) -> str:
        return "<default>"


_UNSET: Any = _Unset()
GrpcOptions = Sequence[tuple[str, Any]]


def _merge_options(defaults: ChannelDefaults, options: Optional[GrpcOptions]) -> list[tuple[str, Any]]:
    """Our defaults, then the caller's options; a caller's key replaces ours."""
    merged: dict[str, Any] = dict(defaults.grpc_options())
    for item in options or ():
        try:
            key, value = item
        except (TypeError, ValueError) as err:
            raise ClarifaiConfigError(
                "options must be a sequence of (name, value) pairs, e.g. "
                "[('grpc.max_receive_message_length', 2**30)]"
            ) from err
        if not isinstance(key, str):
            raise ClarifaiConfigError(f"option names must be str, not {type(key).__name__}")
        merged[key] = value
    return sorted(merged.items())


def _root_certificates(path: Optional[Union[str, os.PathLike[str]]], environ: Mapping[str, str]) -> Optional[bytes]:
    source = "root_certificates_path"
    if path is None or path == "":
        env_path = environ.get(ENV_ROOT_CERTIFICATES) or ""
        if not env_path:
            return None
        path, source = env_path, ENV_ROOT_CERTIFICATES
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as err:
        raise ClarifaiConfigError(
            f"Cannot read the root certificates file {str(file)!r} given by {source}: "
            f"{err.strerror or err}. Pass the path of a PEM file with your CA certificates."
        ) from err
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise ClarifaiConfigError(
            f"The root certificates file {str(file)!r} given by {source} holds no PEM certificate "
            "('-----BEGIN CERTIFICATE-----')."
        )
    return data


def _resolve_defaults(defaults: Optional[ChannelDefaults], default_timeout: Any) -> ChannelDefaults:
    chosen = DEFAULTS if defaults is None else defaults
    if not isinstance(chosen, ChannelDefaults):
        raise ClarifaiConfigError(f"defaults must be a ChannelDefaults, not {type(chosen).__name__}")
    if default_timeout is not _UNSET:
        chosen = chosen.replace(default_timeout=default_timeout)
    return chosen


def _check_auth(auth: Optional[Auth]) -> None:
    if auth is not None and not isinstance(auth, Auth):
        raise ClarifaiConfigError(
            f"auth must be an Auth (Auth.from_api_key / from_pat / from_env), not {type(auth).__name__}"
        )


def _warn_plaintext(auth: Optional[Auth], target: Target) -> None:
    if auth is not None and not target.is_loopback:
        warnings.warn(
            f"An insecure (plaintext) channel to {target.address} carries your "
            f"{'Personal Access Token' if auth.is_pat else 'API key'}: anyone on the network path "
            "can read it. Use get_grpc_channel (TLS) unless this host is trusted.",
            InsecureCredentialsWarning,
            stacklevel=4,
        )


def _build(
    *,
    aio: bool,
    secure: bool,
    base: Optional[str],
    port: Optional[int],
    root_certificates_path: Optional[Union[str, os.PathLike[str]]],
    auth: Optional[Auth],
    options: Optional[GrpcOptions],
    defaults: Optional[ChannelDefaults],
    default_timeout: Any,
) -> Any:
    """The one private builder behind the four public factories."""
    # clarifai_grpc may have been imported after this package (our protos load lazily): say so
    # now, instead of protobuf's "duplicate symbol" at the first call.
    check_no_published_protos("build a channel")
    environ = os.environ
    _check_auth(auth)
    target = parse_target(base, secure=secure, port=port, environ=environ)
    chosen = _resolve_defaults(defaults, default_timeout)
    channel_options = _merge_options(chosen, options)
    credentials = None
    if secure:
        credentials = grpc.ssl_channel_credentials(_root_certificates(root_certificates_path, environ))
    else:
        _warn_plaintext(auth, target)
    effective = dict(channel_options)
    policy = CallPolicy(
        auth, chosen, target.address, secure,
        plaintext_remote=not secure and not target.is_loopback,
        max_send_message_length=effective.get("grpc.max_send_message_length"),
        max_receive_message_length=effective.get("grpc.max_receive_message_length"),
    )
    description = f"target={target.address!r} secure={secure} auth={auth!r}"
    if aio:
        module = grpc.aio

        def make() -> grpc.aio.Channel:
            if credentials is not None:
                return module.secure_channel(target.address, credentials, options=channel_options)
            return module.insecure_channel(target.address, options=channel_options)

        from clarifai_client._aio_channel import AioPolicyChannel  # only asyncio users pay for it

        return AioPolicyChannel(make, policy, description)
    if credentials is not None:
        inner = grpc.secure_channel(target.address, credentials, options=channel_options)
    else:
        inner = grpc.insecure_channel(target.address, options=channel_options)
    return PolicyChannel(inner, policy, description)


class ClarifaiChannel:
    """Factories for channels to the Clarifai V2 API (sync and asyncio, TLS and plaintext).

    Same signatures as the published client, plus keyword extras:

    * ``auth=``: an :class:`~clarifai_client.Auth`; every call then carries its metadata (a
      caller's own ``authorization`` metadata wins), PAT-only methods are refused locally for API
      keys, and a PAT's ``user_app_id`` is filled into requests that have none.
    * ``options=``: raw gRPC channel arguments, applied over our defaults.
    * ``defaults=``: a :class:`~clarifai_client.ChannelDefaults` (limits, retries, deadlines).
    * ``default_timeout=``: deadline in seconds for unary calls without ``timeout=`` (None: none).

    ``CLARIFAI_GRPC_BASE`` and ``CLARIFAI_ROOT_CERTIFICATES_PATH`` are read when a factory is
    called. ``base`` is ``host`` or ``host:port``; a scheme or a path is a ValueError.
    """

    @staticmethod
    def get_grpc_channel(
        base: Optional[str] = None,
        root_certificates_path: Optional[Union[str, os.PathLike[str]]] = None,
        *,
        auth: Optional[Auth] = None,
        options: Optional[GrpcOptions] = None,
        defaults: Optional[ChannelDefaults] = None,
        default_timeout: Optional[float] = _UNSET,
    ) -> grpc.Channel:
        """A TLS channel (default ``api.clarifai.com:443``, or CLARIFAI_GRPC_BASE)."""
        channel = _build(aio=False, secure=True, base=base, port=None, root_certificates_path=root_certificates_path,
                         auth=auth, options=options, defaults=defaults, default_timeout=default_timeout)
        return cast(grpc.Channel, channel)

    @staticmethod
    def get_insecure_grpc_channel(
        base: Optional[str] = None,
        port: Optional[int] = None,
        *,
        auth: Optional[Auth] = None,
        options: Optional[GrpcOptions] = None,
        defaults: Optional[ChannelDefaults] = None,
        default_timeout: Optional[float] = _UNSET,
    ) -> grpc.Channel:
        """A plaintext channel to ``base`` (or CLARIFAI_GRPC_BASE); port 18080 unless the base has one."""
        channel = _build(aio=False, secure=False, base=base, port=port, root_certificates_path=None,
                         auth=auth, options=options, defaults=defaults, default_timeout=default_timeout)
        return cast(grpc.Channel, channel)

    @staticmethod
    def get_aio_grpc_channel(
        base: Optional[str] = None,
        root_certificates_path: Optional[Union[str, os.PathLike[str]]] = None,
        *,
        auth: Optional[Auth] = None,
        options: Optional[GrpcOptions] = None,
        defaults: Optional[ChannelDefaults] = None,
        default_timeout: Optional[float] = _UNSET,
    ) -> grpc.aio.Channel:
        """An asyncio TLS channel; it binds to the event loop of its first use (one per loop)."""
        channel = _build(aio=True, secure=True, base=base, port=None, root_certificates_path=root_certificates_path,
                         auth=auth, options=options, defaults=defaults, default_timeout=default_timeout)
        return cast(grpc.aio.Channel, channel)

    @staticmethod
    def get_aio_insecure_grpc_channel(
        base: Optional[str] = None,
        port: Optional[int] = None,
        *,
        auth: Optional[Auth] = None,
        options: Optional[GrpcOptions] = None,
        defaults: Optional[ChannelDefaults] = None,
        default_timeout: Optional[float] = _UNSET,
    ) -> grpc.aio.Channel:
        """An asyncio plaintext channel; it binds to the event loop of its first use (one per loop)."""
        channel = _build(aio=True, secure=False, base=base, port=port, root_certificates_path=None,
                         auth=auth, options=options, defaults=defaults, default_timeout=default_timeout)
        return cast(grpc.aio.Channel, channel)
