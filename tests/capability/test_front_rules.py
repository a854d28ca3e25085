"""What a front changes in the verdict (pure): local engines may swap blue-green behind it, an engine
without a key option may be protected by it, and the docker runtime refuses it for now."""

from __future__ import annotations

import pytest

from deployctl.capability import judge_recipe
from deployctl.capability.table import Level
from deployctl.recipe.load import parse_recipe_dict

BASE = {
    "name": "qwen", "model": "Qwen/Qwen3-8B", "gpu": "H100 SXM", "quantization": "fp8",
    "engine": {"name": "vllm", "max_model_len": 8192, "gpu_memory_utilization": 0.45},
    "runtime": "process", "serve": {"front": "haproxy"},
}  # fmt: skip


def verdict(**sections):
    return judge_recipe(parse_recipe_dict({**BASE, **sections}))


def rejected(v, field: str) -> list:
    return [f for f in v.findings if f.level is Level.REJECTED and f.field == field]


@pytest.mark.parametrize(
    ("serve", "strategy", "why"),
    [
        ({"front": "haproxy"}, "blue-green", "the front on 0.0.0.0:8000 switches to the new one"),
        ({"front": "none"}, "replace", "no front owns the port"),
        ({"front": "haproxy", "swap": "replace"}, "replace", "serve.swap: replace"),
    ],
    ids=[
        "a local engine behind a front swaps blue-green where two fit",
        "without a front a local engine is replaced",
        "serve.swap: replace is kept behind a front",
    ],
)
def test_the_front_decides_whether_a_local_engine_can_swap_blue_green(serve, strategy, why) -> None:
    v = verdict(serve=serve)
    assert v.swap.strategy == strategy and why in v.swap.reason


@pytest.mark.parametrize("engine", ["trtllm", "transformers"])
def test_an_engine_without_a_key_option_is_protected_by_the_front(engine) -> None:
    spec = {"name": engine}
    keyed = {"api_key_env": "DEPLOYCTL_API_KEY"}
    assert rejected(verdict(engine=spec, serve={**keyed, "front": "none"}), "serve.api_key_env")
    assert not rejected(verdict(engine=spec, serve={**keyed, "front": "haproxy"}), "serve.api_key_env")


def test_the_docker_runtime_refuses_a_front_for_now() -> None:
    [finding] = rejected(verdict(runtime="docker"), "serve.front")
    assert "runtime: process" in finding.fix
