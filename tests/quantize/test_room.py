"""What the placement observes: the GPU shares deployctl's own engines claim, read from real state documents
(launch specs built by the real engine adapters), and this machine's host RAM and disk. No torch."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployctl.apply import build_spec
from deployctl.checkpoint import Checkpoint
from deployctl.quantize.room import engine_claims, observe_room
from deployctl.recipe.load import parse_recipe_dict
from deployctl.recipe.model import RuntimeKind
from deployctl.runtimes.base import Handle
from deployctl.state import DeploymentState, StateStore, recipe_hash


def record(name: str, engine: dict, gpu: dict) -> None:
    """The state `apply` leaves for a deployment serving with `engine` on `gpu`."""
    recipe = parse_recipe_dict({"name": name, "model": "Qwen/Qwen3-8B", "gpu": gpu, "engine": engine})
    checkpoint = Checkpoint(path=Path(f"/cache/{name}"), key=f"ck-{name}")
    spec = build_spec(recipe, checkpoint)
    handle = Handle(
        runtime=RuntimeKind.DOCKER, id=name, name=f"deployctl-{name}", deployment=name,
        spec_hash=spec.spec_hash(), endpoint="http://127.0.0.1:8000",
    )  # fmt: skip
    StateStore().save(
        DeploymentState.record(
            None,
            recipe=recipe,
            recipe_path=None,
            recipe_hash=recipe_hash(recipe),
            checkpoint=checkpoint,
            spec=spec,
            handle=handle,
        )  # fmt: skip
    )


H100 = {"type": "H100 SXM"}
CASES = [
    ("a vLLM engine at 0.85 on one GPU claims 0.85 of GPU 0",
     [("a", {"name": "vllm", "gpu_memory_utilization": 0.85}, H100)], (), {0: [("a", 0.85)]}),
    ("tensor parallel over two GPUs claims both",
     [("a", {"name": "vllm", "gpu_memory_utilization": 0.45}, {**H100, "count": 2})], (),
     {0: [("a", 0.45)], 1: [("a", 0.45)]}),
    ("an engine pinned with CUDA_VISIBLE_DEVICES claims that GPU",
     [("a", {"name": "vllm", "gpu_memory_utilization": 0.5, "env": {"CUDA_VISIBLE_DEVICES": "1"}}, H100)], (),
     {1: [("a", 0.5)]}),
    ("vLLM without a share claims its default", [("a", {"name": "vllm"}, H100)], (), {0: [("a", 0.92)]}),
    ("two engines on GPU 0 both count",
     [("a", {"name": "vllm", "gpu_memory_utilization": 0.45}, H100),
      ("b", {"name": "vllm", "gpu_memory_utilization": 0.4}, H100)], (), {0: [("a", 0.45), ("b", 0.4)]}),
    ("trtllm sizes itself from free memory: NVML's figure covers it",
     [("a", {"name": "trtllm"}, H100)], (), {}),
    ("the deployment observed stopped claims nothing",
     [("a", {"name": "vllm", "gpu_memory_utilization": 0.85}, H100)], ("a",), {}),
]  # fmt: skip


@pytest.mark.parametrize(("states", "stopped", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_engine_claims(states, stopped, expected) -> None:
    for name, engine, gpu in states:
        record(name, engine, gpu)
    claims = engine_claims(frozenset(stopped))
    assert {gpu: [(r.deployment, r.share) for r in found] for gpu, found in claims.items()} == expected


def test_the_room_of_this_machine() -> None:
    room = observe_room()
    assert room.host_available_bytes > 0 and room.disk_free_bytes
    assert all(g.total_bytes >= g.free_bytes for g in room.gpus)
