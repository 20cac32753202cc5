"""raise_for_status and ClarifaiStatusError: in-band statuses become typed errors."""

from __future__ import annotations

import grpc
import pytest

from clarifai_client import ClarifaiError, ClarifaiRpcError, ClarifaiStatusError, raise_for_status
from clarifai_client.grpc.api import resources_pb2, service_pb2
from clarifai_client.grpc.api.status import status_code_pb2, status_pb2


def _status(code: int, description: str = "", req_id: str = "") -> status_pb2.Status:
    return status_pb2.Status(code=code, description=description, req_id=req_id)


def test_success_passes_through_unchanged() -> None:
    response = service_pb2.MultiOutputResponse(status=_status(status_code_pb2.SUCCESS))
    assert raise_for_status(response) is response


def test_failure_raises_with_code_name_description_details_req_id() -> None:
    response = service_pb2.MultiOutputResponse(
        status=status_pb2.Status(
            code=status_code_pb2.CONN_KEY_INVALID, description="Invalid API key", details="check it", req_id="r-123"
        )
    )
    with pytest.raises(ClarifaiStatusError) as info:
        raise_for_status(response, method="PostModelOutputs")
    err = info.value
    assert isinstance(err, ClarifaiError)
    assert (err.code, err.code_name, err.description, err.details, err.req_id) == (
        11008, "CONN_KEY_INVALID", "Invalid API key", "check it", "r-123",
    )
    assert err.response is response
    text = str(err)
    assert "PostModelOutputs" in text and "11008 CONN_KEY_INVALID" in text and "req_id=r-123" in text


def test_mixed_status_names_failed_inputs_and_keeps_successes() -> None:
    good = resources_pb2.Output(
        id="o1", status=_status(status_code_pb2.SUCCESS), input=resources_pb2.Input(id="in-good")
    )
    bad = resources_pb2.Output(
        id="o2", status=_status(status_code_pb2.INPUT_DOWNLOAD_FAILED, "Download failed"),
        input=resources_pb2.Input(id="in-bad"),
    )
    response = service_pb2.MultiOutputResponse(status=_status(status_code_pb2.MIXED_STATUS), outputs=[good, bad])
    with pytest.raises(ClarifaiStatusError) as info:
        raise_for_status(response)
    err = info.value
    assert err.code_name == "MIXED_STATUS"
    assert [(f.id, f.code, f.code_name) for f in err.failures] == [("in-bad", 30002, "INPUT_FAILED")]
    assert "in-bad" in str(err) and "30002" in str(err) and "in-good" not in str(err)
    assert err.response.outputs[0].input.id == "in-good"


def test_mixed_status_on_inputs_uses_input_ids() -> None:
    response = service_pb2.MultiInputResponse(
        status=_status(status_code_pb2.MIXED_STATUS),
        inputs=[
            resources_pb2.Input(id="a", status=_status(status_code_pb2.INPUT_DOWNLOAD_SUCCESS)),
            resources_pb2.Input(id="b", status=_status(status_code_pb2.INPUT_DOWNLOAD_FAILED)),
        ],
    )
    with pytest.raises(ClarifaiStatusError) as info:
        raise_for_status(response)
    ids = [f.id for f in info.value.failures]
    assert "b" in ids


def test_unknown_code_still_has_a_name() -> None:
    with pytest.raises(ClarifaiStatusError) as info:
        raise_for_status(service_pb2.MultiOutputResponse(status=_status(987654)))
    assert info.value.code_name == "UNKNOWN_STATUS_987654"


def test_rpc_error_is_still_a_grpc_rpc_error() -> None:
    class Fake(grpc.RpcError):
        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.UNAVAILABLE

        def details(self) -> str:
            return "connection refused"

    err = ClarifaiRpcError(Fake(), "ListInputs", hint="Could not reach x")
    assert isinstance(err, grpc.RpcError) and isinstance(err, ClarifaiError)
    assert err.code() is grpc.StatusCode.UNAVAILABLE and err.details() == "connection refused"
    assert str(err) == "ListInputs: gRPC UNAVAILABLE: connection refused. Could not reach x"


def test_raise_for_status_rejects_non_responses_clearly() -> None:
    with pytest.raises(TypeError, match="Clarifai response message"):
        raise_for_status(None)


def test_errors_survive_pickling() -> None:
    import pickle

    from clarifai_client import PatRequiredError

    response = service_pb2.MultiOutputResponse(status=_status(status_code_pb2.CONN_KEY_INVALID, "bad", "r-1"))
    err = pickle.loads(pickle.dumps(ClarifaiStatusError(response, method="PostModelOutputs")))
    assert (err.code, err.req_id, err.method) == (11008, "r-1", "PostModelOutputs")
    pat = pickle.loads(pickle.dumps(PatRequiredError("ListApps")))
    assert str(pat) == str(PatRequiredError("ListApps"))


def test_rpc_errors_pickle_with_code_details_and_hint() -> None:
    import pickle

    class Live(grpc.RpcError):
        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.UNAVAILABLE

        def details(self) -> str:
            return "connection refused"

    restored = pickle.loads(pickle.dumps(ClarifaiRpcError(Live(), "ListInputs", hint="Could not reach x")))
    assert isinstance(restored, grpc.RpcError)
    assert restored.code() is grpc.StatusCode.UNAVAILABLE and restored.details() == "connection refused"
    assert str(restored) == "ListInputs: gRPC UNAVAILABLE: connection refused. Could not reach x"
