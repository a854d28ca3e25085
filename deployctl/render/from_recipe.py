"""Recipe → the LaunchSpec a container renderer draws, built by the engine adapter like `apply` does.

Two differences from `apply`, both because a rendered file runs later, on another machine:

- The runtime is always a container (`runtime: process` recipes are rendered as `docker`), and an
  engine inside a bridge network must listen on every interface: a recipe asking for a loopback
  `serve.host` gets the engine on 0.0.0.0 and the *port published* on the loopback address instead,
  which is what the operator meant (reachable from this machine only).
- Host folders are placeholders the renderer turns into variables: the checkpoint is the folder
  deployctl would mount when it is in the local cache (or a local `model.path`), else a stand-in named
  after the deployment; the engine cache is a named volume; the HF cache the operator's `HF_HUB_CACHE`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deployctl.checkpoint import Checkpoint
from deployctl.engines.base import Placement
from deployctl.engines.registry import build_launch_spec
from deployctl.launch_spec import LaunchSpec
from deployctl.recipe.model import QuantFormat, Recipe, RuntimeKind

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
PLACEHOLDER_ROOT = Path("/deployctl-checkpoint")


@dataclass(frozen=True)
class RenderInput:
    """The spec to render plus what the renderer substitutes: where the port is published and the
    checkpoint folder found on this machine (None: not found, or a portable render)."""

    spec: LaunchSpec
    publish_host: str
    local_checkpoint: Path | None


def container_recipe(recipe: Recipe) -> tuple[Recipe, str]:
    """(the recipe as a container deployment, the address to publish the port on)."""
    runtime = recipe.runtime.model_copy(update={"kind": RuntimeKind.DOCKER})
    serve = recipe.serve
    publish_host = serve.host
    if runtime.network == "bridge" and serve.host in LOOPBACK_HOSTS:
        serve = serve.model_copy(update={"host": "0.0.0.0"})
    return recipe.model_copy(update={"runtime": runtime, "serve": serve}), publish_host


def find_local_checkpoint(recipe: Recipe) -> Checkpoint | None:
    """The checkpoint `apply` would mount, when it already exists on this machine; never computes one.

    Asks the quantize cache when it offers a lookup (`deployctl.quantize.pipeline.find_checkpoint`);
    a base model in a local folder is its own checkpoint.
    """
    try:
        from deployctl.quantize.pipeline import find_checkpoint  # type: ignore[attr-defined]
    except ImportError:
        find_checkpoint = None
    if find_checkpoint is not None:
        found = find_checkpoint(recipe)
        if found is not None:
            return found
    if recipe.model.path is not None and recipe.quantization.format is QuantFormat.NONE:
        path = recipe.model.path.expanduser().resolve()
        if path.is_dir():
            return Checkpoint(path=path, key=f"local:{path}", source=str(path))
    return None


def placeholder_checkpoint(recipe: Recipe) -> Checkpoint:
    """Stands for the checkpoint the recipe produces; the container sees it at /models/<deployment>."""
    return Checkpoint(
        path=PLACEHOLDER_ROOT / recipe.name,
        key="unresolved",
        format=recipe.quantization.format,
        kv_cache=recipe.quantization.kv_cache,
        source=recipe.model.display,
    )


def render_input(recipe: Recipe, *, hf_cache: str, engine_cache: str, portable: bool = False) -> RenderInput:
    """The spec to render for `recipe`. `hf_cache` and `engine_cache` are the renderer's stand-ins for
    those host folders; `portable` ignores this machine's cache (for files committed to a repository)."""
    as_container, publish_host = container_recipe(recipe)
    local = None if portable else find_local_checkpoint(recipe)
    checkpoint = local or placeholder_checkpoint(recipe)
    placement = Placement.for_runtime(
        RuntimeKind.DOCKER,
        checkpoint,
        config_dir="/etc/deployctl",
        hf_cache=hf_cache,
        engine_cache=engine_cache,
    )
    spec = build_launch_spec(as_container, checkpoint, placement)
    return RenderInput(spec=spec, publish_host=publish_host, local_checkpoint=local.path if local else None)
