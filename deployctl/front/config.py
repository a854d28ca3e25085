"""The front's configuration: a typed `FrontSpec` and the haproxy.cfg it renders to (pure, no I/O).

The front is HAProxy in front of a deployment's engines (docs/front.md says why HAProxy). It owns the
public `serve.host:serve.port`; engines listen on loopback ports picked per instance. The backend has
two fixed server *slots*, `blue` and `green`: a swap points the free slot at the new engine through
HAProxy's runtime API (`set server … addr … port …`, `enable server`), then drains and disables the
other one. The file is never edited for a swap, and HAProxy is never reloaded for one.

What the rendered file guarantees, and the tests check against the real binary:
- no usable engine → `503` with `Retry-After` (an `http-request return`, never a refused connection);
- a response streams through as the engine writes it: no `option http-buffer-request`, no
  compression, no cache; client/server timeouts long enough for a long generation;
- with a key, every path but the health path needs `Authorization: Bearer <key>`. The key is read by
  HAProxy from its environment (`KEY_VARIABLE`) when it parses the file, so the file, argv and state
  hold only the variable's name; HAProxy refuses to start when the variable is missing or empty
  (`.if`/`.alert` conditional blocks, HAProxy 2.4+ configuration manual §2.4).
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BACKEND = "engines"
SLOTS: tuple[str, str] = ("blue", "green")
KEY_VARIABLE = "DEPLOYCTL_FRONT_KEY"  # HAProxy's environment only; never a value in any file
PARKED_PORT = 9  # where an unused slot points while disabled (the discard port; never contacted)

Slot = Literal["blue", "green"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Upstream(_Frozen):
    """One backend slot: the engine it points at, and whether it takes traffic."""

    slot: Slot
    host: str = "127.0.0.1"
    port: int = Field(PARKED_PORT, ge=1, le=65535)
    enabled: bool = False


class FrontSpec(_Frozen):
    """Everything the front runs with. `identity()` covers what needs a restart when it changes;
    the upstreams are moved through the runtime API instead and are not part of it."""

    deployment: str
    bind_host: str
    bind_port: int = Field(ge=1, le=65535)
    socket_path: str
    upstreams: tuple[Upstream, Upstream] = (Upstream(slot="blue"), Upstream(slot="green"))
    health_path: str = "/health"
    require_key: bool = False
    retry_after_s: int = Field(2, ge=1)
    connect_timeout_s: int = Field(5, ge=1)
    stream_timeout_s: int = Field(3600, ge=1, description="client and server inactivity: long generations")

    def identity(self) -> str:
        payload = self.model_dump(mode="json", exclude={"upstreams"})
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def public_url(self) -> str:
        host = "127.0.0.1" if self.bind_host in ("0.0.0.0", "::", "", "localhost") else self.bind_host
        return f"http://[{host}]:{self.bind_port}" if ":" in host else f"http://{host}:{self.bind_port}"

    def routed_to(self, host: str, port: int) -> FrontSpec:
        """The same front with `blue` serving host:port and `green` parked (what a fresh start renders)."""
        return self.model_copy(
            update={
                "upstreams": (
                    Upstream(slot="blue", host=host, port=port, enabled=True),
                    Upstream(slot="green"),
                )
            }
        )


def render_config(spec: FrontSpec) -> str:
    """haproxy.cfg for `spec` (HAProxy 2.6 syntax; configuration manual sections cited inline)."""
    return "\n".join([*_global(spec), *_defaults(spec), *_frontend(spec), *_backend(spec), ""])


def _global(spec: FrontSpec) -> list[str]:
    lines = [
        f"# deployctl front for {spec.deployment}; generated, do not edit (swaps use the runtime API)",
        "global",
        # management guide §9.3: `level admin` allows enable/disable/set server over this socket;
        # `expose-fd listeners` lets a restarted front take over the listening socket (`-x`, §3)
        f"    stats socket {_quoted(spec.socket_path)} mode 600 level admin expose-fd listeners",
        "    stats timeout 10s",
        "    maxconn 4096",  # warnings and alerts go to stderr (`-db`): the front's log file
    ]
    if spec.require_key:
        lines += [
            f'.if !defined({KEY_VARIABLE}) || streq("${{{KEY_VARIABLE}}}","")',
            f'    .alert "{KEY_VARIABLE} is not set: the front refuses to start without its key"',
            ".endif",
        ]
    return lines


def _defaults(spec: FrontSpec) -> list[str]:
    return [
        "defaults",
        "    mode http",
        # token streams are server-push: send each chunk as it comes instead of waiting to fill a
        # packet (configuration manual, "option http-no-delay"); measured in tests/front/test_overhead.py
        "    option http-no-delay",
        f"    timeout connect {spec.connect_timeout_s}s",
        f"    timeout client {spec.stream_timeout_s}s",
        f"    timeout server {spec.stream_timeout_s}s",
        "    timeout http-request 30s",
        "    timeout http-keep-alive 60s",
        "    timeout queue 5s",
        # a connection refused by one slot (its engine just exited) is retried on the other
        "    retries 3",
        "    option redispatch 1",
        f"    http-error status 503 content-type application/json string {_json_error(spec, 503)} "
        f"hdr Retry-After {spec.retry_after_s}",
    ]


def _frontend(spec: FrontSpec) -> list[str]:
    lines = [
        "frontend public",
        f"    bind {_address(spec.bind_host)}:{spec.bind_port}",
    ]
    if spec.require_key:
        lines += [
            f"    acl health path {spec.health_path}",
            f'    acl keyed req.hdr(authorization) -m str "Bearer ${{{KEY_VARIABLE}}}"',
            "    http-request return status 401 content-type application/json "
            f"string {_json_error(spec, 401)} hdr WWW-Authenticate Bearer if !health !keyed",
        ]
    lines += [
        f"    http-request return status 503 content-type application/json string {_json_error(spec, 503)} "
        f"hdr Retry-After {spec.retry_after_s} if {{ nbsrv({BACKEND}) eq 0 }}",
        f"    default_backend {BACKEND}",
    ]
    return lines


def _backend(spec: FrontSpec) -> list[str]:
    """No active health checks: deployctl enables a slot only after the engine passed its own health
    and smoke checks, and a check that times out while a busy engine (or its starting neighbour) holds
    the CPU would mark the only engine DOWN and turn every request into a 503 (seen on 2 cores). An
    engine that dies is caught per request: the connect fails, is retried and redispatched, and ends
    in the 503 above."""
    lines = [f"backend {BACKEND}", "    balance roundrobin"]
    for upstream in spec.upstreams:
        state = "" if upstream.enabled else " disabled"
        lines.append(f"    server {upstream.slot} {_address(upstream.host)}:{upstream.port}{state}")
    return lines


def _json_error(spec: FrontSpec, status: int) -> str:
    message = {
        401: "missing or wrong API key: send Authorization: Bearer <key>",
        503: f"{spec.deployment} is switching engines; retry in {spec.retry_after_s} s",
    }[status]
    body = json.dumps({"error": {"message": message, "code": status}})
    return "'" + body + "'"  # single quotes: no variable expansion inside (configuration manual §2.2)


def _quoted(path: str) -> str:
    if any(c in path for c in "\"'\\ \n$#"):
        raise ValueError(f"the front's socket path {path!r} has characters HAProxy would misread")
    return path


def _address(host: str) -> str:
    """HAProxy splits host and port at the last colon, so IPv6 addresses need no brackets (§2.3)."""
    return host or "0.0.0.0"
