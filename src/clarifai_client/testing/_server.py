"""LocalV2Server: a real gRPC server on localhost that answers V2 calls from memory."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent import futures
from types import TracebackType
from typing import Optional

import grpc

from clarifai_client.errors import ClarifaiConfigError
from clarifai_client.grpc.api import resources_pb2
from clarifai_client.testing._auth import Credentials
from clarifai_client.testing._calls import CallLog, RecordedCall
from clarifai_client.testing._dispatch import Router
from clarifai_client.testing._handlers import Handlers
from clarifai_client.testing._store import Store

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_APP_ID",
    "DEFAULT_PAT",
    "DEFAULT_USER_ID",
    "LocalV2Server",
]

DEFAULT_USER_ID = "local-user"
DEFAULT_APP_ID = "local-app"
DEFAULT_API_KEY = "local-test-api-key"
DEFAULT_PAT = "local-test-pat"

_MiB = 1024 * 1024


class LocalV2Server:
    """An in-memory Clarifai V2 API on a real gRPC port, answering like the API on the wire.

    Application errors come back in-band (gRPC OK, ``response.status.code`` not SUCCESS); methods
    this server does not implement answer gRPC UNIMPLEMENTED naming the method. Use it as a
    context manager::

        with LocalV2Server() as server:
            channel = grpc.insecure_channel(server.address)
            metadata = (("authorization", "Key " + server.api_key),)

    Args:
        host: interface to listen on.
        port: TCP port; 0 picks a free one (read it from :attr:`port` once started).
        api_keys: accepted app-scoped API keys, ``{key: (user_id, app_id)}``; each key's app is
            created empty. Default: ``{"local-test-api-key": ("local-user", "local-app")}``.
        pats: accepted Personal Access Tokens, ``{pat: user_id}``.
            Default: ``{"local-test-pat": "local-user"}``.
        max_workers: threads serving calls (a bidirectional stream holds one while open).

    Raises:
        ClarifaiConfigError: a malformed token or ID in ``api_keys`` / ``pats``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Optional[Mapping[str, tuple[str, str]]] = None,
        pats: Optional[Mapping[str, str]] = None,
        max_workers: int = 10,
    ) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ClarifaiConfigError(f"port must be an int in 0-65535 (0 picks a free port), not {port!r}")
        if not isinstance(host, str) or not host or any(ch.isspace() for ch in host):
            raise ClarifaiConfigError(f"host must be a host name or IP address such as '127.0.0.1', not {host!r}")
        if api_keys is None:
            api_keys = {DEFAULT_API_KEY: (DEFAULT_USER_ID, DEFAULT_APP_ID)}
        if pats is None:
            pats = {DEFAULT_PAT: DEFAULT_USER_ID}
        self._credentials = Credentials(api_keys, pats)
        self._host = host
        self._requested_port = port
        self._max_workers = max_workers
        self._store = Store()
        self._log = CallLog()
        owners = list(self._credentials.api_keys.values())
        first_pat_user = next(iter(self._credentials.pats.values()), DEFAULT_USER_ID)
        self._user_id, self._app_id = owners[0] if owners else (first_pat_user, DEFAULT_APP_ID)
        for user_id, app_id in owners or [(self._user_id, self._app_id)]:
            self._store.create_app(user_id, resources_pb2.App(id=app_id))
        self._server: Optional[grpc.Server] = None
        self._port: Optional[int] = None
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LocalV2Server:
        """Bind the port and start serving; returns self.

        Raises:
            OSError: the address cannot be bound (e.g. the port is taken).
            RuntimeError: the server was already started or stopped.
        """
        if self._server is not None or self._stopped:
            raise RuntimeError("a LocalV2Server starts once; create a new one to serve again")
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self._max_workers),
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", 128 * _MiB),
                ("grpc.max_send_message_length", 1024 * _MiB),
            ],
        )
        server.add_generic_rpc_handlers(
            (Router(Handlers(self._store), self._credentials, self._log).generic_handler(),)
        )
        target = f"{self._host}:{self._requested_port}"
        try:
            port = server.add_insecure_port(target)
        except RuntimeError as exc:
            raise OSError(f"LocalV2Server cannot listen on {target}: {exc}") from exc
        if not port:
            raise OSError(f"LocalV2Server cannot listen on {target}")
        server.start()
        self._server, self._port = server, int(port)
        return self

    def stop(self, grace: Optional[float] = None) -> None:
        """Stop serving (in-flight calls get ``grace`` seconds) and wait until stopped."""
        self._stopped = True
        server, self._server = self._server, None
        if server is not None:
            server.stop(grace).wait()

    def wait_for_termination(self, timeout: Optional[float] = None) -> bool:
        """Block until the server stops or ``timeout`` passes; True if it stopped."""
        if self._server is None:
            return True
        return bool(self._server.wait_for_termination(timeout))

    def __enter__(self) -> LocalV2Server:
        return self.start()

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    # -- where and who ---------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The interface the server listens on."""
        return self._host

    @property
    def port(self) -> int:
        """The bound port (known once started)."""
        if self._port is None:
            raise RuntimeError("the server is not started: call start() or use it in a with block")
        return self._port

    @property
    def address(self) -> str:
        """``"host:port"``, a target for ``grpc.insecure_channel``."""
        return f"{self._host}:{self.port}"

    @property
    def api_key(self) -> str:
        """The first accepted API key (of :attr:`user_id` and :attr:`app_id`)."""
        try:
            return next(iter(self._credentials.api_keys))
        except StopIteration:
            raise LookupError("this LocalV2Server accepts no API keys (api_keys={})") from None

    @property
    def pat(self) -> str:
        """The first accepted Personal Access Token."""
        try:
            return next(iter(self._credentials.pats))
        except StopIteration:
            raise LookupError("this LocalV2Server accepts no PATs (pats={})") from None

    @property
    def user_id(self) -> str:
        """The user of :attr:`api_key` (or of :attr:`pat` when there are no API keys)."""
        return self._user_id

    @property
    def app_id(self) -> str:
        """The app of :attr:`api_key` (``"local-app"`` when there are no API keys)."""
        return self._app_id

    @property
    def api_keys(self) -> Mapping[str, tuple[str, str]]:
        """All accepted API keys, ``{key: (user_id, app_id)}`` (read-only)."""
        return self._credentials.api_keys

    @property
    def pats(self) -> Mapping[str, str]:
        """All accepted PATs, ``{pat: user_id}`` (read-only)."""
        return self._credentials.pats

    # -- what arrived ----------------------------------------------------------------------

    @property
    def calls(self) -> list[RecordedCall]:
        """A copy of the calls received so far, oldest first: ``(method, metadata, request)``."""
        return self._log.snapshot()

    def clear_calls(self) -> None:
        """Forget the calls recorded so far."""
        self._log.clear()

    def __repr__(self) -> str:
        where = self.address if self._port is not None else f"{self._host} (not started)"
        return f"LocalV2Server({where}, user_id={self._user_id!r}, app_id={self._app_id!r})"
