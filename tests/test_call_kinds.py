"""All four call kinds, sync and aio, get the same auth, identification, deadlines, retries, checks.

One test body per behaviour runs through a small adapter (``flavour``) that drives either a sync
channel or an aio channel (inside ``asyncio.run``) against a RecordingServer on 127.0.0.1:0.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Callable

import grpc
import pytest
from google.protobuf import message_factory
from servers import STREAM_UNARY_PATH, V2, RecordedCall, RecordingServer, status_response

from clarifai_client import (
    DEFAULTS,
    Auth,
    ClarifaiChannel,
    ClarifaiRpcError,
    PatRequiredError,
)
from clarifai_client._method_rules import MethodRule, method_rules
from clarifai_client.grpc.api import service_pb2
from clarifai_client.grpc.api.status import status_code_pb2

API_KEY = "key-0123456789abcdef"
PAT = "pat-0123456789abcdef"
SERVICE = "/clarifai.api.V2/"


@dataclass(frozen=True)
class Kind:
    """One call kind and the V2 methods that exercise it (a plain one and a PAT-only one)."""

    name: str
    method: str
    pat_only_method: str

    @property
    def client_streaming(self) -> bool:
        return self.name.startswith("stream_")

    @property
    def server_streaming(self) -> bool:
        return self.name.endswith("_stream")

    def classes(self, method: str) -> tuple[Any, Any]:
        if method == "TestStreamUnary":
            return service_pb2.PostModelOutputsRequest, service_pb2.MultiOutputResponse
        desc = V2.methods_by_name[method]
        return (
            message_factory.GetMessageClass(desc.input_type),
            message_factory.GetMessageClass(desc.output_type),
        )

    def handler(self, produce: Callable[[list[Any], grpc.ServicerContext], list[Any]]) -> Any:
        """A handler of this kind's shape around ``produce(requests, context) -> responses``."""
        client_streaming = self.client_streaming
        if self.server_streaming:

            def streaming(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                yield from produce(list(request) if client_streaming else [request], context)

            return streaming

        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            return produce(list(request) if client_streaming else [request], context)[0]

        return unary


KINDS = [
    Kind("unary_unary", "PostModelOutputs", "ListApps"),
    Kind("unary_stream", "GenerateModelOutputs", "StreamLogEntries"),
    # V2 has no stream-unary RPC: the test server's extra route stands in, with a rule we inject.
    Kind("stream_unary", "TestStreamUnary", "TestStreamUnary"),
    Kind("stream_stream", "StreamModelOutputs", "ProcessRunnerItems"),
]


async def _agen(items: Sequence[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


class Flavour:
    """Runs one call of a kind through a fresh channel and returns the responses (a list)."""

    name = ""

    def call(
        self,
        server: RecordingServer,
        kind: Kind,
        requests: Sequence[Any],
        *,
        method: str | None = None,
        call_kw: dict[str, Any] | None = None,
        **channel_kw: Any,
    ) -> list[Any]:
        raise NotImplementedError

    @staticmethod
    def _multicallable(channel: Any, kind: Kind, method: str | None) -> Any:
        name = method or kind.method
        req_cls, resp_cls = kind.classes(name)
        path = STREAM_UNARY_PATH if name == "TestStreamUnary" else SERVICE + name
        return getattr(channel, kind.name)(
            path,
            request_serializer=req_cls.SerializeToString,
            response_deserializer=resp_cls.FromString,
        )


class SyncFlavour(Flavour):
    name = "sync"

    def call(
        self,
        server: RecordingServer,
        kind: Kind,
        requests: Sequence[Any],
        *,
        method: str | None = None,
        call_kw: dict[str, Any] | None = None,
        **channel_kw: Any,
    ) -> list[Any]:
        with ClarifaiChannel.get_insecure_grpc_channel(server.address, **channel_kw) as channel:
            mc = self._multicallable(channel, kind, method)
            result = mc(iter(requests) if kind.client_streaming else requests[0], **(call_kw or {}))
            return list(result) if kind.server_streaming else [result]


class AioFlavour(Flavour):
    name = "aio"

    def call(
        self,
        server: RecordingServer,
        kind: Kind,
        requests: Sequence[Any],
        *,
        method: str | None = None,
        call_kw: dict[str, Any] | None = None,
        **channel_kw: Any,
    ) -> list[Any]:
        async def main() -> list[Any]:
            async with ClarifaiChannel.get_aio_insecure_grpc_channel(
                server.address, **channel_kw
            ) as channel:
                mc = self._multicallable(channel, kind, method)
                call = mc(
                    _agen(requests) if kind.client_streaming else requests[0], **(call_kw or {})
                )
                if kind.server_streaming:
                    return [r async for r in call]
                return [await call]

        return asyncio.run(main())


def _stream_unary_rule(monkeypatch: pytest.MonkeyPatch, pat_only: bool) -> None:
    rule = MethodRule("TestStreamUnary", pat_only=pat_only, app_scoped=False, has_user_app_id=True)
    monkeypatch.setitem(method_rules(), STREAM_UNARY_PATH, rule)


@pytest.fixture(params=[SyncFlavour(), AioFlavour()], ids=lambda f: f.name)
def flavour(request: pytest.FixtureRequest) -> Flavour:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=KINDS, ids=lambda k: k.name)
def kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Kind:
    _stream_unary_rule(monkeypatch, pat_only=False)
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def serve() -> Iterator[Callable[..., RecordingServer]]:
    servers: list[RecordingServer] = []

    def start(**handlers: Any) -> RecordingServer:
        server = RecordingServer(handlers=handlers).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _request(kind: Kind, method: str | None = None, **fields: Any) -> Any:
    return kind.classes(method or kind.method)[0](**fields)


def _requests(kind: Kind, method: str | None = None) -> list[Any]:
    count = 2 if kind.client_streaming else 1
    return [_request(kind, method) for _ in range(count)]


def _deadline(call: RecordedCall) -> float | None:
    """Seconds left when the call arrived; None when it had no deadline (gRPC reports ~2**63)."""
    remaining = call.time_remaining
    return None if remaining is None or remaining > 1e9 else remaining


def _ok(kind: Kind, method: str | None = None, description: str = "") -> Any:
    return status_response(
        kind.classes(method or kind.method)[1], status_code_pb2.SUCCESS, description
    )


# -- auth and client identification ----------------------------------------------------------


def test_auth_and_identification_metadata(
    flavour: Flavour, kind: Kind, serve: Callable[..., RecordingServer]
) -> None:
    server = serve()
    flavour.call(
        server,
        kind,
        _requests(kind),
        auth=Auth.from_api_key(API_KEY),
        call_kw={"metadata": (("x-trace", "t-1"),)},
    )
    (call,) = server.calls_to(kind.method)
    assert call.header("authorization") == [f"Key {API_KEY}"]
    assert call.header("x-clarifai-request-id-prefix") == [DEFAULTS.request_id_prefix]
    (agent,) = call.header("user-agent")
    assert agent.startswith(DEFAULTS.user_agent + " grpc-python")  # -asyncio/ for aio
    assert call.header("x-trace") == ["t-1"]


def test_custom_identification_and_callers_authorization_wins(
    flavour: Flavour, kind: Kind, serve: Callable[..., RecordingServer]
) -> None:
    server = serve()
    defaults = DEFAULTS.replace(user_agent="my-app/2.0", request_id_prefix="my-app")
    flavour.call(
        server,
        kind,
        _requests(kind),
        auth=Auth.from_api_key(API_KEY),
        defaults=defaults,
        call_kw={"metadata": (("Authorization", "Key other-token-123"),)},
    )
    (call,) = server.calls_to(kind.method)
    assert call.header("authorization") == ["Key other-token-123"]
    assert call.header("x-clarifai-request-id-prefix") == ["my-app"]
    assert call.header("user-agent")[0].startswith("my-app/2.0 ")


def test_no_auth_sends_no_authorization(
    flavour: Flavour, kind: Kind, serve: Callable[..., RecordingServer]
) -> None:
    server = serve()
    flavour.call(server, kind, _requests(kind))
    (call,) = server.calls_to(kind.method)
    assert call.header("authorization") == []
    assert call.header("x-clarifai-request-id-prefix") == [DEFAULTS.request_id_prefix]


def test_pat_fills_user_app_id_into_every_request(
    flavour: Flavour, kind: Kind, serve: Callable[..., RecordingServer]
) -> None:
    seen: list[Any] = []

    def produce(requests: list[Any], _context: grpc.ServicerContext) -> list[Any]:
        seen.extend(requests)
        return [_ok(kind)]

    server = serve(**{kind.method: kind.handler(produce)})
    requests = _requests(kind)
    flavour.call(server, kind, requests, auth=Auth.from_pat(PAT, user_id="u1", app_id="a1"))
    assert len(seen) == len(requests)
    for request in seen:
        assert (request.user_app_id.user_id, request.user_app_id.app_id) == ("u1", "a1")
    assert server.calls_to(kind.method)[0].header("authorization") == [f"Key {PAT}"]


# -- PAT-only methods --------------------------------------------------------------------------


def test_pat_only_method_refused_locally_for_api_key(
    flavour: Flavour,
    kind: Kind,
    serve: Callable[..., RecordingServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _stream_unary_rule(monkeypatch, pat_only=True)
    server = serve()
    method = kind.pat_only_method
    with pytest.raises(PatRequiredError, match=method):
        flavour.call(
            server, kind, _requests(kind, method), method=method, auth=Auth.from_api_key(API_KEY)
        )
    assert server.calls == []


def test_pat_only_method_allowed_for_pat(
    flavour: Flavour,
    kind: Kind,
    serve: Callable[..., RecordingServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _stream_unary_rule(monkeypatch, pat_only=True)
    server = serve()
    method = kind.pat_only_method
    responses = flavour.call(
        server,
        kind,
        _requests(kind, method),
        method=method,
        auth=Auth.from_pat(PAT, user_id="u1", app_id="a1"),
    )
    assert [r.status.code for r in responses] == [status_code_pb2.SUCCESS] * len(responses)
    assert len(server.calls_to(method)) == 1


# -- deadlines ---------------------------------------------------------------------------------


def test_default_deadline_only_for_unary_unary(
    flavour: Flavour, kind: Kind, serve: Callable[..., RecordingServer]
) -> None:
    server = serve()
    flavour.call(server, kind, _requests(kind), default_timeout=30)
    (call,) = server.calls_to(kind.method)
    remaining = _deadline(call)
    if kind.name == "unary_unary":
        assert remaining is not None and 20 < remaining < 31.5
    else:
        assert remaining is None


def test_built_in_default_deadline(
    flavour: Flavour, kind: Kind, serve: Callable[..., RecordingServer]
) -> None:
    server = serve()
    flavour.call(server, kind, _requests(kind))
    (call,) = server.calls_to(kind.method)
    assert DEFAULTS.default_timeout is not None
    remaining = _deadline(call)
    if kind.name == "unary_unary":
        assert (
            remaining is not None
            and DEFAULTS.default_timeout - 10 < remaining < DEFAULTS.default_timeout + 1.5
        )
    else:
        assert remaining is None


def test_explicit_timeout_for_every_kind(
    flavour: Flavour, kind: Kind, serve: Callable[..., RecordingServer]
) -> None:
    server = serve()
    flavour.call(server, kind, _requests(kind), default_timeout=None, call_kw={"timeout": 7})
    (call,) = server.calls_to(kind.method)
    remaining = _deadline(call)
    assert remaining is not None and 5 < remaining < 8.5  # the wire may round up to whole seconds


def test_no_deadline_when_default_timeout_is_none(
    flavour: Flavour, kind: Kind, serve: Callable[..., RecordingServer]
) -> None:
    server = serve()
    flavour.call(server, kind, _requests(kind), default_timeout=None)
    (call,) = server.calls_to(kind.method)
    assert _deadline(call) is None


# -- retries -----------------------------------------------------------------------------------


def test_unavailable_is_retried_transparently(
    flavour: Flavour, kind: Kind, serve: Callable[..., RecordingServer]
) -> None:
    attempts: list[int] = []

    def produce(requests: list[Any], context: grpc.ServicerContext) -> list[Any]:
        attempts.append(len(requests))
        if len(attempts) == 1:
            context.abort(grpc.StatusCode.UNAVAILABLE, "warming up")
        return [_ok(kind, description=f"{len(requests)} requests")] * (
            2 if kind.server_streaming else 1
        )

    server = serve(**{kind.method: kind.handler(produce)})
    requests = _requests(kind)
    responses = flavour.call(server, kind, requests, auth=Auth.from_api_key(API_KEY))
    assert [r.status.description for r in responses] == [f"{len(requests)} requests"] * len(
        responses
    )
    # the retry replays every request message of a client stream
    assert attempts == [len(requests), len(requests)]
    first, second = server.calls_to(kind.method)
    assert first.header("grpc-previous-rpc-attempts") == []
    assert second.header("grpc-previous-rpc-attempts") == ["1"]
    assert second.header("authorization") == [f"Key {API_KEY}"]


def test_in_band_throttling_is_retried_for_unary_unary_only(
    flavour: Flavour, kind: Kind, serve: Callable[..., RecordingServer]
) -> None:
    answers: list[int] = []

    def produce(_requests: list[Any], _context: grpc.ServicerContext) -> list[Any]:
        code = 11005 if not answers else status_code_pb2.SUCCESS  # CONN_THROTTLED, then OK
        answers.append(code)
        return [status_response(kind.classes(kind.method)[1], code)]

    server = serve(**{kind.method: kind.handler(produce)})
    defaults = DEFAULTS.replace(throttle_initial_backoff=0.001, throttle_max_backoff=0.001)
    responses = flavour.call(server, kind, _requests(kind), defaults=defaults)
    if kind.name == "unary_unary":
        assert answers == [11005, status_code_pb2.SUCCESS]
        assert responses[0].status.code == status_code_pb2.SUCCESS
    else:
        # a stream may have been partly consumed: it is never repeated; the caller sees the status
        assert answers == [11005]
        assert responses[0].status.code == 11005


# -- transport errors --------------------------------------------------------------------------


def test_transport_error_carries_the_grpc_code(
    flavour: Flavour, kind: Kind, serve: Callable[..., RecordingServer]
) -> None:
    def produce(_requests: list[Any], context: grpc.ServicerContext) -> list[Any]:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad request")
        raise AssertionError("unreachable")

    server = serve(**{kind.method: kind.handler(produce)})
    with pytest.raises(grpc.RpcError) as info:
        flavour.call(server, kind, _requests(kind))
    err = info.value
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == "bad request"
    if not kind.server_streaming:
        # single-response kinds are translated; response streams are, via iter_/aiter_responses
        assert isinstance(err, ClarifaiRpcError)
        assert str(err).startswith(f"{kind.method}: gRPC INVALID_ARGUMENT: bad request")
        assert isinstance(err.__cause__, grpc.RpcError)
