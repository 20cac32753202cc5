"""Response streams, sync and aio: iter_/aiter_responses, mid-stream faults, cancellation.

Each scenario runs through a small adapter (``flavour``) over a sync channel or an aio channel (in
``asyncio.run``), for both response-streaming kinds, against a RecordingServer on 127.0.0.1:0.
Cancellation is checked on the server: a handler blocked mid-stream sees its RPC end (through
``context.add_callback``) before it returns, which only the client's cancellation can cause; and it is
checked while the client's channel is still open, so closing the channel cannot be what cancelled it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Callable

import grpc
import pytest
from servers import RecordingServer, status_response

from clarifai_client import (
    ClarifaiChannel,
    ClarifaiError,
    ClarifaiRpcError,
    ClarifaiStatusError,
    aiter_responses,
    iter_responses,
)
from clarifai_client.grpc.api import service_pb2
from clarifai_client.grpc.api.status import status_code_pb2

SUCCESS = status_code_pb2.SUCCESS
MODEL_BUSY = status_code_pb2.MODEL_BUSY_PLEASE_RETRY
WAIT = 10.0  # upper bound for events that should happen at once; never slept

STREAM_KINDS = {  # kind -> V2 method
    "unary_stream": "GenerateModelOutputs",
    "stream_stream": "StreamModelOutputs",
}


def _ok(word: str = "") -> service_pb2.MultiOutputResponse:
    return status_response(service_pb2.MultiOutputResponse, SUCCESS, description=word)


def _words(responses: list[Any]) -> list[str]:
    return [r.status.description for r in responses]


class Probe:
    """Watches one RPC from its handler's first line: did the RPC end before the handler finished?

    While a handler still runs, only a cancellation can end its RPC; the streaming wrapper below
    marks ``finished`` when the handler returns normally.
    """

    def __init__(self, context: grpc.ServicerContext, saw_cancel: threading.Event) -> None:
        self.finished = False
        self.ended = threading.Event()
        self.saw_cancel = saw_cancel
        if not context.add_callback(self._on_end):  # already over
            self._on_end()

    def _on_end(self) -> None:
        if not self.finished:
            self.saw_cancel.set()
        self.ended.set()

    def hang(self) -> None:
        """Block until the RPC ends (bounded by WAIT)."""
        self.ended.wait(WAIT)


Handler = Callable[[grpc.ServicerContext, Probe], Iterator[Any]]


@dataclass
class StreamServer(RecordingServer):
    saw_cancel: threading.Event = field(default_factory=threading.Event)


@dataclass
class Outcome:
    messages: list[Any] = field(default_factory=list)
    error: BaseException | None = None
    server_saw_cancel: bool | None = None  # checked while the channel was still open


class Flavour:
    name = ""

    def consume(self, server: StreamServer, kind: str, *, helper: bool, stop_after: int = 0,
                how: str = "") -> Outcome:
        """Read the stream (through the helper or raw); stop after ``stop_after`` messages if > 0."""
        raise NotImplementedError

    @staticmethod
    def _mc(channel: Any, kind: str) -> Any:
        return getattr(channel, kind)(
            f"/clarifai.api.V2/{STREAM_KINDS[kind]}",
            request_serializer=service_pb2.PostModelOutputsRequest.SerializeToString,
            response_deserializer=service_pb2.MultiOutputResponse.FromString,
        )


class SyncFlavour(Flavour):
    name = "sync"

    def consume(self, server: StreamServer, kind: str, *, helper: bool, stop_after: int = 0,
                how: str = "") -> Outcome:
        out = Outcome()
        with ClarifaiChannel.get_insecure_grpc_channel(server.address) as channel:
            request = service_pb2.PostModelOutputsRequest()
            arg = iter([request]) if kind == "stream_stream" else request
            mc = self._mc(channel, kind)
            # no name holds the call: leaving the loop drops it (and the helper's generator)
            try:
                for message in (iter_responses(mc(arg), STREAM_KINDS[kind]) if helper else mc(arg)):
                    out.messages.append(message)
                    if len(out.messages) == stop_after:
                        break  # how == "break"
            except Exception as err:
                out.error = err
            if stop_after or out.error is not None:
                out.server_saw_cancel = server.saw_cancel.wait(WAIT)
        return out


class AioFlavour(Flavour):
    name = "aio"

    def consume(self, server: StreamServer, kind: str, *, helper: bool, stop_after: int = 0,
                how: str = "cancel") -> Outcome:
        out = Outcome()

        async def requests() -> AsyncIterator[Any]:
            yield service_pb2.PostModelOutputsRequest()

        async def main() -> None:
            loop = asyncio.get_running_loop()
            async with ClarifaiChannel.get_aio_insecure_grpc_channel(server.address) as channel:
                mc = self._mc(channel, kind)
                call = mc(requests() if kind == "stream_stream" else service_pb2.PostModelOutputsRequest())
                stream = aiter_responses(call, STREAM_KINDS[kind]) if helper else call
                got_enough = asyncio.Event()

                async def read() -> None:
                    async for message in stream:
                        out.messages.append(message)
                        if len(out.messages) == stop_after:
                            got_enough.set()
                            if how == "break":
                                break

                task = asyncio.create_task(read())
                waiter = asyncio.create_task(got_enough.wait())
                await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if stop_after and how == "cancel":
                    task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    assert how == "cancel" and task.cancelled()
                except Exception as err:
                    out.error = err
                if how == "break" and helper:
                    del stream  # the loop's async-generator hook closes it, which cancels the call
                if stop_after or out.error is not None:
                    out.server_saw_cancel = await loop.run_in_executor(
                        None, server.saw_cancel.wait, WAIT
                    )

        asyncio.run(main())
        return out


@pytest.fixture(params=[SyncFlavour(), AioFlavour()], ids=lambda f: f.name)
def flavour(request: pytest.FixtureRequest) -> Flavour:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=list(STREAM_KINDS))
def kind(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def serve() -> Iterator[Callable[..., StreamServer]]:
    servers: list[StreamServer] = []

    def start(kind: str, handler: Handler) -> StreamServer:
        saw_cancel = threading.Event()

        def streaming(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            probe = Probe(context, saw_cancel)
            if kind == "stream_stream":
                for _ in request:  # read the client's stream to its end
                    pass
            yield from handler(context, probe)
            probe.finished = True

        server = StreamServer(handlers={STREAM_KINDS[kind]: streaming}, saw_cancel=saw_cancel).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# -- the whole stream ------------------------------------------------------------------------


@pytest.mark.parametrize("helper", [True, False], ids=["helper", "raw"])
def test_all_messages_arrive(flavour: Flavour, kind: str, serve: Callable[..., StreamServer],
                             helper: bool) -> None:
    def words(_context: grpc.ServicerContext, _probe: Probe) -> Iterator[Any]:
        yield from (_ok(w) for w in ("the", "quick", "fox"))

    outcome = flavour.consume(serve(kind, words), kind, helper=helper)
    assert outcome.error is None
    assert _words(outcome.messages) == ["the", "quick", "fox"]


# -- mid-stream faults -----------------------------------------------------------------------


def _abort_after_two(context: grpc.ServicerContext, _probe: Probe) -> Iterator[Any]:
    yield _ok("one")
    yield _ok("two")
    context.abort(grpc.StatusCode.INTERNAL, "model crashed")


def test_abort_after_two_messages_raw(flavour: Flavour, kind: str,
                                      serve: Callable[..., StreamServer]) -> None:
    outcome = flavour.consume(serve(kind, _abort_after_two), kind, helper=False)
    assert _words(outcome.messages) == ["one", "two"]
    err = outcome.error
    assert isinstance(err, grpc.RpcError) and not isinstance(err, ClarifaiError)
    assert err.code() == grpc.StatusCode.INTERNAL
    assert err.details() == "model crashed"


def test_abort_after_two_messages_helper(flavour: Flavour, kind: str,
                                         serve: Callable[..., StreamServer]) -> None:
    outcome = flavour.consume(serve(kind, _abort_after_two), kind, helper=True)
    assert _words(outcome.messages) == ["one", "two"]
    err = outcome.error
    assert isinstance(err, ClarifaiRpcError)
    assert isinstance(err, grpc.RpcError)  # code written for the published client still catches it
    assert err.code() == grpc.StatusCode.INTERNAL
    assert err.details() == "model crashed"
    assert str(err) == f"{STREAM_KINDS[kind]}: gRPC INTERNAL: model crashed"
    assert isinstance(err.__cause__, grpc.RpcError)


def test_in_band_failure_raises_with_code_and_req_id_and_cancels(
    flavour: Flavour, kind: str, serve: Callable[..., StreamServer]
) -> None:
    def busy_after_one(context: grpc.ServicerContext, probe: Probe) -> Iterator[Any]:
        yield _ok("one")
        yield status_response(service_pb2.MultiOutputResponse, MODEL_BUSY, "Model is busy",
                              req_id="req-42")
        probe.hang()
        yield _ok("never read")

    outcome = flavour.consume(serve(kind, busy_after_one), kind, helper=True)
    assert _words(outcome.messages) == ["one"]
    err = outcome.error
    assert isinstance(err, ClarifaiStatusError)
    assert (err.code, err.code_name, err.req_id) == (MODEL_BUSY, "MODEL_BUSY_PLEASE_RETRY", "req-42")
    assert err.response.status.description == "Model is busy"
    assert str(err) == (f"{STREAM_KINDS[kind]}: {MODEL_BUSY} MODEL_BUSY_PLEASE_RETRY: Model is busy "
                        "[req_id=req-42]")
    assert outcome.server_saw_cancel, "the helper did not cancel the RPC after the in-band failure"


def test_in_band_failure_passes_through_without_helper(
    flavour: Flavour, kind: str, serve: Callable[..., StreamServer]
) -> None:
    def busy(_context: grpc.ServicerContext, _probe: Probe) -> Iterator[Any]:
        yield status_response(service_pb2.MultiOutputResponse, MODEL_BUSY, "Model is busy")
        yield _ok("after")

    outcome = flavour.consume(serve(kind, busy), kind, helper=False)
    assert outcome.error is None
    assert [m.status.code for m in outcome.messages] == [MODEL_BUSY, SUCCESS]


# -- cancellation ----------------------------------------------------------------------------


def _one_then_hang(context: grpc.ServicerContext, probe: Probe) -> Iterator[Any]:
    yield _ok("one")
    probe.hang()
    yield _ok("too late")


@pytest.mark.parametrize("helper", [True, False], ids=["helper", "raw"])
def test_stopping_early_cancels_the_rpc(flavour: Flavour, kind: str,
                                        serve: Callable[..., StreamServer], helper: bool) -> None:
    """Sync: ``break``. Aio: cancel the task reading the stream."""
    server = serve(kind, _one_then_hang)
    outcome = flavour.consume(server, kind, helper=helper, stop_after=1)
    assert _words(outcome.messages) == ["one"]
    assert outcome.error is None
    assert outcome.server_saw_cancel, "the server never saw the RPC cancelled"


def test_aio_break_out_of_the_helper_cancels_the_rpc(kind: str,
                                                      serve: Callable[..., StreamServer]) -> None:
    server = serve(kind, _one_then_hang)
    outcome = AioFlavour().consume(server, kind, helper=True, stop_after=1, how="break")
    assert _words(outcome.messages) == ["one"]
    assert outcome.server_saw_cancel, "the server never saw the RPC cancelled"


# -- the helpers on plain iterables ------------------------------------------------------------


def test_iter_responses_on_a_plain_iterable() -> None:
    good = [_ok("a"), _ok("b")]
    assert _words(list(iter_responses(good))) == ["a", "b"]
    bad = iter([_ok("a"), status_response(service_pb2.MultiOutputResponse, MODEL_BUSY, req_id="r-1")])
    stream = iter_responses(bad, "GenerateModelOutputs")
    assert _words([next(stream)]) == ["a"]
    with pytest.raises(ClarifaiStatusError, match=r"^GenerateModelOutputs: 21354 .*\[req_id=r-1\]$"):
        next(stream)


def test_aiter_responses_on_a_plain_async_iterable() -> None:
    async def source(*codes: int) -> AsyncIterator[Any]:
        for code in codes:
            yield status_response(service_pb2.MultiOutputResponse, code, req_id="r-2")

    async def main() -> None:
        assert len([m async for m in aiter_responses(source(SUCCESS, SUCCESS))]) == 2
        seen = []
        with pytest.raises(ClarifaiStatusError) as info:
            async for message in aiter_responses(source(SUCCESS, MODEL_BUSY, SUCCESS)):
                seen.append(message)
        assert len(seen) == 1
        assert (info.value.code, info.value.req_id, info.value.method) == (MODEL_BUSY, "r-2", None)

    asyncio.run(main())


def test_unnamed_stream_errors_say_what_failed() -> None:
    class Failing:
        def __iter__(self) -> Iterator[Any]:
            raise _FakeRpcError()

    with pytest.raises(ClarifaiRpcError) as info:
        list(iter_responses(Failing()))
    assert str(info.value) == "response stream: gRPC UNAVAILABLE: gone"


class _FakeRpcError(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "gone"
