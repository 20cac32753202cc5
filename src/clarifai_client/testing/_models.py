"""The built-in models: `color-recognition` (dominant colors with Pillow) and `local-text-echo`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Callable, cast

from PIL import Image

from clarifai_client.grpc.api import resources_pb2, service_pb2
from clarifai_client.grpc.api.status import status_code_pb2, status_pb2
from clarifai_client.testing._colors import hex_of, nearest_w3c
from clarifai_client.testing._images import decode_small, image_bytes
from clarifai_client.testing._status import InBandError, batch_code, make_status

__all__ = [
    "COLOR_MODEL_ID",
    "MAX_INPUTS",
    "MODEL_APP_ID",
    "MODEL_IDS",
    "MODEL_USER_ID",
    "TEXT_MODEL_ID",
    "dominant_colors",
    "generate",
    "get_model",
    "list_models",
    "predict",
]

COLOR_MODEL_ID = "color-recognition"
TEXT_MODEL_ID = "local-text-echo"
MODEL_IDS = (COLOR_MODEL_ID, TEXT_MODEL_ID)
MODEL_USER_ID = "clarifai"
MODEL_APP_ID = "main"
MODEL_VERSION_ID = "local-1"
MAX_INPUTS = 128
MAX_COLORS = 10
MIN_SHARE = 0.01
MERGE_DISTANCE = 8

_DESCRIPTIONS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        COLOR_MODEL_ID: (
            "color-recognizer",
            "Dominant colors of an image, each with its nearest W3C/CSS named color and its share.",
        ),
        TEXT_MODEL_ID: (
            "text-to-text",
            "Echoes its input text; GenerateModelOutputs streams it back one word per response.",
        ),
    }
)


def _model(model_id: str) -> resources_pb2.Model:
    model_type_id, description = _DESCRIPTIONS[model_id]
    return resources_pb2.Model(
        id=model_id,
        name=model_id,
        display_name=model_id,
        user_id=MODEL_USER_ID,
        app_id=MODEL_APP_ID,
        model_type_id=model_type_id,
        description=description,
        model_version=resources_pb2.ModelVersion(
            id=MODEL_VERSION_ID,
            user_id=MODEL_USER_ID,
            app_id=MODEL_APP_ID,
            status=status_pb2.Status(code=status_code_pb2.MODEL_TRAINED, description="Model is trained and ready"),
        ),
    )


def list_models() -> list[resources_pb2.Model]:
    """The built-in models, in a fixed order."""
    return [_model(model_id) for model_id in MODEL_IDS]


def get_model(model_id: str, version_id: str = "") -> resources_pb2.Model:
    """The built-in model ``model_id`` (``version_id`` empty or its only version).

    Raises:
        InBandError: MODEL_DOES_NOT_EXIST (21200) for another model or version.
    """
    if model_id not in _DESCRIPTIONS:
        raise InBandError(
            status_code_pb2.MODEL_DOES_NOT_EXIST,
            f"Model {model_id!r} does not exist; this local server has {', '.join(MODEL_IDS)}.",
        )
    if version_id not in ("", MODEL_VERSION_ID):
        raise InBandError(
            status_code_pb2.MODEL_DOES_NOT_EXIST,
            f"Model {model_id!r} has no version {version_id!r}; its only version is {MODEL_VERSION_ID!r}.",
        )
    return _model(model_id)


def dominant_colors(img: Image.Image) -> list[tuple[str, float]]:
    """``[(raw_hex, share)]`` of up to 10 colors with at least 1% each, shares summing to 1.

    Median cut can split one large flat region into near-identical boxes; clusters within
    ``MERGE_DISTANCE`` on every channel are merged into the larger one.
    """
    quantized = img.quantize(colors=MAX_COLORS, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette() or []
    found: list[tuple[int, tuple[int, int, int]]] = []
    for count, entry in quantized.getcolors(256) or []:
        index = cast(int, entry)  # a "P" image's colors are palette indexes
        found.append((count, (palette[3 * index], palette[3 * index + 1], palette[3 * index + 2])))
    found.sort(key=lambda item: (-item[0], item[1]))
    merged: list[tuple[tuple[int, int, int], int]] = []
    for count, rgb in found:
        for position, (kept_rgb, kept_count) in enumerate(merged):
            if max(abs(a - b) for a, b in zip(rgb, kept_rgb)) <= MERGE_DISTANCE:
                merged[position] = (kept_rgb, kept_count + count)
                break
        else:
            merged.append((rgb, count))
    total = sum(count for _, count in merged)
    kept = [(rgb, count) for rgb, count in merged if count / total >= MIN_SHARE]
    kept_total = sum(count for _, count in kept)
    shares = [(hex_of(rgb), count / kept_total) for rgb, count in kept]
    shares.sort(key=lambda item: (-item[1], item[0]))
    return shares


def _colors_data(item: resources_pb2.Input) -> resources_pb2.Data:
    img = decode_small(image_bytes(item.data.image))
    data = resources_pb2.Data()
    for raw_hex, share in dominant_colors(img):
        rgb = (int(raw_hex[1:3], 16), int(raw_hex[3:5], 16), int(raw_hex[5:7], 16))
        name, w3c_hex = nearest_w3c(rgb)
        data.colors.add(raw_hex=raw_hex, value=share, w3c=resources_pb2.W3C(hex=w3c_hex, name=name))
    return data


def _words(item: resources_pb2.Input) -> list[str]:
    words = item.data.text.raw.split()
    if not words:
        raise InBandError(
            status_code_pb2.INPUT_INVALID_ARGUMENT,
            "The input has no text: set data.text.raw.",
        )
    return words


def _text_data(item: resources_pb2.Input) -> resources_pb2.Data:
    return resources_pb2.Data(text=resources_pb2.Text(raw=" ".join(_words(item))))


_RUNNERS: Mapping[str, Callable[[resources_pb2.Input], resources_pb2.Data]] = MappingProxyType(
    {COLOR_MODEL_ID: _colors_data, TEXT_MODEL_ID: _text_data}
)


def _with_ids(inputs: Sequence[resources_pb2.Input]) -> list[resources_pb2.Input]:
    """The inputs, each with an ID (a new one where the request left it empty)."""
    named: list[resources_pb2.Input] = []
    for item in inputs:
        copy = resources_pb2.Input()
        copy.CopyFrom(item)
        copy.id = copy.id or uuid.uuid4().hex
        named.append(copy)
    return named


def _output(model: resources_pb2.Model, item: resources_pb2.Input, status: status_pb2.Status) -> resources_pb2.Output:
    output = resources_pb2.Output(id=uuid.uuid4().hex, status=status, model=model)
    output.input.id = item.id
    output.created_at.GetCurrentTime()
    return output


def _check_inputs(inputs: Sequence[resources_pb2.Input]) -> None:
    if not inputs:
        raise InBandError(status_code_pb2.PREDICT_INVALID_REQUEST, "The request has no inputs.")
    if len(inputs) > MAX_INPUTS:
        raise InBandError(
            status_code_pb2.PREDICT_INVALID_REQUEST,
            f"The request has {len(inputs)} inputs; at most {MAX_INPUTS} inputs are allowed per request.",
        )


def _run_one(model: resources_pb2.Model, item: resources_pb2.Input) -> resources_pb2.Output:
    try:
        data = _RUNNERS[model.id](item)
    except InBandError as err:
        return _output(model, item, err.status())
    output = _output(model, item, make_status(status_code_pb2.SUCCESS))
    output.data.CopyFrom(data)
    return output


def _response(outputs: list[resources_pb2.Output]) -> service_pb2.MultiOutputResponse:
    codes: list[status_code_pb2.StatusCode.ValueType] = [output.status.code for output in outputs]
    response = service_pb2.MultiOutputResponse(status=make_status(batch_code(codes)))
    response.outputs.extend(outputs)
    return response


def predict(request: service_pb2.PostModelOutputsRequest) -> service_pb2.MultiOutputResponse:
    """Run a built-in model over the request's inputs: one Output per input, each with a status.

    Raises:
        InBandError: MODEL_DOES_NOT_EXIST (21200) for an unknown model; PREDICT_INVALID_REQUEST
            (40001) for no inputs or more than 128.
    """
    model = get_model(request.model_id, request.version_id)
    _check_inputs(request.inputs)
    return _response([_run_one(model, item) for item in _with_ids(request.inputs)])


def generate(
    request: service_pb2.PostModelOutputsRequest,
) -> Iterator[service_pb2.MultiOutputResponse]:
    """Stream a built-in model's outputs: the text model one word per response, others at once.

    Raises:
        InBandError: as :func:`predict`, before the first response.
    """
    model = get_model(request.model_id, request.version_id)
    _check_inputs(request.inputs)
    if model.id != TEXT_MODEL_ID:
        return iter([predict(request)])
    return _generate_words(model, _with_ids(request.inputs))


def _generate_words(
    model: resources_pb2.Model, inputs: list[resources_pb2.Input]
) -> Iterator[service_pb2.MultiOutputResponse]:
    for item in inputs:
        try:
            words = _words(item)
        except InBandError as err:
            yield _response([_output(model, item, err.status())])
            continue
        for word in words:
            output = _output(model, item, make_status(status_code_pb2.SUCCESS))
            output.data.text.raw = word
            yield _response([output])
