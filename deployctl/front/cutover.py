"""What the executor does with a front: the steps of a swap that involve it, without deciding anything.

`Front` bundles the adapter, the wanted FrontSpec and the key (read from the operator's environment
when the run starts, handed to HAProxy's environment only). The executor (execute.py) calls:
- `serve_from(front, handle)`: make the front run as wanted and route to `handle` only (start it,
  restart it with a new configuration, or switch it): after a create, a restart, a restore, a keep;
- `front.adapter.switch` / `settle` / `hold`: the blue-green and replace cut-overs;
- `warm_page_cache(path)`: read a checkpoint's files while the old engine still serves, so the new
  engine's load is served from memory once the old one is gone (replace only; vmtouch's idea).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from deployctl.errors import DeployctlError
from deployctl.front.config import FrontSpec
from deployctl.front.haproxy import HaproxyFront, socket_path
from deployctl.recipe.model import Recipe

if TYPE_CHECKING:
    from deployctl.instance import Handle

DRAIN_TIMEOUT_S = 60.0  # requests in flight on the old engine get this long to finish before it stops
_CHUNK = 16 << 20


@dataclass(frozen=True)
class Front:
    adapter: HaproxyFront
    spec: FrontSpec
    key: str | None

    @property
    def drain_timeout_s(self) -> float:
        return float(os.environ.get("DEPLOYCTL_FRONT_DRAIN_S", DRAIN_TIMEOUT_S))


def front_spec(recipe: Recipe, health_path: str) -> FrontSpec:
    """The front a recipe wants (pure apart from where its admin socket lives)."""
    return FrontSpec(
        deployment=recipe.name,
        bind_host=recipe.serve.host,
        bind_port=recipe.serve.port,
        socket_path=socket_path(recipe.name),
        health_path=health_path,
        require_key=recipe.serve.api_key_env is not None,
    )


def front_for(recipe: Recipe, health_path: str) -> Front | None:
    """The run's front, with its key read from the operator's environment (None: the recipe has none)."""
    if not recipe.has_front:
        return None
    key = None
    if recipe.serve.api_key_env:
        key = os.environ.get(recipe.serve.api_key_env)
        if not key:
            raise DeployctlError(
                f"serve.api_key_env names {recipe.serve.api_key_env}, which is not set",
                hint=f"export {recipe.serve.api_key_env}=<key> before running deployctl (the front reads it "
                "from its environment; it is never written anywhere)",
                field="serve.api_key_env",
            )
    return Front(adapter=HaproxyFront(recipe.name), spec=front_spec(recipe, health_path), key=key)


def upstream(handle: Handle) -> tuple[str, int]:
    """(host, port) of an engine instance, from its endpoint URL."""
    parts = urlsplit(handle.endpoint)
    assert parts.hostname and parts.port, handle.endpoint
    return parts.hostname, parts.port


def upstream_address(handle: Handle) -> str:
    host, port = upstream(handle)
    return f"{host}:{port}"


def serve_from(front: Front, handle: Handle) -> None:
    """The front runs with the wanted configuration and sends every request to `handle`."""
    seen = front.adapter.observe()
    if seen is None or not seen.running or seen.identity != front.spec.identity():
        front.adapter.start(front.spec, key=front.key, upstream=upstream(handle))
        return
    front.adapter.route(*upstream(handle), drain_timeout_s=front.drain_timeout_s)


def warm_page_cache(folder: Path) -> threading.Thread:
    """Read every file of a checkpoint once, in a background thread, so the kernel keeps it cached."""

    def read_all() -> None:
        for path in sorted(folder.rglob("*")):
            try:
                with open(path, "rb", buffering=0) as handle:
                    while handle.read(_CHUNK):
                        pass
            except OSError:  # a folder, or a file that vanished: nothing to warm
                continue

    thread = threading.Thread(target=read_all, name="warm-page-cache", daemon=True)
    thread.start()
    return thread
