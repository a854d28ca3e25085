"""What every engine adapter provides (`Engine`), and where it places files for the runtime that starts it.

An engine is pure: (recipe, checkpoint, placement) → LaunchSpec. It imports no docker, no torch,
no subprocess. Adding an engine = one module exporting `ENGINE = Engine(...)`, one line in
`registry.py`, and one row in `data/engines.yaml` (image, paths, memory and multi-node rules).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deployctl.checkpoint import Checkpoint
from deployctl.engine_facts import engine_facts
from deployctl.launch_spec import MULTICAST_SWITCHES, LaunchSpec, Mount
from deployctl.recipe.model import Recipe, RuntimeKind

# Inside containers the checkpoint always appears here, read-only.
CONTAINER_MODEL_DIR = "/models"
CONTAINER_HF_CACHE = "/root/.cache/huggingface/hub"
CONTAINER_CONFIG_DIR = "/etc/deployctl"

# Copied from the operator's environment when set; never written anywhere by deployctl.
HUB_PASSTHROUGH = ("HF_TOKEN", "HF_HUB_OFFLINE", "HF_ENDPOINT")


@dataclass(frozen=True)
class Placement:
    """Where the engine sees things: container paths for docker, host paths for a local process."""

    runtime: RuntimeKind
    model_dir: str
    config_dir: str
    hf_cache: str | None = None
    engine_cache: str | None = None

    @classmethod
    def for_runtime(
        cls,
        runtime: RuntimeKind,
        checkpoint: Checkpoint,
        *,
        config_dir: str,
        hf_cache: str | None = None,
        engine_cache: str | None = None,
    ) -> Placement:
        runtime = RuntimeKind(runtime)
        if runtime is RuntimeKind.DOCKER:
            return cls(
                runtime=runtime,
                # Named after the checkpoint folder: trtllm-serve and transformers serve report this path
                # as the model id, so it should read well.
                model_dir=f"{CONTAINER_MODEL_DIR}/{checkpoint.path.name or 'model'}",
                config_dir=CONTAINER_CONFIG_DIR,
                hf_cache=hf_cache,
                engine_cache=engine_cache,
            )
        return cls(
            runtime=runtime,
            model_dir=str(checkpoint.path),
            config_dir=config_dir,
            hf_cache=hf_cache,
            engine_cache=engine_cache,
        )

    def checkpoint_mounts(self, checkpoint: Checkpoint) -> tuple[Mount, ...]:
        """The read-only checkpoint mount, and the HF cache when there is one (docker only)."""
        if self.runtime is not RuntimeKind.DOCKER:
            return ()
        mounts = [Mount(source=str(checkpoint.path), target=self.model_dir, purpose="checkpoint")]
        if self.hf_cache:
            mounts.append(
                Mount(source=self.hf_cache, target=CONTAINER_HF_CACHE, read_only=False, purpose="hf-cache")
            )
        return tuple(mounts)


def passthrough_env(recipe: Recipe) -> tuple[str, ...]:
    """Variables copied from the operator's environment when set (values never stored)."""
    names = list(HUB_PASSTHROUGH)
    if recipe.gpu.count > 1:
        names.extend(MULTICAST_SWITCHES)
    return tuple(names)


def listen_host(recipe: Recipe) -> str:
    """The address the engine binds. In a bridge container it must be every interface: publishing the
    port on `serve.host` is what limits who can reach it from outside. Behind a front: loopback only."""
    if recipe.has_front:
        return "127.0.0.1"
    if recipe.runtime.kind is RuntimeKind.PROCESS or recipe.runtime.network == "host":
        return recipe.serve.host
    return "0.0.0.0"


def default_image(recipe: Recipe) -> str:
    """The recipe's image override, else the engine row's pinned image (the CPU build for `gpu: cpu`)."""
    if recipe.engine.image:
        return recipe.engine.image
    row = engine_facts(recipe.engine.name)
    if recipe.gpu.is_cpu and row.cpu_image:
        return row.cpu_image
    return row.image


def served_port(recipe: Recipe) -> tuple[int, int]:
    """(published port, port inside the container); host networking makes them the same.

    On `serve.network` clients reach `<name>:<serve.port>`, so the engine listens on serve.port and
    the published port is 0: a loopback port the runtime picks per instance (two instances of one
    deployment run side by side during a blue-green swap). Behind a front (a local process) the same:
    the runtime picks a loopback port per instance and the front owns serve.port."""
    if recipe.has_front:
        return 0, 0
    if recipe.runtime.kind is RuntimeKind.PROCESS or recipe.runtime.network == "host":
        return recipe.serve.port, recipe.serve.port
    if recipe.serve.network:
        return 0, recipe.serve.port
    return recipe.serve.port, engine_facts(recipe.engine.name).default_port


def listen_port(recipe: Recipe, placement: Placement) -> int:
    """The port the engine binds: the published one for a local process, else the container's."""
    port, container_port = served_port(recipe)
    return port if placement.runtime is RuntimeKind.PROCESS else container_port


def published_host(recipe: Recipe) -> str:
    """Where the port is published: on `serve.network` or behind a front only deployctl's own checks
    (and the front) use it."""
    return "127.0.0.1" if recipe.serve.network or recipe.has_front else recipe.serve.host


def common_spec_fields(recipe: Recipe) -> dict[str, Any]:
    """The LaunchSpec fields every engine fills the same way, from the recipe and the engine's data row."""
    port, container_port = served_port(recipe)
    row = engine_facts(recipe.engine.name)
    return {
        "deployment": recipe.name,
        "engine": row.name,
        "image": default_image(recipe),
        "passthrough_env": passthrough_env(recipe),
        "host": published_host(recipe),
        "port": port,
        "container_port": container_port,
        "health_path": row.health_path,
        "models_path": row.readiness_path,
        "network": recipe.runtime.network,
        "service_network": recipe.serve.network,
        "startup_budget_s": recipe.serve.health_timeout_s,
    }


BuildLaunchSpec = Callable[[Recipe, Checkpoint, Placement], LaunchSpec]


@dataclass(frozen=True)
class Engine:
    """What an engine module exports as `ENGINE`: its name (the key of its data/engines.yaml row) and
    the one thing it does, turn (recipe, checkpoint, placement) into a LaunchSpec."""

    name: str
    build_launch_spec: BuildLaunchSpec
    # The recipe's tuning options (`recipe.model.TUNING_KEYS` beyond max_batch_size/max_num_tokens) this
    # engine maps; one set on a recipe for an engine without it is refused (engines/registry.py).
    tuning_keys: frozenset[str] = frozenset()
