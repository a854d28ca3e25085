"""Every flag deployctl gives trtllm-serve exists in its source (TensorRT-LLM cannot run here).

The option names below were read from NVIDIA/TensorRT-LLM `tensorrt_llm/commands/serve.py`
@ 00209af149e7774406881a37283dce303571eb11 (the `serve` click command, 1.3.0rc line), with the
value kinds click declares for them. The test parses our argv against that declaration.
"""

from __future__ import annotations

import pytest

from tests.engines.test_launch_specs import spec_for

# option → "flag" (is_flag) or the click type of its value
TRTLLM_SERVE_OPTIONS: dict[str, str] = {
    "--tokenizer": "str",
    "--custom_tokenizer": "str",
    "--host": "str",
    "--port": "int",
    "--backend": "choice:pytorch,tensorrt,_autodeploy,trt",
    "--custom_module_dirs": "path",
    "--log_level": "str",
    "--max_beam_width": "int",
    "--max_batch_size": "int",
    "--max_num_tokens": "int",
    "--max_seq_len": "int",
    "--tensor_parallel_size": "int",
    "--tp_size": "int",
    "--pipeline_parallel_size": "int",
    "--pp_size": "int",
    "--context_parallel_size": "int",
    "--cp_size": "int",
    "--moe_expert_parallel_size": "int",
    "--ep_size": "int",
    "--moe_cluster_parallel_size": "int",
    "--cluster_size": "int",
    "--gpus_per_node": "int",
    "--free_gpu_memory_fraction": "float",
    "--kv_cache_free_gpu_memory_fraction": "float",
    "--num_postprocess_workers": "int",
    "--trust_remote_code": "flag",
    "--revision": "str",
    "--config": "str",
    "--extra_llm_api_options": "str",
    "--reasoning_parser": "str",
    "--tool_parser": "str",
    "--metadata_server_config_file": "str",
    "--server_role": "str",
    "--fail_fast_on_attention_window_too_large": "flag",
    "--otlp_traces_endpoint": "str",
    "--disagg_cluster_uri": "str",
    "--enable_chunked_prefill": "flag",
    "--media_io_kwargs": "str",
    "--chat_template": "str",
    # tensorrt_llm/commands/_telemetry.py @ 5911a336 reads it; documented for trtllm-serve from 1.3.0rc29
    "--no-telemetry": "flag",
}


def parse_like_click(args: tuple[str, ...]) -> dict[str, str]:
    """One positional MODEL, then options as declared; raise on anything click would refuse."""
    model, rest = args[0], list(args[1:])
    assert not model.startswith("-"), "MODEL comes first"
    parsed: dict[str, str] = {}
    while rest:
        flag = rest.pop(0)
        kind = TRTLLM_SERVE_OPTIONS.get(flag)
        if kind is None:
            raise AssertionError(f"trtllm-serve has no option {flag}")
        if kind == "flag":
            parsed[flag] = "true"
            continue
        value = rest.pop(0)
        if kind == "int":
            int(value)
        elif kind == "float":
            float(value)
        elif kind.startswith("choice:"):
            assert value in kind.removeprefix("choice:").split(","), f"{flag} {value} not a choice"
        parsed[flag] = value
    return parsed


RECIPES = [
    ("a single-GPU fp8 deployment", {"gpu": "H100 SXM", "engine": "trtllm"}, "fp8", "none"),
    (
        "tensor parallel with every limit and fp8 KV",
        {
            "gpu": {"type": "H200", "count": 2},
            "engine": {
                "name": "trtllm",
                "max_batch_size": 8,
                "max_num_tokens": 4096,
                "max_model_len": 2048,
                "gpu_memory_utilization": 0.7,
            },
        },
        "fp8",
        "fp8",
    ),
    ("an nvfp4 checkpoint on Blackwell", {"gpu": "B200", "engine": "trtllm"}, "nvfp4", "none"),
]


@pytest.mark.parametrize(("recipe", "fmt", "kv"), [r[1:] for r in RECIPES], ids=[r[0] for r in RECIPES])
def test_trtllm_argv_parses_against_the_cited_declaration(recipe: dict, fmt: str, kv: str) -> None:
    spec = spec_for(recipe, fmt, kv)
    assert spec.program == ("trtllm-serve",)
    parsed = parse_like_click(spec.args)
    assert parsed["--host"] == "0.0.0.0", (
        "trtllm-serve defaults to localhost, unreachable from outside a container"
    )
    assert parsed["--backend"] == "pytorch"
    if recipe["gpu"] != "H100 SXM" and isinstance(recipe["gpu"], dict):
        assert parsed["--tp_size"] == str(recipe["gpu"]["count"])


def test_a_misspelled_flag_would_be_caught() -> None:
    with pytest.raises(AssertionError, match="no option --tensor-parallel-size"):
        parse_like_click(("/models/x", "--tensor-parallel-size", "2"))


def test_options_yaml_and_cli_never_set_the_same_thing() -> None:
    """Explicit CLI flags beat the options YAML since PR 14812: each setting lives in one place."""
    import yaml

    from deployctl.engines.trtllm import CLI_SETS

    spec = spec_for(RECIPES[1][1], "fp8", "fp8")
    options = yaml.safe_load(spec.files[0].content)
    in_yaml = {f"{k}.{sub}" for k, v in options.items() for sub in v}
    on_cli = {CLI_SETS[a] for a in spec.args if a in CLI_SETS} - {"(the options file)"}
    assert in_yaml == {"kv_cache_config.dtype", "kv_cache_config.free_gpu_memory_fraction"}
    assert on_cli == {"tensor_parallel_size", "max_batch_size", "max_num_tokens", "max_seq_len", "backend"}
    assert not in_yaml & on_cli


def test_extra_args_that_set_again_what_the_yaml_sets_are_refused() -> None:
    from deployctl.errors import RecipeError

    recipe = {"gpu": "H100 SXM", "engine": {"name": "trtllm", "gpu_memory_utilization": 0.7,
              "extra_args": ["--kv_cache_free_gpu_memory_fraction", "0.5"]}}  # fmt: skip
    with pytest.raises(RecipeError, match="kv_cache_config.free_gpu_memory_fraction"):
        spec_for(recipe, "fp8")
    recipe["engine"]["extra_args"] = ["--kv_cache_free_gpu_memory_fraction", "0.5"]
    del recipe["engine"]["gpu_memory_utilization"]
    assert "--kv_cache_free_gpu_memory_fraction" in spec_for(recipe, "fp8").args  # nothing in the YAML: fine


@pytest.mark.parametrize(
    ("image", "flag"),
    [("nvcr.io/nvidia/tensorrt-llm/release:1.2.0", False), ("nvcr.io/nvidia/tensorrt-llm/release:1.3.0rc29", True),
     ("nvcr.io/nvidia/tensorrt-llm/release:1.4.0rc4", True), ("my/trtllm:latest", False)],
    ids=["pinned 1.2.0: variable only", "1.3.0rc29: flag too", "1.4.0rc4: flag too", "unknown tag: variable only"],
)  # fmt: skip
def test_telemetry_is_off_unless_the_recipe_opts_in(image: str, flag: bool) -> None:
    spec = spec_for({"gpu": "H100 SXM", "engine": {"name": "trtllm", "image": image}}, "fp8")
    assert spec.env["TRTLLM_NO_USAGE_STATS"] == "1"
    assert ("--no-telemetry" in spec.args) is flag
    parse_like_click(spec.args)
    opted_in = spec_for(
        {"gpu": "H100 SXM", "engine": {"name": "trtllm", "image": image, "telemetry": True}}, "fp8"
    )
    assert "TRTLLM_NO_USAGE_STATS" not in opted_in.env and "--no-telemetry" not in opted_in.args
