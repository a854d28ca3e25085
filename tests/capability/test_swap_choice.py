"""Which swap strategy a recipe gets: blue-green only where the name can move and two engines fit.

Pure: recipes as dictionaries, model shapes from the catalogue; no runtime, no GPU.
"""

from __future__ import annotations

import pytest

from deployctl.capability import judge_recipe
from deployctl.capability.table import Level
from deployctl.recipe.load import parse_recipe_dict


def verdict(**overrides):
    data = {
        "name": "qwen",
        "model": "Qwen/Qwen3-8B",
        "gpu": "H100 SXM",
        "quantization": "fp8",
        "engine": {"name": "vllm", "max_model_len": 8192, "gpu_memory_utilization": 0.45},
        "runtime": "docker",
        "serve": {"network": "llm", "swap": "auto"},
    }
    for dotted, value in overrides.items():
        section, _, leaf = dotted.partition("__")
        if leaf:
            data[section] = (
                {**data[section], leaf: value} if isinstance(data[section], dict) else {leaf: value}
            )
        else:
            data[section] = value
    return judge_recipe(parse_recipe_dict(data))


@pytest.mark.parametrize(
    ("overrides", "strategy", "why"),
    [
        ({}, "blue-green", "two engines fit in H100 SXM memory"),
        ({"serve__swap": "replace"}, "replace", "serve.swap: replace"),
        ({"engine": {"name": "vllm", "max_model_len": 8192}}, "replace", "two would need 1.8"),
        ({"serve": {"swap": "auto"}}, "replace", "no serve.network"),
        ({"runtime": "process", "serve": {"swap": "auto"}}, "replace", "a local process cannot hand its port"),
        ({"engine": "trtllm"}, "replace", "the second finds"),
        ({"model": {"generate": "tiny-qwen3"}, "gpu": "cpu", "quantization": "none",
          "engine": "transformers"}, "blue-green", "host memory"),
    ],
    ids=[
        "vLLM at 0.45 of an H100 on a network: both fit",
        "replace when the recipe says so",
        "vLLM's default 0.92 share: two cannot start",
        "no network: a published port cannot move",
        "a local process cannot hand its port over",
        "TensorRT-LLM's KV fraction of free memory leaves too little for a second",
        "CPU development engine on a network",
    ],
)  # fmt: skip
def test_auto_picks_blue_green_only_where_it_can_work(overrides, strategy, why) -> None:
    judged = verdict(**overrides)
    assert judged.ok, judged.summary()
    assert judged.swap.strategy == strategy
    assert why in judged.swap.reason


@pytest.mark.parametrize(
    ("overrides", "field", "fix"),
    [
        ({"engine": {"name": "vllm", "max_model_len": 8192}}, "engine.gpu_memory_utilization", "0.48"),
        ({"serve": {"swap": "blue-green"}}, "serve.network", "set serve.network"),
        ({"runtime": "process", "serve": {"swap": "blue-green"}}, "serve.swap", "serve.swap: replace"),
        ({"gpu": "L4", "quantization": "none", "engine": {"name": "vllm", "max_model_len": 4096}},
         "engine.gpu_memory_utilization", "one engine does not fit"),
    ],
    ids=[
        "vLLM's default share names the setting and a share that fits",
        "without a network it names serve.network",
        "with a local process it names serve.swap",
        "bf16 8B on an L4: no share lets two fit",
    ],
)  # fmt: skip
def test_an_explicit_blue_green_that_cannot_work_is_rejected_with_the_field_and_fix(
    overrides, field, fix
) -> None:
    overrides.setdefault("serve", {"network": "llm"})
    overrides["serve"] = {**overrides["serve"], "swap": "blue-green"}
    judged = verdict(**overrides)
    assert judged.level is Level.REJECTED
    (rejection,) = judged.rejections
    assert rejection.field == field
    assert fix in rejection.fix


def test_a_network_needs_a_container_runtime_and_a_dns_name() -> None:
    judged = verdict(runtime={"kind": "docker", "network": "host"})
    assert [f.field for f in judged.rejections] == ["serve.network"]
    judged = verdict(name="qwen_8b")
    assert [f.field for f in judged.rejections] == ["name"]
