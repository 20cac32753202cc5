"""Per-method auth facts read from our descriptors: which methods need a PAT or an app."""

from __future__ import annotations

import functools
from typing import NamedTuple, Optional

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
    """The rules looked up so far, by '/clarifai.api.V2/Method' path (filled by :func:`rule_for`)."""
    return {}


def _compute_rule(path: str) -> MethodRule:
    """One method's rule, from its cl_auth_type and google.api.http options."""
    from google.api import annotations_pb2

    from clarifai_client.grpc.api import service_pb2
    from clarifai_client.grpc.auth.types import types_pb2
    from clarifai_client.grpc.auth.util import extension_pb2

    service = service_pb2.DESCRIPTOR.services_by_name["V2"]
    prefix = f"/{service.full_name}/"
    method = service.methods_by_name.get(path[len(prefix):]) if path.startswith(prefix) else None
    if method is None:
        return _NO_RULE
    options = method.GetOptions()
    auth_type = options.Extensions[extension_pb2.cl_auth_type]
    http = options.Extensions[annotations_pb2.http]
    pattern = getattr(http, http.WhichOneof("pattern") or "get", "")
    return MethodRule(
        name=method.name,
        pat_only=auth_type == types_pb2.PATAuth,
        app_scoped=_APP_PLACEHOLDER in pattern,
        has_user_app_id="user_app_id" in method.input_type.fields_by_name,
    )


def rule_for(path: str) -> MethodRule:
    """The rule of a method path (computed once per path); methods outside V2 get no rule."""
    rules = method_rules()
    rule = rules.get(path)
    if rule is None:
        rule = rules[path] = _compute_rule(path)
    return rule


class LazyRule:
    """Mixin for multicallables: the method's rule is looked up on first use, not when a stub is
    built (V2Stub makes 273 multicallables, and most programs call a handful of them)."""

    __slots__ = ()
    _path: str
    _rule_cache: Optional[MethodRule]

    @property
    def rule(self) -> MethodRule:
        rule = self._rule_cache
        if rule is None:
            rule = rule_for(self._path)
            self._rule_cache = rule  # type: ignore[misc]  # the slot is declared by each subclass
        return rule

    @property
    def name(self) -> str:
        """The method's short name (the full path for methods outside V2)."""
        return self.rule.name or self._path
