"""Per-method auth facts read from our descriptors: which methods need a PAT or an app."""

from __future__ import annotations

import functools
from typing import NamedTuple

__all__ = ["MethodRule", "method_rules", "rule_for"]

_APP_PLACEHOLDER = "{user_app_id.app_id}"


class MethodRule(NamedTuple):
    """What a V2 method demands of the credentials."""

    name: str
    pat_only: bool
    app_scoped: bool
    has_user_app_id: bool


_NO_RULE = MethodRule("", False, False, False)


@functools.lru_cache(maxsize=1)
def method_rules() -> dict[str, MethodRule]:
    """Map '/clarifai.api.V2/Method' to its rule, from the cl_auth_type and google.api.http options."""
    from google.api import annotations_pb2

    from clarifai_client.grpc.api import service_pb2
    from clarifai_client.grpc.auth.types import types_pb2
    from clarifai_client.grpc.auth.util import extension_pb2

    service = service_pb2.DESCRIPTOR.services_by_name["V2"]
    rules: dict[str, MethodRule] = {}
    for method in service.methods:
        options = method.GetOptions()
        auth_type = options.Extensions[extension_pb2.cl_auth_type]
        http = options.Extensions[annotations_pb2.http]
        pattern = getattr(http, http.WhichOneof("pattern") or "get", "")
        rules[f"/{service.full_name}/{method.name}"] = MethodRule(
            name=method.name,
            pat_only=auth_type == types_pb2.PATAuth,
            app_scoped=_APP_PLACEHOLDER in pattern,
            has_user_app_id="user_app_id" in method.input_type.fields_by_name,
        )
    return rules


def rule_for(path: str) -> MethodRule:
    """The rule of a method path; methods outside V2 get no rule."""
    return method_rules().get(path, _NO_RULE)
