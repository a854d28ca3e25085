"""A made-up engine, `echo`, written the way a new engine is added: this one module, one registry line
(`register_engine(ENGINE, ROW)`) and one data row (`ROW`, what data/engines.yaml would hold).

Its facts differ from every built-in on purpose (port 9000, health path /healthz, a 0.8 GPU share, 1 GiB
overhead), so a test can tell that deployctl read this row and not vLLM's or TensorRT-LLM's.
"""

from __future__ import annotations

from deployctl.checkpoint import Checkpoint
from deployctl.engine_facts import EngineFacts
from deployctl.engines.base import Engine, Placement, common_spec_fields, listen_host, listen_port
from deployctl.launch_spec import EngineArgs, LaunchSpec
from deployctl.recipe.model import Recipe

ENGINE_NAME = "echo"

ROW = EngineFacts.model_validate(
    {
        "name": ENGINE_NAME,
        "display_name": "Echo",
        "image": "registry.example/echo-serve:1.0",
        "version": "1.0",
        "source": "tests/extension/echo_engine.py",
        "flags_checked_against": "this module",
        "health_path": "/healthz",
        "readiness_path": "/v1/models",
        "default_port": 9000,
        "memory": {"overhead_gib": 1, "share": "gpu-share", "default_share": 0.8},
        "two_engines": "shares-add-up",
        "multinode": {
            "reason": "echo has no multi-node launcher",
            "fix": "use gpu.nodes: 1",
            "source": "tests/extension/echo_engine.py",
            "field": "gpu.nodes",
        },
        "dynamo": {
            "reason": "echo has no Dynamo worker",
            "fix": "render --target deployment",
            "source": "tests/extension/echo_engine.py",
        },
    }
)

SERVING_ROWS = [
    {
        "engine": ENGINE_NAME, "weights": ["none"], "kv": ["none"], "arch": "gpu", "level": "native",
        "reason": "echo serves base models on any GPU", "source": "tests/extension/echo_engine.py",
    },
]  # fmt: skip


def build_launch_spec(recipe: Recipe, checkpoint: Checkpoint, placement: Placement) -> LaunchSpec:
    port = listen_port(recipe, placement)
    return LaunchSpec(
        **common_spec_fields(recipe),
        program=("echo-serve",),
        python_module=("echo_serve",),
        args=(placement.model_dir, "--host", listen_host(recipe), "--port", str(port)),
        engine_args=EngineArgs(model=placement.model_dir, served_name=recipe.served_name),
        mounts=placement.checkpoint_mounts(checkpoint),
        gpu_count=recipe.gpu.count,
    )


ENGINE = Engine(name=ENGINE_NAME, build_launch_spec=build_launch_spec)
