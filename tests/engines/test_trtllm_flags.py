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
    "--tokenizer": "str", "--custom_tokenizer": "str", "--host": "str", "--port": "int",
    "--backend": "choice:pytorch,tensorrt,_autodeploy,trt", "--custom_module_dirs": "path", "--log_level": "str",
    "--max_beam_width": "int", "--max_batch_size": "int", "--max_num_tokens": "int", "--max_seq_len": "int",
    "--tensor_parallel_size": "int", "--tp_size": "int", "--pipeline_parallel_size": "int", "--pp_size": "int",
    "--context_parallel_size": "int", "--cp_size": "int", "--moe_expert_parallel_size": "int", "--ep_size": "int",
    "--moe_cluster_parallel_size": "int", "--cluster_size": "int", "--gpus_per_node": "int",
    "--free_gpu_memory_fraction": "float", "--kv_cache_free_gpu_memory_fraction": "float",
    "--num_postprocess_workers": "int", "--trust_remote_code": "flag", "--revision": "str", "--config": "str",
    "--extra_llm_api_options": "str", "--reasoning_parser": "str", "--tool_parser": "str",
    "--metadata_server_config_file": "str", "--server_role": "str",
    "--fail_fast_on_attention_window_too_large": "flag", "--otlp_traces_endpoint": "str",
    "--disagg_cluster_uri": "str", "--enable_chunked_prefill": "flag", "--media_io_kwargs": "str",
    "--chat_template": "str",
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
    ("tensor parallel with every limit and fp8 KV", {"gpu": {"type": "H200", "count": 2}, "engine": {
        "name": "trtllm", "max_batch_size": 8, "max_num_tokens": 4096, "max_model_len": 2048,
        "gpu_memory_utilization": 0.7}}, "fp8", "fp8"),
    ("an nvfp4 checkpoint on Blackwell", {"gpu": "B200", "engine": "trtllm"}, "nvfp4", "none"),
]


@pytest.mark.parametrize(("recipe", "fmt", "kv"), [r[1:] for r in RECIPES], ids=[r[0] for r in RECIPES])
def test_trtllm_argv_parses_against_the_cited_declaration(recipe: dict, fmt: str, kv: str) -> None:
    spec = spec_for(recipe, fmt, kv)
    assert spec.program == ("trtllm-serve",)
    parsed = parse_like_click(spec.args)
    assert parsed["--host"] == "0.0.0.0", "trtllm-serve defaults to localhost, unreachable from outside a container"
    assert parsed["--backend"] == "pytorch"
    if recipe["gpu"] != "H100 SXM" and isinstance(recipe["gpu"], dict):
        assert parsed["--tp_size"] == str(recipe["gpu"]["count"])


def test_a_misspelled_flag_would_be_caught() -> None:
    with pytest.raises(AssertionError, match="no option --tensor-parallel-size"):
        parse_like_click(("/models/x", "--tensor-parallel-size", "2"))
