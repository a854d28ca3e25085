"""Recipe → the LaunchSpec a container renderer draws, built by the engine adapter like `apply` does.

Two differences from `apply`, both because a rendered file runs later, on another machine:

- The runtime is always a container (`runtime: process` recipes are rendered as `docker`). The engine
  adapter then binds every interface inside the container (`engines.base.listen_host`) and the port is
  published on `serve.host`, so a loopback recipe stays reachable from this machine only.
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
from deployctl.recipe.model import Recipe, RuntimeKind

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
    return recipe.model_copy(update={"runtime": runtime}), recipe.serve.host


def find_local_checkpoint(recipe: Recipe) -> Checkpoint | None:
    """The checkpoint `apply` would mount, when it already exists on this machine (quantize cache, local
    folder, offline HF cache); never downloads, generates or quantizes (`quantize.lookup`)."""
    from deployctl.quantize.lookup import find_checkpoint

    return find_checkpoint(recipe)


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
