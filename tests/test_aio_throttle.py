"""The awaitable of an aio unary call while it retries CONN_THROTTLED: state, re-await, cancel."""

from __future__ import annotations

import asyncio
import threading

import pytest
from servers import RecordingServer, status_response

from clarifai_client import DEFAULTS, ClarifaiChannel
from clarifai_client.grpc.api import service_pb2, service_pb2_grpc

THROTTLED = 11005


def _throttling_server() -> RecordingServer:
    return RecordingServer(handlers={
        "ListInputs": lambda req, ctx: status_response(service_pb2.MultiInputResponse, THROTTLED, "slow down"),
    })


def _channel(address: str, retries: int, backoff: float):
    defaults = DEFAULTS.replace(throttle_retries=retries, throttle_initial_backoff=backoff,
                                throttle_max_backoff=backoff)
    return ClarifaiChannel.get_aio_insecure_grpc_channel(address, defaults=defaults)


def test_awaiting_twice_does_not_repeat_the_retries() -> None:
    async def scenario(server: RecordingServer) -> None:
        channel = _channel(server.address, retries=3, backoff=0.001)
        call = service_pb2_grpc.V2Stub(channel).ListInputs(service_pb2.ListInputsRequest())
        first = await call
        after_first = len(server.calls)
        second = await call
        assert first.status.code == second.status.code == THROTTLED
        assert after_first == 4 and len(server.calls) == 4
        assert call.done()
        await channel.close()

    with _throttling_server() as server:
        asyncio.run(scenario(server))


def test_done_is_false_while_retrying_and_cancel_stops_the_retries() -> None:
    second_call = threading.Event()

    def throttle(req, ctx):
        if len(server.calls) >= 2:
            second_call.set()
        return status_response(service_pb2.MultiInputResponse, THROTTLED, "slow down")

    async def scenario() -> None:
        channel = _channel(server.address, retries=50, backoff=0.05)
        call = service_pb2_grpc.V2Stub(channel).ListInputs(service_pb2.ListInputsRequest(), timeout=30)
        task = asyncio.ensure_future(call)
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, second_call.wait, 10)  # a retry is under way
        assert not call.done()
        assert call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert call.done() and call.cancelled()
        assert len(server.calls) < 50
        await channel.close()

    server = RecordingServer(handlers={"ListInputs": throttle})
    with server:
        asyncio.run(scenario())
