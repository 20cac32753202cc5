"""Extract the wire-relevant facts of the clarifai.api.V2 service from one installed package.

Usage (always in a fresh interpreter, because the two packages register the same symbols):

    python tests/_wire/facts.py clarifai_client   # our generated code
    python tests/_wire/facts.py clarifai_grpc     # the published package, used as the oracle

Prints one JSON document on stdout. Both sides go through exactly the same code below, so any
difference in the output is a difference in the descriptors themselves.

What is collected: the service and its methods; every message reached through method
input/output types and message-typed fields (map entries included); every enum reached through
enum-typed fields or through the values of options set on collected definitions; the option
extensions in use; and, beyond reachability, every message, enum and extension declared in the
clarifai files of service.proto's import closure (the "API files"), so that types no RPC reaches
are compared as well. Option values are rendered canonically: messages in one-line text format,
enums as NAME=number, repeated options as lists, unattributed bytes as hex.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, text_format
from google.protobuf.descriptor import FieldDescriptor

SERVICE = "clarifai.api.V2"

# Options left out of the facts on purpose (tests/test_conformance.py prints why): the prose
# description of enum values. File-level options are never collected at all.
_OMITTED_KEYS = {
    "enum_value": {"clarifai.api.utils.description"},
}

_TYPE_NAMES = {
    v.number: v.name
    for v in descriptor_pb2.FieldDescriptorProto.DESCRIPTOR.enum_types_by_name["Type"].values
}
_LABEL_NAMES = {
    v.number: v.name
    for v in descriptor_pb2.FieldDescriptorProto.DESCRIPTOR.enum_types_by_name["Label"].values
}


def import_all_pb2(package: str) -> list[str]:
    """Import every *_pb2 module of <package>.grpc so all option extensions are registered."""
    importlib.import_module("google.api.annotations_pb2")
    root = importlib.import_module(f"{package}.grpc")
    names = []
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}.grpc."):
        if info.name.endswith("_pb2"):
            importlib.import_module(info.name)
            names.append(info.name)
    return sorted(names)


class Collector:
    def __init__(self) -> None:
        self.messages: dict[str, Any] = {}
        self.enums: dict[str, Any] = {}
        self.extensions: dict[str, Any] = {}
        self.omitted_seen: dict[str, int] = {}
        self._pending_enums: list[Any] = []

    # ----- options -------------------------------------------------------------------------
    def render_value(self, field: FieldDescriptor, value: Any) -> Any:
        if field.type in (FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_GROUP):
            return text_format.MessageToString(value, as_one_line=True)
        if field.type == FieldDescriptor.TYPE_ENUM:
            self._pending_enums.append(field.enum_type)
            enum_value = field.enum_type.values_by_number.get(value)
            return f"{enum_value.name if enum_value else '?'}={value}"
        if field.type == FieldDescriptor.TYPE_BYTES:
            return value.hex()
        if isinstance(value, float):
            return repr(value)
        return value

    def render_options(self, kind: str, options: Any) -> dict[str, Any]:
        """Canonical dict of the options that are set: key -> rendered value.

        Extensions are keyed by their full name in brackets; anything the runtime could not
        attribute to a known field (unknown fields) is kept as hex so it still compares.
        """
        rendered: dict[str, Any] = {}
        leftover = type(options)()
        leftover.CopyFrom(options)
        for field, value in options.ListFields():
            if field.is_extension:
                key = f"[{field.full_name}]"
                self.note_extension(field)
                leftover.ClearExtension(field)
            else:
                key = field.name
                leftover.ClearField(field.name)
            if field.full_name in _OMITTED_KEYS.get(kind, set()):
                self.omitted_seen[f"{kind}:{field.full_name}"] = (
                    self.omitted_seen.get(f"{kind}:{field.full_name}", 0) + 1
                )
                continue
            if field.is_repeated:
                rendered[key] = [self.render_value(field, v) for v in value]
            else:
                rendered[key] = self.render_value(field, value)
        rest = leftover.SerializeToString(deterministic=True)
        if rest:
            rendered["<unknown fields>"] = rest.hex()
        return rendered

    def note_extension(self, field: FieldDescriptor) -> None:
        if field.full_name in self.extensions:
            return
        # An extension's own definition: what is extended, under which number and type.
        self.extensions[field.full_name] = {
            "extendee": field.containing_type.full_name,
            "number": field.number,
            "type": _TYPE_NAMES[field.type],
            "repeated": field.is_repeated,
            "type_name": type_name_of(field),
        }
        if field.message_type is not None:
            self.add_message(field.message_type)

    # ----- definitions ---------------------------------------------------------------------
    def add_enum(self, enum: Any) -> None:
        if enum.full_name in self.enums:
            return
        entry: dict[str, Any] = {"options": {}, "values": {}}
        self.enums[enum.full_name] = entry
        entry["options"] = self.render_options("enum", enum.GetOptions())
        for value in enum.values:
            entry["values"][value.name] = {
                "number": value.number,
                "options": self.render_options("enum_value", value.GetOptions()),
            }

    def add_message(self, message: Any) -> None:
        if message.full_name in self.messages:
            return
        proto = descriptor_pb2.DescriptorProto()
        message.CopyToProto(proto)
        entry: dict[str, Any] = {
            "options": {},
            "oneofs": [],
            "fields": {},
            "extension_ranges": [[r.start, r.end] for r in proto.extension_range],
            "reserved_numbers": [[r.start, r.end] for r in proto.reserved_range],
            "reserved_names": sorted(proto.reserved_name),
        }
        self.messages[message.full_name] = entry
        entry["options"] = self.render_options("message", message.GetOptions())
        real_oneofs = set()
        for fproto, field in zip(proto.field, message.fields):
            assert fproto.name == field.name
            oneof = None
            if fproto.HasField("oneof_index") and not fproto.proto3_optional:
                oneof = proto.oneof_decl[fproto.oneof_index].name
                real_oneofs.add(oneof)
            entry["fields"][field.name] = {
                "number": fproto.number,
                "type": _TYPE_NAMES[fproto.type],
                "label": _LABEL_NAMES[fproto.label],
                "type_name": type_name_of(field),
                "oneof": oneof,
                "proto3_optional": fproto.proto3_optional,
                "json_name": field.json_name,
                "packed": field.is_packed,
                "has_presence": field.has_presence,
                "default": fproto.default_value if fproto.HasField("default_value") else None,
                "options": self.render_options("field", field.GetOptions()),
            }
            if field.message_type is not None:
                self.add_message(field.message_type)
            if field.enum_type is not None:
                self.add_enum(field.enum_type)
        entry["oneofs"] = sorted(real_oneofs)
        for oneof in message.oneofs:
            if oneof.name in real_oneofs:
                opts = self.render_options("oneof", oneof.GetOptions())
                if opts:
                    entry.setdefault("oneof_options", {})[oneof.name] = opts

    def drain_option_enums(self) -> None:
        while self._pending_enums:
            self.add_enum(self._pending_enums.pop())


def type_name_of(field: FieldDescriptor) -> str | None:
    if field.message_type is not None:
        return field.message_type.full_name
    if field.enum_type is not None:
        return field.enum_type.full_name
    return None


def collect(package: str) -> dict[str, Any]:
    import_all_pb2(package)
    pool = descriptor_pool.Default()
    service = pool.FindServiceByName(SERVICE)
    col = Collector()
    sproto = descriptor_pb2.ServiceDescriptorProto()
    service.CopyToProto(sproto)
    methods: dict[str, Any] = {}
    for mproto, method in zip(sproto.method, service.methods):
        assert mproto.name == method.name
        methods[method.name] = {
            "input": method.input_type.full_name,
            "output": method.output_type.full_name,
            "client_streaming": mproto.client_streaming,
            "server_streaming": mproto.server_streaming,
            "options": col.render_options("method", method.GetOptions()),
        }
        col.add_message(method.input_type)
        col.add_message(method.output_type)
    service_options = col.render_options("service", service.GetOptions())
    # Options on messages and fields may reference enums: keep closing until nothing new.
    col.drain_option_enums()
    reached_messages = list(col.messages)

    # The API's files: service.proto and everything it imports, transitively. Every definition
    # declared in their clarifai files is compared too, even where no field reaches it.
    closure: dict[str, Any] = {}
    stack = [service.file]
    while stack:
        fdesc = stack.pop()
        if fdesc.name not in closure:
            closure[fdesc.name] = fdesc
            stack.extend(fdesc.dependencies)
    api_files = sorted(name for name in closure if "clarifai/" in name)
    declared_messages: list[str] = []
    declared_enums: list[str] = []

    def walk(msg: Any) -> None:
        declared_messages.append(msg.full_name)
        col.add_message(msg)
        for enum in msg.enum_types:
            declared_enums.append(enum.full_name)
            col.add_enum(enum)
        for ext in msg.extensions:
            col.note_extension(ext)
        for nested in msg.nested_types:
            walk(nested)

    for name in api_files:
        fdesc = closure[name]
        for msg in fdesc.message_types_by_name.values():
            walk(msg)
        for enum in fdesc.enum_types_by_name.values():
            declared_enums.append(enum.full_name)
            col.add_enum(enum)
        for ext in fdesc.extensions_by_name.values():
            col.note_extension(ext)
    col.drain_option_enums()

    return {
        "package": package,
        "service": {"name": service.full_name, "options": service_options},
        "methods": methods,
        "messages": col.messages,
        "enums": col.enums,
        "extensions": col.extensions,
        "omitted_seen": col.omitted_seen,
        "api_files": [name.split("clarifai/", 1)[1] for name in api_files],
        "declared_messages": sorted(declared_messages),
        "declared_enums": sorted(declared_enums),
        "reached_messages": sorted(reached_messages),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("clarifai_client", "clarifai_grpc"):
        print("usage: facts.py clarifai_client|clarifai_grpc", file=sys.stderr)
        return 2
    json.dump(collect(argv[0]), sys.stdout, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
