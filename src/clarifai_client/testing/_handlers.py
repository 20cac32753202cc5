"""The implemented unary RPCs: status codes, apps, inputs, concepts, models and predictions."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TypeVar

from clarifai_client.grpc.api import resources_pb2, service_pb2
from clarifai_client.grpc.api.status import status_code_pb2, status_pb2
from clarifai_client.testing import _models
from clarifai_client.testing._auth import Caller, Scope
from clarifai_client.testing._status import (
    InBandError,
    all_statuses,
    batch_code,
    describe,
    make_status,
)
from clarifai_client.testing._store import AppData, Store

__all__ = ["DEFAULT_PER_PAGE", "IMPLEMENTED_METHODS", "MAX_PER_PAGE", "METHOD_SCOPES", "Handlers"]

_S = status_code_pb2
T = TypeVar("T")

DEFAULT_PER_PAGE = 128
MAX_PER_PAGE = 1000
_ID = re.compile(r"[A-Za-z0-9_.-]+")

# What each implemented method acts on; see Scope. Every other V2 method answers UNIMPLEMENTED.
METHOD_SCOPES: Mapping[str, Scope] = MappingProxyType(
    {
        "ListStatusCodes": Scope.NONE,
        "GetStatusCode": Scope.NONE,
        "GetUser": Scope.USER,
        "PostApps": Scope.USER,
        "ListApps": Scope.USER,
        "GetApp": Scope.APP,
        "DeleteApp": Scope.APP,
        "PostInputs": Scope.APP,
        "GetInput": Scope.APP,
        "ListInputs": Scope.APP,
        "PatchInputs": Scope.APP,
        "DeleteInput": Scope.APP,
        "DeleteInputs": Scope.APP,
        "GetInputCount": Scope.APP,
        "PostConcepts": Scope.APP,
        "GetConcept": Scope.APP,
        "ListConcepts": Scope.APP,
        "ListModels": Scope.TOKEN,
        "GetModel": Scope.TOKEN,
        "PostModelOutputs": Scope.TOKEN,
        "GenerateModelOutputs": Scope.TOKEN,
        "StreamModelOutputs": Scope.TOKEN,
    }
)
IMPLEMENTED_METHODS = frozenset(METHOD_SCOPES)


def _ok() -> status_pb2.Status:
    return make_status(_S.SUCCESS)


def _page(items: Sequence[T], page: int, per_page: int, code: status_code_pb2.StatusCode.ValueType) -> list[T]:
    """One page of ``items``: ``page`` starts at 1, ``per_page`` defaults to 128, at most 1000."""
    if per_page > MAX_PER_PAGE:
        raise InBandError(code, f"per_page must be at most {MAX_PER_PAGE}; got {per_page}.")
    size = per_page or DEFAULT_PER_PAGE
    start = (max(page, 1) - 1) * size
    return list(items[start : start + size])


def _has_content(data: resources_pb2.Data) -> bool:
    return any(data.HasField(name) for name in ("image", "video", "text", "audio"))


class Handlers:
    """The unary handlers, each ``(request, caller) -> response``, over one :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _app(self, caller: Caller) -> AppData:
        data = self.store.app(caller.user_id, caller.app_id)
        if data is not None:
            return data
        principal = caller.principal
        if principal is not None and principal.kind == "api_key":
            raise InBandError(_S.CONN_KEY_INVALID, "The app of this API key no longer exists (it was deleted).")
        raise InBandError(
            _S.CONN_DOES_NOT_EXIST,
            f"App {caller.app_id!r} of user {caller.user_id!r} does not exist.",
        )

    # -- status codes ----------------------------------------------------------------------

    def ListStatusCodes(
        self, request: service_pb2.ListStatusCodesRequest, caller: Caller
    ) -> service_pb2.MultiStatusCodeResponse:
        return service_pb2.MultiStatusCodeResponse(status=_ok(), statuses=all_statuses())

    def GetStatusCode(
        self, request: service_pb2.GetStatusCodeRequest, caller: Caller
    ) -> service_pb2.SingleStatusCodeResponse:
        """As the API does, the response's status *is* the status code asked for."""
        wanted = request.status_code_id.strip()
        names = status_code_pb2.StatusCode.DESCRIPTOR.values_by_name
        numbers = status_code_pb2.StatusCode.DESCRIPTOR.values_by_number
        value = names.get(wanted) or (numbers.get(int(wanted)) if wanted.isascii() and wanted.isdigit() else None)
        if value is None or value.number == 0:
            raise InBandError(_S.CONN_DOES_NOT_EXIST, f"Status code {request.status_code_id!r} does not exist.")
        code = status_code_pb2.StatusCode.Value(value.name)
        return service_pb2.SingleStatusCodeResponse(status=make_status(code, description=describe(code)))

    # -- users and apps --------------------------------------------------------------------

    def GetUser(self, request: service_pb2.GetUserRequest, caller: Caller) -> service_pb2.SingleUserResponse:
        return service_pb2.SingleUserResponse(status=_ok(), user=resources_pb2.User(id=caller.user_id))

    def PostApps(self, request: service_pb2.PostAppsRequest, caller: Caller) -> service_pb2.MultiAppResponse:
        if not request.apps:
            raise InBandError(_S.CONN_INVALID_REQUEST, "The request has no apps.")
        with self.store.lock:
            seen: set[str] = set()
            for app in request.apps:
                _check_id(app.id, "App", _S.CONN_INVALID_REQUEST)
                if app.id in seen or self.store.app(caller.user_id, app.id) is not None:
                    raise InBandError(
                        _S.CONN_INVALID_REQUEST,
                        f"App {app.id!r} already exists for user {caller.user_id!r}.",
                    )
                seen.add(app.id)
            created = []
            for app in request.apps:
                data = self.store.create_app(caller.user_id, app)
                assert data is not None
                created.append(data.app)
            return service_pb2.MultiAppResponse(status=_ok(), apps=created)

    def ListApps(self, request: service_pb2.ListAppsRequest, caller: Caller) -> service_pb2.MultiAppResponse:
        apps = self.store.apps_of(caller.user_id)
        page = _page(apps, request.page, request.per_page, _S.CONN_INVALID_REQUEST)
        return service_pb2.MultiAppResponse(status=_ok(), apps=page)

    def GetApp(self, request: service_pb2.GetAppRequest, caller: Caller) -> service_pb2.SingleAppResponse:
        return service_pb2.SingleAppResponse(status=_ok(), app=self._app(caller).app)

    def DeleteApp(self, request: service_pb2.DeleteAppRequest, caller: Caller) -> status_pb2.BaseResponse:
        with self.store.lock:
            self._app(caller)
            self.store.delete_app(caller.user_id, caller.app_id)
        return status_pb2.BaseResponse(status=_ok())

    # -- inputs ----------------------------------------------------------------------------

    def PostInputs(self, request: service_pb2.PostInputsRequest, caller: Caller) -> service_pb2.MultiInputResponse:
        if not request.inputs:
            raise InBandError(_S.INPUT_INVALID_REQUEST, "The request has no inputs.")
        if len(request.inputs) > _models.MAX_INPUTS:
            raise InBandError(
                _S.INPUT_INVALID_REQUEST,
                f"The request has {len(request.inputs)} inputs; at most {_models.MAX_INPUTS} "
                "inputs are allowed per request.",
            )
        response = service_pb2.MultiInputResponse()
        codes: list[status_code_pb2.StatusCode.ValueType] = []
        with self.store.lock:
            app = self._app(caller)
            for item in request.inputs:
                stored = response.inputs.add()
                stored.CopyFrom(item)
                stored.id = stored.id or uuid.uuid4().hex
                if stored.id in app.inputs:
                    stored.status.CopyFrom(make_status(_S.INPUT_DUPLICATE, f"Input ID {stored.id!r} already exists."))
                elif not _has_content(stored.data):
                    stored.status.CopyFrom(
                        make_status(
                            _S.INPUT_INVALID_ARGUMENT,
                            "The input has no content: set data.image, data.text, data.video or data.audio.",
                        )
                    )
                else:
                    stored.status.CopyFrom(make_status(_S.INPUT_DOWNLOAD_SUCCESS))
                    stored.created_at.GetCurrentTime()
                    stored.modified_at.CopyFrom(stored.created_at)
                    app.inputs[stored.id] = resources_pb2.Input()
                    app.inputs[stored.id].CopyFrom(stored)
                    codes.append(_S.SUCCESS)
                    continue
                codes.append(stored.status.code)
        response.status.CopyFrom(make_status(batch_code(codes)))
        return response

    def GetInput(self, request: service_pb2.GetInputRequest, caller: Caller) -> service_pb2.SingleInputResponse:
        with self.store.lock:
            item = self._app(caller).inputs.get(request.input_id)
            if item is None:
                raise _no_input(request.input_id)
            return service_pb2.SingleInputResponse(status=_ok(), input=item)

    def ListInputs(self, request: service_pb2.ListInputsRequest, caller: Caller) -> service_pb2.MultiInputResponse:
        """Newest first; ``ids`` and ``status.code`` filter when set."""
        with self.store.lock:
            items = list(reversed(self._app(caller).inputs.values()))
            if request.ids:
                wanted = set(request.ids)
                items = [item for item in items if item.id in wanted]
            if request.status.code:
                items = [item for item in items if item.status.code == request.status.code]
            page = _page(items, request.page, request.per_page, _S.INPUT_INVALID_REQUEST)
            return service_pb2.MultiInputResponse(status=_ok(), inputs=page)

    def PatchInputs(self, request: service_pb2.PatchInputsRequest, caller: Caller) -> service_pb2.MultiInputResponse:
        """``action`` merge (concepts by ID, metadata keys), overwrite (both) or remove (both)."""
        if request.action not in ("merge", "overwrite", "remove"):
            raise InBandError(
                _S.INPUT_INVALID_REQUEST,
                f"action must be 'merge', 'overwrite' or 'remove'; got {request.action!r}.",
            )
        if not request.inputs:
            raise InBandError(_S.INPUT_INVALID_REQUEST, "The request has no inputs.")
        with self.store.lock:
            app = self._app(caller)
            missing = [item.id for item in request.inputs if item.id not in app.inputs]
            if missing:
                raise _no_input(*missing)
            response = service_pb2.MultiInputResponse()
            for patch in request.inputs:
                stored = app.inputs[patch.id]
                _patch_data(stored.data, patch.data, request.action)
                stored.modified_at.GetCurrentTime()
                response.inputs.add().CopyFrom(stored)
        response.status.CopyFrom(_ok())
        return response

    def DeleteInput(self, request: service_pb2.DeleteInputRequest, caller: Caller) -> status_pb2.BaseResponse:
        with self.store.lock:
            if self._app(caller).inputs.pop(request.input_id, None) is None:
                raise _no_input(request.input_id)
        return status_pb2.BaseResponse(status=_ok())

    def DeleteInputs(self, request: service_pb2.DeleteInputsRequest, caller: Caller) -> status_pb2.BaseResponse:
        """All or nothing: if any ID does not exist, nothing is deleted."""
        if not request.ids:
            raise InBandError(_S.INPUT_INVALID_REQUEST, "The request has no ids.")
        with self.store.lock:
            inputs = self._app(caller).inputs
            missing = [input_id for input_id in request.ids if input_id not in inputs]
            if missing:
                raise _no_input(*missing)
            for input_id in request.ids:
                inputs.pop(input_id, None)
        return status_pb2.BaseResponse(status=_ok())

    def GetInputCount(
        self, request: service_pb2.GetInputCountRequest, caller: Caller
    ) -> service_pb2.SingleInputCountResponse:
        with self.store.lock:
            count = len(self._app(caller).inputs)
        return service_pb2.SingleInputCountResponse(status=_ok(), counts=resources_pb2.InputCount(processed=count))

    # -- concepts --------------------------------------------------------------------------

    def PostConcepts(
        self, request: service_pb2.PostConceptsRequest, caller: Caller
    ) -> service_pb2.MultiConceptResponse:
        """All or nothing: a missing, invalid or existing concept ID fails the whole request."""
        if not request.concepts:
            raise InBandError(_S.CONCEPTS_INVALID_REQUEST, "The request has no concepts.")
        with self.store.lock:
            app = self._app(caller)
            seen: set[str] = set()
            for concept in request.concepts:
                _check_id(concept.id, "Concept", _S.CONCEPTS_INVALID_REQUEST)
                if concept.id in seen or concept.id in app.concepts:
                    raise InBandError(_S.CONCEPTS_INVALID_REQUEST, f"Concept {concept.id!r} already exists.")
                seen.add(concept.id)
            response = service_pb2.MultiConceptResponse(status=_ok())
            for concept in request.concepts:
                stored = resources_pb2.Concept()
                stored.CopyFrom(concept)
                stored.name = stored.name or stored.id
                stored.value = stored.value or 1.0
                stored.user_id = caller.user_id
                stored.app_id = caller.app_id
                stored.created_at.GetCurrentTime()
                app.concepts[stored.id] = stored
                response.concepts.add().CopyFrom(stored)
            return response

    def GetConcept(self, request: service_pb2.GetConceptRequest, caller: Caller) -> service_pb2.SingleConceptResponse:
        with self.store.lock:
            concept = self._app(caller).concepts.get(request.concept_id)
            if concept is None:
                raise InBandError(_S.CONN_DOES_NOT_EXIST, f"Concept {request.concept_id!r} does not exist.")
            return service_pb2.SingleConceptResponse(status=_ok(), concept=concept)

    def ListConcepts(
        self, request: service_pb2.ListConceptsRequest, caller: Caller
    ) -> service_pb2.MultiConceptResponse:
        """Oldest first; ``id`` keeps only that concept when set."""
        with self.store.lock:
            concepts = list(self._app(caller).concepts.values())
            if request.id:
                concepts = [concept for concept in concepts if concept.id == request.id]
            page = _page(concepts, request.page, request.per_page, _S.CONCEPTS_INVALID_REQUEST)
            return service_pb2.MultiConceptResponse(status=_ok(), concepts=page)

    # -- models ----------------------------------------------------------------------------

    def ListModels(self, request: service_pb2.ListModelsRequest, caller: Caller) -> service_pb2.MultiModelResponse:
        models = _page(_models.list_models(), request.page, request.per_page, _S.MODEL_INVALID_REQUEST)
        return service_pb2.MultiModelResponse(status=_ok(), models=models)

    def GetModel(self, request: service_pb2.GetModelRequest, caller: Caller) -> service_pb2.SingleModelResponse:
        model = _models.get_model(request.model_id, request.version_id)
        return service_pb2.SingleModelResponse(status=_ok(), model=model)

    def PostModelOutputs(
        self, request: service_pb2.PostModelOutputsRequest, caller: Caller
    ) -> service_pb2.MultiOutputResponse:
        return _models.predict(request)


def _no_input(*input_ids: str) -> InBandError:
    names = ", ".join(repr(input_id) for input_id in input_ids)
    noun = "Input" if len(input_ids) == 1 else "Inputs"
    return InBandError(_S.INPUT_DOES_NOT_EXIST, f"{noun} {names} not found in this app.")


def _copies(concepts: Sequence[resources_pb2.Concept]) -> list[resources_pb2.Concept]:
    copies = []
    for concept in concepts:
        copy = resources_pb2.Concept()
        copy.CopyFrom(concept)
        copies.append(copy)
    return copies


def _patch_data(data: resources_pb2.Data, patch: resources_pb2.Data, action: str) -> None:
    """Apply a PatchInputs ``action`` to an input's concepts and metadata."""
    if action == "overwrite":
        concepts = _copies(patch.concepts)
        data.metadata.CopyFrom(patch.metadata)
    elif action == "remove":
        gone = {concept.id for concept in patch.concepts}
        concepts = _copies([concept for concept in data.concepts if concept.id not in gone])
        for key in list(patch.metadata.fields):
            data.metadata.fields.pop(key, None)
    else:
        by_id = {concept.id: concept for concept in _copies(data.concepts)}
        by_id.update((concept.id, concept) for concept in _copies(patch.concepts))
        concepts = list(by_id.values())
        data.metadata.MergeFrom(patch.metadata)
    del data.concepts[:]
    data.concepts.extend(concepts)


def _check_id(value: str, noun: str, code: status_code_pb2.StatusCode.ValueType) -> None:
    """Raise the in-band ``code`` unless ``value`` is a valid resource ID."""
    if not _ID.fullmatch(value):
        raise InBandError(code, f"{noun} ID {value!r} is invalid: use letters, digits, '_', '-' or '.'.")
