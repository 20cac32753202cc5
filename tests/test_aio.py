"""The asyncio channel: lazy per-loop binding, use outside a loop, task cancellation, concurrency."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from servers import RecordingServer

from clarifai_client import Auth, ClarifaiChannel, ClarifaiRpcError, raise_for_status
from clarifai_client.grpc.api import resources_pb2, service_pb2, service_pb2_grpc
from clarifai_client.grpc.api.status import status_code_pb2
from clarifai_client.testing import TEXT_MODEL_ID, LocalV2Server

SUCCESS = status_code_pb2.SUCCESS
WAIT = 10.0  # upper bound for events that should happen at once; never slept
OUTSIDE = "outside a running event loop"


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as recording:
        yield recording


def _request() -> service_pb2.PostModelOutputsRequest:
    return service_pb2.PostModelOutputsRequest(model_id="m")


async def _requests() -> Any:
    yield _request()
    yield _request()


async def _every_kind(stub: service_pb2_grpc.V2Stub, channel: Any) -> list[int]:
    """One call of each kind; the status codes that came back."""
    codes = [(await stub.PostModelOutputs(_request())).status.code]
    codes += [r.status.code async for r in stub.GenerateModelOutputs(_request())]
    codes += [r.status.code async for r in stub.StreamModelOutputs(_requests())]
    stream_unary = channel.stream_unary(
        "/clarifai.api.V2/TestStreamUnary",
        request_serializer=service_pb2.PostModelOutputsRequest.SerializeToString,
        response_deserializer=service_pb2.MultiOutputResponse.FromString,
    )
    codes.append((await stream_unary(_requests())).status.code)
    return codes


# -- binding to event loops ------------------------------------------------------------------


def test_channel_made_outside_a_loop_works_in_two_loops(server: RecordingServer) -> None:
    # as a module would at import time: no event loop is running here
    channel = ClarifaiChannel.get_aio_insecure_grpc_channel(server.address,
                                                            auth=Auth.from_api_key("key-123456789"))
    stub = service_pb2_grpc.V2Stub(channel)

    async def first() -> list[int]:
        return await _every_kind(stub, channel)  # the first loop ends without closing the channel

    async def second() -> list[int]:
        async with channel:
            return await _every_kind(stub, channel)

    assert asyncio.run(first()) == [SUCCESS] * 6
    assert asyncio.run(second()) == [SUCCESS] * 6
    assert asyncio.run(second()) == [SUCCESS] * 6  # closed at the end of a loop: reopens in the next
    assert len(server.calls) == 12
    assert {c.header("authorization")[0] for c in server.calls} == {"Key key-123456789"}


def test_calls_outside_a_running_loop_raise_a_clear_error(server: RecordingServer) -> None:
    channel = ClarifaiChannel.get_aio_insecure_grpc_channel(server.address)
    stub = service_pb2_grpc.V2Stub(channel)
    calls = {
        "PostModelOutputs": lambda: stub.PostModelOutputs(_request()),
        "GenerateModelOutputs": lambda: stub.GenerateModelOutputs(_request()),
        "StreamModelOutputs": lambda: stub.StreamModelOutputs(iter([_request()])),
        "get_state": lambda: channel.get_state(),
    }
    for name, call in calls.items():
        with pytest.raises(RuntimeError, match=f"^{name} was called on an asyncio channel {OUTSIDE}"):
            call()
    assert server.calls == []
    # and the channel still works once a loop runs (nothing was bound by the failed calls)
    assert asyncio.run(_every_kind(stub, channel)) == [SUCCESS] * 6


# -- cancellation ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["unary_unary", "stream_unary"])
def test_cancelling_the_task_cancels_the_rpc(kind: str) -> None:
    arrived = threading.Event()
    saw_cancel = threading.Event()

    def hang(_request: Any, context: grpc.ServicerContext) -> Any:
        ended = threading.Event()
        if not context.add_callback(ended.set):  # the RPC has already ended: cancelled
            ended.set()
        arrived.set()
        if ended.wait(WAIT):  # the handler has not returned: only a cancellation ends the RPC now
            saw_cancel.set()
        return service_pb2.MultiOutputResponse()

    handler = {"unary_unary": "PostModelOutputs", "stream_unary": "TestStreamUnary"}[kind]
    with RecordingServer(handlers={handler: hang}) as server:
        async def main() -> bool:
            loop = asyncio.get_running_loop()
            async with ClarifaiChannel.get_aio_insecure_grpc_channel(server.address) as channel:
                if kind == "unary_unary":
                    call = service_pb2_grpc.V2Stub(channel).PostModelOutputs(_request())
                else:
                    call = channel.stream_unary(
                        "/clarifai.api.V2/TestStreamUnary",
                        request_serializer=service_pb2.PostModelOutputsRequest.SerializeToString,
                        response_deserializer=service_pb2.MultiOutputResponse.FromString,
                    )(_requests())

                async def wait_for_response() -> Any:
                    return await call

                task = asyncio.create_task(wait_for_response())
                assert await loop.run_in_executor(None, arrived.wait, WAIT)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                # checked before the channel closes, which would cancel the call anyway
                return await loop.run_in_executor(None, saw_cancel.wait, WAIT)

        assert asyncio.run(main()), "the server never saw the RPC cancelled"


# -- errors --------------------------------------------------------------------------------------


def test_aio_deadline_error_has_a_hint(server: RecordingServer) -> None:
    release = threading.Event()

    def slow(_request: Any, context: grpc.ServicerContext) -> Any:
        context.add_callback(release.set)
        release.wait(WAIT)
        return service_pb2.MultiOutputResponse()

    with RecordingServer(handlers={"PostModelOutputs": slow}) as slow_server:
        async def main() -> None:
            async with ClarifaiChannel.get_aio_insecure_grpc_channel(slow_server.address) as channel:
                with pytest.raises(ClarifaiRpcError) as info:
                    await service_pb2_grpc.V2Stub(channel).PostModelOutputs(_request(), timeout=0.2)
            assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert "deadline of 0.2 s" in str(info.value)

        asyncio.run(main())


# -- concurrency against the local server ----------------------------------------------------------


def test_500_concurrent_unary_calls_over_one_channel() -> None:
    count = 500
    with LocalV2Server() as local:
        auth = Auth.from_api_key(local.api_key)

        async def main() -> list[str]:
            async with ClarifaiChannel.get_aio_insecure_grpc_channel(local.address, auth=auth) as channel:
                stub = service_pb2_grpc.V2Stub(channel)

                async def echo(i: int) -> str:
                    text = resources_pb2.Text(raw=f"call {i}")
                    request = service_pb2.PostModelOutputsRequest(
                        model_id=TEXT_MODEL_ID,
                        inputs=[resources_pb2.Input(data=resources_pb2.Data(text=text))],
                    )
                    response = raise_for_status(await stub.PostModelOutputs(request))
                    return str(response.outputs[0].data.text.raw)

                return await asyncio.gather(*(echo(i) for i in range(count)))

        started = time.perf_counter()
        answers = asyncio.run(main())
        elapsed = time.perf_counter() - started
        print(f"\n{count} concurrent aio unary calls over one channel: {elapsed:.2f} s")
        assert answers == [f"call {i}" for i in range(count)]
        assert len(local.calls) == count


def test_close_closes_the_running_loops_channel_only(server: RecordingServer) -> None:
    channel = ClarifaiChannel.get_aio_insecure_grpc_channel(server.address)
    stub = service_pb2_grpc.V2Stub(channel)

    async def close_then_call() -> None:
        await stub.PostModelOutputs(_request())
        await channel.close()
        # every method, cached or not, sees the closed channel, as with grpc.aio
        for call in (lambda: stub.PostModelOutputs(_request()), lambda: stub.GetModel(
                service_pb2.GetModelRequest())):
            with pytest.raises(grpc.aio.UsageError, match="Channel is closed"):
                await call()

    asyncio.run(close_then_call())
    assert asyncio.run(_every_kind(stub, channel)) == [SUCCESS] * 6  # a new loop: a fresh channel
