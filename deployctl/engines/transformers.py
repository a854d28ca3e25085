"""`transformers serve` on CPU: the development and test engine (base checkpoints only).

Flags from transformers 5.14.1 `transformers/cli/serve.py` (`Serve.__init__`, typer options):
positional `force_model` (pins the server to one model), `--host` (default localhost), `--port`,
`--device` (auto | cpu | cuda:N), `--dtype` (auto derives from the weights). Health: `GET /health`
and `GET /v1/models` (`transformers/cli/serving/server.py`). It has no API-key option and cannot
load Model Optimizer checkpoints (it drops the scales), which the capability table enforces.
"""

from __future__ import annotations

from deployctl.checkpoint import Checkpoint
from deployctl.engines.base import (
    CONTAINER_HF_CACHE,
    Engine,
    Placement,
    common_spec_fields,
    listen_host,
    listen_port,
)
from deployctl.launch_spec import EngineArgs, LaunchSpec
from deployctl.recipe.model import Recipe, RuntimeKind

ENGINE_NAME = "transformers"  # its row in data/engines.yaml: image, health paths, memory rules


def build_launch_spec(recipe: Recipe, checkpoint: Checkpoint, placement: Placement) -> LaunchSpec:
    device = "cpu" if recipe.gpu.is_cpu else "auto"
    port = listen_port(recipe, placement)
    args: list[str] = [placement.model_dir, "--host", listen_host(recipe), "--port", str(port)]
    args += ["--device", device]
    if recipe.engine.dtype != "auto":
        args += ["--dtype", recipe.engine.dtype]
    args += list(recipe.engine.extra_args)
    env = {"HF_HUB_OFFLINE": "1", **recipe.engine.env}
    # `GET /v1/models` scans the hub cache and fails when the folder does not exist
    # (transformers/cli/serving/model_manager.py, get_gen_models → scan_cache_dir).
    hub_cache = CONTAINER_HF_CACHE if placement.runtime is RuntimeKind.DOCKER else placement.hf_cache
    if hub_cache:
        env.setdefault("HF_HUB_CACHE", hub_cache)
    return LaunchSpec(
        **common_spec_fields(recipe),
        program=("transformers", "serve"),
        python_module=("transformers.cli.transformers", "serve"),
        args=tuple(args),
        engine_args=EngineArgs(
            model=placement.model_dir,
            served_name=placement.model_dir,
            tensor_parallel_size=1,
            extra_args=tuple(recipe.engine.extra_args),
        ),
        env=env,
        mounts=placement.checkpoint_mounts(checkpoint),
        gpu_count=0 if recipe.gpu.is_cpu else recipe.gpu.count,
        shm_size=None,
    )


ENGINE = Engine(name=ENGINE_NAME, build_launch_spec=build_launch_spec)
