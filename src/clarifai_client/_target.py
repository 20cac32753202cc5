"""Parse and validate the `base` of a channel: `host` or `host:port`, nothing else."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from typing import NamedTuple, Optional

from clarifai_client.errors import ClarifaiConfigError

__all__ = ["ENV_GRPC_BASE", "Target", "parse_target"]

ENV_GRPC_BASE = "CLARIFAI_GRPC_BASE"
DEFAULT_SECURE_HOST = "api.clarifai.com"
DEFAULT_SECURE_PORT = 443
DEFAULT_INSECURE_PORT = 18080

_HOST_RE = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")
_FORM = "'host' or 'host:port' (e.g. 'api.clarifai.com', 'localhost:18080', '[::1]:18080')"


class Target(NamedTuple):
    """A validated host and port."""

    host: str
    port: int

    @property
    def address(self) -> str:
        """The gRPC target string, with IPv6 hosts in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        if self.host.lower() in ("localhost", "localhost.localdomain") or self.host.lower().endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def _bad(base: str, source: str, problem: str) -> ClarifaiConfigError:
    return ClarifaiConfigError(f"Invalid base {base!r} from {source}: {problem}. Use the form {_FORM}.")


def _split(base: str, source: str) -> tuple[str, Optional[int]]:
    if "@" in base:
        # 'user:password@host' may hold a secret: never repeat the part before '@'.
        shown = "<redacted>@" + base.rsplit("@", 1)[1]
        raise _bad(
            shown, source,
            "it has a user or password ('...@'); gRPC takes only host and port, and credentials go "
            "in auth=Auth.from_pat(...) / Auth.from_api_key(...)",
        )
    if "?" in base or "#" in base:
        # A query or fragment may carry a token: never repeat it.
        shown = re.split(r"[?#]", base, maxsplit=1)[0] + "<redacted>"
        raise _bad(shown, source, "it has a query or fragment ('?...' / '#...'); gRPC takes only host and port")
    if base != base.strip() or any(ch.isspace() for ch in base):
        raise _bad(base, source, "it contains whitespace")
    if "://" in base:
        scheme = base.split("://", 1)[0]
        raise _bad(base, source, f"it has a scheme ({scheme}://); gRPC takes no scheme")
    if "/" in base:
        raise _bad(base, source, "it has a path ('/'); gRPC takes only host and port")
    if base.startswith("["):
        end = base.find("]")
        if end == -1:
            raise _bad(base, source, "an IPv6 address opened with '[' is not closed with ']'")
        host, rest = base[1:end], base[end + 1 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError as err:
            raise _bad(base, source, f"{host!r} is not an IPv6 address") from err
        if not rest:
            return host, None
        if not rest.startswith(":"):
            raise _bad(base, source, "unexpected text after ']'")
        return host, _port(rest[1:], base, source)
    if base.count(":") > 1:
        try:
            ipaddress.IPv6Address(base)
        except ValueError:
            raise _bad(base, source, "it has more than one ':'") from None
        raise _bad(base, source, "an IPv6 address must be written in brackets, e.g. '[::1]:18080'")
    host, sep, port_text = base.partition(":")
    if not host or not _HOST_RE.match(host):
        raise _bad(base, source, f"{host!r} is not a valid host name")
    return host, (_port(port_text, base, source) if sep else None)


def _port(text: str, base: str, source: str) -> int:
    if not text.isdigit():
        raise _bad(base, source, f"port {text!r} is not a number")
    port = int(text)
    if not 0 < port < 65536:
        raise _bad(base, source, f"port {port} is out of range 1-65535")
    return port


def parse_target(
    base: Optional[str],
    *,
    secure: bool,
    port: Optional[int] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> Target:
    """Resolve the target: argument, else CLARIFAI_GRPC_BASE (read now), else the default.

    A base that already names a port keeps it; an explicit ``port`` that disagrees is an error.
    """
    env = os.environ if environ is None else environ
    source = "the 'base' argument"
    if base is not None and not isinstance(base, str):
        raise ClarifaiConfigError(f"base must be a str such as {_FORM}, not {type(base).__name__}")
    if not base:
        env_base = env.get(ENV_GRPC_BASE) or ""
        if env_base:
            base, source = env_base, f"the {ENV_GRPC_BASE} environment variable"
        elif secure:
            base, source = DEFAULT_SECURE_HOST, "the default"
        else:
            raise ClarifaiConfigError(
                "An insecure channel needs a base: pass base='host:port' (e.g. the address of "
                f"clarifai_client.testing.LocalV2Server) or set {ENV_GRPC_BASE}."
            )
    if isinstance(port, str) and port.isascii() and port.isdigit():
        port = int(port)  # the published client formats "{base}:{port}", so "18080" worked there
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
        raise ClarifaiConfigError(f"port must be an int in 1-65535, not {port!r}")
    host, base_port = _split(base, source)
    if base_port is not None and port is not None and port != base_port:
        raise ClarifaiConfigError(
            f"Conflicting ports: {source} says {base!r} (port {base_port}) but port={port} was "
            "passed. Give the port in one place only."
        )
    if base_port is not None:
        return Target(host, base_port)
    if port is not None:
        return Target(host, port)
    return Target(host, DEFAULT_SECURE_PORT if secure else DEFAULT_INSECURE_PORT)
